package main

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
	"github.com/outreach-org/outreach/bot/waitfor"
)

const (
	e2eSID      = "AC00000000000000000000000000000001"
	e2eToken    = "0123456789abcdef0123456789abcdef"
	e2eBot      = "7000000001:AAtesttokentesttokentesttoken"
	e2eSecret   = "e2e_secret-token"
	e2ePublic   = "https://bot.example.org"
	e2eOurPhone = "+212522000000"
)

type providers struct {
	twilio   *twiliotest.Server
	telegram *telegramtest.Server
	vars     map[string]string
}

// withProviders starts fake Twilio and Telegram servers and returns the
// configuration of a service that uses them. The send rates are far above
// the defaults (10 SMS, 20 WhatsApp messages, 30 Telegram messages a
// second, one a second to a Telegram chat): the fakes take any rate, these
// tests check what is sent and not how fast, and at the real rates a test
// waits seconds for a handful of replies to one chat. The gates that hold
// the rates have tests of their own (bot/outbox); a test that needs a slow
// rate sets its own.
func withProviders(t testing.TB) *providers {
	p := &providers{twilio: twiliotest.NewServer(t, e2eSID, e2eToken), telegram: telegramtest.NewServer(t, e2eBot)}
	p.vars = map[string]string{
		"REDIS_URL":                     redistest.URL(t),
		"OUTREACH_REDIS_PREFIX":         redistest.Prefix(t),
		"OUTREACH_DATA_KEY":             "ZTJlLWRhdGEta2V5LTMyLWJ5dGVzLWxvbmctb2shISE=",
		"OUTREACH_PUBLIC_URL":           e2ePublic,
		"OUTREACH_ADMIN_TOKEN":          adminToken,
		"TWILIO_ACCOUNT_SID":            e2eSID,
		"TWILIO_AUTH_TOKEN":             e2eToken,
		"TWILIO_SMS_FROM":               e2eOurPhone,
		"TWILIO_WHATSAPP_FROM":          "whatsapp:" + e2eOurPhone,
		"TWILIO_API_URL":                p.twilio.URL,
		"TELEGRAM_BOT_TOKEN":            e2eBot,
		"TELEGRAM_WEBHOOK_SECRET":       e2eSecret,
		"TELEGRAM_API_URL":              p.telegram.URL,
		"OUTREACH_TELEGRAM_SET_WEBHOOK": "true",
		"OUTREACH_OUTBOX_CLAIM_IDLE":    "2s",
		"OUTREACH_SEND_TIMEOUT":         "5s",
		"OUTREACH_SHUTDOWN_TIMEOUT":     "500ms",
		"OUTREACH_RATE_SMS":             "1000",
		"OUTREACH_RATE_WHATSAPP":        "1000",
		"OUTREACH_RATE_TELEGRAM":        "1000",
		"OUTREACH_RATE_TELEGRAM_CHAT":   "1000",
	}
	return p
}

func testdata(t testing.TB, path string) string {
	data, err := os.ReadFile("../../bot/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// sms posts a Twilio inbound webhook signed with token (computed by the
// test's own signer), with the form of a testdata file changed by edit.
func sms(t *testing.T, base, token string, edit func(url.Values)) int {
	t.Helper()
	f, err := url.ParseQuery(testdata(t, "twilio/testdata/inbound_sms_bonjour.form"))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(f)
	}
	req, _ := http.NewRequest("POST", base+"/webhooks/twilio", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(token, e2ePublic+"/webhooks/twilio", f))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func telegramUpdate(t *testing.T, base, secret, file string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/webhooks/telegram", strings.NewReader(testdata(t, "telegram/testdata/"+file)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestEndToEndChannels(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	p := withProviders(t)
	s := startServe(t, p.vars)

	if u, secret, _ := p.telegram.Webhook(); u != e2ePublic+"/webhooks/telegram" || secret != e2eSecret {
		t.Errorf("Telegram webhook registered as %q with secret %q", u, secret)
	}

	// A signed SMS "Bonjour" gets a French reply at Twilio.
	if code := sms(t, s.base, e2eToken, nil); code != 200 {
		t.Fatalf("signed SMS: %d", code)
	}
	calls := p.twilio.WaitAccepted(t, 2, 10*time.Second)
	if calls[0].To != "+212612345678" || calls[0].From != e2eOurPhone || !strings.Contains(calls[1].Body, c.Text("fr", "main_title", nil)) {
		t.Errorf("Twilio got To=%q From=%q Body=%q", calls[0].To, calls[0].From, calls[1].Body)
	}

	// The same MessageSid again: answered 200, no second reply.
	if code := sms(t, s.base, e2eToken, nil); code != 200 {
		t.Fatalf("retried SMS: %d", code)
	}
	// A forged signature: 403, nothing sent.
	if code := sms(t, s.base, "forged0000000000000000000000000", func(f url.Values) {
		f.Set("MessageSid", "SM99999999999999999999999999999999")
	}); code != 403 {
		t.Fatalf("forged SMS: %d, want 403", code)
	}

	// A Telegram "مرحبا" gets Arabic.
	if code := telegramUpdate(t, s.base, e2eSecret, "message_text_ar.json"); code != 200 {
		t.Fatalf("Telegram update: %d", code)
	}
	sent := p.telegram.WaitSent(t, 2, 10*time.Second)
	if !strings.Contains(sent[1].Params.Get("text"), c.Text("ar", "main_title", nil)) || sent[1].Params.Get("reply_markup") == "" {
		t.Errorf("Telegram got %q without buttons or not in Arabic", sent[1].Params.Get("text"))
	}
	if code := telegramUpdate(t, s.base, "wrong", "message_text_ar.json"); code != 403 {
		t.Errorf("wrong Telegram secret: %d, want 403", code)
	}

	waitOutboxEmpty(t, s.base) // any wrong extra send has been made
	if n := len(p.twilio.Calls()); n != 2 {
		t.Errorf("%d calls to Twilio, want 2: a retry or a forged request was answered", n)
	}
	if n := len(p.telegram.Sent()); n != 2 {
		t.Errorf("%d Telegram messages, want 2", n)
	}
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`outreach_sent_total{channel="sms"} 2`,
		`outreach_sent_total{channel="telegram"} 2`,
		`outreach_outbox_depth{queue="reply"} 0`,
		`outreach_send_seconds_count{channel="sms"} 2`,
		`outreach_webhook_requests_total{code="403",route="twilio"} 1`,
		`outreach_duplicates_total{channel="sms"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if logs := s.logs.String(); strings.Contains(logs, "612345678") || strings.Contains(logs, "111111111") || strings.Contains(logs, e2eBot) {
		t.Error("the log holds a phone number, a chat id or the bot token")
	}
}

// TestWorkerKilledMidSend stops the service while its worker is in the middle
// of a send (Twilio hangs), before the provider accepted and before the
// acknowledgement. After a restart the reply is sent exactly once.
func TestWorkerKilledMidSend(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	p.twilio.SetDelay(time.Minute) // every send hangs until the client gives up
	s := startServe(t, p.vars)
	if code := sms(t, s.base, e2eToken, func(f url.Values) { f.Set("Body", "2") }); code != 200 {
		t.Fatalf("SMS: %d", code)
	}
	// Wait until the worker holds the entry: read from the stream, not acknowledged.
	rdb, _ := redistest.New(t)
	waitFor(t, func() bool {
		n, err := replyPending(rdb, p.vars["OUTREACH_REDIS_PREFIX"])
		return err == nil && n == 1
	})
	if err := s.stop(); err != nil {
		t.Logf("serve stopped with %v", err)
	}
	if n := len(p.twilio.Accepted()); n != 0 {
		t.Fatalf("%d accepted before the restart, want 0", n)
	}

	p.twilio.SetDelay(0)
	s2 := startServe(t, p.vars)
	p.twilio.WaitAccepted(t, 1, 15*time.Second)
	waitOutboxEmpty(t, s2.base) // the reply is recorded sent: no claim round can send it again
	if n := len(p.twilio.Accepted()); n != 1 {
		t.Errorf("the reply was accepted %d times, want exactly once", n)
	}
}

// waitFor waits (waitfor.Default at most) until cond holds.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	waitfor.Cond(t, waitfor.Default, "the condition", cond)
}

// waitOutboxEmpty waits until the outbox of the service at base holds
// nothing: no message waiting, being sent or delayed for a retry. A message
// leaves the outbox once its send is recorded, so every message queued
// before the call has reached the providers (or the dead letters) by its
// return: what a test counts then is all there will be.
func waitOutboxEmpty(t testing.TB, base string) {
	t.Helper()
	waitfor.Cond(t, waitfor.Default, "an empty outbox", func() bool { return outboxEmpty(t, base) })
}

// outboxEmpty reports whether the outbox of the service at base holds
// nothing (see waitOutboxEmpty).
func outboxEmpty(t testing.TB, base string) bool {
	t.Helper()
	code, depth := api(t, "GET", base+"/api/v1/outbox", adminToken, "")
	return code == http.StatusOK && depth["reply"] == 0.0 && depth["bulk"] == 0.0 && depth["delayed"] == 0.0
}

// TestManyWorkersDoNotStarveWebhooks: outbox readers block on Redis, each
// holding a connection; with many of them the webhooks and the reply
// readers must still get connections.
func TestManyWorkersDoNotStarveWebhooks(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	p.vars["OUTREACH_OUTBOX_WORKERS"] = "32" // 96 blocked readers
	s := startServe(t, p.vars)
	if code := telegramUpdate(t, s.base, e2eSecret, "message_text_ar.json"); code != 200 {
		t.Fatalf("Telegram update: %d", code)
	}
	p.telegram.WaitSent(t, 2, 10*time.Second)
	if v := metricValues(t, s.base)["outreach_redis_pool_waits_total"]; v != 0 {
		t.Errorf("Redis commands waited %v times for a connection", v)
	}
}
