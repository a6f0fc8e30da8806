package console

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

const reqToken = "request-tests-admin-token"

// reqConsole is a console over a real Redis with the services the
// requests pages use, served by a test server.
type reqConsole struct {
	srv    *httptest.Server
	rdb    redis.UniversalClient
	prefix string
	store  *store.Store
	dialog *dialog.Service
	audit  *access.Audit
	people *access.People
	now    time.Time
}

func newReqConsole(t *testing.T) *reqConsole {
	t.Helper()
	ctx := context.Background()
	rdb, prefix := redistest.New(t)
	ct, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	rc := &reqConsole{rdb: rdb, prefix: prefix, store: st, now: time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)}
	clock := func() time.Time { return rc.now }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rc.dialog = dialog.New(st, ct, metrics.New(), log, dialog.Options{
		IdleAfter: time.Hour, Outbox: outbox.New(rdb, st.Keys()), Deliver: []string{"sms", "telegram"}, Now: clock,
	})
	rc.audit = access.NewAudit(rdb, prefix, access.AuditOptions{})
	rc.people = access.NewPeople(rdb, prefix, reqToken, nil)
	c, err := New(Options{
		People: rc.people, Failures: access.NewFailures(rdb, prefix), Sessions: access.NewSessions(rdb, prefix),
		Audit: rc.audit, Dialog: rc.dialog, Requests: st.Requests(), Log: log, Now: clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	rc.srv = httptest.NewServer(c.Handler())
	t.Cleanup(rc.srv.Close)
	return rc
}

// client signs in as name and returns a client that does not follow
// redirects.
func (rc *reqConsole) client(t *testing.T, name, pass string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.PostForm(rc.srv.URL+"/login?lang=en", url.Values{"username": {name}, "password": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in of %s: %d", name, resp.StatusCode)
	}
	return cl
}

// person makes an account of role and signs it in.
func (rc *reqConsole) person(t *testing.T, name string, role access.Role) *http.Client {
	t.Helper()
	inv, err := rc.people.Invite(context.Background(), name, role, "en")
	if err != nil {
		t.Fatal(err)
	}
	const pass = "a passphrase long enough"
	if _, err := rc.people.Accept(context.Background(), inv.Token, pass); err != nil {
		t.Fatal(err)
	}
	return rc.client(t, name, pass)
}

// put records a request as a turn would.
func (rc *reqConsole) put(t *testing.T, req store.Request) {
	t.Helper()
	if err := rc.store.Requests().Add(context.Background(), req); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, cl *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := cl.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, html.UnescapeString(string(b)), resp.Header
}

func post(t *testing.T, cl *http.Client, u string, form url.Values) (int, string, http.Header) {
	t.Helper()
	resp, err := cl.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, html.UnescapeString(string(b)), resp.Header
}

var rowLink = regexp.MustCompile(`<a href="/requests/([^"]+)" class="req-open">`)

// TestRequestsInbox: urgent requests first, then the oldest; 50 a page;
// filters by site, language and channel; no text in the list; staff only.
func TestRequestsInbox(t *testing.T) {
	t.Parallel()
	rc := newReqConsole(t)
	t0 := rc.now.Add(-72 * time.Hour)
	sites, langs, channels := []string{"nador", "oujda"}, []string{"fr", "en", "ar"}, []string{"sms", "telegram"}
	want := map[string]int{} // site/lang/channel → count
	for i := range 60 {
		s, l, ch := sites[i%2], langs[i%3], channels[i%4/2]
		want[s+"/"+l+"/"+ch]++
		rc.put(t, store.Request{ID: fmt.Sprintf("req%02d", i), Contact: fmt.Sprintf("%032x", i), Channel: ch, Lang: l, Site: s,
			Text: rc.store.Seal(fmt.Sprint("SECRET-TEXT-", i)), CreatedAt: t0.Add(time.Duration(i) * time.Minute), Open: true})
	}
	rc.put(t, store.Request{ID: "urgent", Contact: fmt.Sprintf("%032x", 99), Channel: "sms", Lang: "fr", Site: "nador",
		Text: rc.store.Seal("SECRET-TEXT-urgent"), CreatedAt: rc.now.Add(-5 * time.Minute), Open: true, Urgent: true})
	if err := rc.store.Requests().Assign(context.Background(), "req00", "youssef"); err != nil {
		t.Fatal(err)
	}
	admin := rc.client(t, "admin", reqToken)

	code, page, _ := get(t, admin, rc.srv.URL+"/requests?lang=en")
	if code != 200 {
		t.Fatalf("/requests: %d", code)
	}
	ids := rowLink.FindAllStringSubmatch(page, -1)
	if len(ids) != 50 || ids[0][1] != "urgent" || ids[1][1] != "req00" || ids[49][1] != "req48" {
		t.Fatalf("page 1 lists %d requests starting %v; want 50: the urgent one, then the oldest", len(ids), ids[:min(3, len(ids))])
	}
	for _, want := range []string{"61 open requests", "1 urgent", "5 minutes", "3 days", "youssef", `rel="next"`, "1–50 of 61", "#00000000"} {
		if !strings.Contains(page, want) {
			t.Errorf("page 1 lacks %q", want)
		}
	}
	// 50 rows stay light: the page with its assets within 250 KB.
	assets := 0
	for _, a := range []string{"/assets/console.css", "/assets/console.js"} {
		_, body, _ := get(t, admin, rc.srv.URL+a)
		assets += len(body)
	}
	if len(page)+assets > 250<<10 {
		t.Errorf("a page of 50 requests weighs %d bytes with its assets (%d), want at most 250 KB", len(page)+assets, assets)
	}
	t.Logf("a page of 50 requests: %d bytes of HTML, %d of assets", len(page), assets)
	if strings.Contains(page, "SECRET-TEXT") {
		t.Error("the list shows what a person wrote")
	}
	_, page2, _ := get(t, admin, rc.srv.URL+"/requests?lang=en&page=2")
	if ids := rowLink.FindAllStringSubmatch(page2, -1); len(ids) != 11 || ids[10][1] != "req59" || !strings.Contains(page2, `rel="prev"`) || strings.Contains(page2, `rel="next"`) {
		t.Errorf("page 2 lists %d requests (%v)", len(ids), ids)
	}
	// A page beyond the last shows the last.
	if _, p, _ := get(t, admin, rc.srv.URL+"/requests?lang=en&page=99"); len(rowLink.FindAllStringSubmatch(p, -1)) != 11 {
		t.Error("page 99 is not the last page")
	}

	_, filtered, _ := get(t, admin, rc.srv.URL+"/requests?lang=en&site=oujda&language=ar&channel=telegram")
	n := want["oujda/ar/telegram"]
	if got := len(rowLink.FindAllStringSubmatch(filtered, -1)); got != n || n == 0 {
		t.Errorf("oujda/ar/telegram: %d rows, want %d", got, n)
	}
	for _, sel := range []string{`<option value="oujda" selected>`, `<option value="ar" lang="ar" selected>`, `<option value="telegram" selected>`, "(out of 61 open in all)"} {
		if !strings.Contains(filtered, sel) {
			t.Errorf("the filtered page lacks %s", sel)
		}
	}
	if _, none, _ := get(t, admin, rc.srv.URL+"/requests?lang=en&site=nowhere"); !strings.Contains(none, "No open request matches") {
		t.Error("a filter that keeps nothing does not say so")
	}

	partner := rc.person(t, "parveen", access.Partner)
	if code, _, _ := get(t, partner, rc.srv.URL+"/requests"); code != http.StatusForbidden {
		t.Errorf("a partner opens /requests: %d, want 403", code)
	}
	if code, _, _ := post(t, partner, rc.srv.URL+"/requests/req00/assign", nil); code != http.StatusForbidden {
		t.Errorf("a partner assigns: %d, want 403", code)
	}
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if code, _, h := get(t, anon, rc.srv.URL+"/requests"); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Errorf("signed out: %d to %q", code, h.Get("Location"))
	}
	if code, _, _ := get(t, admin, rc.srv.URL+"/requests/nope"); code != http.StatusNotFound {
		t.Errorf("an unknown request: %d, want 404", code)
	}
}

// segments posts the reply form as the live counter does (multipart).
func segments(t *testing.T, cl *http.Client, u, text string) string {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("text", text)
	w.Close()
	resp, err := cl.Post(u, w.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("segments: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// TestRequestThread: a person's request read, taken, answered and closed
// by staff, with what goes wrong said next to the field and the text kept.
func TestRequestThread(t *testing.T) {
	t.Parallel()
	rc := newReqConsole(t)
	ctx := context.Background()
	for _, text := range []string{"Bonjour", "0", "J'ai besoin d'un médecin", "Je suis à Nador"} {
		if _, err := rc.dialog.Handle(ctx, dialog.Message{Channel: "sms", Address: "+212600000123", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	reqs, err := rc.store.Requests().List(ctx)
	if err != nil || len(reqs) != 1 {
		t.Fatalf("requests: %v %v", reqs, err)
	}
	id := reqs[0].ID
	base := rc.srv.URL + "/requests/" + id
	staff := rc.person(t, "samira", access.Staff)

	code, page, _ := get(t, staff, base+"?lang=en")
	if code != 200 || !strings.Contains(page, "J'ai besoin d'un médecin") || !strings.Contains(page, "Je suis à Nador") {
		t.Fatalf("the thread: %d, without what the person wrote:\n%s", code, page)
	}
	if strings.Contains(page, "600000123") {
		t.Error("the thread shows the phone number")
	}
	if !strings.Contains(page, `data-segments="0"`) || !strings.Contains(page, `lang="fr" dir="ltr"`) {
		t.Error("the reply box has no counter, or not the person's language")
	}

	// The live counter counts as the senders do: GSM-7 160/153, UCS-2 70/67.
	for text, want := range map[string]string{
		strings.Repeat("a", 160):  `data-chars="160" data-segments="1"`,
		strings.Repeat("a", 161):  `data-chars="161" data-segments="2"`,
		strings.Repeat("ب", 70):   `data-chars="70" data-segments="1"`,
		strings.Repeat("ب", 71):   `data-chars="71" data-segments="2"`,
		"C’est noté":              "«’»",
		strings.Repeat("a", 1601): "at most 1600 characters",
	} {
		if got := segments(t, staff, base+"/segments?lang=en", text); !strings.Contains(got, want) {
			t.Errorf("segments of %.20q…: %s, want %s", text, got, want)
		}
	}

	for text, want := range map[string]string{
		"":                        "Write the reply",
		"a\x00b":                  "U+0000",
		strings.Repeat("x", 1601): "at most 1600 characters",
	} {
		code, page, _ := post(t, staff, base+"/reply?lang=en", url.Values{"text": {text}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, want) || !strings.Contains(page, `aria-invalid="true"`) {
			t.Errorf("reply %.20q: %d, want 422 saying %q", text, code, want)
		}
		if text != "" && !strings.Contains(page, ">"+strings.ReplaceAll(text, "\x00", "\uFFFD")+"</textarea>") && !strings.Contains(page, ">"+text+"</textarea>") {
			t.Errorf("reply %.20q: the text is not kept", text)
		}
	}
	if got, _ := rc.store.Requests().Replies(ctx, id); len(got) != 0 {
		t.Fatalf("refused replies were kept: %v", got)
	}

	if code, _, h := post(t, staff, base+"/assign", nil); code != http.StatusSeeOther || h.Get("Location") != "/requests/"+id {
		t.Errorf("assign: %d to %q", code, h.Get("Location"))
	}
	if names, _ := rc.store.Requests().Assignees(ctx, id); names[0] != "samira" {
		t.Errorf("assigned to %q", names[0])
	}
	if _, page, _ := get(t, staff, base+"?lang=en"); !strings.Contains(page, "You now take care of") || strings.Contains(page, `id="req-assign"`) {
		t.Error("after assigning: no flash, or still offered to take it")
	}

	code, _, h := post(t, staff, base+"/reply", url.Values{"text": {"Nous vous appelons"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/requests/"+id {
		t.Fatalf("reply: %d to %q", code, h.Get("Location"))
	}
	_, page, _ = get(t, staff, base+"?lang=en")
	if !strings.Contains(page, "Reply sent to #") || !strings.Contains(page, "samira (staff)") || !strings.Contains(page, "Nous vous appelons") {
		t.Errorf("after the reply, the thread lacks the flash or the reply")
	}
	// The reply is placed after the note the person had written.
	if i, j := strings.Index(page, "Je suis à Nador"), strings.Index(page, "Nous vous appelons"); i < 0 || j < i {
		t.Error("the reply is not after the person's note")
	}

	code, page, _ = get(t, staff, base+"/close?lang=en")
	if code != 200 || !strings.Contains(page, "by SMS, in Français") || !strings.Contains(page, "(1 SMS)") {
		t.Errorf("close confirmation: %d, without what the person is told", code)
	}
	if code, _, h := post(t, staff, base+"/close", nil); code != http.StatusSeeOther || h.Get("Location") != "/requests" {
		t.Errorf("close: %d to %q", code, h.Get("Location"))
	}
	if _, page, _ := get(t, staff, rc.srv.URL+"/requests?lang=en"); !strings.Contains(page, "is closed") || rowLink.MatchString(page) {
		t.Error("after closing: no flash, or the request is still listed")
	}
	if code, page, _ := post(t, staff, base+"/reply?lang=en", url.Values{"text": {"Encore"}}); code != http.StatusConflict || !strings.Contains(page, "This request is closed") {
		t.Errorf("reply to a closed request: %d", code)
	}
	if code, _, _ := post(t, staff, base+"/assign?lang=en", nil); code != http.StatusConflict {
		t.Errorf("assign a closed request: %d, want 409", code)
	}

	events, err := rc.audit.List(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	var done []string
	for _, e := range events {
		if strings.HasPrefix(e.Action, "request.") {
			done = append(done, e.Who+" "+e.Action+" "+e.Target)
		}
	}
	slices.Sort(done)
	if want := []string{"samira request.assign " + id, "samira request.close " + id, "samira request.reply " + id}; !slices.Equal(done, want) {
		t.Errorf("audited %q, want %q", done, want)
	}
}

// TestRequestMessagesTranslated: every message the requests pages choose
// in Go (the reply's problems) is in every language.
func TestRequestMessagesTranslated(t *testing.T) {
	have := ids(t)
	for _, id := range []string{"req_reply_empty", "req_reply_too_long", "req_reply_bad_char", "req_reply_closed", "req_reply_unreachable"} {
		for _, lang := range Languages {
			if !have[lang][id] {
				t.Errorf("%s is missing in %s", id, lang)
			}
		}
	}
}
