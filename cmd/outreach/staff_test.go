package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

// people writes to the bot as three people, one a channel.
type people struct {
	t    *testing.T
	base string
	seq  int
}

// sms posts a message from a person, signed, as Twilio does; extra are
// more fields, name then value ("Latitude", "34.69").
func (p *people) sms(from, body string, extra ...string) {
	p.t.Helper()
	p.seq++
	f := url.Values{
		"MessageSid": {fmt.Sprintf("SM%032x", p.seq)}, "AccountSid": {e2eSID},
		"From": {from}, "To": {e2eOurPhone}, "Body": {body}, "NumMedia": {"0"},
	}
	if strings.HasPrefix(from, "whatsapp:") {
		f.Set("To", "whatsapp:"+e2eOurPhone)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	req, _ := http.NewRequest("POST", p.base+"/webhooks/twilio", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(e2eToken, e2ePublic+"/webhooks/twilio", f))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		p.t.Fatalf("SMS %q: %d", body, resp.StatusCode)
	}
}

// telegram posts a message from a person, as Telegram does; fields are
// more fields of the message ("location"), and an empty text is left out.
func (p *people) telegram(chat int64, lang, text string, fields ...map[string]any) {
	p.t.Helper()
	p.seq++
	m := map[string]any{
		"message_id": p.seq, "date": time.Now().Unix(), "text": text,
		"chat": map[string]any{"id": chat, "type": "private"},
		"from": map[string]any{"id": chat, "is_bot": false, "first_name": "A", "language_code": lang},
	}
	if text == "" {
		delete(m, "text")
	}
	for _, f := range fields {
		maps.Copy(m, f)
	}
	u := map[string]any{"update_id": 900000 + p.seq, "message": m}
	body, _ := json.Marshal(u)
	req, _ := http.NewRequest("POST", p.base+"/webhooks/telegram", strings.NewReader(string(body)))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", e2eSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		p.t.Fatalf("Telegram %q: %d", text, resp.StatusCode)
	}
}

func broadcastReport(t *testing.T, base, id string) map[string]any {
	t.Helper()
	code, out := api(t, "GET", base+"/api/v1/broadcasts/"+id, adminToken, "")
	if code != 200 {
		t.Fatalf("broadcast %s: %d %v", id, code, out)
	}
	return out
}

// TestDistributionNotices: three people subscribe to Nador through the bot
// (SMS in French, WhatsApp in English, Telegram in Arabic); the Telegram
// one then opts out. A distribution announced with notify reaches the two
// others, each in their language; its broadcast counts match; cancelling it
// tells the same two.
func TestDistributionNotices(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	p := withProviders(t)
	p.vars["OUTREACH_QUIET_HOURS"] = ""
	s := startServe(t, p.vars)
	ppl := &people{t: t, base: s.base}
	const smsPerson, waPerson, tgChat = "+212611000001", "whatsapp:+212611000002", int64(555000003)
	for _, text := range []string{"Bonjour", "4", "1", "1"} {
		ppl.sms(smsPerson, text)
	}
	for _, text := range []string{"hello", "4", "1", "1"} {
		ppl.sms(waPerson, text)
	}
	for _, text := range []string{"مرحبا", "4", "1", "1", "توقف"} {
		ppl.telegram(tgChat, "ar", text)
	}
	// Let the replies leave, then count only what follows.
	p.twilio.WaitAccepted(t, 10, 10*time.Second)
	p.telegram.WaitSent(t, 6, 10*time.Second)
	twilioBefore, telegramBefore := len(p.twilio.Accepted()), len(p.telegram.Sent())

	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	body := fmt.Sprintf(`{"site":"nador","starts_at":%q,"ends_at":%q,"place":{"fr":"Terrain de sport","en":"Sports ground"},
		"items":["rice","oil","blanket"],"bring":"la carte","notify":true}`, start.Format(time.RFC3339), start.Add(3*time.Hour).Format(time.RFC3339))
	code, d := api(t, "POST", s.base+"/api/v1/distributions", adminToken, body)
	if code != 201 {
		t.Fatalf("create distribution: %d %v", code, d)
	}
	told := d["told"].([]any)
	if len(told) != 2 || d["reminder"] == "" {
		t.Fatalf("told %v, reminder %v: want the notice and the reminder", told, d["reminder"])
	}
	notice := told[0].(string)

	calls := p.twilio.WaitAccepted(t, twilioBefore+2, 15*time.Second)[twilioBefore:]
	byTo := map[string]string{}
	for _, call := range calls {
		byTo[call.To] = call.Body
	}
	if b := byTo[smsPerson]; !strings.Contains(b, "Terrain de sport") || !strings.Contains(b, c.Text("fr", "item_blanket", nil)) || !strings.Contains(b, c.Text("fr", "notice_safety", nil)) {
		t.Errorf("French notice by SMS: %q", b)
	}
	if b := byTo[waPerson]; !strings.Contains(b, "Sports ground") || !strings.Contains(b, c.Text("en", "notice_safety", nil)) {
		t.Errorf("English notice by WhatsApp: %q", b)
	}
	waitFor(t, func() bool {
		r := broadcastReport(t, s.base, notice)
		return r["status"] == "done"
	})
	counts := broadcastReport(t, s.base, notice)["counts"].(map[string]any)
	if counts["total"] != 3.0 || counts["sent"] != 2.0 || counts["skipped"] != 1.0 {
		t.Errorf("counts %v: want total 3, sent 2, skipped 1 (opted out)", counts)
	}
	if n := len(p.telegram.Sent()); n != telegramBefore {
		t.Errorf("the person who sent STOP got %d notices", n-telegramBefore)
	}

	// A delivery callback for the SMS notice counts as delivered.
	var sid string
	for _, call := range calls {
		if call.To == smsPerson {
			sid = call.SID
		}
	}
	f := url.Values{"MessageSid": {sid}, "MessageStatus": {"delivered"}, "AccountSid": {e2eSID}, "To": {smsPerson}}
	req, _ := http.NewRequest("POST", s.base+"/webhooks/twilio/status", strings.NewReader(f.Encode()))
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(e2eToken, e2ePublic+"/webhooks/twilio/status", f))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status callback: %v %v", err, resp)
	}
	if counts := broadcastReport(t, s.base, notice)["counts"].(map[string]any); counts["delivered"] != 1.0 {
		t.Errorf("delivered %v, want 1", counts["delivered"])
	}

	// Cancelling tells the same two people.
	if code, out := api(t, "DELETE", s.base+"/api/v1/distributions/"+d["id"].(string), adminToken, ""); code != 204 {
		t.Fatalf("cancel: %d %v", code, out)
	}
	cancelled := p.twilio.WaitAccepted(t, twilioBefore+4, 15*time.Second)[twilioBefore+2:]
	for _, call := range cancelled {
		if !strings.Contains(call.Body, "nnul") && !strings.Contains(call.Body, "ancel") {
			t.Errorf("cancellation to %s: %q", call.To, call.Body)
		}
	}
	code, d = api(t, "GET", s.base+"/api/v1/distributions/"+d["id"].(string), adminToken, "")
	if code != 200 || d["cancelled"] != true {
		t.Errorf("after DELETE: %d %v", code, d)
	}
	if r := broadcastReport(t, s.base, d["reminder"].(string)); r["status"] != "cancelled" {
		t.Errorf("reminder status %v, want cancelled", r["status"])
	}
}

func TestBroadcastAPI(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	p.vars["OUTREACH_QUIET_HOURS"] = ""
	s := startServe(t, p.vars)
	ppl := &people{t: t, base: s.base}
	for _, text := range []string{"Bonjour", "4", "1", "2"} { // Oujda
		ppl.sms("+212611000009", text)
	}
	p.twilio.WaitAccepted(t, 5, 10*time.Second)
	post := func(key, body string) (int, map[string]any) { return postBroadcast(t, s.base, key, body) }
	msg := `{"text":{"fr":"Le bureau est fermé lundi.","en":"The office is closed on Monday."},"fallback":"fr","audience":{"sites":["oujda"]}}`
	code, a := post("k-1", msg)
	code2, b := post("k-1", msg)
	if code != 202 || code2 != 202 || a["id"] != b["id"] {
		t.Fatalf("same Idempotency-Key: %d %v, %d %v; want one broadcast", code, a, code2, b)
	}
	id := a["id"].(string)
	calls := p.twilio.WaitAccepted(t, 6, 10*time.Second)
	if !strings.Contains(calls[5].Body, "Le bureau est fermé lundi.") {
		t.Errorf("broadcast body %q", calls[5].Body)
	}
	waitFor(t, func() bool { return broadcastReport(t, s.base, id)["status"] == "done" })
	waitOutboxEmpty(t, s.base)
	if n := len(p.twilio.Accepted()); n != 6 {
		t.Errorf("%d messages, want 6: the broadcast went twice", n)
	}
	// Scheduled, then cancelled: nothing leaves.
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	_, c := post("", fmt.Sprintf(`{"text":{"fr":"plus tard"},"fallback":"fr","send_at":%q}`, later))
	if r := broadcastReport(t, s.base, c["id"].(string)); r["status"] != "scheduled" {
		t.Errorf("status %v, want scheduled", r["status"])
	}
	if code, r := api(t, "POST", s.base+"/api/v1/broadcasts/"+c["id"].(string)+"/cancel", adminToken, ""); code != 200 || r["status"] != "cancelled" {
		t.Errorf("cancel: %d %v", code, r)
	}
	for _, bad := range []string{`{"text":{}}`, `{"text":{"de":"Hallo"}}`, `{"kind":"notice_new"}`, `{"text":{"fr":"x"},"audience":{"channels":["fax"]}}`, `{"text":{"fr":"a\u0007b"}}`, "{\"text\":{\"fr\":\"a\xffb\"}}"} {
		if code, _ := post("", bad); code != 422 {
			t.Errorf("%s: %d, want 422", bad, code)
		}
	}
}

func TestSitesAPI(t *testing.T) {
	t.Parallel()
	s := startServe(t, map[string]string{"OUTREACH_ADMIN_TOKEN": adminToken})
	code, out := api(t, "GET", s.base+"/api/v1/sites", adminToken, "")
	if code != 200 || !strings.Contains(fmt.Sprint(out), "nador") {
		t.Fatalf("sites: %d %v", code, out)
	}
	if code, out := api(t, "POST", s.base+"/api/v1/sites", adminToken, `{"id":"tiznit","names":{"fr":"Tiznit","en":"Tiznit","ar":"تيزنيت"}}`); code != 201 {
		t.Fatalf("add: %d %v", code, out)
	}
	if code, _ := api(t, "PATCH", s.base+"/api/v1/sites/rabat", adminToken, `{"retired":true}`); code != 200 {
		t.Fatalf("retire: %d", code)
	}
	// Who sees exact places, and the public area, are set per site.
	if code, out := api(t, "PATCH", s.base+"/api/v1/sites/nador", adminToken, `{"exact_place":"everyone","area":{"fr":"Nador, quartier Lari Chikh"}}`); code != 200 || out["exact_place"] != "everyone" {
		t.Fatalf("place policy: %d %v", code, out)
	}
	code, out = api(t, "GET", s.base+"/api/v1/sites", adminToken, "")
	if code != 200 || !strings.Contains(fmt.Sprint(out), "exact_place:everyone") || !strings.Contains(fmt.Sprint(out), "exact_place:subscribers") || !strings.Contains(fmt.Sprint(out), "Lari Chikh") {
		t.Errorf("sites do not show who sees exact places: %d %v", code, out)
	}
	if code, out := api(t, "PATCH", s.base+"/api/v1/sites/nador", adminToken, `{"exact_place":"all"}`); code != 422 || !strings.Contains(fmt.Sprint(out), "exact_place") {
		t.Errorf("exact_place all: %d %v, want 422 naming exact_place", code, out)
	}
	if code, out := api(t, "POST", s.base+"/api/v1/sites", adminToken, `{"id":"taza","names":{"fr":"Taza"},"area":{"fr":"centre\nville"}}`); code != 422 || !strings.Contains(fmt.Sprint(out), "area.fr") {
		t.Errorf("an area with a line break: %d %v, want 422 naming area.fr", code, out)
	}
	say(t, s.base, "site-person", "Bonjour")
	say(t, s.base, "site-person", "4")
	got := say(t, s.base, "site-person", "1")
	text := strings.Join(got, "\n")
	if !strings.Contains(text, "Tiznit") || strings.Contains(text, "Rabat") {
		t.Errorf("notices menu does not list the new site or still lists the retired one:\n%s", text)
	}
}

func TestRequestsToAPerson(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	p := withProviders(t)
	s := startServe(t, p.vars)
	ppl := &people{t: t, base: s.base}
	const person = "+212611000020"
	for _, text := range []string{"Bonjour", "0", "Mon mari me frappe, j'ai besoin d'aide"} {
		ppl.sms(person, text)
	}
	p.twilio.WaitAccepted(t, 4, 10*time.Second)
	waitOutboxEmpty(t, s.base)
	before := len(p.twilio.Accepted())
	ppl.sms(person, "Je suis à Nador, près de la gare")
	code, out := api(t, "GET", s.base+"/api/v1/requests", adminToken, "")
	if code != 200 {
		t.Fatalf("requests: %d", code)
	}
	reqs := out["requests"].([]any)
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1: %v", len(reqs), out)
	}
	req := reqs[0].(map[string]any)
	if req["urgent"] != true || req["text"] != "Mon mari me frappe, j'ai besoin d'aide" || req["lang"] != "fr" || req["channel"] != "sms" {
		t.Errorf("request = %v", req)
	}
	if then, _ := req["then"].([]any); len(then) != 1 || then[0] != "Je suis à Nador, près de la gare" {
		t.Errorf("what the person wrote after: %v", req["then"])
	}
	if strings.Contains(fmt.Sprint(out), "611000020") {
		t.Error("the request list shows the phone number")
	}
	waitOutboxEmpty(t, s.base)
	if n := len(p.twilio.Accepted()); n != before {
		t.Errorf("the bot answered %d times while the request was open", n-before)
	}
	id := req["id"].(string)
	if code, out := api(t, "POST", s.base+"/api/v1/requests/"+id+"/reply", adminToken, `{"text":"Nous vous appelons. Si danger, appelez le 19."}`); code != 202 {
		t.Fatalf("reply: %d %v", code, out)
	}
	calls := p.twilio.WaitAccepted(t, before+1, 10*time.Second)
	if last := calls[len(calls)-1]; last.To != person || !strings.Contains(last.Body, "appelez le 19") {
		t.Errorf("reply reached %q: %q", last.To, last.Body)
	}
	// Staff replied: the person's numbers are answers to staff now.
	ppl.sms(person, "2")
	if code, out := api(t, "GET", s.base+"/api/v1/requests/"+id, adminToken, ""); code != 200 || fmt.Sprint(out["then"]) != "[Je suis à Nador, près de la gare 2]" {
		t.Errorf("after staff replied, 2 went: %d %v; want it among what the person wrote after", code, out["then"])
	}
	waitOutboxEmpty(t, s.base)
	if n := len(p.twilio.Accepted()); n != before+1 {
		t.Errorf("the bot answered a number %d times after staff replied", n-before-1)
	}
	if code, _ := api(t, "POST", s.base+"/api/v1/requests/"+id+"/close", adminToken, ""); code != 204 {
		t.Fatalf("close: %d", code)
	}
	// The person is told, in French, on SMS; closing again tells nobody.
	calls = p.twilio.WaitAccepted(t, before+2, 10*time.Second)
	if last := calls[len(calls)-1]; last.To != person || last.Body != c.Text("fr", "request_closed", nil) {
		t.Errorf("the closing notice reached %q: %q", last.To, last.Body)
	}
	if code, _ := api(t, "POST", s.base+"/api/v1/requests/"+id+"/close", adminToken, ""); code != 204 {
		t.Fatalf("close again: %d", code)
	}
	if code, _ := api(t, "POST", s.base+"/api/v1/requests/"+id+"/reply", adminToken, `{"text":"x"}`); code != 409 {
		t.Errorf("reply to a closed request: %d, want 409", code)
	}
	waitOutboxEmpty(t, s.base)
	if n := len(p.twilio.Accepted()); n != before+2 {
		t.Errorf("%d messages after closing twice, want one notice", n-before-1)
	}
	ppl.sms(person, "AIDE")
	p.twilio.WaitAccepted(t, before+3, 10*time.Second) // the bot answers again
	if _, out := api(t, "GET", s.base+"/api/v1/requests", adminToken, ""); len(out["requests"].([]any)) != 0 {
		t.Errorf("a closed request is still listed: %v", out)
	}
	// Staff erase the person: the request is gone too.
	if code, out := api(t, "DELETE", s.base+"/api/v1/contacts/"+req["contact"].(string), adminToken, ""); code != 204 {
		t.Fatalf("erase: %d %v", code, out)
	}
	if code, _ := api(t, "GET", s.base+"/api/v1/requests/"+id, adminToken, ""); code != 404 {
		t.Errorf("the erased person's request answers %d, want 404", code)
	}
	if code, _ := api(t, "DELETE", s.base+"/api/v1/contacts/not-a-key", adminToken, ""); code != 400 {
		t.Errorf("erase of a bad id: %d, want 400", code)
	}
}

func TestStaffCommands(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	p.vars["OUTREACH_QUIET_HOURS"] = ""
	s := startServe(t, p.vars)
	ppl := &people{t: t, base: s.base}
	for _, text := range []string{"hello", "4", "1", "3"} { // Rabat, in English
		ppl.sms("+212611000030", text)
	}
	p.twilio.WaitAccepted(t, 5, 10*time.Second)
	_, tok := api(t, "POST", s.base+"/api/v1/tokens", adminToken, `{"name":"amina","role":"staff"}`)
	cli := func(args ...string) (string, error) {
		var out, errOut strings.Builder
		err := run(context.Background(), args, env(map[string]string{"OUTREACH_URL": s.base, "OUTREACH_TOKEN": tok["token"].(string)}), nil, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	out, err := cli("distributions", "create", "--site", "rabat", "--start", time.Now().Add(48*time.Hour).Format("2006-01-02T15:04"),
		"--end", time.Now().Add(50*time.Hour).Format("2006-01-02T15:04"), "--place", "Paroisse", "--place-en", "Parish hall", "--items", "rice,soap", "--notify")
	if err != nil || !strings.Contains(out, "created") || !strings.Contains(out, "notice broadcast") {
		t.Fatalf("create: %v\n%s", err, out)
	}
	out, err = cli("distributions", "list")
	if err != nil || !strings.Contains(out, "rabat") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = cli("broadcast", "send", "--fr", "Bureau fermé", "--en", "Office closed", "--fallback", "fr", "--sites", "rabat", "--follow")
	if err != nil || !strings.Contains(out, "done") || !strings.Contains(out, "sent 1") {
		t.Fatalf("send --follow: %v\n%s", err, out)
	}
	calls := p.twilio.WaitAccepted(t, 7, 10*time.Second)
	if !strings.Contains(calls[len(calls)-1].Body+calls[len(calls)-2].Body, "Office closed") {
		t.Errorf("the English text did not go out")
	}
	out, err = cli("broadcast", "send", "--fr", "plus tard", "--fallback", "fr", "--at", time.Now().Add(2*time.Hour).Format("2006-01-02T15:04"), "--json")
	if err != nil {
		t.Fatalf("send --json: %v\n%s", err, out)
	}
	var sent struct{ ID string }
	json.Unmarshal([]byte(out), &sent)
	if out, err = cli("broadcast", "cancel", sent.ID); err != nil || !strings.Contains(out, "cancelled") {
		t.Errorf("cancel: %v\n%s", err, out)
	}
	if out, err = cli("broadcast", "status", sent.ID, "--json"); err != nil || !strings.Contains(out, `"status": "cancelled"`) {
		t.Errorf("status --json: %v\n%s", err, out)
	}
	if err := run(context.Background(), []string{"broadcast", "status", "x"}, env(nil), nil, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "OUTREACH_TOKEN") {
		t.Errorf("without OUTREACH_TOKEN: %v", err)
	}
}

// TestCancelledDistributionStopsItsNotice: cancelling while the notice is
// still going out stops the rest of it; those who got it are told.
func TestCancelledDistributionStopsItsNotice(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	p.vars["OUTREACH_QUIET_HOURS"] = ""
	p.vars["OUTREACH_RATE_SMS"] = "2" // two segments a second: the notice (2 segments) goes slowly
	s := startServe(t, p.vars)
	ppl := &people{t: t, base: s.base}
	people := []string{"+212611000041", "+212611000042", "+212611000043"}
	for _, who := range people {
		for _, text := range []string{"Bonjour", "4", "1", "1"} {
			ppl.sms(who, text)
		}
	}
	p.twilio.WaitAccepted(t, 15, 30*time.Second)
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	code, d := api(t, "POST", s.base+"/api/v1/distributions", adminToken, fmt.Sprintf(
		`{"site":"nador","starts_at":%q,"ends_at":%q,"place":"Terrain","items":["rice"],"notify":true}`,
		start.Format(time.RFC3339), start.Add(2*time.Hour).Format(time.RFC3339)))
	if code != 201 {
		t.Fatalf("create: %d %v", code, d)
	}
	notice := d["told"].([]any)[0].(string)
	p.twilio.WaitAccepted(t, 16, 30*time.Second) // the first notice left
	if code, _ := api(t, "DELETE", s.base+"/api/v1/distributions/"+d["id"].(string), adminToken, ""); code != 204 {
		t.Fatalf("cancel: %d", code)
	}
	waitFor(t, func() bool {
		c := broadcastReport(t, s.base, notice)["counts"].(map[string]any)
		return c["sent"].(float64)+c["skipped"].(float64) == 3
	})
	r := broadcastReport(t, s.base, notice)
	counts := r["counts"].(map[string]any)
	if r["status"] != "cancelled" || counts["sent"].(float64) >= 3 {
		t.Errorf("notice after cancelling: %v %v; want cancelled with not everyone sent", r["status"], counts)
	}
	told := int(counts["sent"].(float64))
	all := p.twilio.WaitAccepted(t, 15+told+told, 30*time.Second)
	for _, call := range all[15+told:] {
		if !strings.Contains(call.Body, "Annulé") {
			t.Errorf("after cancelling, %s got %q", call.To, call.Body)
		}
	}
}

// TestNoPersonalDataAtRest runs conversations on SMS, WhatsApp and Telegram,
// a request to a person and a broadcast, then scans every Redis key and value
// under the service's prefix, and all its log output, for the phone numbers
// and chat ids used: none may appear.
func TestNoPersonalDataAtRest(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	p.vars["OUTREACH_QUIET_HOURS"] = ""
	s := startServe(t, p.vars)
	ppl := &people{t: t, base: s.base}
	const smsPerson, waPerson, tgChat = "+212699887766", "whatsapp:+212655443322", int64(987654321)
	for _, text := range []string{"Bonjour", "4", "1", "1", "0", "Mon numéro est le 0699887766"} {
		ppl.sms(smsPerson, text)
	}
	for _, text := range []string{"hello", "4", "1", "1"} {
		ppl.sms(waPerson, text)
	}
	for _, text := range []string{"مرحبا", "4", "1", "1"} {
		ppl.telegram(tgChat, "ar", text)
	}
	if code, out := api(t, "POST", s.base+"/api/v1/broadcasts", adminToken, `{"text":{"fr":"Avis","en":"Notice","ar":"إعلان"},"audience":{"sites":["nador"]}}`); code != 202 {
		t.Fatalf("broadcast: %d %v", code, out)
	}
	p.telegram.WaitSent(t, 6, 15*time.Second)
	p.twilio.WaitAccepted(t, 13, 15*time.Second)

	secrets := []string{"699887766", "655443322", "987654321", "0699887766"}
	rdb := redisOf(t, p.vars)
	ctx := context.Background()
	keys := redistest.KeysUnder(t, rdb, p.vars["OUTREACH_REDIS_PREFIX"]) // on every master of a Cluster
	if len(keys) < 10 {
		t.Fatalf("%d keys", len(keys))
	}
	for _, k := range keys {
		value, _ := rdb.Dump(ctx, k).Result()
		for _, secret := range secrets {
			if strings.Contains(k, secret) || strings.Contains(value, secret) {
				t.Errorf("%q holds %s", k, secret)
			}
		}
	}
	logs := s.logs.String()
	for _, secret := range append(secrets, "Mon numéro", e2eToken, e2eBot) {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

// TestOneChangeOfADistributionAtATime: while a change of a distribution is
// under way (its lock held, as by another instance), a second change is
// answered 409 with Retry-After and changes nothing; afterwards it goes.
func TestOneChangeOfADistributionAtATime(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	s := startServe(t, p.vars)
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	code, d := api(t, "POST", s.base+"/api/v1/distributions", adminToken, fmt.Sprintf(
		`{"site":"nador","starts_at":%q,"ends_at":%q,"place":"Terrain","items":["rice"]}`,
		start.Format(time.RFC3339), start.Add(2*time.Hour).Format(time.RFC3339)))
	if code != 201 {
		t.Fatalf("create: %d %v", code, d)
	}
	id := d["id"].(string)
	rdb := redisOf(t, p.vars)
	lock := p.vars["OUTREACH_REDIS_PREFIX"] + "distribution:" + id + ":lock"
	rdb.Set(context.Background(), lock, "another-instance", time.Minute)
	if code, out := api(t, "PATCH", s.base+"/api/v1/distributions/"+id, adminToken, `{"place":"Stade"}`); code != 409 {
		t.Errorf("PATCH during another change: %d %v, want 409", code, out)
	}
	if code, _ := api(t, "DELETE", s.base+"/api/v1/distributions/"+id, adminToken, ""); code != 409 {
		t.Errorf("DELETE during another change: %d, want 409", code)
	}
	if code, out := api(t, "GET", s.base+"/api/v1/distributions/"+id, adminToken, ""); code != 200 || fmt.Sprint(out["place"]) != "map[fr:Terrain]" || out["cancelled"] == true {
		t.Errorf("after the refused changes: %d %v, want it unchanged", code, out)
	}
	rdb.Del(context.Background(), lock)
	if code, out := api(t, "PATCH", s.base+"/api/v1/distributions/"+id, adminToken, `{"place":"Stade"}`); code != 200 || fmt.Sprint(out["place"]) != "map[fr:Stade]" {
		t.Errorf("PATCH afterwards: %d %v", code, out)
	}
	if n := rdb.Exists(context.Background(), lock).Val(); n != 0 {
		t.Error("the lock outlived the change")
	}
}

// postBroadcast posts a broadcast as admin, with an Idempotency-Key when
// key is not empty, and returns the status and the JSON answer.
func postBroadcast(t *testing.T, base, key, body string) (int, map[string]any) {
	t.Helper()
	var headers map[string]string
	if key != "" {
		headers = map[string]string{"Idempotency-Key": key}
	}
	return apiWith(t, "POST", base+"/api/v1/broadcasts", adminToken, body, headers)
}

// TestStaffMistakesAreRefused: through the API, each mistake of staff is
// answered 422 with a JSON error naming the field (or 409 for a reused
// Idempotency-Key), and nothing is sent or stored.
func TestStaffMistakesAreRefused(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	s := startServe(t, p.vars)
	if code, out := api(t, "PATCH", s.base+"/api/v1/sites/rabat", adminToken, `{"retired":true}`); code != 200 {
		t.Fatalf("retire: %d %v", code, out)
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, tt := range []struct{ body, says string }{
		{`{"text":{"fr":"Avis"}}`, "text.en: missing"},
		{`{"text":{"fr":"Avis"},"audience":{"languages":["ar"]}}`, `text.ar: missing — the audience includes people who read ar (العربية); give a text in ar or name a "fallback" language`},
		{`{"text":{"fr":"Avis"},"fallback":"de"}`, "fallback: "},
		{`{"text":{"fr":"Avis"},"fallback":"en"}`, "fallback: "},
		{`{"text":{"fr":"Avis"},"fallback":"fr","audience":{"sites":["atlantis"]}}`, `audience.sites: no site "atlantis"`},
		{`{"text":{"fr":"Avis"},"fallback":"fr","audience":{"sites":["rabat"]}}`, `audience.sites: site "rabat" is retired`},
		{`{"text":{"fr":"Avis"},"fallback":"fr","audience":{"languages":["de"]}}`, "audience.languages: "},
		{`{"text":{"fr":"Avis"},"fallback":"fr","audience":{"channels":["fax"]}}`, "audience.channels: "},
		{`{"text":{"fr":"Avis"},"fallback":"fr","send_at":"` + past + `"}`, "send_at: "},
	} {
		code, out := postBroadcast(t, s.base, "", tt.body)
		if msg, _ := out["error"].(string); code != 422 || !strings.Contains(msg, tt.says) {
			t.Errorf("%s: %d %v; want 422 saying %q", tt.body, code, out, tt.says)
		}
	}
	if code, out := api(t, "GET", s.base+"/api/v1/broadcasts", adminToken, ""); code != 200 || len(out["broadcasts"].([]any)) != 0 {
		t.Errorf("after the refused broadcasts: %d %v; want none stored", code, out)
	}

	// The same Idempotency-Key with another body is a conflict.
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	first := `{"text":{"fr":"Fermé lundi"},"fallback":"fr","send_at":"` + later + `"}`
	code, a := postBroadcast(t, s.base, "k-7", first)
	if code != 202 {
		t.Fatalf("first: %d %v", code, a)
	}
	code, b := postBroadcast(t, s.base, "k-7", `{"text":{"fr":"Fermé mardi"},"fallback":"fr","send_at":"`+later+`"}`)
	if msg, _ := b["error"].(string); code != 409 || !strings.Contains(msg, "Idempotency-Key") || b["id"] != nil {
		t.Errorf("the same key, another body: %d %v; want 409 naming the Idempotency-Key", code, b)
	}
	if code, c := postBroadcast(t, s.base, "k-7", first); code != 202 || c["id"] != a["id"] {
		t.Errorf("the same key, the same body: %d %v; want 202 and %v", code, c, a["id"])
	}

	// A distribution needs its place and kit, at a site in use.
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	dist := func(extra string) string {
		return fmt.Sprintf(`{"site":"nador","starts_at":%q,"ends_at":%q%s}`, start.Format(time.RFC3339), start.Add(2*time.Hour).Format(time.RFC3339), extra)
	}
	for _, tt := range []struct{ body, says string }{
		{dist(`,"place":"Terrain"`), "items: missing"},
		{dist(`,"place":"Terrain","items":[]`), "items: missing"},
		{dist(`,"place":"Terrain","items":["caviar"]`), `items: "caviar" is not in the catalogue`},
		{dist(`,"items":["rice"]`), "place: missing"},
		{dist(`,"place":{"fr":" "},"items":["rice"]`), "place.fr: empty"},
		{strings.Replace(dist(`,"place":"Terrain","items":["rice"]`), "nador", "rabat", 1), `site: site "rabat" is retired`},
	} {
		code, out := api(t, "POST", s.base+"/api/v1/distributions", adminToken, tt.body)
		if msg, _ := out["error"].(string); code != 422 || !strings.Contains(msg, tt.says) {
			t.Errorf("%s: %d %v; want 422 saying %q", tt.body, code, out, tt.says)
		}
	}
	code, d := api(t, "POST", s.base+"/api/v1/distributions", adminToken, dist(`,"place":"Terrain","items":["rice"]`))
	if code != 201 {
		t.Fatalf("create: %d %v", code, d)
	}
	id := d["id"].(string)
	for _, tt := range []struct{ body, says string }{
		{`{"items":[]}`, "items: missing"},
		{`{"place":""}`, "place: missing"},
		{`{"place":{"fr":""}}`, "place.fr: empty"},
	} {
		code, out := api(t, "PATCH", s.base+"/api/v1/distributions/"+id, adminToken, tt.body)
		if msg, _ := out["error"].(string); code != 422 || !strings.Contains(msg, tt.says) {
			t.Errorf("PATCH %s: %d %v; want 422 saying %q", tt.body, code, out, tt.says)
		}
	}
	if code, out := api(t, "PATCH", s.base+"/api/v1/distributions/"+id, adminToken, `{"place":null,"items":null,"who":"les familles"}`); code != 200 ||
		fmt.Sprint(out["place"]) != "map[fr:Terrain]" || fmt.Sprint(out["items"]) != "[rice]" {
		t.Errorf("PATCH with null fields: %d %v; want place and items as they were", code, out)
	}
}

// lines is a writer a test reads while a command writes to it.
type lines struct {
	syncBuffer
	wrote chan struct{}
}

func (l *lines) Write(p []byte) (int, error) {
	n, err := l.syncBuffer.Write(p)
	select {
	case l.wrote <- struct{}{}:
	default:
	}
	return n, err
}

// TestStaffCommandLine: --help succeeds on every command; "send --follow"
// says the broadcast's id before it waits, so that it can be cancelled
// meanwhile; flags work before and after the id; --url names the service.
func TestStaffCommandLine(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"},
		{"serve", "--help"}, {"chat", "-h"}, {"validate", "--help"}, {"telegram-webhook", "--help"}, {"telegram-webhook", "set", "--help"},
		{"distributions", "--help"}, {"distributions", "help"}, {"distributions", "list", "--help"}, {"distributions", "create", "-h"},
		{"broadcast", "--help"}, {"broadcast", "send", "--help"}, {"broadcast", "status", "--help"}, {"broadcast", "status", "ID", "--help"},
		{"broadcast", "cancel", "-h"}, {"broadcasts", "cancel", "--help"},
	} {
		var out, errOut strings.Builder
		err := run(context.Background(), args, env(nil), nil, &out, &errOut)
		if help := out.String() + errOut.String(); err != nil || !strings.Contains(strings.ToLower(help), "usage") {
			t.Errorf("outreach %s: %v, printed %q; want success and the usage", strings.Join(args, " "), err, help)
		}
	}
	dir := copyContent(t)
	var out strings.Builder
	if err := run(context.Background(), []string{"validate", dir, "-q"}, env(nil), nil, &out, io.Discard); err != nil || strings.Contains(out.String(), "SMS cost") {
		t.Errorf("validate DIR -q: %v\n%s", err, out.String())
	}

	p := withProviders(t)
	s := startServe(t, p.vars)
	_, tok := api(t, "POST", s.base+"/api/v1/tokens", adminToken, `{"name":"amina","role":"staff"}`)
	// OUTREACH_URL names nothing: --url must be what is used.
	vars := env(map[string]string{"OUTREACH_URL": "http://127.0.0.1:1", "OUTREACH_TOKEN": tok["token"].(string)})
	cli := func(args ...string) (string, error) {
		var out, errOut strings.Builder
		err := run(context.Background(), args, vars, nil, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	if out, err := cli("broadcast", "send", "--url", s.base, "--fr", "x", "--fallback", "fr", "stray"); err == nil || !strings.Contains(err.Error(), `"stray"`) {
		t.Errorf("send with a stray argument: %v\n%s", err, out)
	}

	// A broadcast for later, followed: its id is printed before the wait.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	followed := &lines{wrote: make(chan struct{}, 1)}
	done := make(chan error, 1)
	at := time.Now().Add(2 * time.Hour).In(zone(vars)).Format("2006-01-02T15:04")
	go func() {
		done <- run(ctx, []string{"broadcast", "send", "--fr", "Plus tard", "--fallback", "fr", "--at", at, "--follow", "--url", s.base}, vars, nil, followed, io.Discard)
	}()
	accepted := regexp.MustCompile(`broadcast (\w+) accepted`)
	var id string
	deadline := time.After(10 * time.Second)
	for id == "" {
		select {
		case <-followed.wrote:
			if m := accepted.FindStringSubmatch(followed.String()); m != nil {
				id = m[1]
			}
		case err := <-done:
			t.Fatalf("send --follow ended before the broadcast did: %v\n%s", err, followed.String())
		case <-deadline:
			t.Fatalf("send --follow did not say the broadcast's id:\n%q", followed.String())
		}
	}
	if out, err := cli("broadcast", "status", "--url", s.base, "--json", id); err != nil || !strings.Contains(out, `"status": "scheduled"`) {
		t.Errorf("status --url URL --json ID: %v\n%s", err, out)
	}
	if out, err := cli("broadcasts", "cancel", id, "--url", s.base); err != nil || !strings.Contains(out, "cancelled") {
		t.Errorf("cancel ID --url URL: %v\n%s", err, out)
	}
	select {
	case err := <-done:
		if err != nil || !strings.Contains(followed.String(), "cancelled") {
			t.Errorf("send --follow: %v\n%s", err, followed.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("send --follow did not end when the broadcast was cancelled:\n%s", followed.String())
	}
	if out, err := cli("broadcast", "status", id, "--json", "--url", s.base); err != nil || !strings.Contains(out, `"status": "cancelled"`) {
		t.Errorf("status ID --json --url URL: %v\n%s", err, out)
	}
	if out, err := cli("broadcast", "status", "--url", s.base); err == nil {
		t.Errorf("status without an id: accepted\n%s", out)
	}
}

// TestBroadcastProgressCountsEachPersonOnce: the progress line counts a
// person once, whatever happened to their message: one that failed after a
// provider took it is in sent and in failed, and is finished once.
func TestBroadcastProgressCountsEachPersonOnce(t *testing.T) {
	var r report
	r.Status = "sending"
	// Five people: three sent (one of which then failed), one refused
	// before sending (failed and unsent), one skipped.
	r.Counts.Total, r.Counts.Sent, r.Counts.Failed, r.Counts.Unsent, r.Counts.Skipped = 5, 3, 2, 1, 1
	if got := r.line(); !strings.Contains(got, " 5/5 ") || !strings.HasPrefix(got, "["+strings.Repeat("#", 30)+"]") {
		t.Errorf("progress %q, want 5/5 and a full bar", got)
	}
	r.Counts.Sent = 2 // one still to send
	if got := r.line(); !strings.Contains(got, " 4/5 ") {
		t.Errorf("progress %q, want 4/5", got)
	}
}
