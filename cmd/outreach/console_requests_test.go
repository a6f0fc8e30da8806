package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

// reqStaff makes a staff account that has chosen its passphrase, as an
// invitation would, and returns the passphrase.
func reqStaff(t *testing.T, vars map[string]string, name, lang string) string {
	t.Helper()
	ctx := context.Background()
	ppl := access.NewPeople(redisOf(t, vars), vars["OUTREACH_REDIS_PREFIX"], adminToken, nil)
	inv, err := ppl.Invite(ctx, name, access.Staff, lang)
	if err != nil {
		t.Fatal(err)
	}
	const pass = "a long passphrase for staff"
	if _, err := ppl.Accept(ctx, inv.Token, pass); err != nil {
		t.Fatal(err)
	}
	return pass
}

// reqOpenCount waits until the API lists n open requests.
func reqOpenCount(t *testing.T, base string, n int) {
	t.Helper()
	waitFor(t, func() bool {
		code, out := api(t, "GET", base+"/api/v1/requests", adminToken, "")
		reqs, _ := out["requests"].([]any)
		return code == 200 && len(reqs) == n
	})
}

// reqType empties a textarea and types value into it, as a person would
// (b.fill cannot clear an empty textarea: it has no text node).
func reqType(b *browser, sel, value string) {
	b.t.Helper()
	eval[bool](b, `(() => { document.querySelector(`+strconv.Quote(sel)+`).value = ""; return true; })()`)
	b.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), value))
}

// reqPageWeight is the bytes of the page and of everything it loaded.
func reqPageWeight(b *browser) int {
	return eval[int](b, `(() => { let n = 0;
		for (const e of performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource"))) n += e.decodedBodySize;
		return n; })()`)
}

// TestConsoleRequests: two people ask for a person, one by Telegram, then
// one by SMS with a word of danger. Staff sign in and see the urgent one
// first, though newer, with neither address nor text in the list; filter
// by channel; open it and read what the person wrote; take it; write a
// reply whose SMS count follows the typing; send it, and it reaches the
// person at Twilio; close it after the confirmation, and the person is
// told, and it leaves the list. Every change is in the audit log, without
// the text.
func TestConsoleRequests(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	p := withProviders(t)
	s := startServe(t, p.vars)
	pass := reqStaff(t, p.vars, "samira", "en")
	ppl := &people{t: t, base: s.base}
	const phone, chat = "+212611000081", int64(611000082)
	const asked = "Ma femme saigne beaucoup, venez vite"
	for _, text := range []string{"hello", "0", "I need an appointment for my son"} {
		ppl.telegram(chat, "en", text)
	}
	reqOpenCount(t, s.base, 1)
	for _, text := range []string{"Bonjour", "0", asked} {
		ppl.sms(phone, text)
	}
	reqOpenCount(t, s.base, 2)
	urgentID := requestOf(t, s.base, asked)

	b := newBrowser(t, s.base, 390)
	b.signIn("samira", pass)
	if status := b.open("/requests"); status != 200 {
		t.Fatalf("/requests: %d", status)
	}
	rows := eval[[]string](b, `[...document.querySelectorAll("table.req-list tbody tr")].map(r => r.innerText)`)
	if len(rows) != 2 {
		t.Fatalf("the inbox lists %d requests, want 2: %q", len(rows), rows)
	}
	if !strings.Contains(rows[0], "urgent") || !strings.Contains(rows[0], "SMS") || !strings.Contains(rows[0], "Français") ||
		strings.Contains(rows[1], "urgent") || !strings.Contains(rows[1], "Telegram") {
		t.Errorf("the urgent SMS request is not first:\n%q", rows)
	}
	if href := b.attr("table.req-list tbody tr:first-child a.req-open", "href"); href != "/requests/"+urgentID {
		t.Errorf("the first row opens %q, want /requests/%s", href, urgentID)
	}
	html := eval[string](b, `document.documentElement.outerHTML`)
	for _, secret := range []string{"611000081", "611000082", "saigne", "appointment"} {
		if strings.Contains(html, secret) {
			t.Errorf("the inbox shows %q: no address, chat id or text belongs in the list", secret)
		}
	}
	if w := reqPageWeight(b); w > 250<<10 {
		t.Errorf("the inbox weighs %d bytes with its assets, want at most 250 KB", w)
	} else {
		t.Logf("page weight /requests: %d bytes", w)
	}
	b.screenshot("inbox-phone")
	d := newBrowser(t, s.base, 1280)
	d.signIn("samira", pass)
	d.open("/requests")
	d.screenshot("inbox-desktop")

	// Filtered by channel (the form works without JavaScript too: it is a GET).
	b.navigate("filter telegram", chromedp.SetValue(chromedp.CSS("#f-channel"), "telegram"), chromedp.Submit(chromedp.CSS("#f-channel")))
	if loc := b.location(); !strings.Contains(loc, "channel=telegram") {
		t.Errorf("after filtering, the page is %s", loc)
	}
	if rows := eval[[]string](b, `[...document.querySelectorAll("table.req-list tbody tr")].map(r => r.innerText)`); len(rows) != 1 || !strings.Contains(rows[0], "Telegram") {
		t.Errorf("filtered by Telegram: %q", rows)
	}
	b.open("/requests")

	// The thread: what the person wrote, in a field for their language.
	b.submit("table.req-list tbody tr:first-child a.req-open")
	if loc := b.location(); loc != "/requests/"+urgentID {
		t.Fatalf("opened %s", loc)
	}
	b.waitText(".req-thread", asked)
	if dir, lang := b.attr("#reply-text", "dir"), b.attr("#reply-text", "lang"); dir != "ltr" || lang != "fr" {
		t.Errorf("the reply field of a French speaker: dir=%q lang=%q", dir, lang)
	}
	if got := b.text("#req-assignee"); got != "nobody" {
		t.Errorf("assigned to %q before anyone took it", got)
	}
	if w := reqPageWeight(b); w > 250<<10 {
		t.Errorf("the thread weighs %d bytes, want at most 250 KB", w)
	} else {
		t.Logf("page weight /requests/{id}: %d bytes", w)
	}

	// Assign to me.
	if status := b.submit("#req-assign"); status != 200 {
		t.Fatalf("assign: %d", status)
	}
	if got := b.text(".flash"); !strings.Contains(got, "You now take care of") {
		t.Errorf("after assigning: flash %q", got)
	}
	if got := b.text("#req-assignee"); got != "samira" {
		t.Errorf("assigned to %q, want samira", got)
	}

	// The live counter follows the typing, as the senders count SMS.
	reqType(b, "#reply-text", strings.Repeat("Nous arrivons. ", 12)) // 180 GSM characters: 2 SMS
	b.waitText("#reply-segments", "180 / 1,600 characters · 2 SMS (GSM-7)")
	reqType(b, "#reply-text", "On t’appelle") // a typographic apostrophe: UCS-2
	b.waitText("#reply-segments", "«’»")
	const reply = "Nous vous appelons dans 10 minutes. Si danger, appelez le 15."
	reqType(b, "#reply-text", reply)
	b.waitText("#reply-segments", fmt.Sprintf("%d / 1,600 characters · 1 SMS (GSM-7)", len(reply)))
	b.screenshot("thread-phone")
	if status := b.submit("#req-send"); status != 200 {
		t.Fatalf("reply: %d", status)
	}
	if loc := b.location(); loc != "/requests/"+urgentID {
		t.Errorf("after replying the page is %s, want the thread", loc)
	}
	if got := b.text(".flash"); !strings.Contains(got, "Reply sent") {
		t.Errorf("after replying: flash %q", got)
	}
	b.waitText(".req-thread .req-staff", "samira (staff)")
	b.waitText(".req-thread .req-staff", reply)
	waitFor(t, func() bool {
		return slices.ContainsFunc(p.twilio.Accepted(), func(c twiliotest.Call) bool { return c.To == phone && c.Body == reply })
	})
	b.screenshot("thread-replied-phone")

	// An empty reply is refused next to the field; nothing is sent.
	eval[bool](b, `(() => { const f = document.querySelector("#reply-text"); f.value = ""; f.removeAttribute("required"); return true; })()`)
	if status := b.submit("#req-send"); status != 422 {
		t.Errorf("empty reply: %d, want 422", status)
	}
	if got := b.text(".field-error"); !strings.Contains(got, "Write the reply") {
		t.Errorf("empty reply: error %q", got)
	}

	// Close, after a confirmation that shows what the person is told.
	b.open("/requests/" + urgentID)
	b.submit("#req-close")
	closing := c.Text("fr", "request_closed", nil)
	b.waitText("main .sms", closing)
	b.screenshot("close-confirm-phone")
	if status := b.submit("#req-close-confirm"); status != 200 {
		t.Fatalf("close: %d", status)
	}
	if loc := b.location(); loc != "/requests" {
		t.Errorf("after closing the page is %s", loc)
	}
	if got := b.text(".flash"); !strings.Contains(got, "is closed") {
		t.Errorf("after closing: flash %q", got)
	}
	rows = eval[[]string](b, `[...document.querySelectorAll("table.req-list tbody tr")].map(r => r.innerText)`)
	if len(rows) != 1 || !strings.Contains(rows[0], "Telegram") {
		t.Errorf("after closing, the inbox lists %q; want only the Telegram request", rows)
	}
	waitFor(t, func() bool {
		return slices.ContainsFunc(p.twilio.Accepted(), func(c twiliotest.Call) bool { return c.To == phone && c.Body == closing })
	})

	// The desktop and the Arabic console.
	d.open("/requests")
	d.submit("table.req-list tbody tr:first-child a.req-open")
	d.waitText(".req-thread", "I need an appointment for my son")
	d.screenshot("thread-desktop")
	d.open("/requests?lang=ar")
	if dir := d.attr("html", "dir"); dir != "rtl" {
		t.Errorf("the Arabic inbox is %q", dir)
	}
	d.screenshot("inbox-ar-desktop")
	// The closed thread still reads, without a reply box.
	d.open("/requests/" + urgentID)
	d.waitText(".req-thread", reply)
	if n := eval[int](d, `document.querySelectorAll("#reply-text, #req-assign, #req-close").length`); n != 0 {
		t.Errorf("a closed request offers %d of reply, assign and close", n)
	}
	// The Telegram person has got nothing from staff.
	if slices.ContainsFunc(p.telegram.Sent(), func(c telegramtest.Call) bool { return strings.Contains(c.Params.Get("text"), "Nous vous appelons") }) {
		t.Error("the reply reached the other person")
	}

	// Audited under samira's name, with the request's id and not the text.
	events, err := access.NewAudit(redisOf(t, p.vars), p.vars["OUTREACH_REDIS_PREFIX"], access.AuditOptions{}).List(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var done []string
	for _, e := range events {
		if strings.HasPrefix(e.Action, "request.") {
			done = append(done, e.Who+" "+e.Action+" "+e.Target)
		}
		if strings.Contains(e.Target, "appelons") || strings.Contains(e.Target, "saigne") {
			t.Errorf("the audit log holds a text: %+v", e)
		}
	}
	slices.Sort(done)
	want := []string{"samira request.assign " + urgentID, "samira request.close " + urgentID, "samira request.reply " + urgentID}
	if !slices.Equal(done, want) {
		t.Errorf("audited %q, want %q", done, want)
	}
	if logs := s.logs.String(); strings.Contains(logs, "611000081") || strings.Contains(logs, "appelons") || strings.Contains(logs, "saigne") {
		t.Error("the log holds a phone number or a text")
	}
	for _, br := range []*browser{b, d} {
		if off := br.offOrigin(); len(off) > 0 {
			t.Errorf("pages made requests outside the service: %v", off)
		}
	}
}
