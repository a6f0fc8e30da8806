package main

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

// TestConsoleAdminInvitesAndDisables: the bootstrap admin invites a staff
// member who works in Arabic; a second browser opens the link, sets a
// passphrase (a mismatch first), is signed in and sees the console in
// Arabic; the admin disables that person, whose next page goes to the
// sign-in form. Every change is in the audit log under the admin's name.
func TestConsoleAdminInvitesAndDisables(t *testing.T) {
	t.Parallel()
	svc := consoleService(t, map[string]string{"OUTREACH_PUBLIC_URL": "https://console.example.org"})
	admin := newBrowser(t, svc.base, 1280)
	admin.signIn("admin", adminToken)
	admin.open("/admin?lang=en")
	admin.screenshot("admin-home-desktop")
	if status := admin.navigate("people", chromedp.Click(chromedp.CSS(`.admin-nav a[href="/admin/people"]`), chromedp.NodeVisible)); status != http.StatusOK {
		t.Fatalf("/admin/people: %d", status)
	}

	// A bad username is refused next to the field, the choices kept.
	admin.fill("#username", "samira nador")
	admin.do("choose Arabic", chromedp.SetValue(chromedp.CSS("#lang"), "ar"))
	if status := admin.submit(`form[action="/admin/people"] button.primary`); status != http.StatusUnprocessableEntity {
		t.Errorf("a username with a space: %d, want 422", status)
	}
	if got := admin.text("#username-error"); !strings.Contains(got, "64 letters") {
		t.Errorf("error next to the username: %q", got)
	}
	if got := admin.value("#lang"); got != "ar" {
		t.Errorf("the language chosen was not kept: %q", got)
	}

	admin.fill("#username", "samira")
	check(admin, `input[name=role][value=staff]`)
	if status := admin.submit(`form[action="/admin/people"] button.primary`); status != http.StatusOK {
		t.Fatalf("invite: %d", status)
	}
	link := admin.value("#invite-link")
	admin.screenshot("invite-link-desktop")
	if !strings.HasPrefix(link, "https://console.example.org/invite/") || len(link) < len("https://console.example.org/invite/")+20 {
		t.Fatalf("invitation link %q, want OUTREACH_PUBLIC_URL/invite/<token>", link)
	}
	if got := admin.text("main"); !strings.Contains(got, "samira") || !strings.Contains(got, "invited, link not used") {
		t.Errorf("the list does not show samira as invited:\n%s", got)
	}
	// The link is shown once: the list, opened again, does not hold it.
	admin.open("/admin/people")
	if html := eval[string](admin, "document.documentElement.outerHTML"); strings.Contains(html, strings.TrimPrefix(link, "https://console.example.org")) {
		t.Error("the invitation link is shown again on the people page")
	}

	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	person := newBrowser(t, svc.base, 390)
	if status := person.open(u.Path); status != http.StatusOK {
		t.Fatalf("the invitation link: %d", status)
	}
	if lang, dir := person.attr("html", "lang"), person.attr("html", "dir"); lang != "ar" || dir != "rtl" {
		t.Errorf("the invitation opens in lang=%q dir=%q, want the person's Arabic, rtl", lang, dir)
	}
	person.fill("#password", "three words remembered")
	person.fill("#password_again", "three words forgotten")
	if status := person.submit("form button.primary"); status != http.StatusUnprocessableEntity {
		t.Errorf("two different passphrases: %d, want 422", status)
	}
	if got := person.text("#password_again-error"); got == "" {
		t.Error("no error next to the second passphrase")
	}
	person.screenshot("invite-mismatch-ar-phone")
	person.fill("#password", "three words remembered")
	person.fill("#password_again", "three words remembered")
	if status := person.submit("form button.primary"); status != http.StatusOK {
		t.Fatalf("accepting the invitation: %d", status)
	}
	if loc := person.location(); loc != "/" {
		t.Errorf("after accepting, the page is %s, want the dashboard", loc)
	}
	if lang, dir, h1 := person.attr("html", "lang"), person.attr("html", "dir"), person.text("h1"); lang != "ar" || dir != "rtl" || h1 != "اللوحة" {
		t.Errorf("signed in, the console is lang=%q dir=%q h1=%q; want Arabic, rtl", lang, dir, h1)
	}
	if person.text(".person") != "samira" {
		t.Errorf("signed in as %q", person.text(".person"))
	}
	person.screenshot("dashboard-ar-invited-phone")
	// Staff do not reach the admin pages.
	if status := person.open("/admin/people"); status != http.StatusForbidden {
		t.Errorf("staff on /admin/people: %d, want 403", status)
	}

	// The admin disables samira, through a page that says what it does.
	admin.open("/admin/people")
	if got := admin.text("main"); !strings.Contains(got, "active") {
		t.Errorf("samira is not shown active:\n%s", got)
	}
	admin.navigate("disable", chromedp.Click(chromedp.CSS(`a[href="/admin/people/samira/disable"]`), chromedp.NodeVisible))
	if got := admin.text(".warning"); !strings.Contains(got, "signed out at their next click") {
		t.Errorf("the confirmation says %q", got)
	}
	admin.screenshot("disable-confirm-desktop")
	if status := admin.submit("button.danger.primary"); status != http.StatusOK {
		t.Fatalf("disable: %d", status)
	}
	if got := admin.text(".flash"); !strings.Contains(got, "samira is disabled") {
		t.Errorf("after disabling, the page says %q", got)
	}

	// samira's next page load goes to the sign-in form, and her
	// passphrase no longer works.
	person.open("/")
	if loc := person.location(); !strings.HasPrefix(loc, "/login") {
		t.Errorf("the disabled person's next page is %s, want /login", loc)
	}
	person.fill("#username", "samira")
	person.fill("#password", "three words remembered")
	if status := person.submit("form button.primary"); status != http.StatusUnauthorized {
		t.Errorf("a disabled person signing in: %d, want 401", status)
	}

	// The audit log has each change under the admin's name.
	admin.open("/admin/audit?who=admin&action=person.")
	got := admin.text("table.audit")
	for _, want := range []string{"person.invite", "samira (staff)", "person.disable"} {
		if !strings.Contains(got, want) {
			t.Errorf("the audit log lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "console.signin") {
		t.Errorf("the action filter let other actions through:\n%s", got)
	}
	admin.screenshot("audit-desktop")
	for _, b := range []*browser{admin, person} {
		if off := b.offOrigin(); len(off) > 0 {
			t.Errorf("pages made requests outside the service: %v", off)
		}
	}
}

// TestConsoleAdminTokensAndSites: an API token made in the console works
// with the API, is shown once and stops working when deleted through the
// confirmation page; a site is added with names in three languages (the
// Arabic one right to left) after a refused id, then renamed.
func TestConsoleAdminTokensAndSites(t *testing.T) {
	t.Parallel()
	svc := consoleService(t, nil)
	b := newBrowser(t, svc.base, 390)
	b.signIn("admin", adminToken)

	b.open("/admin/tokens?lang=en")
	b.fill("#name", "nightly-export")
	check(b, `input[name=role][value=partner]`)
	if status := b.submit(`form[action="/admin/tokens"] button.primary`); status != http.StatusOK {
		t.Fatalf("make a token: %d", status)
	}
	token := b.value("#new-token")
	b.screenshot("token-made-phone")
	if !strings.HasPrefix(token, "otk_") {
		t.Fatalf("token %q", token)
	}
	if code, _ := api(t, "GET", svc.base+"/api/v1/content/versions", token, ""); code != http.StatusOK {
		t.Errorf("the new partner token on the API: %d, want 200", code)
	}
	if code, _ := api(t, "GET", svc.base+"/api/v1/audit", token, ""); code != http.StatusForbidden {
		t.Errorf("the partner token on an admin route: %d, want 403", code)
	}
	// The same name again is refused next to the field.
	b.open("/admin/tokens")
	b.fill("#name", "nightly-export")
	if status := b.submit(`form[action="/admin/tokens"] button.primary`); status != http.StatusUnprocessableEntity {
		t.Errorf("a second token of the same name: %d, want 422", status)
	}
	if got := b.text("#name-error"); !strings.Contains(got, "has this name") {
		t.Errorf("error %q", got)
	}
	if html := eval[string](b, "document.documentElement.outerHTML"); strings.Contains(html, token) {
		t.Error("the token is shown again")
	}
	b.open("/admin/tokens")
	b.navigate("delete", chromedp.Click(chromedp.CSS(`a[href="/admin/tokens/nightly-export/delete"]`), chromedp.NodeVisible))
	if got := b.text(".warning"); !strings.Contains(got, "stop working at once") {
		t.Errorf("the confirmation says %q", got)
	}
	b.screenshot("token-delete-confirm-phone")
	if status := b.submit("button.danger.primary"); status != http.StatusOK {
		t.Fatalf("delete: %d", status)
	}
	if code, _ := api(t, "GET", svc.base+"/api/v1/content/versions", token, ""); code != http.StatusUnauthorized {
		t.Errorf("the deleted token on the API: %d, want 401", code)
	}

	// Sites: a refused id, then a site in three languages.
	b.open("/admin/sites")
	if dir, lang := b.attr("#name_ar", "dir"), b.attr("#name_ar", "lang"); dir != "rtl" || lang != "ar" {
		t.Errorf("the Arabic name field is dir=%q lang=%q in the English console", dir, lang)
	}
	b.do("remove the pattern", chromedp.Evaluate[chromedp.Void](`document.getElementById("id").removeAttribute("pattern")`))
	b.fill("#id", "Tiz Nit")
	b.fill("#name_fr", "Tiznit")
	b.fill("#name_ar", "تيزنيت")
	if status := b.submit(`form[action="/admin/sites"] button.primary`); status != http.StatusUnprocessableEntity {
		t.Errorf("a bad site id: %d, want 422", status)
	}
	if got := b.text("#id-error"); !strings.Contains(got, "lower-case") {
		t.Errorf("error next to the id: %q", got)
	}
	if got := b.value("#name_ar"); got != "تيزنيت" {
		t.Errorf("the Arabic name was not kept: %q", got)
	}
	b.fill("#id", "tiznit")
	b.fill("#name_en", "Tiznit")
	if status := b.submit(`form[action="/admin/sites"] button.primary`); status != http.StatusOK {
		t.Fatalf("add a site: %d", status)
	}
	if got := b.text(".flash"); !strings.Contains(got, "tiznit") {
		t.Errorf("after adding: %q", got)
	}
	b.screenshot("sites-phone")
	b.navigate("change", chromedp.Click(chromedp.CSS(`a[href="/admin/sites/tiznit"]`), chromedp.NodeVisible))
	b.fill("#name_fr", "Tiznit centre")
	check(b, `input[name=exact_place][value=everyone]`)
	if status := b.submit("form button.primary"); status != http.StatusOK {
		t.Fatalf("change a site: %d", status)
	}
	code, out := api(t, "GET", svc.base+"/api/v1/sites", adminToken, "")
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/sites: %d", code)
	}
	var found bool
	for _, s := range out["sites"].([]any) {
		site := s.(map[string]any)
		if site["id"] != "tiznit" {
			continue
		}
		found = true
		names := site["names"].(map[string]any)
		if names["fr"] != "Tiznit centre" || names["ar"] != "تيزنيت" || names["en"] != "Tiznit" || site["exact_place"] != "everyone" {
			t.Errorf("the site as the API sees it: %v", site)
		}
	}
	if !found {
		t.Error("the API does not list the site added in the console")
	}
	b.open("/admin/audit?action=site.")
	if got := b.text("table.audit"); !strings.Contains(got, "site.add") || !strings.Contains(got, "site.change") {
		t.Errorf("the audit log lacks the site changes:\n%s", got)
	}
	if off := b.offOrigin(); len(off) > 0 {
		t.Errorf("pages made requests outside the service: %v", off)
	}
}

// TestConsoleDashboardCountsTraffic: after messages through the fake
// providers, the dashboard shows messages in and out for the channel
// once the counts are written (statsInterval), and a delivery.
func TestConsoleDashboardCountsTraffic(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	s := startServe(t, p.vars)
	if code := sms(t, s.base, e2eToken, nil); code != http.StatusOK {
		t.Fatalf("signed SMS: %d", code)
	}
	calls := p.twilio.WaitAccepted(t, 2, 10*time.Second)
	if code := telegramUpdate(t, s.base, e2eSecret, "message_text_ar.json"); code != http.StatusOK {
		t.Fatalf("Telegram update: %d", code)
	}
	p.telegram.WaitSent(t, 2, 10*time.Second)
	// Twilio says the first SMS was delivered.
	f := url.Values{"MessageSid": {calls[0].SID}, "MessageStatus": {"delivered"}, "AccountSid": {e2eSID}, "To": {calls[0].To}}
	req, _ := http.NewRequest("POST", s.base+"/webhooks/twilio/status", strings.NewReader(f.Encode()))
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(e2eToken, e2ePublic+"/webhooks/twilio/status", f))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status callback: %v %v", err, resp)
	}
	resp.Body.Close()

	for _, width := range []int{390, 1280} {
		b := newBrowser(t, s.base, width)
		b.signIn("admin", adminToken)
		// The counts are written every statsInterval: reload until they are.
		var row map[string]int
		deadline := time.Now().Add(30 * time.Second)
		for {
			b.open("/?lang=en")
			row = dashboardRow(t, b, "SMS")
			if row["in"] > 0 && row["out"] > 0 && row["delivered"] > 0 {
				break
			}
			if time.Now().After(deadline) {
				b.screenshot("failed-dashboard")
				t.Fatalf("the dashboard never showed the SMS traffic: %v", row)
			}
			time.Sleep(500 * time.Millisecond)
		}
		if row["in"] != 1 || row["out"] != 2 || row["delivered"] != 1 {
			t.Errorf("SMS row %v, want 1 in, 2 out (two parts), 1 delivered", row)
		}
		if tg := dashboardRow(t, b, "Telegram"); tg["in"] != 1 || tg["out"] != 2 || tg["delivered"] != 2 {
			t.Errorf("Telegram row %v, want 1 in, 2 out, 2 delivered (Telegram has no receipts: accepted is delivered)", tg)
		}
		// The chart draws bars, and its numbers are in a table.
		if n := eval[int](b, `document.querySelectorAll("#main svg.chart rect").length`); n < 2 {
			t.Errorf("%d bars in the charts, want at least 2 (SMS and Telegram, in and out)", n)
		}
		if got := eval[string](b, `document.querySelector("figure.dash-chart table").textContent`); !strings.Contains(got, "Telegram") {
			t.Errorf("the chart's table: %q", got)
		}
		// People by language: the Arabic Telegram user and the French SMS one.
		langs := eval[string](b, `document.querySelector("section[aria-labelledby=dash-langs] table").innerText`)
		if !strings.Contains(langs, "العربية\t1") || !strings.Contains(langs, "Français\t1") {
			t.Errorf("new people by language:\n%s", langs)
		}
		if got := b.text("main"); strings.Contains(got, "612345678") || strings.Contains(got, "111111111") {
			t.Error("the dashboard shows a phone number or a chat id")
		}
		b.screenshot("dashboard-traffic-" + strconv.Itoa(width))
		b.open("/?lang=ar")
		b.screenshot("dashboard-traffic-ar-" + strconv.Itoa(width))
		if off := b.offOrigin(); len(off) > 0 {
			t.Errorf("pages made requests outside the service: %v", off)
		}
	}
}

// dashboardRow reads a channel's row of the dashboard's deliveries table.
func dashboardRow(t *testing.T, b *browser, channel string) map[string]int {
	t.Helper()
	cells := eval[[]string](b, `(() => {
		for (const tr of document.querySelectorAll("section[aria-labelledby=dash-deliveries] tbody tr")) {
			if (tr.querySelector("th").textContent.trim() === `+strconv.Quote(channel)+`) {
				return [...tr.querySelectorAll("td")].map(td => td.textContent.trim());
			}
		}
		return [];
	})()`)
	out := map[string]int{}
	for i, name := range []string{"in", "out", "delivered", "failed"} {
		if i < len(cells) {
			n, _, _ := strings.Cut(cells[i], " ")
			out[name], _ = strconv.Atoi(strings.ReplaceAll(n, ",", ""))
		}
	}
	return out
}

// check ticks a radio button or a checkbox as a click would (on a phone the
// sticky action bar may cover it where chromedp would click).
func check(b *browser, sel string) {
	b.t.Helper()
	if !eval[bool](b, `(() => { const el = document.querySelector(`+strconv.Quote(sel)+`); if (!el) return false; el.click(); return el.checked; })()`) {
		b.t.Fatalf("%s: no such field, or it did not get checked", sel)
	}
}
