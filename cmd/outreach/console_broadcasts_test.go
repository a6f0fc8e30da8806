package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/redistest"
	smscost "github.com/outreach-org/outreach/bot/sms"
)

// consoleStaff makes a staff member on the service's Redis (prefix), as
// an admin's invitation and its acceptance would, and returns the
// passphrase.
func consoleStaff(t *testing.T, prefix, name, lang string) string {
	t.Helper()
	rdb, _ := redistest.New(t)
	people := access.NewPeople(rdb, prefix, "", nil)
	inv, err := people.Invite(context.Background(), name, access.Staff, lang)
	if err != nil {
		t.Fatal(err)
	}
	const pass = "sel et poivre sur la table"
	if _, err := people.Accept(context.Background(), inv.Token, pass); err != nil {
		t.Fatal(err)
	}
	return pass
}

// write types value into the text field sel, emptied first. (fill's
// chromedp.Clear fails on an empty textarea, which has no text node, and
// chromedp.SetValue cannot set "".)
func write(b *browser, sel, value string) {
	b.t.Helper()
	eval[string](b, fmt.Sprintf("document.querySelector(%q).value=''", sel))
	b.do("write "+sel, chromedp.SendKeys(chromedp.CSS(sel), value))
}

// pageWeight is what the page loaded, in bytes: its HTML and every asset
// (decoded sizes, so that the browser's cache does not hide them).
func pageWeight(b *browser) int {
	return eval[int](b, `(function(){var n=0;performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource")).forEach(function(e){n+=e.decodedBodySize||0});return n})()`)
}

// checkWeight logs a page's weight and fails above 250 KB.
func checkWeight(t *testing.T, b *browser, name string) {
	t.Helper()
	w := pageWeight(b)
	t.Logf("page weight %s: %d bytes (%.1f KB)", name, w, float64(w)/1024)
	if w > 250*1024 || w == 0 {
		t.Errorf("%s weighs %d bytes, want some, and at most 250 KB", name, w)
	}
}

// TestConsoleBroadcasts: three people subscribe to Nador through the bot
// (SMS in French, WhatsApp in English, Telegram in Arabic). A staff member
// composes a broadcast in the three languages, watches the segment counter
// and the audience count follow what she types and ticks, is told about a
// missing French text next to the field with her other texts kept,
// confirms a statement in numbers, and follows the broadcast to done while
// each person gets it in their language. A second, scheduled broadcast is
// cancelled through its confirmation page.
func TestConsoleBroadcasts(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	// Quiet hours that do not hold this test's broadcast, but are shown.
	from := time.Now().UTC().Add(6 * time.Hour).Truncate(time.Hour)
	p.vars["OUTREACH_TIMEZONE"] = "UTC"
	p.vars["OUTREACH_QUIET_HOURS"] = from.Format("15:04") + "-" + from.Add(time.Hour).Format("15:04")
	s := startServe(t, p.vars)
	ppl := &people{t: t, base: s.base}
	const smsPerson, waPerson, tgChat = "+212611000001", "whatsapp:+212611000002", int64(555000003)
	for _, text := range []string{"Bonjour", "4", "1", "1"} {
		ppl.sms(smsPerson, text)
	}
	for _, text := range []string{"hello", "4", "1", "1"} {
		ppl.sms(waPerson, text)
	}
	for _, text := range []string{"مرحبا", "4", "1", "1"} {
		ppl.telegram(tgChat, "ar", text)
	}
	p.twilio.WaitAccepted(t, 10, 10*time.Second)
	p.telegram.WaitSent(t, 4, 10*time.Second)

	pass := consoleStaff(t, p.vars["OUTREACH_REDIS_PREFIX"], "amina", "en")
	b := newBrowser(t, s.base, 390)
	b.signIn("amina", pass)
	if status := b.open("/broadcasts/new"); status != http.StatusOK {
		t.Fatalf("/broadcasts/new: %d", status)
	}
	if dir, lang := b.attr("#text-ar", "dir"), b.attr("#text-ar", "lang"); dir != "rtl" || lang != "ar" {
		t.Errorf("the Arabic text field: dir=%q lang=%q, want rtl ar", dir, lang)
	}
	if dir := b.attr("#text-fr", "dir"); dir != "ltr" {
		t.Errorf("the French text field: dir=%q", dir)
	}
	if got := b.text(".bcast-quiet"); !strings.Contains(got, from.Format("15:04")) {
		t.Errorf("the quiet-hours rule %q does not name %s", got, from.Format("15:04"))
	}
	b.waitText("#estimate", "3")
	if n := b.attr("#estimate [data-people]", "data-people"); n != "3" {
		t.Errorf("the audience count: %s people, want 3", n)
	}
	b.screenshot("composer-phone")

	// The counter follows the typing, for the message as received.
	c := shipped(t)
	arabic := "المكتب مغلق يوم الاثنين. يفتح من جديد يوم الثلاثاء على الساعة التاسعة."
	write(b, "#text-ar", arabic)
	b.waitText("#segments-ar", c.Text("ar", "notice_footer", nil)) // the footer, as received
	want := smscost.Measure(arabic + "\n\n" + c.Text("ar", "notice_footer", nil)).Segments
	if got := b.attr("#segments-ar [data-segments]", "data-segments"); got != strconv.Itoa(want) || want < 2 {
		t.Errorf("Arabic with the footer: the counter says %s SMS, want %d (more than one)", got, want)
	}
	write(b, "#text-en", "The office is closed on Monday.")
	b.waitText("#segments-en", "1 SMS")
	b.do("type more", chromedp.SendKeys(chromedp.CSS("#text-en"), " "+strings.Repeat("It opens again on Tuesday at nine. ", 4)))
	b.waitText("#segments-en", "2 SMS")

	// The audience count follows the ticks: SMS only is one person.
	b.do("tick SMS", chromedp.Click(chromedp.CSS(`input[name=channels][value=sms]`), chromedp.NodeVisible))
	b.waitText("#estimate .big", "1")
	b.do("untick SMS", chromedp.Click(chromedp.CSS(`input[name=channels][value=sms]`), chromedp.NodeVisible))
	b.waitText("#estimate .big", "3")
	b.screenshot("composer-typed-phone")

	// No French text: refused next to the field, what was typed kept.
	if status := b.submit(".bcast-compose button[type=submit].primary"); status != http.StatusUnprocessableEntity {
		t.Fatalf("without a French text: %d, want 422", status)
	}
	if got := b.text(`[id="text.fr-error"]`); !strings.Contains(got, "French") {
		t.Errorf("the error next to the French text: %q", got)
	}
	if b.attr("#text-fr", "aria-invalid") != "true" || !strings.Contains(b.value("#text-en"), "closed on Monday") || !strings.Contains(b.value("#text-ar"), "المكتب") {
		t.Error("after the refusal, the French field is not marked or the other texts are lost")
	}
	b.screenshot("composer-error-phone")

	write(b, "#text-fr", "Le bureau est fermé lundi. Il rouvre mardi à 9 h.")
	b.waitText("#segments-fr", "1 SMS")
	if status := b.submit(".bcast-compose button[type=submit].primary"); status != http.StatusOK {
		t.Fatalf("review: %d", status)
	}
	if got := b.text(".bcast-statement"); !strings.Contains(got, "3 people will get this message.") {
		t.Errorf("the confirmation says %q", got)
	}
	checkWeight(t, b, "confirmation")
	b.screenshot("confirm-phone")
	if status := b.submit("#send"); status != http.StatusOK {
		t.Fatalf("send: %d", status)
	}
	loc := b.location()
	if !strings.HasPrefix(loc, "/broadcasts/") {
		t.Fatalf("after sending, at %s", loc)
	}
	b.waitText(".flash", "Broadcast created")
	b.waitText("#progress .badge", "Done") // the live part refreshes until done
	if sent := b.text(`#progress [data-count="sent"]`); sent != "3" {
		t.Errorf("sent %s, want 3", sent)
	}
	checkWeight(t, b, "progress")
	b.screenshot("progress-done-phone")

	// Each person got it in their language, once, with the footer.
	got := map[string][]string{}
	for _, call := range p.twilio.Accepted() {
		for _, prefix := range []string{"Le bureau est fermé lundi.", "The office is closed on Monday."} {
			if strings.HasPrefix(call.Body, prefix) {
				got[call.To] = append(got[call.To], call.Body)
			}
		}
	}
	for _, call := range p.telegram.Sent() {
		if text := call.Params.Get("text"); strings.HasPrefix(text, "المكتب مغلق") {
			got[call.Params.Get("chat_id")] = append(got[call.Params.Get("chat_id")], text)
		}
	}
	for who, want := range map[string]string{
		smsPerson:                     "Le bureau est fermé lundi. Il rouvre mardi à 9 h.\n\n" + c.Text("fr", "notice_footer", nil),
		waPerson:                      "The office is closed on Monday.",
		strconv.FormatInt(tgChat, 10): arabic + "\n\n" + c.Text("ar", "notice_footer", nil),
	} {
		if len(got[who]) != 1 || !strings.HasPrefix(got[who][0], want) {
			t.Errorf("a subscriber got %q, want once %q", got[who], want)
		}
	}

	// The list shows it, without anyone's number.
	b.open("/broadcasts")
	if got := b.text(".bcast-list tbody"); !strings.Contains(got, "The office is closed on Monday.") || !strings.Contains(got, "Done") {
		t.Errorf("the list: %q", got)
	}
	html := eval[string](b, "document.documentElement.outerHTML")
	if strings.Contains(html, "611000001") || strings.Contains(html, "555000003") {
		t.Error("the list shows a phone number or a chat id")
	}
	checkWeight(t, b, "list")

	// A scheduled broadcast, cancelled through its confirmation page.
	b.open("/broadcasts/new")
	write(b, "#text-fr", "Plus tard")
	b.do("fallback and time",
		chromedp.SetValue(chromedp.CSS("#fallback"), "fr"),
		chromedp.Click(chromedp.CSS(`input[name=when][value=at]`), chromedp.NodeVisible),
		chromedp.SetValue(chromedp.CSS("#send_at"), time.Now().UTC().Add(48*time.Hour).Format("2006-01-02T15:04")))
	checkWeight(t, b, "composer")
	if status := b.submit(".bcast-compose button[type=submit].primary"); status != http.StatusOK {
		t.Fatalf("review of the scheduled one: %d", status)
	}
	if got := b.text(".bcast-when"); !strings.Contains(got, "It leaves at") {
		t.Errorf("the confirmation of a scheduled broadcast says %q", got)
	}
	b.submit("#send")
	b.waitText("#progress .badge", "Scheduled")
	if status := b.submit(`#progress a.button.danger`); status != http.StatusOK {
		t.Fatalf("cancel page: %d", status)
	}
	if got := b.text(".warning"); !strings.Contains(got, "Nobody will get it.") {
		t.Errorf("the cancel page says %q", got)
	}
	b.screenshot("cancel-phone")
	checkWeight(t, b, "cancel")
	b.submit("#cancel")
	b.waitText("#progress .badge", "Cancelled")
	if got := b.text(".flash"); !strings.Contains(got, "cancelled") {
		t.Errorf("after cancelling, the page says %q", got)
	}

	// In Arabic, the page is right to left; the French text stays left to
	// right, the Arabic one right to left.
	b.open("/broadcasts/new?lang=ar")
	if b.attr("html", "dir") != "rtl" || b.attr("#text-fr", "dir") != "ltr" || b.attr("#text-ar", "dir") != "rtl" {
		t.Error("the Arabic composer is not right to left, or its French field is not left to right")
	}
	b.screenshot("composer-ar-phone")

	// The desktop: the texts side by side.
	b.do("desktop", chromedp.EmulateViewport(1280, 900))
	b.open("/broadcasts/new")
	left := func(sel string) float64 {
		return eval[float64](b, fmt.Sprintf("document.querySelector(%q).getBoundingClientRect().left", sel))
	}
	if fr, en, ar := left("#text-fr"), left("#text-en"), left("#text-ar"); !(fr < en && en < ar) {
		t.Errorf("at 1280 px the texts are not side by side: left %v %v %v", fr, en, ar)
	}
	b.screenshot("composer-desktop")
	b.open("/broadcasts")
	b.screenshot("list-desktop")
	b.open(loc)
	b.screenshot("progress-desktop")
	if off := b.offOrigin(); len(off) > 0 {
		t.Errorf("pages made requests outside the service: %v", off)
	}
	if logs := s.logs.String(); strings.Contains(logs, "611000001") || strings.Contains(logs, "555000003") {
		t.Error("the log holds a phone number or a chat id")
	}
}
