package console

import (
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
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/distribution"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/telegram"
)

// distEnv is a console on a real Redis with three Telegram subscribers of
// nador (fr, en, ar), and a client signed in as a person of role; with
// changes the console's options.
type distEnv struct {
	env    *channeltest.Env
	dists  *distribution.Service
	audit  *access.Audit
	srv    *httptest.Server
	client *http.Client
}

func newDistEnv(t *testing.T, role access.Role, with ...func(*Options)) *distEnv {
	t.Helper()
	env := channeltest.New(t, telegram.Channel)
	ctx := context.Background()
	for i, lang := range []string{"fr", "en", "ar"} {
		chat := "80000" + string(rune('1'+i))
		ck := env.Store.ContactKey(telegram.Channel, chat)
		st, _ := json.Marshal(engine.State{Lang: lang, Node: "main", Sites: []string{"nador"}, LastSeen: time.Now()})
		env.Redis.HSet(ctx, env.Store.Keys().ContactState(ck), "v", 1, "s", st, "a", env.Store.Seal(chat), "ch", telegram.Channel)
		env.Redis.SAdd(ctx, env.Store.Keys().SubscribersOf("nador", ck), ck)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	loc, err := time.LoadLocation("Africa/Casablanca")
	if err != nil {
		t.Fatal(err)
	}
	bc := broadcast.New(env.Redis, env.Store, env.Dialog.Content, log, broadcast.Options{Location: loc})
	dists := distribution.New(env.Store, bc, env.Dialog.Content, 24*time.Hour, nil, nil, log)
	people := access.NewPeople(env.Redis, env.Prefix, "bootstrap-admin-token-0123456789", nil)
	audit := access.NewAudit(env.Redis, env.Prefix, access.AuditOptions{})
	opts := Options{People: people, Sessions: access.NewSessions(env.Redis, env.Prefix), Audit: audit,
		Dialog: env.Dialog, Broadcasts: bc, Distributions: dists, Location: loc,
		Prices: map[string]float64{"sms": 0.35}, Currency: "MAD"}
	for _, f := range with {
		f(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	inv, err := people.Invite(ctx, "youssef", role, "en")
	if err != nil {
		t.Fatal(err)
	}
	const pass = "a long enough passphrase"
	if _, err := people.Accept(ctx, inv.Token, pass); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(srv.URL+"/login", url.Values{"username": {"youssef"}, "password": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	return &distEnv{env: env, dists: dists, audit: audit, srv: srv, client: client}
}

// post sends a form and returns the status, the body and where it leads.
func (e *distEnv) post(t *testing.T, path string, form url.Values) (int, string, string) {
	t.Helper()
	resp, err := e.client.PostForm(e.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

func (e *distEnv) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := e.client.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// distForm is a valid form for a distribution in three days.
func distForm(step string) url.Values {
	start := time.Now().Add(72 * time.Hour)
	return url.Values{"site": {"nador"}, "starts": {start.Format("2006-01-02T") + "10:00"}, "ends": {start.Format("2006-01-02T") + "13:00"},
		"place_fr": {"Terrain de sport"}, "place_ar": {"الملعب"}, "who_en": {"families"}, "items": {"rice", "oil"}, "notify": {"1"}, "step": {step}}
}

// hidden reads the hidden fields of a page.
func hidden(body string) url.Values {
	out := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(body, -1) {
		out.Add(m[1], htmlUnescape(m[2]))
	}
	return out
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#39;", "'", "&#34;", `"`, "&lt;", "<", "&gt;", ">").Replace(s)
}

// TestDistributionFormWithoutJavaScript: the form, then its confirmation,
// work as plain forms: the confirmation carries every value (back to the
// form keeps them), shows the notice in each language, and confirming it
// twice (a double click, a resent form) announces once, audited once.
func TestDistributionFormWithoutJavaScript(t *testing.T) {
	t.Parallel()
	e := newDistEnv(t, access.Staff)
	status, body, _ := e.post(t, "/distributions/new", distForm("preview"))
	if status != http.StatusOK || strings.Count(body, `class="sms"`) != 3 || !strings.Contains(body, "3 subscribers of Nador will get this notice.") {
		t.Fatalf("confirmation: %d\n%s", status, body)
	}
	if !strings.Contains(body, `id="notice-ar"`) || !regexp.MustCompile(`class="sms" lang="ar" dir="rtl">[^<]*الملعب`).MatchString(body) {
		t.Error("the Arabic notice is not shown right to left with its place")
	}
	form := hidden(body)
	if form.Get("once") == "" || form.Get("place_ar") != "الملعب" || len(form["items"]) != 2 {
		t.Fatalf("the confirmation carries %v", form)
	}

	back := url.Values{}
	for k, v := range form {
		back[k] = v
	}
	back.Set("step", "edit")
	status, body, _ = e.post(t, "/distributions/new", back)
	if status != http.StatusOK || !strings.Contains(body, ">Terrain de sport</textarea>") || !strings.Contains(body, `value="oil" checked`) {
		t.Errorf("back to the form: %d, values not kept", status)
	}
	if list, _ := e.dists.List(context.Background()); len(list) != 0 {
		t.Fatalf("%d distributions before confirming", len(list))
	}

	form.Set("step", "confirm")
	var where []string
	for range 2 {
		status, _, loc := e.post(t, "/distributions/new", form)
		if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/distributions/") {
			t.Fatalf("confirm: %d → %q", status, loc)
		}
		where = append(where, loc)
	}
	list, _ := e.dists.List(context.Background())
	if len(list) != 1 || where[0] != where[1] || where[0] != "/distributions/"+list[0].ID || !list[0].Notify || len(list[0].Told) != 2 {
		t.Fatalf("confirmed twice: %v, %+v; want one announced distribution", where, list)
	}
	if list[0].Who["en"] != "families" || list[0].Place["en"] != "" {
		t.Errorf("stored texts %v %v", list[0].Who, list[0].Place)
	}
	status, body = e.get(t, where[0])
	if status != http.StatusOK || !strings.Contains(body, "Announced: the notice is on its way to 3 people.") || !strings.Contains(body, `href="#told"`) {
		t.Errorf("after announcing: %d\n%s", status, body)
	}
	events, _ := e.audit.List(context.Background(), 20)
	n := 0
	for _, ev := range events {
		if ev.Action == "distribution.create" && ev.Who == "youssef" && ev.Target == list[0].ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d audit records of the creation, want 1", n)
	}
}

// TestDistributionErrorsNextToTheirField: what the service refuses is
// said next to its field, in the person's language, with the value kept.
func TestDistributionErrorsNextToTheirField(t *testing.T) {
	t.Parallel()
	e := newDistEnv(t, access.Staff)
	form := distForm("preview")
	form.Set("ends", form.Get("starts"))
	form.Set("bring_fr", strings.Repeat("a", 301))
	form.Del("items")
	status, body, _ := e.post(t, "/distributions/new", form)
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", status)
	}
	for id, want := range map[string]string{
		"ends-error":     "It must end after it starts.",
		"bring_fr-error": "301 characters: at most 300.",
		"items-error":    "Choose at least one item of the kit.",
	} {
		if !strings.Contains(body, `id="`+id+`">`+want+`</p>`) {
			t.Errorf("no %q at %s", want, id)
		}
	}
	if !strings.Contains(body, `>`+strings.Repeat("a", 301)+`</textarea>`) || !strings.Contains(body, `value="`+form.Get("ends")+`"`) {
		t.Error("the values were not kept")
	}
	// The same in French, with ?lang=.
	status, body, _ = e.post(t, "/distributions/new?lang=fr", form)
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "La fin doit venir après le début.") {
		t.Errorf("in French: %d", status)
	}
	if list, _ := e.dists.List(context.Background()); len(list) != 0 {
		t.Errorf("%d distributions stored", len(list))
	}
}

// TestDistributionLivePreview: the fragment answers the form as
// console.js sends it (multipart FormData) with the notices, and says what
// stops them when the form is not complete.
func TestDistributionLivePreview(t *testing.T) {
	t.Parallel()
	e := newDistEnv(t, access.Staff)
	var buf strings.Builder
	mw := multipart.NewWriter(&buf)
	for k, vs := range distForm("") {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/distributions/preview", strings.NewReader(buf.String()))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "<html") || strings.Count(string(body), `class="sms"`) != 3 {
		t.Errorf("fragment: %d\n%s", resp.StatusCode, body)
	}
	form := distForm("")
	form.Del("place_fr")
	form.Del("place_ar")
	status, frag, _ := e.post(t, "/distributions/preview", form)
	if status != http.StatusOK || !strings.Contains(frag, "Give the place, in one language at least.") || strings.Contains(frag, `class="sms"`) {
		t.Errorf("incomplete form: %d\n%s", status, frag)
	}
}

// TestDistributionChangeKeepsWhatItDidNotTouch: a time stored to the
// second, shown to the minute in the form, is not a change: saving the
// form with another kit sends no correction.
func TestDistributionChangeKeepsWhatItDidNotTouch(t *testing.T) {
	t.Parallel()
	e := newDistEnv(t, access.Staff)
	ctx := context.Background()
	start := time.Now().Add(72 * time.Hour).Truncate(time.Minute).Add(17 * time.Second)
	d, err := e.dists.Create(ctx, engine.Distribution{Site: "nador", StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		Place: engine.Localized{"fr": "Terrain\nà côté de l'école"}, Items: []string{"rice"}, Notify: true}, "amina")
	if err != nil {
		t.Fatal(err)
	}
	status, body := e.get(t, "/distributions/"+d.ID+"/edit")
	if status != http.StatusOK {
		t.Fatalf("edit: %d", status)
	}
	form := url.Values{"step": {"preview"}, "items": {"rice", "oil"}}
	for _, m := range regexp.MustCompile(`name="(starts|ends)" value="([^"]*)"`).FindAllStringSubmatch(body, -1) {
		form.Set(m[1], m[2])
	}
	form.Set("place_fr", "Terrain\r\nà côté de l'école") // as a browser sends a textarea
	status, body, _ = e.post(t, "/distributions/"+d.ID+"/edit", form)
	if status != http.StatusOK || !strings.Contains(body, "No message will be sent") || strings.Contains(body, `class="sms"`) {
		t.Fatalf("a change of kit: %d\n%s", status, body)
	}
	confirm := hidden(body)
	confirm.Set("step", "confirm")
	if status, _, _ := e.post(t, "/distributions/"+d.ID+"/edit", confirm); status != http.StatusSeeOther {
		t.Fatalf("confirm: %d", status)
	}
	got, _ := e.dists.Get(ctx, d.ID)
	if !got.StartsAt.Equal(start) || !slices.Equal(got.Items, []string{"rice", "oil"}) || len(got.Told) != len(d.Told) {
		t.Errorf("after the change: starts %v (want %v), items %v, told %v", got.StartsAt, start, got.Items, got.Told)
	}
}

// TestDistributionCancelChangedMeanwhile: a cancellation confirmed on what
// someone else has changed since is not done: the page shows it again.
func TestDistributionCancelChangedMeanwhile(t *testing.T) {
	t.Parallel()
	e := newDistEnv(t, access.Staff)
	ctx := context.Background()
	start := time.Now().Add(72 * time.Hour)
	d, err := e.dists.Create(ctx, engine.Distribution{Site: "nador", StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		Place: engine.Localized{"fr": "Terrain"}, Items: []string{"rice"}, Notify: true}, "amina")
	if err != nil {
		t.Fatal(err)
	}
	status, body := e.get(t, "/distributions/"+d.ID+"/cancel")
	if status != http.StatusOK || !strings.Contains(body, "Cancel it and tell") && !strings.Contains(body, "Cancel the distribution") {
		t.Fatalf("cancel page: %d\n%s", status, body)
	}
	base := hidden(body).Get("base")
	if _, err := e.dists.Update(ctx, d.ID, distribution.Patch{Items: []string{"oil"}}, "amina"); err != nil {
		t.Fatal(err)
	}
	status, body, _ = e.post(t, "/distributions/"+d.ID+"/cancel", url.Values{"base": {base}})
	if status != http.StatusConflict || !strings.Contains(body, "Someone changed this distribution meanwhile") {
		t.Errorf("stale cancel: %d", status)
	}
	if got, _ := e.dists.Get(ctx, d.ID); got.Cancelled {
		t.Fatal("cancelled on a stale confirmation")
	}
	status, _, _ = e.post(t, "/distributions/"+d.ID+"/cancel", url.Values{"base": {hidden(body).Get("base")}})
	if got, _ := e.dists.Get(ctx, d.ID); status != http.StatusSeeOther || !got.Cancelled {
		t.Errorf("cancel: %d, cancelled %v", status, got.Cancelled)
	}
	if status, _ := e.get(t, "/distributions/"+d.ID+"/edit"); status != http.StatusConflict {
		t.Errorf("editing a cancelled distribution: %d, want 409", status)
	}
}

// TestDistributionsAreForStaff: a partner sees none of these pages.
func TestDistributionsAreForStaff(t *testing.T) {
	t.Parallel()
	e := newDistEnv(t, access.Partner)
	if status, _ := e.get(t, "/distributions"); status != http.StatusForbidden {
		t.Errorf("GET /distributions as a partner: %d", status)
	}
	if status, _, _ := e.post(t, "/distributions/new", distForm("confirm")); status != http.StatusForbidden {
		t.Errorf("POST /distributions/new as a partner: %d", status)
	}
	if list, _ := e.dists.List(context.Background()); len(list) != 0 {
		t.Error("a partner created a distribution")
	}
}

// TestDistributionMessages: every problem the service can find has its
// message in every language.
func TestDistributionMessages(t *testing.T) {
	have := ids(t)
	for _, code := range distribution.Codes() {
		id := distErrors[code]
		if id == "" {
			t.Errorf("problem %q has no message", code)
			continue
		}
		for _, lang := range Languages {
			if !have[lang][id] {
				t.Errorf("%s is missing in %s", id, lang)
			}
		}
	}
}
