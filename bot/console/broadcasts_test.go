package console

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/config"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/telegram"
)

// The messages the broadcast pages name by a prefix and a value exist in
// every language (TestEveryMessageInEveryLanguage sees only literal ids).
func TestBroadcastWordsInEveryLanguage(t *testing.T) {
	have := ids(t)
	var want []string
	for _, ch := range broadcast.Channels {
		want = append(want, "bcast_channel_"+ch)
	}
	for _, r := range bcastReasons {
		want = append(want, "bcast_reason_"+r)
	}
	for _, k := range bcastKinds() {
		want = append(want, "bcast_kind_"+k)
	}
	for _, s := range []string{broadcast.Scheduled, broadcast.Sending, broadcast.Done, broadcast.Cancelled} {
		want = append(want, "bcast_status_"+s)
	}
	for _, l := range Languages {
		want = append(want, "bcast_lang_"+l)
	}
	for _, id := range want {
		for _, lang := range Languages {
			if !have[lang][id] {
				t.Errorf("message %q is missing in %s", id, lang)
			}
		}
	}
}

// bcastEnv is a console with the broadcast pages on real Redis, and a
// client signed in as a staff member.
type bcastEnv struct {
	env    *channeltest.Env
	svc    *broadcast.Service
	audit  *access.Audit
	people *access.People
	srv    *httptest.Server
	client *http.Client
}

const bcastStaffPass = "a long enough passphrase"

func newBcastEnv(t *testing.T, prices map[string]float64) *bcastEnv {
	t.Helper()
	env := channeltest.New(t, telegram.Channel, "sms")
	loc, err := time.LoadLocation("Africa/Casablanca")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := broadcast.New(env.Redis, env.Store, env.Dialog.Content, log, broadcast.Options{Location: loc})
	e := &bcastEnv{env: env, svc: svc, audit: access.NewAudit(env.Redis, env.Prefix, access.AuditOptions{}),
		people: access.NewPeople(env.Redis, env.Prefix, "", nil)}
	c, err := New(Options{
		People: e.people, Sessions: access.NewSessions(env.Redis, env.Prefix), Audit: e.audit,
		Dialog: env.Dialog, Broadcasts: svc, Location: loc, Prices: prices, Currency: "MAD",
		Quiet: config.QuietHours{From: 21 * 60, To: 8 * 60, Location: loc},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(c.Handler())
	t.Cleanup(e.srv.Close)
	e.client = e.signIn(t, "amina", access.Staff)
	return e
}

// signIn makes a person with role (invited, then accepted) and signs in.
func (e *bcastEnv) signIn(t *testing.T, name string, role access.Role) *http.Client {
	t.Helper()
	ctx := context.Background()
	inv, err := e.people.Invite(ctx, name, role, "en")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.people.Accept(ctx, inv.Token, bcastStaffPass); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(e.srv.URL+"/login", url.Values{"username": {name}, "password": {bcastStaffPass}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in of %s: %d", name, resp.StatusCode)
	}
	return client
}

func (e *bcastEnv) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := e.client.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *bcastEnv) post(t *testing.T, path string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := e.client.PostForm(e.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// subscribers stores people subscribed to nador, as the bot would.
func (e *bcastEnv) subscribers(t *testing.T, channel string, langs ...string) {
	t.Helper()
	ctx := context.Background()
	for i, lang := range langs {
		addr := channel + "-" + lang + "-" + string(rune('a'+i))
		if channel == "sms" {
			addr = "+21261100" + string(rune('0'+i)) + "00" + string(rune('0'+len(lang)))
		}
		ck := e.env.Store.ContactKey(channel, addr)
		st, _ := json.Marshal(engine.State{Lang: lang, Node: "main", Sites: []string{"nador"}, LastSeen: time.Now()})
		e.env.Redis.HSet(ctx, e.env.Store.Keys().ContactState(ck), "v", 1, "s", st, "a", e.env.Store.Seal(addr), "ch", channel)
		e.env.Redis.SAdd(ctx, e.env.Store.Keys().SubscribersOf("nador", ck), ck)
	}
}

// The composer: the Arabic text is right to left in every console
// language, each language has its live counter, the audience its count.
func TestBroadcastComposer(t *testing.T) {
	t.Parallel()
	e := newBcastEnv(t, nil)
	e.subscribers(t, "sms", "fr", "ar", "ar")
	arabic := regexp.MustCompile(`<textarea id="text-ar" name="text.ar" lang="ar" dir="rtl"`)
	for _, lang := range Languages {
		code, body := e.get(t, "/broadcasts/new?lang="+lang)
		if code != 200 || !arabic.MatchString(body) || !strings.Contains(body, `id="text-fr" name="text.fr" lang="fr" dir="ltr"`) {
			t.Errorf("?lang=%s: %d, the Arabic field is not right to left or the French one not left to right", lang, code)
		}
		for _, want := range []string{`data-fragment="/broadcasts/new/segments/ar"`, `data-fragment="/broadcasts/new/estimate"`, `data-people="3"`, "21:00"} {
			if !strings.Contains(body, want) {
				t.Errorf("?lang=%s: the composer lacks %s", lang, want)
			}
		}
	}
	// The counter is for the message as received: the footer counts.
	footer := e.env.Text("fr", "notice_footer")
	text := strings.Repeat("a", 160-len("\n\n"+footer))
	_, body := e.post(t, "/broadcasts/new/segments/fr?lang=en", url.Values{"text.fr": {text}})
	if !strings.Contains(body, `data-segments="1"`) || !strings.Contains(body, footer) {
		t.Errorf("160 characters with the footer: %s", body)
	}
	_, body = e.post(t, "/broadcasts/new/segments/fr?lang=en", url.Values{"text.fr": {text + "a"}})
	if !strings.Contains(body, `data-segments="2"`) {
		t.Errorf("161 characters with the footer: %s", body)
	}
	_, body = e.post(t, "/broadcasts/new/segments/fr?lang=en", url.Values{"text.fr": {"L’équipe"}})
	if !strings.Contains(body, "UCS-2") || !strings.Contains(body, "’") {
		t.Errorf("a typographic apostrophe: the counter does not say it makes the text Unicode: %s", body)
	}
	// console.js posts the form as FormData (multipart): read the same.
	var mp bytes.Buffer
	w := multipart.NewWriter(&mp)
	w.WriteField("text.fr", text+"a")
	w.Close()
	resp, err := e.client.Post(e.srv.URL+"/broadcasts/new/segments/fr", w.FormDataContentType(), &mp)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `data-segments="2"`) {
		t.Errorf("the counter posted as FormData: %d %s", resp.StatusCode, b)
	}
	// No price configured: segments only, and how to set prices.
	_, body = e.post(t, "/broadcasts/new/estimate?lang=en", url.Values{"text.fr": {"Avis"}, "text.ar": {strings.Repeat("ب", 80)}, "text.en": {"Notice"}})
	if !strings.Contains(body, `data-people="3"`) || !strings.Contains(body, `data-sms="5"`) || !strings.Contains(body, "OUTREACH_PRICES") {
		t.Errorf("estimate: want 3 people, 1 + 2×2 SMS and the price hint: %s", body)
	}
	// Narrowed to French readers.
	_, body = e.post(t, "/broadcasts/new/estimate?lang=en", url.Values{"text.fr": {"Avis"}, "languages": {"fr"}})
	if !strings.Contains(body, `data-people="1"`) {
		t.Errorf("French readers only: %s", body)
	}
	// A time in the quiet hours says when it will leave.
	_, body = e.post(t, "/broadcasts/new/estimate?lang=en", url.Values{"text.fr": {"Avis"}, "when": {"at"}, "send_at": {"2099-01-05T23:30"}})
	if !strings.Contains(body, "6 Jan 2099 08:00") {
		t.Errorf("23:30 is quiet: the estimate does not say it leaves at 08:00: %s", body)
	}
}

// With prices, the estimate is segments × people × price per channel.
func TestBroadcastCost(t *testing.T) {
	t.Parallel()
	e := newBcastEnv(t, map[string]float64{"sms": 0.5, "telegram": 0})
	e.subscribers(t, "sms", "fr", "fr")
	e.subscribers(t, telegram.Channel, "en")
	_, body := e.post(t, "/broadcasts/new/estimate?lang=en", url.Values{"text.fr": {strings.Repeat("a", 200)}, "text.en": {"x"}, "text.ar": {"x"}})
	// 2 people × 2 SMS × 0.50 + 1 Telegram message × 0.
	if !strings.Contains(body, `data-sms="4"`) || !strings.Contains(body, "about 2.00 MAD") {
		t.Errorf("cost: %s", body)
	}
}

// Confirming: a missing text is refused next to its field with the values
// kept; a valid form is restated in numbers; sending it twice makes one
// broadcast; each change is audited; a cancel goes through its own page.
func TestBroadcastConfirmSendCancel(t *testing.T) {
	t.Parallel()
	e := newBcastEnv(t, nil)
	e.subscribers(t, "sms", "fr", "en", "ar")
	form := url.Values{"text.en": {"The office is closed on Monday."}, "text.ar": {"المكتب مغلق يوم الاثنين."}, "sites": {"nador"}, "when": {"at"}, "send_at": {"2099-01-05T10:00"}}
	resp, body := e.post(t, "/broadcasts/new/confirm?lang=en", form)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `<p class="field-error" id="text.fr-error">Write the French text`) ||
		!strings.Contains(body, "The office is closed on Monday.</textarea>") || !strings.Contains(body, `value="2099-01-05T10:00"`) ||
		!strings.Contains(body, `value="nador" checked`) {
		t.Fatalf("missing French text: %d, the error or the kept values are not there:\n%s", resp.StatusCode, body)
	}
	form.Set("text.fr", "Le bureau est fermé lundi.")
	resp, body = e.post(t, "/broadcasts/new/confirm?lang=en", form)
	if resp.StatusCode != 200 || !strings.Contains(body, "3 people at Nador will get this message.") || !strings.Contains(body, "It leaves at 5 Jan 2099 10:00.") {
		t.Fatalf("confirmation: %d\n%s", resp.StatusCode, body)
	}
	key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(body)
	if key == nil {
		t.Fatal("the confirmation has no idempotency key")
	}
	if list, _ := e.svc.List(context.Background(), 10); len(list) != 0 {
		t.Fatalf("the confirmation created %d broadcasts", len(list))
	}
	form.Set("key", key[1])
	first, _ := e.post(t, "/broadcasts", form)
	again, _ := e.post(t, "/broadcasts", form)
	if first.StatusCode != http.StatusSeeOther || again.Header.Get("Location") != first.Header.Get("Location") {
		t.Fatalf("sending twice: %d %s, %d %s", first.StatusCode, first.Header.Get("Location"), again.StatusCode, again.Header.Get("Location"))
	}
	list, _ := e.svc.List(context.Background(), 10)
	if len(list) != 1 || list[0].CreatedBy != "amina" || list[0].Status != broadcast.Scheduled || list[0].Text["fr"] != "Le bureau est fermé lundi." {
		t.Fatalf("after two submits: %+v, want one scheduled broadcast by amina", list)
	}
	id := list[0].ID
	if "/broadcasts/"+id != first.Header.Get("Location") {
		t.Errorf("sent to %s", first.Header.Get("Location"))
	}
	code, body := e.get(t, "/broadcasts/"+id+"?lang=en")
	if code != 200 || !strings.Contains(body, `data-refresh="3" data-src="/broadcasts/`+id+`/progress" data-done="false"`) || !strings.Contains(body, "Broadcast created.") {
		t.Errorf("progress page: %d\n%s", code, body)
	}
	code, body = e.get(t, "/broadcasts?lang=en")
	if code != 200 || !strings.Contains(body, "The office is closed on Monday.") || !strings.Contains(body, "Scheduled") {
		t.Errorf("list: %d\n%s", code, body)
	}

	// Cancel: a page that says what it stops, then the change.
	code, body = e.get(t, "/broadcasts/"+id+"/cancel?lang=en")
	if code != 200 || !strings.Contains(body, "Nobody will get it.") {
		t.Errorf("cancel page: %d\n%s", code, body)
	}
	if r, _ := e.svc.Get(context.Background(), id); r.Status != broadcast.Scheduled {
		t.Fatalf("the cancel page cancelled: %s", r.Status)
	}
	resp, _ = e.post(t, "/broadcasts/"+id+"/cancel", nil)
	if r, _ := e.svc.Get(context.Background(), id); resp.StatusCode != http.StatusSeeOther || r.Status != broadcast.Cancelled {
		t.Errorf("cancel: %d, status %s", resp.StatusCode, r.Status)
	}
	_, body = e.get(t, "/broadcasts/"+id+"/progress?lang=en")
	if !strings.Contains(body, `data-done="true"`) || strings.Contains(body, "/cancel") {
		t.Errorf("a cancelled broadcast's progress: %s", body)
	}
	events, _ := e.audit.List(context.Background(), 10)
	var actions []string
	for _, ev := range events {
		if strings.HasPrefix(ev.Action, "broadcast.") && ev.Who == "amina" && ev.Target == id {
			actions = append(actions, ev.Action)
		}
	}
	if strings.Join(actions, " ") != "broadcast.cancel broadcast.create" {
		t.Errorf("audited %v, want the creation and the cancel, once each, under amina", actions)
	}
}

// Partners do not broadcast.
func TestBroadcastPagesAreForStaff(t *testing.T) {
	t.Parallel()
	e := newBcastEnv(t, nil)
	e.client = e.signIn(t, "karim", access.Partner)
	for _, path := range []string{"/broadcasts", "/broadcasts/new"} {
		if code, _ := e.get(t, path); code != http.StatusForbidden {
			t.Errorf("a partner at %s: %d, want 403", path, code)
		}
	}
	if resp, _ := e.post(t, "/broadcasts", url.Values{"text.fr": {"x"}, "fallback": {"fr"}, "key": {"k"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a partner sending: %d, want 403", resp.StatusCode)
	}
}
