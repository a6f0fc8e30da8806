package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/redistest"
)

// TestConsoleDistributions: a staff member, on a phone, announces a
// distribution at Nador, where three people subscribed through the bot
// (SMS in French, Telegram in English and in Arabic). A wrong end time is
// refused next to its field, the values kept; the live preview, then the
// confirmation page, show the three notices with their SMS segments and
// who will get them; once confirmed, each subscriber gets exactly the text
// shown. A change of place and the cancellation go through their own
// confirmation and reach the same people. Every change is in the audit
// log under the staff member's name; no request leaves the service.
func TestConsoleDistributions(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	p.vars["OUTREACH_QUIET_HOURS"] = ""
	p.vars["OUTREACH_PRICES"] = "sms=0.35"
	p.vars["OUTREACH_CURRENCY"] = "MAD"
	s := startServe(t, p.vars)
	prefix := p.vars["OUTREACH_REDIS_PREFIX"]
	rdb, _ := redistest.New(t)
	ctx := context.Background()

	// Three people subscribe to Nador's notices through the bot.
	ppl := &people{t: t, base: s.base}
	const smsPerson, enChat, arChat = "+212611000031", int64(555000031), int64(555000032)
	for _, text := range []string{"Bonjour", "4", "1", "1"} {
		ppl.sms(smsPerson, text)
	}
	for _, text := range []string{"hello", "4", "1", "1"} {
		ppl.telegram(enChat, "en", text)
	}
	for _, text := range []string{"مرحبا", "4", "1", "1"} {
		ppl.telegram(arChat, "ar", text)
	}
	waitFor(t, func() bool { return subscriberCount(rdb, prefix, "nador") == 3 })
	// Let the replies leave, then count only what follows.
	p.twilio.WaitAccepted(t, 5, 10*time.Second)
	p.telegram.WaitSent(t, 8, 10*time.Second)
	waitOutboxEmpty(t, s.base)
	twilioBefore, telegramBefore := len(p.twilio.Accepted()), len(p.telegram.Sent())

	// A staff member, invited by an admin.
	const pass = "three green olives at dawn"
	team := access.NewPeople(rdb, prefix, adminToken, nil)
	inv, err := team.Invite(ctx, "amina", access.Staff, "en")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := team.Accept(ctx, inv.Token, pass); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, s.base, 390)
	b.signIn("amina", pass)
	if status := b.open("/distributions"); status != http.StatusOK {
		t.Fatalf("/distributions: %d", status)
	}
	b.screenshot("list-empty-phone")
	if status := b.submit("a.button.primary[href^='/distributions/new']"); status != http.StatusOK {
		t.Fatalf("new distribution: %d", status)
	}
	if dir := b.attr("#place_ar", "dir"); dir != "rtl" {
		t.Errorf("the Arabic place is dir=%q, want rtl", dir)
	}
	if dir := b.attr("#place_fr", "dir"); dir != "ltr" {
		t.Errorf("the French place is dir=%q, want ltr", dir)
	}
	if notify := eval[bool](b, `document.querySelector("#notify").checked`); !notify {
		t.Error("announcing is not the default")
	}

	// The end before the start: refused next to the field, values kept.
	start := time.Now().Add(72 * time.Hour).In(casablanca(t)).Truncate(time.Hour)
	local := func(t time.Time) string { return t.Format("2006-01-02T15:04") }
	setValue := func(sel, v string) {
		t.Helper()
		// As a date picker does: the value, then the change event.
		eval[bool](b, `(function(el){el.value=`+strconv.Quote(v)+`;el.dispatchEvent(new Event("change",{bubbles:true}));return true})(document.querySelector(`+strconv.Quote(sel)+`))`)
	}
	b.do("choose the site", chromedp.SetValue(chromedp.CSS("#site"), "nador"))
	setValue("#starts", local(start))
	setValue("#ends", local(start.Add(-time.Hour)))
	typeIn(b, "#place_fr", "Terrain de sport")
	b.do("choose the kit", chromedp.Click(chromedp.CSS("input[name=items][value=rice]")), chromedp.Click(chromedp.CSS("input[name=items][value=oil]")))
	if status := b.submit("button[name=step][value=preview]"); status != http.StatusUnprocessableEntity {
		t.Fatalf("an end before the start: %d, want 422", status)
	}
	if got := b.text("#ends-error"); !strings.Contains(got, "end after it starts") {
		t.Errorf("error next to the end: %q", got)
	}
	if got := b.attr("#ends", "aria-invalid"); got != "true" {
		t.Errorf("the end field is not marked invalid: %q", got)
	}
	if got, want := b.value("#ends"), local(start.Add(-time.Hour)); got != want {
		t.Errorf("the end after the error = %q, want %q kept", got, want)
	}
	if got := b.value("#place_fr"); got != "Terrain de sport" {
		t.Errorf("the place after the error = %q, want it kept", got)
	}
	if checked := eval[bool](b, `document.querySelector("input[name=items][value=oil]").checked`); !checked {
		t.Error("the kit was not kept")
	}
	b.screenshot("form-error-phone")

	// Fixed, in three languages: the live preview shows the notices.
	setValue("#ends", local(start.Add(3*time.Hour)))
	typeIn(b, "#place_en", "Sports ground")
	typeIn(b, "#place_ar", "الملعب البلدي")
	b.waitText("#dist-preview", "الملعب البلدي")
	b.waitText("#dist-preview", "3 subscribers of Nador")
	b.screenshot("form-live-preview-phone")

	// The confirmation: the three notices, their segments, who gets them.
	if status := b.submit("button[name=step][value=preview]"); status != http.StatusOK {
		t.Fatalf("preview: %d", status)
	}
	notices := map[string]string{}
	for lang, want := range map[string]string{"fr": "Terrain de sport", "en": "Sports ground", "ar": "الملعب البلدي"} {
		bubble := "#notice-" + lang + " .sms"
		notices[lang] = eval[string](b, `document.querySelector("`+bubble+`").textContent`)
		if !strings.Contains(notices[lang], want) {
			t.Errorf("%s notice %q lacks %q", lang, notices[lang], want)
		}
		meter := b.text("#notice-" + lang + " .dist-segments")
		encoding := "GSM-7"
		if lang == "ar" {
			encoding = "UCS-2"
			if dir := b.attr(bubble, "dir"); dir != "rtl" {
				t.Errorf("the Arabic notice is dir=%q", dir)
			}
		}
		if !regexp.MustCompile(`^\d+ SMS · [\d,]+ characters in ` + encoding + `$`).MatchString(meter) {
			t.Errorf("%s segments: %q, want n SMS in %s", lang, meter, encoding)
		}
	}
	if got := b.text("#dist-people"); got != "3 subscribers of Nador will get this notice." {
		t.Errorf("reach: %q", got)
	}
	if got := b.text("#dist-summary"); !strings.Contains(got, "1 of them by SMS") || !strings.Contains(got, "MAD") {
		t.Errorf("summary %q: want the SMS segments and the cost", got)
	}
	if got := b.text("#confirm"); got != "Announce to 3 people" {
		t.Errorf("confirm button: %q", got)
	}
	b.screenshot("confirm-phone")
	b.do("desktop", chromedp.EmulateViewport(1280, 900))
	b.screenshot("confirm-desktop")
	b.do("phone", chromedp.EmulateViewport(390, 900))

	// Announced: the page says so and offers who was told.
	if status := b.submit("#confirm"); status != http.StatusOK {
		t.Fatalf("announce: %d", status)
	}
	if got := b.text(".flash"); !strings.Contains(got, "Announced") || !strings.Contains(got, "3 people") {
		t.Errorf("after announcing: %q", got)
	}
	id := strings.TrimPrefix(b.location(), "/distributions/")
	if b.text("a[href='#told']") != "See who was told" {
		t.Error("no link to who was told")
	}

	// Each subscriber gets exactly the notice shown.
	sms := p.twilio.WaitAccepted(t, twilioBefore+1, 15*time.Second)[twilioBefore]
	if sms.To != smsPerson || sms.Body != notices["fr"] {
		t.Errorf("SMS to %s:\n%q\nshown:\n%q", sms.To, sms.Body, notices["fr"])
	}
	tg := p.telegram.WaitSent(t, telegramBefore+2, 15*time.Second)[telegramBefore:]
	byChat := map[string]string{}
	for _, m := range tg {
		byChat[m.Params.Get("chat_id")] = m.Params.Get("text")
	}
	if got := byChat[fmt.Sprint(enChat)]; got != notices["en"] {
		t.Errorf("Telegram in English:\n%q\nshown:\n%q", got, notices["en"])
	}
	if got := byChat[fmt.Sprint(arChat)]; got != notices["ar"] {
		t.Errorf("Telegram in Arabic:\n%q\nshown:\n%q", got, notices["ar"])
	}
	b.waitText("#told", "Announcement")
	b.waitText("#told", "done")
	b.screenshot("told-phone")

	// A change of place: its confirmation, then the correction to the three.
	b.open("/distributions/" + id + "/edit")
	if got := b.value("#place_fr"); got != "Terrain de sport" {
		t.Fatalf("the edit form holds place %q", got)
	}
	typeIn(b, "#place_fr", "Stade municipal")
	if status := b.submit("button[name=step][value=preview]"); status != http.StatusOK {
		t.Fatalf("preview of the change: %d", status)
	}
	if got := b.text("#confirm"); got != "Save and tell 3 people" {
		t.Errorf("change button: %q", got)
	}
	correction := eval[string](b, `document.querySelector("#notice-fr .sms").textContent`)
	b.submit("#confirm")
	if got := b.text(".flash"); !strings.Contains(got, "correction") {
		t.Errorf("after the change: %q", got)
	}
	if got := p.twilio.WaitAccepted(t, twilioBefore+2, 15*time.Second)[twilioBefore+1]; got.Body != correction || !strings.Contains(got.Body, "Stade municipal") {
		t.Errorf("correction by SMS:\n%q\nshown:\n%q", got.Body, correction)
	}

	// The cancellation: its confirmation, then the notice to the three.
	b.open("/distributions/" + id + "/cancel")
	if got := b.text("#confirm"); got != "Cancel it and tell 3 people" {
		t.Errorf("cancel button: %q", got)
	}
	cancellation := eval[string](b, `document.querySelector("#notice-fr .sms").textContent`)
	b.submit("#confirm")
	if got := b.text(".flash"); !strings.Contains(got, "Cancelled") {
		t.Errorf("after cancelling: %q", got)
	}
	if got := p.twilio.WaitAccepted(t, twilioBefore+3, 15*time.Second)[twilioBefore+2]; got.Body != cancellation {
		t.Errorf("cancellation by SMS:\n%q\nshown:\n%q", got.Body, cancellation)
	}
	b.open("/distributions?show=past")
	if got := b.text(".dist-list"); !strings.Contains(got, "cancelled") || !strings.Contains(got, "Sports ground") {
		t.Errorf("past and cancelled: %q", got)
	}
	b.screenshot("list-past-phone")

	// In the Arabic console the page is right to left, and each text field
	// is in its own language's direction.
	b.open("/distributions/new?lang=ar")
	if b.attr("html", "dir") != "rtl" || b.attr("#place_ar", "dir") != "rtl" || b.attr("#place_fr", "dir") != "ltr" || b.attr("#who_en", "dir") != "ltr" {
		t.Errorf("Arabic console: html dir=%q, place_ar %q, place_fr %q", b.attr("html", "dir"), b.attr("#place_ar", "dir"), b.attr("#place_fr", "dir"))
	}
	b.screenshot("form-ar-phone")

	events, err := access.NewAudit(rdb, prefix, access.AuditOptions{}).List(ctx, 50)
	if err != nil {
		t.Fatal(err)
	}
	var done []string
	for _, e := range events {
		if e.Who == "amina" && e.Target == id {
			done = append(done, e.Action)
		}
	}
	slices.Sort(done)
	if want := []string{"distribution.cancel", "distribution.change", "distribution.create"}; !slices.Equal(done, want) {
		t.Errorf("audit of amina on %s: %v, want %v", id, done, want)
	}
	if off := b.offOrigin(); len(off) > 0 {
		t.Errorf("pages made requests outside the service: %v", off)
	}
	logWeights(t, s.base, "amina", pass, "/distributions", "/distributions?show=past", "/distributions/new", "/distributions/"+id)
}

// typeIn types value into the field sel after emptying it (chromedp's
// Clear fails on an empty textarea); typing fires the form's input events.
func typeIn(b *browser, sel, value string) {
	b.t.Helper()
	eval[bool](b, `(document.querySelector(`+strconv.Quote(sel)+`).value = "") === ""`)
	b.do("type in "+sel, chromedp.SendKeys(chromedp.CSS(sel), value))
}

// casablanca is the service's default zone, where the form's times are.
func casablanca(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Africa/Casablanca")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// logWeights signs in with a plain client and logs the bytes of each
// page's HTML, with the CSS and JavaScript every page loads; each must
// stay under 250 KB.
func logWeights(t *testing.T, base, user, pass string, paths ...string) {
	t.Helper()
	client := &http.Client{Jar: newJar(t)}
	resp, err := client.PostForm(base+"/login", url.Values{"username": {user}, "password": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	size := func(path string) int {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
		return len(body)
	}
	assets := size("/assets/console.css") + size("/assets/console.js")
	for _, path := range paths {
		n := size(path)
		t.Logf("page weight %s: %d bytes of HTML, %d with its assets", path, n, n+assets)
		if n+assets > 250_000 {
			t.Errorf("%s weighs %d bytes with its assets, over 250 KB", path, n+assets)
		}
	}
}
