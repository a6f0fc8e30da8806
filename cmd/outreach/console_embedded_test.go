package main

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// embeddedProviders are the Twilio and Telegram fakes with the service's
// configuration for them, as withProviders makes them, but with no Redis
// and no data key: the service runs on its embedded store, as it does
// where nothing is installed.
func embeddedProviders(t *testing.T) *providers {
	t.Helper()
	p := withProviders(t)
	for _, k := range []string{"REDIS_URL", "OUTREACH_REDIS_PREFIX", "OUTREACH_DATA_KEY", "OUTREACH_TELEGRAM_SET_WEBHOOK"} {
		delete(p.vars, k)
	}
	// No quiet hours: the broadcast and the notice leave at once, whatever
	// the time the test runs.
	p.vars["OUTREACH_QUIET_HOURS"] = ""
	return p
}

// consolePost submits a console form as a browser does, following the
// redirect that answers it; it returns the status, the path of the page
// it ends on and that page.
func consolePost(t *testing.T, client *http.Client, u string, form url.Values) (status int, path, body string) {
	t.Helper()
	resp, err := client.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Request.URL.Path, string(data)
}

var (
	inputTag  = regexp.MustCompile(`<input\s[^>]*>`)
	attribute = regexp.MustCompile(`([a-z_-]+)="([^"]*)"`)
)

// hiddenInputs are the hidden fields of a page's forms: what a
// confirmation page carries to the next step.
func hiddenInputs(body string) url.Values {
	out := url.Values{}
	for _, tag := range inputTag.FindAllString(body, -1) {
		attrs := map[string]string{}
		for _, a := range attribute.FindAllStringSubmatch(tag, -1) {
			attrs[a[1]] = html.UnescapeString(a[2])
		}
		if attrs["type"] == "hidden" && attrs["name"] != "" {
			out.Add(attrs["name"], attrs["value"])
		}
	}
	return out
}

// inputValue is the value of the input whose id is id, "" if the page has
// none.
func inputValue(body, id string) string {
	for _, tag := range inputTag.FindAllString(body, -1) {
		if strings.Contains(tag, `id="`+id+`"`) {
			if m := regexp.MustCompile(`value="([^"]*)"`).FindStringSubmatch(tag); m != nil {
				return html.UnescapeString(m[1])
			}
		}
	}
	return ""
}

var flashLine = regexp.MustCompile(`<p class="flash" role="status">(.*?)</p>`)

// flashOf is what the page says of the change just made ("" if nothing).
func flashOf(body string) string {
	if m := flashLine.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// inviteOnConsole has the admin invite name with role through the people
// page; the person opens the link, chooses a passphrase and is signed in.
// It returns that passphrase, after checking that it signs in afresh.
func inviteOnConsole(t *testing.T, admin *http.Client, base, name, role string) string {
	t.Helper()
	status, _, body := consolePost(t, admin, base+"/admin/people?lang=en", url.Values{"username": {name}, "role": {role}, "lang": {"en"}})
	if status != http.StatusOK {
		t.Fatalf("inviting %s: %d", name, status)
	}
	link := inputValue(body, "invite-link")
	if !strings.HasPrefix(link, e2ePublic+"/invite/") {
		t.Fatalf("inviting %s: link %q, want %s/invite/<token>", name, link, e2ePublic)
	}
	if !strings.Contains(body, "invited, link not used") {
		t.Errorf("the people page does not show %s as invited", name)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	person := &http.Client{Jar: newJar(t), Timeout: 30 * time.Second}
	if status, body := getBody(t, person, base+u.Path); status != http.StatusOK || !strings.Contains(body, `name="password_again"`) {
		t.Fatalf("%s opening the invitation: %d", name, status)
	}
	pass := "a passphrase for " + name + " to keep"
	status, path, body := consolePost(t, person, base+u.Path, url.Values{"password": {pass}, "password_again": {pass}})
	if status != http.StatusOK || path != "/" || !strings.Contains(body, `class="person"`) || !strings.Contains(body, ">"+name+"<") {
		t.Fatalf("%s accepting the invitation: %d at %s, want the dashboard, signed in", name, status, path)
	}
	// The link is used: it no longer opens.
	if status, _ := getBody(t, &http.Client{Jar: newJar(t)}, base+u.Path); status == http.StatusOK {
		t.Errorf("%s's invitation opens again after it was used", name)
	}
	if _, body := getBody(t, admin, base+"/admin/people?lang=en"); strings.Contains(body, "invited, link not used") {
		t.Errorf("after %s accepted, the people page still shows an unused invitation", name)
	}
	signedInClient(t, base, name, pass) // fails the test unless the passphrase signs in
	return pass
}

// TestConsoleOnTheEmbeddedStore: with nothing installed (no REDIS_URL, no
// data key: the in-process store), each flow of the console works end to
// end through its forms, with SMS and Telegram going to the providers'
// fakes. Every page opens. The admin invites a staff member and a partner,
// who accept, choose passphrases and sign in with them. The partner edits
// a text of the draft, previews it in the simulator while the live bot
// still says the old one, publishes it, and the bot answers a person on
// Telegram with the new text. Two people subscribe to Nador through the
// bot; the staff member sends them a broadcast and announces a
// distribution, and each gets exactly the text confirmed. A person asks
// for someone on Telegram; the staff member finds the request, replies
// and closes it, and the person receives both. Each change is in the
// audit log; nothing is logged as an error (as a command the embedded
// store lacks would be), and no log line holds a phone number, a chat id
// or a person's text.
func TestConsoleOnTheEmbeddedStore(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	p := embeddedProviders(t)
	s := startServe(t, p.vars)
	if !strings.Contains(s.logs.String(), "embedded in-process store") {
		t.Fatalf("the service is not on its embedded store:\n%s", s.logs.String())
	}
	admin := signedInClient(t, s.base, "admin", adminToken)
	for _, page := range consolePages {
		if n := getPage(t, admin, s.base+page); n == 0 {
			t.Errorf("%s is empty on the embedded store", page)
		}
	}
	ppl := &people{t: t, base: s.base}

	// (1) Invitations: a staff member and a partner.
	staffPass := inviteOnConsole(t, admin, s.base, "samira", "staff")
	partnerPass := inviteOnConsole(t, admin, s.base, "nadia", "partner")
	staff := signedInClient(t, s.base, "samira", staffPass)
	partner := signedInClient(t, s.base, "nadia", partnerPass)
	if status, _ := getBody(t, staff, s.base+"/content"); status != http.StatusForbidden {
		t.Errorf("staff on /content: %d, want 403", status)
	}
	if status, _ := getBody(t, partner, s.base+"/content"); status != http.StatusOK {
		t.Errorf("the partner on /content: %d, want 200", status)
	}

	// (2) Content: edit, preview, publish; the bot says the new text.
	old := c.Text("en", "main_title", nil)
	fresh := "Main menu, edited on the embedded store - reply with a number:"
	form := editForm(t, partner, s.base, "main_title")
	if form.Get("text_en") != old {
		t.Fatalf("the edit form holds %q, want the live %q", form.Get("text_en"), old)
	}
	form.Set("text_en", fresh)
	status, path, body := consolePost(t, partner, s.base+"/content/messages/main_title?lang=en", form)
	if flash := flashOf(body); status != http.StatusOK || !strings.Contains(flash, "main_title") {
		t.Fatalf("saving the draft: %d at %s saying %q", status, path, flash)
	}
	if again := editForm(t, partner, s.base, "main_title"); again.Get("text_en") != fresh {
		t.Errorf("the draft holds %q after saving, want %q", again.Get("text_en"), fresh)
	}
	status, _, body = consolePost(t, partner, s.base+"/content/simulator?show=en", url.Values{"show": {"en"}, "text": {"hello"}})
	if status != http.StatusOK || !strings.Contains(body, html.EscapeString(fresh)) {
		t.Errorf("the simulator with the draft: %d, the conversation lacks the new text", status)
	}
	if replies := say(t, s.base, "live-1", "hello"); !replyHolds(replies, old) || replyHolds(replies, fresh) {
		t.Errorf("before publishing, the live bot says %q", replies)
	}
	status, body = getBody(t, partner, s.base+"/content/publish?lang=en")
	rev := hiddenInputs(body).Get("rev")
	if status != http.StatusOK || rev == "" || !strings.Contains(body, html.EscapeString(fresh)) {
		t.Fatalf("the publish page: %d, rev %q, or it does not show the new text", status, rev)
	}
	status, _, body = consolePost(t, partner, s.base+"/content/publish?lang=en", url.Values{"rev": {rev}, "note": {"menu title"}})
	if flash := flashOf(body); status != http.StatusOK || !strings.Contains(flash, "Version 2 is live") {
		t.Fatalf("publishing: %d saying %q, want 200 saying version 2 is live", status, flash)
	}
	if replies := say(t, s.base, "live-2", "hello"); !replyHolds(replies, fresh) {
		t.Errorf("after publishing, the simulated bot says %q", replies)
	}
	const contentChat = int64(555000070)
	ppl.telegram(contentChat, "en", "hello")
	waitfor.Cond(t, waitfor.Default, "the bot to answer on Telegram with the published text", func() bool {
		return slices.ContainsFunc(p.telegram.Sent(), func(m telegramtest.Call) bool {
			return m.Params.Get("chat_id") == strconv.FormatInt(contentChat, 10) && strings.Contains(m.Params.Get("text"), fresh)
		})
	})

	// (3) Two people subscribe to Nador: SMS in French, Telegram in Arabic.
	const smsPerson, arChat = "+212611000071", int64(555000072)
	for _, text := range []string{"Bonjour", "4", "1", "1"} {
		ppl.sms(smsPerson, text)
	}
	for _, text := range []string{"مرحبا", "4", "1", "1"} {
		ppl.telegram(arChat, "ar", text)
	}
	// Each webhook answers once its turn is stored: both are subscribed
	// now. (The composer's own count is kept for a while, and the pages
	// opened above counted nobody; the confirmation counts afresh.)
	waitOutboxEmpty(t, s.base) // the bot's replies have left: what follows is the console's
	twilioBefore, telegramBefore := len(p.twilio.Accepted()), len(p.telegram.Sent())
	received := func(after, tgAfter int, who string) []string {
		var got []string
		for _, m := range p.twilio.Accepted()[after:] {
			if m.To == who {
				got = append(got, m.Body)
			}
		}
		for _, m := range p.telegram.Sent()[tgAfter:] {
			if m.Params.Get("chat_id") == who {
				got = append(got, m.Params.Get("text"))
			}
		}
		return got
	}
	arWho := strconv.FormatInt(arChat, 10)

	// A broadcast: composed, confirmed, sent to both in their language.
	const bcastFr, bcastAr = "Le bureau est fermé lundi.", "المكتب مغلق يوم الاثنين."
	compose := url.Values{"text.fr": {bcastFr}, "text.en": {"The office is closed on Monday."}, "text.ar": {bcastAr}, "when": {"now"}}
	status, _, body = consolePost(t, staff, s.base+"/broadcasts/new/confirm?lang=en", compose)
	if status != http.StatusOK || !strings.Contains(body, "2 people will get this message.") {
		t.Fatalf("the broadcast's confirmation: %d, want 200 stating 2 people", status)
	}
	confirmed := hiddenInputs(body)
	if confirmed.Get("key") == "" || confirmed.Get("text.fr") != bcastFr {
		t.Fatalf("the confirmation carries %v, want the key and the texts", confirmed)
	}
	status, path, body = consolePost(t, staff, s.base+"/broadcasts?lang=en", confirmed)
	id, _ := strings.CutPrefix(path, "/broadcasts/")
	if flash := flashOf(body); status != http.StatusOK || id == "" || !strings.Contains(flash, "Broadcast created") {
		t.Fatalf("sending the broadcast: %d at %s saying %q", status, path, flash)
	}
	waitfor.Cond(t, waitfor.Default, "the broadcast to be done", func() bool {
		_, part := getBody(t, staff, s.base+"/broadcasts/"+id+"/progress?lang=en")
		return strings.Contains(part, `data-status="done"`)
	})
	if _, part := getBody(t, staff, s.base+"/broadcasts/"+id+"/progress?lang=en"); !strings.Contains(part, `data-count="sent">2<`) {
		t.Errorf("the broadcast is done without 2 sent:\n%s", part)
	}
	waitOutboxEmpty(t, s.base)
	for who, want := range map[string]string{
		smsPerson: bcastFr + "\n\n" + c.Text("fr", "notice_footer", nil),
		arWho:     bcastAr + "\n\n" + c.Text("ar", "notice_footer", nil),
	} {
		if got := received(twilioBefore, telegramBefore, who); len(got) != 1 || !strings.HasPrefix(got[0], want) {
			t.Errorf("a subscriber got %q, want once %q", got, want)
		}
	}

	// A distribution: announced after its confirmation, each subscriber
	// gets the notice shown.
	twilioBefore, telegramBefore = len(p.twilio.Accepted()), len(p.telegram.Sent())
	start := time.Now().Add(72 * time.Hour).In(casablanca(t)).Truncate(time.Hour)
	dist := url.Values{
		"site": {"nador"}, "starts": {start.Format("2006-01-02T15:04")}, "ends": {start.Add(3 * time.Hour).Format("2006-01-02T15:04")},
		"place_fr": {"Terrain de sport"}, "place_en": {"Sports ground"}, "place_ar": {"الملعب البلدي"},
		"items": {"rice", "oil"}, "notify": {"1"}, "step": {"preview"},
	}
	status, _, body = consolePost(t, staff, s.base+"/distributions/new?lang=en", dist)
	if status != http.StatusOK || !strings.Contains(body, `id="confirm"`) {
		t.Fatalf("the distribution's confirmation: %d", status)
	}
	notices := map[string]string{}
	for _, lang := range []string{"fr", "ar"} {
		m := regexp.MustCompile(`(?s)id="notice-` + lang + `".*?<p class="sms"[^>]*>(.*?)</p>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("the confirmation shows no %s notice", lang)
		}
		notices[lang] = html.UnescapeString(m[1])
	}
	announce := hiddenInputs(body)
	announce.Set("step", "confirm")
	status, path, body = consolePost(t, staff, s.base+"/distributions/new?lang=en", announce)
	if flash := flashOf(body); status != http.StatusOK || !strings.HasPrefix(path, "/distributions/") || !strings.Contains(flash, "Announced") {
		t.Fatalf("announcing: %d at %s saying %q", status, path, flash)
	}
	waitfor.Cond(t, waitfor.Default, "both subscribers to get the notice", func() bool {
		return len(received(twilioBefore, telegramBefore, smsPerson)) > 0 && len(received(twilioBefore, telegramBefore, arWho)) > 0
	})
	waitOutboxEmpty(t, s.base)
	for who, want := range map[string]string{smsPerson: notices["fr"], arWho: notices["ar"]} {
		if got := received(twilioBefore, telegramBefore, who); len(got) != 1 || got[0] != want {
			t.Errorf("a subscriber got %q, want once the notice shown %q", got, want)
		}
	}

	// (4) A request to talk to a person, answered and closed from the console.
	const askChat = int64(555000073)
	const asked = "I need an appointment for my son"
	for _, text := range []string{"hello", "0", asked} {
		ppl.telegram(askChat, "en", text)
	}
	var reqID string
	waitfor.Cond(t, waitfor.Default, "the request in the staff member's inbox", func() bool {
		_, body := getBody(t, staff, s.base+"/requests?lang=en")
		m := regexp.MustCompile(`href="/requests/([^"]+)" class="req-open"`).FindAllStringSubmatch(body, -1)
		if len(m) == 1 {
			reqID = m[0][1]
		}
		return len(m) == 1
	})
	if status, body := getBody(t, staff, s.base+"/requests/"+reqID+"?lang=en"); status != http.StatusOK || !strings.Contains(body, asked) {
		t.Fatalf("the request's page: %d, or it does not show what the person wrote", status)
	}
	askWho := strconv.FormatInt(askChat, 10)
	waitOutboxEmpty(t, s.base) // the bot's acknowledgement has left: what follows is staff's
	telegramBefore = len(p.telegram.Sent())
	const reply = "We can see you on Tuesday at ten."
	status, path, body = consolePost(t, staff, s.base+"/requests/"+reqID+"/reply?lang=en", url.Values{"text": {reply}})
	if flash := flashOf(body); status != http.StatusOK || path != "/requests/"+reqID || !strings.Contains(flash, "Reply sent") {
		t.Fatalf("replying: %d at %s saying %q", status, path, flash)
	}
	waitfor.Cond(t, waitfor.Default, "the staff reply to reach the person at Telegram", func() bool { return slices.Contains(received(0, telegramBefore, askWho), reply) })
	status, path, body = consolePost(t, staff, s.base+"/requests/"+reqID+"/close?lang=en", nil)
	if flash := flashOf(body); status != http.StatusOK || path != "/requests" || !strings.Contains(flash, "is closed") {
		t.Fatalf("closing: %d at %s saying %q", status, path, flash)
	}
	closing := c.Text("en", "request_closed", nil)
	waitfor.Cond(t, waitfor.Default, "the closing message to reach the person at Telegram", func() bool { return slices.Contains(received(0, telegramBefore, askWho), closing) })
	if _, body := getBody(t, staff, s.base+"/requests?lang=en"); strings.Contains(body, `href="/requests/`+reqID+`"`) {
		t.Error("the closed request is still in the inbox")
	}
	waitOutboxEmpty(t, s.base)
	if got := received(0, telegramBefore, askWho); !slices.Equal(got, []string{reply, closing}) {
		t.Errorf("the person who asked got %q, want the reply then the closing, once each", got)
	}

	// Each change is in the audit log.
	_, audit := getBody(t, admin, s.base+"/admin/audit?lang=en")
	for _, action := range []string{"person.invite", "content.draft.save", "content.publish", "broadcast.create", "distribution.create", "request.reply", "request.close"} {
		if !strings.Contains(audit, action) {
			t.Errorf("the audit log lacks %s", action)
		}
	}

	// Nothing failed on the way, as a command the embedded store lacks
	// would, and nothing personal reached the log.
	logs := s.logs.String()
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Error("the service logged an error")
	}
	for _, secret := range []string{"611000071", "555000070", "555000072", "555000073", asked, reply, bcastFr, fresh} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q: a phone number, a chat id or a text", secret)
		}
	}
	if t.Failed() {
		t.Logf("the service's log:\n%s", logs)
	}
}
