package main

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// consoleService starts the service on the test's Redis, with the admin
// token as the bootstrap admin's passphrase.
func consoleService(t *testing.T, more map[string]string) *service {
	t.Helper()
	vars := map[string]string{
		"REDIS_URL":             redistest.URL(t),
		"OUTREACH_REDIS_PREFIX": redistest.Prefix(t),
		"OUTREACH_ADMIN_TOKEN":  adminToken,
	}
	for k, v := range more {
		vars[k] = v
	}
	return startServe(t, vars)
}

func TestConsoleSignInInEachLanguage(t *testing.T) {
	t.Parallel()
	svc := consoleService(t, nil)
	b := newBrowser(t, svc.base, 390)

	// Signed out, any page leads to the sign-in form, and back after it.
	b.open("/?lang=fr")
	if loc := b.location(); !strings.HasPrefix(loc, "/login?next=") {
		t.Fatalf("signed out, / went to %s, want /login?next=…", loc)
	}
	b.screenshot("login-phone")

	// A wrong passphrase is refused next to the field, the username kept.
	b.fill("#username", "admin")
	b.fill("#password", "not-the-token")
	if status := b.submit("form button.primary"); status != http.StatusUnauthorized {
		t.Errorf("wrong passphrase: %d, want 401", status)
	}
	if got := b.text(".field-error"); !strings.Contains(got, "Wrong username") {
		t.Errorf("wrong passphrase: error %q", got)
	}
	if kept := b.value("#username"); kept != "admin" {
		t.Errorf("username after a wrong passphrase = %q, want admin", kept)
	}

	b.signIn("admin", adminToken)
	// Chromium asks for English (Accept-Language), and gets it.
	if got := b.text("h1"); got != "Dashboard" {
		t.Errorf("after sign-in, h1 = %q, want the English dashboard", got)
	}
	for lang, want := range map[string]string{"en": "Dashboard", "ar": "اللوحة", "fr": "Tableau de bord"} {
		b.open("/?lang=" + lang)
		dir, htmlLang := b.attr("html", "dir"), b.attr("html", "lang")
		wantDir := "ltr"
		if lang == "ar" {
			wantDir = "rtl"
			b.screenshot("dashboard-ar-phone")
		}
		if dir != wantDir || htmlLang != lang || b.text("h1") != want {
			t.Errorf("?lang=%s: dir=%q lang=%q h1=%q, want %s %s %q", lang, dir, htmlLang, b.text("h1"), wantDir, lang, want)
		}
	}

	// The language chosen in the switcher is kept for the person, over
	// the browser's.
	b.navigate("choose Arabic", chromedp.SetValue(chromedp.CSS("#lang-switch"), "ar"),
		chromedp.Submit(chromedp.CSS("#lang-switch")))
	// Wait for the page the choice leads to, then load another: the choice
	// is kept, not carried by the URL.
	b.waitText("h1", "اللوحة")
	b.open("/distributions")
	b.open("/")
	if got, dir := b.text("h1"), b.attr("html", "dir"); got != "اللوحة" || dir != "rtl" {
		t.Errorf("after choosing Arabic, h1 = %q, dir = %q", got, dir)
	}

	// Sign out ends the session.
	b.submit(".who button.link")
	b.open("/")
	if loc := b.location(); !strings.HasPrefix(loc, "/login") {
		t.Errorf("after signing out, / went to %s", loc)
	}
	if off := b.offOrigin(); len(off) > 0 {
		t.Errorf("pages made requests outside the service: %v", off)
	}
}

func TestConsoleRefusesCrossSiteAndSetsPolicy(t *testing.T) {
	t.Parallel()
	svc := consoleService(t, nil)
	jar := newJar(t)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(svc.base+"/login", url.Values{"username": {"admin"}, "password": {adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	resp, err = client.Get(svc.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
	// A POST from another site is refused, though it carries the cookie.
	req, _ := http.NewRequest("POST", svc.base+"/logout", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST /logout: %d, want 403", resp.StatusCode)
	}
	// Still signed in: the refused POST did nothing.
	resp, err = client.Get(svc.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("after the refused POST, / = %d, want 200 (still signed in)", resp.StatusCode)
	}
}

// TestConsoleSessionCookie: the session cookie is HttpOnly and SameSite=Lax
// always, Secure when the service is reached over https, and sessions are
// kept in Redis with the idle expiry.
func TestConsoleSessionCookie(t *testing.T) {
	t.Parallel()
	for _, public := range []string{"http://localhost:8080", "https://outreach.example.org"} {
		svc := consoleService(t, map[string]string{"OUTREACH_PUBLIC_URL": public})
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.PostForm(svc.base+"/login", url.Values{"username": {"admin"}, "password": {adminToken}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var session *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "outreach_session" {
				session = c
			}
		}
		if session == nil {
			t.Fatalf("%s: no session cookie after sign-in", public)
		}
		wantSecure := strings.HasPrefix(public, "https")
		if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Secure != wantSecure {
			t.Errorf("%s: cookie HttpOnly=%v SameSite=%v Secure=%v, want true Lax %v", public, session.HttpOnly, session.SameSite, session.Secure, wantSecure)
		}
	}
}

// TestConsoleSignInNeverLocksOut: wrong passphrases slow the next attempts
// down, but the right one still signs in.
func TestConsoleSignInNeverLocksOut(t *testing.T) {
	t.Parallel()
	svc := consoleService(t, nil)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for range 5 {
		resp, err := client.PostForm(svc.base+"/login", url.Values{"username": {"admin"}, "password": {"guess"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a wrong passphrase: %d, want 401", resp.StatusCode)
		}
	}
	resp, err := client.PostForm(svc.base+"/login", url.Values{"username": {"admin"}, "password": {adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the right passphrase after five wrong ones: %d, want 303 (signed in)", resp.StatusCode)
	}
}

// TestConsoleSessionIdleExpiry: a session lasts 12 hours without use, and
// each use starts those 12 hours again. The session is kept in Redis with
// that expiry; the test moves the clock by shortening it, as 11 hours of
// silence would, then as 12 would.
func TestConsoleSessionIdleExpiry(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"REDIS_URL":             redistest.URL(t),
		"OUTREACH_REDIS_PREFIX": redistest.Prefix(t),
		"OUTREACH_ADMIN_TOKEN":  adminToken,
	}
	svc := startServe(t, vars)
	rdb := redisOf(t, vars)
	ctx := context.Background()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(svc.base+"/login", url.Values{"username": {"admin"}, "password": {adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sessions := redistest.KeysUnder(t, rdb, vars["OUTREACH_REDIS_PREFIX"]+"{session}:")
	if len(sessions) != 1 {
		t.Fatalf("sessions in Redis after sign-in: %d, want 1", len(sessions))
	}
	key := sessions[0]
	idle := func() time.Duration { return rdb.PTTL(ctx, key).Val() }
	if got := idle(); got < 11*time.Hour+59*time.Minute || got > 12*time.Hour {
		t.Fatalf("a new session expires in %v, want 12h", got)
	}
	page := func() int {
		resp, err := client.Get(svc.base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Eleven hours of silence: an hour left, and using it starts 12 again.
	rdb.PExpire(ctx, key, time.Hour)
	if code := page(); code != http.StatusOK {
		t.Fatalf("after 11 idle hours the dashboard answered %d, want 200", code)
	}
	if got := idle(); got < 11*time.Hour+59*time.Minute {
		t.Errorf("a used session expires in %v, want 12h again", got)
	}
	// Twelve hours of silence: the session is gone and the page asks to
	// sign in.
	rdb.PExpire(ctx, key, time.Millisecond)
	waitFor(t, func() bool { return rdb.Exists(ctx, key).Val() == 0 })
	resp, err = client.Get(svc.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther && resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/login") {
		t.Errorf("after 12 idle hours: %d to %q, want a redirect to /login", resp.StatusCode, loc)
	}
}

// TestConsoleByKeyboard: the console works without a mouse. On a phone's
// width, the first Tab of a page reaches the skip link, shown while it has
// the focus, and Enter on it moves the focus to the page's content; the
// sign-in form is filled and sent with the keyboard alone; every control
// the Tab key reaches on the dashboard has a name a screen reader says.
func TestConsoleByKeyboard(t *testing.T) {
	t.Parallel()
	svc := consoleService(t, nil)
	b := newBrowser(t, svc.base, 390)
	key := func(what, keys string) { b.do(what, chromedp.KeyEvent(keys)) }
	focused := func() string {
		return eval[string](b, `document.activeElement ? (document.activeElement.id || document.activeElement.className) : ""`)
	}

	b.open("/login?lang=en")
	key("tab", kb.Tab)
	if got := focused(); got != "skip" {
		t.Fatalf("the first Tab focused %q, want the skip link", got)
	}
	if w := eval[float64](b, `document.activeElement.getBoundingClientRect().width`); w < 20 {
		t.Errorf("the focused skip link is %v px wide: it must show while it has the focus", w)
	}
	for range 10 {
		if focused() == "username" {
			break
		}
		key("tab", kb.Tab)
	}
	if got := focused(); got != "username" {
		t.Fatalf("Tab never reached the username (at %q)", got)
	}
	key("type the username", "admin")
	key("tab", kb.Tab)
	if got := focused(); got != "password" {
		t.Fatalf("Tab after the username focused %q, want the passphrase", got)
	}
	key("type the passphrase", adminToken)
	b.navigate("send with Enter", chromedp.KeyEvent(kb.Enter))
	if got := b.text("h1"); got != "Dashboard" {
		t.Fatalf("after Enter on the sign-in form, h1 = %q, want the dashboard", got)
	}

	key("tab", kb.Tab)
	if got := focused(); got != "skip" {
		t.Fatalf("on the dashboard the first Tab focused %q, want the skip link", got)
	}
	key("enter", kb.Enter)
	waitfor.Cond(t, waitfor.Default, "the focus in the content", func() bool { return focused() == "main" })

	// Every control Tab reaches has a name: its text, a label, aria-label
	// or a title.
	unnamed := eval[[]string](b, `(() => {
		const out = [];
		for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])')) {
			const labelled = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.getAttribute('title');
			if (!labelled && !(el.innerText || el.value || '').trim()) out.push(el.outerHTML.slice(0, 120));
		}
		return out;
	})()`)
	for _, el := range unnamed {
		t.Errorf("a control without a name: %s", el)
	}
}
