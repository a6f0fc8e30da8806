package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/stats"
	"github.com/outreach-org/outreach/bot/store"
)

const bootstrap = "a-bootstrap-token-for-the-console-tests"

// fixture is a console over a test's own Redis keys, with its services.
type fixture struct {
	t      testing.TB
	rdb    redis.UniversalClient
	prefix string
	srv    *httptest.Server
	people *access.People
	audit  *access.Audit
	tokens *access.Tokens
	stats  *stats.Stats
	store  *store.Store
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	d := dialog.New(st, c, metrics.New(), log, dialog.Options{})
	f := &fixture{t: t, rdb: rdb, prefix: prefix, store: st,
		people: access.NewPeople(rdb, prefix, bootstrap, nil),
		audit:  access.NewAudit(rdb, prefix, access.AuditOptions{}),
		tokens: access.NewTokens(rdb, prefix, bootstrap),
		stats:  stats.New(rdb, prefix, stats.Options{}),
	}
	con, err := New(Options{
		People: f.people, Sessions: access.NewSessions(rdb, prefix), Audit: f.audit, Tokens: f.tokens,
		Dialog: d, Broadcasts: broadcast.New(rdb, st, d.Content, log, broadcast.Options{}),
		Requests: st.Requests(), Sites: st, Outbox: outbox.New(rdb, st.Keys()), Stats: f.stats, Subscribers: st.Contacts(), Census: st.Contacts(),
		PublicURL: "https://console.example.org/",
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(con.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// client is someone's browser: cookies kept, redirects not followed.
type client struct {
	f   *fixture
	hc  *http.Client
	who string
}

func (f *fixture) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{f: f, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signIn signs in and fails the test if that does not work.
func (f *fixture) signIn(name, pass string) *client {
	f.t.Helper()
	c := f.client()
	if code, _, loc := c.post("/login", url.Values{"username": {name}, "password": {pass}}); code != http.StatusSeeOther || loc != "/" {
		f.t.Fatalf("signing in as %s: %d to %q", name, code, loc)
	}
	c.who = name
	return c
}

func (c *client) get(path string) (int, string, string) {
	c.f.t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	resp, err := c.hc.Get(c.f.srv.URL + path + sep + "lang=en")
	if err != nil {
		c.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

func (c *client) post(path string, form url.Values) (int, string, string) {
	c.f.t.Helper()
	resp, err := c.hc.PostForm(c.f.srv.URL+path+"?lang=en", form)
	if err != nil {
		c.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

// invite invites name as staff and has them choose a passphrase.
func (f *fixture) invite(admin *client, name string, role access.Role) (*client, string) {
	f.t.Helper()
	code, page, _ := admin.post("/admin/people", url.Values{"username": {name}, "role": {string(role)}, "lang": {"fr"}})
	if code != http.StatusOK {
		f.t.Fatalf("invite %s: %d", name, code)
	}
	m := regexp.MustCompile(`value="https://console.example.org/invite/([A-Za-z0-9_-]+)"`).FindStringSubmatch(page)
	if m == nil {
		f.t.Fatalf("no invitation link on the page")
	}
	pass := "a passphrase of " + name
	c := f.client()
	if code, _, _ := c.post("/invite/"+m[1], url.Values{"password": {pass}, "password_again": {pass}}); code != http.StatusSeeOther {
		f.t.Fatalf("accept %s: %d", name, code)
	}
	c.who = name
	return c, m[1]
}

// actions are the audited actions of who, newest first.
func (f *fixture) actions(who string) []string {
	f.t.Helper()
	events, err := f.audit.List(context.Background(), 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		if e.Who == who {
			out = append(out, e.Action+" "+e.Target)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestDisablingEndsSessionsAtTheNextRequest: a disabled person's open
// session ends at their next request, whatever page; enabled again, they
// sign in again. Each change is audited under the admin's name.
func TestDisablingEndsSessionsAtTheNextRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.signIn("admin", bootstrap)
	staff, _ := f.invite(admin, "karim", access.Staff)
	if code, _, _ := staff.get("/"); code != http.StatusOK {
		t.Fatalf("the invited person on the dashboard: %d", code)
	}
	if code, page, _ := admin.get("/admin/people/karim/disable"); code != http.StatusOK || !strings.Contains(page, "signed out at their next click") {
		t.Fatalf("the confirmation page: %d", code)
	}
	// The confirmation page itself changes nothing.
	if p, _ := f.people.Get(context.Background(), "karim"); p.Disabled {
		t.Fatal("opening the confirmation page disabled the person")
	}
	if code, _, loc := admin.post("/admin/people/karim/disable", nil); code != http.StatusSeeOther || loc != "/admin/people" {
		t.Fatalf("disable: %d to %q", code, loc)
	}
	if code, _, loc := staff.get("/"); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
		t.Errorf("the disabled person's next request: %d to %q, want a redirect to /login", code, loc)
	}
	// The session is gone, not only refused: enabling does not revive it.
	if code, _, loc := admin.post("/admin/people/karim/enable", nil); code != http.StatusSeeOther || loc != "/admin/people" {
		t.Fatalf("enable: %d to %q", code, loc)
	}
	if code, _, _ := staff.get("/"); code != http.StatusSeeOther {
		t.Errorf("the old session after enabling: %d, want a redirect (it ended)", code)
	}
	f.signIn("karim", "a passphrase of karim")
	got := f.actions("admin")
	for _, want := range []string{"person.invite karim (staff)", "person.disable karim", "person.enable karim"} {
		if !contains(got, want) {
			t.Errorf("the audit log lacks %q: %q", want, got)
		}
	}
	if !contains(f.actions("karim"), "console.invite.accepted karim") {
		t.Errorf("karim's acceptance is not audited: %q", f.actions("karim"))
	}
}

func TestAdminPagesAreForAdminsOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.signIn("admin", bootstrap)
	staff, _ := f.invite(admin, "nadia", access.Staff)
	partner, _ := f.invite(admin, "youssef", access.Partner)
	for _, path := range []string{"/admin", "/admin/people", "/admin/tokens", "/admin/sites", "/admin/sites/nador", "/admin/audit", "/admin/people/nadia/disable", "/admin/tokens/x/delete"} {
		for _, c := range []*client{staff, partner} {
			if code, _, _ := c.get(path); code != http.StatusForbidden {
				t.Errorf("%s on %s: %d, want 403", c.who, path, code)
			}
		}
	}
	for _, path := range []string{"/admin/people/youssef/disable", "/admin/tokens", "/admin/sites"} {
		if code, _, _ := staff.post(path, url.Values{"name": {"x"}, "role": {"admin"}}); code != http.StatusForbidden {
			t.Errorf("staff POST %s: %d, want 403", path, code)
		}
	}
	if p, _ := f.people.Get(context.Background(), "youssef"); p.Disabled {
		t.Error("staff disabled someone")
	}
	if list, _ := f.tokens.List(context.Background()); len(list) != 0 {
		t.Errorf("staff made a token: %v", list)
	}
	// Everyone signed in sees the dashboard.
	for _, c := range []*client{admin, staff, partner} {
		if code, _, _ := c.get("/"); code != http.StatusOK {
			t.Errorf("%s on the dashboard: %d", c.who, code)
		}
	}
}

func TestAdminCannotDisableThemselves(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	root := f.signIn("admin", bootstrap)
	other, _ := f.invite(root, "salma", access.Admin)
	if code, _, _ := other.post("/admin/people/salma/disable", nil); code != http.StatusUnprocessableEntity {
		t.Errorf("disabling oneself: %d, want 422", code)
	}
	if code, _, _ := other.get("/admin/people/salma/disable"); code != http.StatusUnprocessableEntity {
		t.Errorf("the confirmation to disable oneself: %d, want 422", code)
	}
	if code, _, _ := other.post("/admin/people/admin/disable", nil); code != http.StatusNotFound {
		t.Errorf("disabling the bootstrap admin: %d, want 404", code)
	}
	if p, _ := f.people.Get(context.Background(), "salma"); p.Disabled {
		t.Error("salma is disabled")
	}
}

func TestInviteErrorsAreNextToTheFieldWithTheValuesKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.signIn("admin", bootstrap)
	code, page, _ := admin.post("/admin/people", url.Values{"username": {"no spaces please"}, "role": {"boss"}, "lang": {"ar"}})
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("a bad invitation: %d, want 422", code)
	}
	for _, want := range []string{`id="username-error"`, `id="role-error"`, `value="no spaces please"`, `<option value="ar" lang="ar" selected>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	f.invite(admin, "omar", access.Partner)
	if code, page, _ := admin.post("/admin/people", url.Values{"username": {"omar"}, "role": {"staff"}, "lang": {"fr"}}); code != http.StatusUnprocessableEntity || !strings.Contains(page, "has this username already") {
		t.Errorf("inviting someone who exists: %d", code)
	}
	// The page that shows a link is kept out of caches.
	resp, err := admin.hc.PostForm(f.srv.URL+"/admin/people", url.Values{"username": {"new.one"}, "role": {"staff"}, "lang": {"en"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the invitation page's Cache-Control = %q, want no-store", cc)
	}
}

func TestTokensAreMadeShownOnceAndDeleted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.signIn("admin", bootstrap)
	code, page, _ := admin.post("/admin/tokens", url.Values{"name": {"export"}, "role": {"staff"}})
	if code != http.StatusOK {
		t.Fatalf("make a token: %d", code)
	}
	m := regexp.MustCompile(`value="(otk_[A-Za-z0-9_-]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the token is not on the page")
	}
	if p, ok, err := f.tokens.Lookup(context.Background(), m[1]); err != nil || !ok || p.Name != "export" || p.Role != access.Staff {
		t.Errorf("the token shown is %v %v %v", p, ok, err)
	}
	if _, page, _ := admin.get("/admin/tokens"); strings.Contains(page, m[1]) || !strings.Contains(page, "export") {
		t.Error("the list shows the token again, or not its name")
	}
	if code, page, _ := admin.get("/admin/tokens/export/delete"); code != http.StatusOK || !strings.Contains(page, "stop working at once") {
		t.Errorf("the confirmation page: %d", code)
	}
	if code, _, _ := admin.get("/admin/tokens/nothere/delete"); code != http.StatusNotFound {
		t.Errorf("confirming the deletion of no token: %d, want 404", code)
	}
	if code, _, loc := admin.post("/admin/tokens/export/delete", nil); code != http.StatusSeeOther || loc != "/admin/tokens" {
		t.Fatalf("delete: %d %q", code, loc)
	}
	if _, ok, _ := f.tokens.Lookup(context.Background(), m[1]); ok {
		t.Error("the deleted token still works")
	}
	got := f.actions("admin")
	if !contains(got, "token.create export (staff)") || !contains(got, "token.delete export") {
		t.Errorf("the audit log: %q", got)
	}
}

func TestSitesAreChangedByTheSameRulesAsTheAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.signIn("admin", bootstrap)
	// A name with a line break, an area too long: each next to its field.
	code, page, _ := admin.post("/admin/sites", url.Values{"id": {"taza"}, "name_fr": {"Taza"}, "name_ar": {"تازة\u202e"},
		"area_en": {strings.Repeat("x", 101)}, "exact_place": {"subscribers"}})
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("a bad site: %d, want 422", code)
	}
	for _, want := range []string{`id="name_ar-error"`, `id="area_en-error"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(page, `id="name_fr-error"`) {
		t.Error("a good name is marked wrong")
	}
	if code, page, _ := admin.post("/admin/sites", url.Values{"id": {"taza"}, "exact_place": {"subscribers"}}); code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="names-error"`) {
		t.Errorf("a site without a name: %d", code)
	}
	if code, _, loc := admin.post("/admin/sites", url.Values{"id": {"taza"}, "name_fr": {"Taza"}, "name_ar": {"تازة"}, "exact_place": {"subscribers"}}); code != http.StatusSeeOther || loc != "/admin/sites" {
		t.Fatalf("add: %d %q", code, loc)
	}
	if code, page, _ := admin.post("/admin/sites", url.Values{"id": {"taza"}, "name_fr": {"Taza"}}); code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="id-error"`) {
		t.Errorf("the same id again: %d", code)
	}
	// Retire it: the conversation no longer offers it.
	if code, _, _ := admin.post("/admin/sites/taza", url.Values{"retired": {"1"}, "exact_place": {"everyone"}}); code != http.StatusSeeOther {
		t.Fatalf("change: %d", code)
	}
	sites, err := f.store.Sites(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, s := range sites {
		if s.ID == "taza" {
			found = true
			if !s.Retired || s.ExactPlace != "everyone" || s.Names["fr"] != "Taza" || s.Names["ar"] != "تازة" {
				t.Errorf("taza stored as %+v", s)
			}
		}
	}
	if !found {
		t.Error("taza is not stored")
	}
	if code, _, _ := admin.post("/admin/sites/nowhere", url.Values{"exact_place": {"everyone"}}); code != http.StatusNotFound {
		t.Errorf("changing no site: %d, want 404", code)
	}
	got := f.actions("admin")
	if !contains(got, "site.add taza") || !contains(got, "site.change taza") {
		t.Errorf("the audit log: %q", got)
	}
}

func TestAuditPageFiltersAndRefusesBadDates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.signIn("admin", bootstrap)
	for i := range adminPageSize + 5 {
		if err := f.audit.Record(context.Background(), access.Principal{Name: "bot-" + string(rune('a'+i%3)), Role: access.Staff}, "site.change", "nador"); err != nil {
			t.Fatal(err)
		}
	}
	code, page, _ := admin.get("/admin/audit?action=site.")
	if code != http.StatusOK {
		t.Fatalf("audit: %d", code)
	}
	if n := strings.Count(page, "<code>site.change</code>"); n != adminPageSize {
		t.Errorf("%d entries on the first page, want %d", n, adminPageSize)
	}
	m := regexp.MustCompile(`href="(/admin/audit\?[^"]*after=[^"]+)" rel="next"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no link to the older entries")
	}
	next := strings.ReplaceAll(m[1], "&amp;", "&")
	if _, page, _ := admin.get(next); strings.Count(page, "<code>site.change</code>") != 5 {
		t.Errorf("the older page has %d entries, want 5", strings.Count(page, "<code>site.change</code>"))
	}
	if _, page, _ := admin.get("/admin/audit?who=bot-a"); strings.Contains(page, "bot-b") || !strings.Contains(page, "bot-a") {
		t.Error("the who filter shows others")
	}
	if code, page, _ := admin.get("/admin/audit?from=yesterday"); code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="from-error"`) || !strings.Contains(page, `value="yesterday"`) {
		t.Errorf("a bad date: %d", code)
	}
	today := time.Now().Format(time.DateOnly)
	if code, page, _ := admin.get("/admin/audit?from=" + today + "&until=" + today); code != http.StatusOK || !strings.Contains(page, "bot-a") {
		t.Errorf("today's entries: %d", code)
	}
}

func TestDashboardShowsTheCounts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.stats.Add(stats.Name(stats.In, "sms"), 12)
	f.stats.Add(stats.Name(stats.Out, "sms"), 30)
	f.stats.Add(stats.Name(stats.Delivered, "sms"), 27)
	f.stats.Add(stats.Name(stats.Failed, "sms"), 2)
	f.stats.Add(stats.Name(stats.Lang, "ar"), 7)
	f.stats.Add(stats.Name(stats.Site, "nador"), 4)
	if err := f.stats.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, ck := range []string{"a", "b", "c"} {
		f.rdb.SAdd(ctx, f.store.Keys().SubscribersOf("nador", ck), ck)
	}
	staff := f.signIn("admin", bootstrap)
	if _, page, _ := staff.get("/"); !strings.Contains(page, "Not counted yet") {
		t.Error("before the first count, the dashboard does not say the people are not counted yet")
	}
	k := f.store.Keys()
	// As the dialog keeps them: 7 Arabic speakers who follow Nador, 1
	// French speaker whose conversation under way is about Nador, one
	// person with nothing known.
	for i := range 9 {
		contact := fmt.Sprintf("census%d", i)
		switch {
		case i < 7:
			f.rdb.HSet(ctx, k.ContactState(contact), "s", `{"lang":"ar","sites":["nador"]}`)
		case i == 7:
			f.rdb.HSet(ctx, k.ContactState(contact), "s", `{"lang":"fr"}`)
			f.rdb.Set(ctx, k.Dialog(contact), `{"node":"main","vars":{"site":"nador"}}`, time.Hour)
		default:
			f.rdb.HSet(ctx, k.ContactState(contact), "s", `{}`)
		}
	}
	if _, err := f.store.Contacts().CountPeople(ctx, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	code, page, _ := staff.get("/")
	if code != http.StatusOK {
		t.Fatalf("dashboard: %d", code)
	}
	row := regexp.MustCompile(`(?s)<th scope="row">SMS</th>\s*<td[^>]*>12</td>\s*<td[^>]*>30</td>\s*<td[^>]*>27 <span class="hint">\(90 %\)</span></td>\s*<td[^>]*>2</td>`)
	if !row.MatchString(page) {
		t.Error("the SMS row does not read 12 in, 30 out, 27 delivered (90 %), 2 failed")
	}
	for _, want := range []string{
		`<th scope="row" lang="ar">العربية</th><td>7</td>`,
		`<th scope="row">Nador</th><td>4</td>`,
		`<rect class="bar-sms"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the dashboard lacks %s", want)
		}
	}
	if !regexp.MustCompile(`(?s)<th scope="row">Nador</th>\s*<td data-label="Subscribers">3</td>`).MatchString(page) {
		t.Error("the subscribers of Nador are not 3")
	}
	// The census: Nador 1 in French (shown 1–4), 7 in Arabic, 8 in all;
	// one person with neither city nor language (1–4); 9 people in all.
	census := regexp.MustCompile(`(?s)<table class="census">.*?</table>`).FindString(page)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?s)<th scope="row">Nador</th>\s*<td>1–4</td><td>0</td><td>7</td><td>0</td>\s*<td>8</td>`),
		regexp.MustCompile(`(?s)<th scope="row">No city yet</th>\s*<td>0</td><td>0</td><td>0</td><td>1–4</td>\s*<td>1–4</td>`),
		regexp.MustCompile(`(?s)<tfoot>.*<td>9</td></tr></tfoot>`),
	} {
		if !want.MatchString(census) {
			t.Errorf("the census lacks %s:\n%s", want, census)
		}
	}
	if len(page) > 250_000 {
		t.Errorf("the dashboard weighs %d bytes", len(page))
	}
}

func TestChartBarsAreScaledAndMirroredRightToLeft(t *testing.T) {
	t.Parallel()
	day := func(i int, sms, tg int64) Day {
		return Day{Date: time.Date(2026, 3, 1+i, 0, 0, 0, 0, time.UTC), Counts: map[string]int64{"in.sms": sms, "in.telegram": tg}}
	}
	days := []Day{day(0, 2, 0), day(1, 0, 0), day(2, 1, 3)}
	ltr := newChart("in", "In", days, stats.In, []string{"sms", "telegram"}, "en")
	if ltr.Max != 4 || ltr.Total != 6 || len(ltr.Bars) != 3 {
		t.Fatalf("max %d total %d bars %d, want 4, 6, 3", ltr.Max, ltr.Total, len(ltr.Bars))
	}
	full := ltr.BaseY - ltr.TopY
	// The tallest day reaches the top; SMS is at the bottom of its stack.
	if b := ltr.Bars[1]; b.Channel != "sms" || b.H != round1(full/4) || b.Y != round1(ltr.BaseY-full/4) {
		t.Errorf("day 3's SMS bar %+v", b)
	}
	if b := ltr.Bars[2]; b.Channel != "telegram" || b.Y != round1(ltr.TopY) {
		t.Errorf("day 3's Telegram bar %+v, want it to reach the top %v", b, ltr.TopY)
	}
	if ltr.Bars[0].X >= ltr.Bars[1].X {
		t.Error("left to right, the oldest day is not on the left")
	}
	rtl := newChart("in", "In", days, stats.In, []string{"sms", "telegram"}, "ar")
	if rtl.Bars[0].X <= rtl.Bars[1].X || rtl.Anchor != "start" || rtl.AxisX < rtl.PlotEnd {
		t.Errorf("right to left: oldest bar at %v, newest at %v, axis at %v (%s)", rtl.Bars[0].X, rtl.Bars[1].X, rtl.AxisX, rtl.Anchor)
	}
	if rows := ltr.Rows; len(rows) != 3 || rows[2].Total != 4 || rows[0].N[0] != 2 {
		t.Errorf("the table's rows %+v", rows)
	}
	if empty := newChart("in", "In", []Day{day(0, 0, 0)}, stats.In, []string{"sms"}, "fr"); len(empty.Bars) != 0 || empty.Max != 0 {
		t.Errorf("no traffic draws %d bars", len(empty.Bars))
	}
}
