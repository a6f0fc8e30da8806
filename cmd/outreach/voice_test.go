package main

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

// twimlAnswer is what an end-to-end call reads of a TwiML answer.
type twimlAnswer struct {
	Gather struct {
		Action string `xml:"action,attr"`
		Says   []struct {
			Language string `xml:"language,attr"`
			Text     string `xml:",chardata"`
		} `xml:"Say"`
		Plays []string `xml:"Play"`
	} `xml:"Gather"`
	Reject *struct{} `xml:"Reject"`
}

// call posts a voice webhook to u (a public URL) from number, pressing
// digits, signed as Twilio signs it.
func call(t *testing.T, base, u, sid, from, digits string) twimlAnswer {
	t.Helper()
	f := url.Values{"CallSid": {sid}, "AccountSid": {e2eSID}, "From": {from}, "To": {e2eOurPhone}, "CallStatus": {"in-progress"}}
	if digits != "" {
		f.Set("Digits", digits)
	}
	req, _ := http.NewRequest("POST", base+strings.TrimPrefix(u, e2ePublic), strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(e2eToken, u, f))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") {
		t.Fatalf("voice webhook: %d %s", resp.StatusCode, body)
	}
	var a twimlAnswer
	if err := xml.Unmarshal(body, &a); err != nil {
		t.Fatalf("TwiML: %v\n%s", err, body)
	}
	return a
}

// A call through the real service: the menus spoken, a recording
// published with the content and played from the service, a request made
// on the call, and staff's reply reaching the caller by SMS.
func TestEndToEndCall(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	p := withProviders(t)
	s := startServe(t, p.vars)

	// A partner publishes the content with a recording of the menu's title.
	rec := append([]byte("ID3\x03\x00\x00\x00\x00\x00\x00"), make([]byte, 2048)...)
	files := map[string]string{}
	for name, data := range c.Files() {
		files[name] = string(data)
	}
	body, _ := json.Marshal(map[string]any{"files": files, "audio": map[string]string{"audio/fr/main_title.mp3": base64.StdEncoding.EncodeToString(rec)}})
	if code, out := api(t, "PUT", s.base+"/api/v1/content", adminToken, string(body)); code != 200 {
		t.Fatalf("publish with a recording: %d %v", code, out)
	}

	const caller, sid = "+212612340001", "CA00000000000000000000000000000e2e"
	start := call(t, s.base, e2ePublic+"/webhooks/twilio/voice", sid, caller, "")
	if len(start.Gather.Says) < 3 || start.Gather.Says[0].Language != "fr-FR" || !strings.Contains(start.Gather.Says[2].Text, "للعربية") {
		t.Fatalf("the call begins with %+v, want the language choice in each language", start.Gather.Says)
	}
	menu := call(t, s.base, start.Gather.Action, sid, caller, "1")
	if len(menu.Gather.Plays) != 1 {
		t.Fatalf("the main menu plays %v, want the recording of its title", menu.Gather.Plays)
	}
	resp, err := http.Get(s.base + strings.TrimPrefix(menu.Gather.Plays[0], e2ePublic))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != string(rec) || resp.Header.Get("Content-Type") != "audio/mpeg" {
		t.Errorf("GET %s: %d %q, %d bytes", menu.Gather.Plays[0], resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
	}
	recorded := call(t, s.base, menu.Gather.Action, sid, caller, "0")
	if len(recorded.Gather.Says) == 0 || !strings.Contains(recorded.Gather.Says[0].Text, "vous répondra à ce numéro par SMS") {
		t.Fatalf("a person asked on the call: %+v", recorded.Gather.Says)
	}

	// Staff see a call to return, and their reply goes to the caller by SMS.
	code, list := api(t, "GET", s.base+"/api/v1/requests", adminToken, "")
	reqs, _ := list["requests"].([]any)
	if code != 200 || len(reqs) != 1 {
		t.Fatalf("requests: %d %v", code, list)
	}
	r := reqs[0].(map[string]any)
	if r["channel"] != "voice" || r["text"] != c.Text("fr", content.MsgVoiceCallback, nil) {
		t.Errorf("the request of the call: %v", r)
	}
	if code, out := api(t, "POST", fmt.Sprintf("%s/api/v1/requests/%s/reply", s.base, r["id"]), adminToken, `{"text":"Nous vous appelons demain matin."}`); code != 202 {
		t.Fatalf("staff reply: %d %v", code, out)
	}
	sent := p.twilio.WaitAccepted(t, 1, 10*time.Second)
	if sent[0].To != caller || sent[0].Body != "Nous vous appelons demain matin." {
		t.Errorf("Twilio got %q to %q, want staff's reply to the caller by SMS", sent[0].Body, sent[0].To)
	}
	if logs := s.logs.String(); strings.Contains(logs, "612340001") {
		t.Error("the log holds the caller's number")
	}
}

// sms-back: the call is rejected, costing the caller nothing, and the
// menu goes by SMS.
func TestEndToEndMissedCall(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	p := withProviders(t)
	p.vars["OUTREACH_VOICE"] = "sms-back"
	s := startServe(t, p.vars)
	a := call(t, s.base, e2ePublic+"/webhooks/twilio/voice", "CA00000000000000000000000000000e2f", "+212612340002", "")
	if a.Reject == nil || len(a.Gather.Says) != 0 {
		t.Fatalf("sms-back answers %+v, want <Reject/>", a)
	}
	sent := p.twilio.WaitAccepted(t, 1, 10*time.Second)
	if sent[0].To != "+212612340002" || !strings.Contains(sent[0].Body, c.Text("fr", "language_prompt", nil)) {
		t.Errorf("Twilio got %q to %q, want the language choice by SMS", sent[0].Body, sent[0].To)
	}
}
