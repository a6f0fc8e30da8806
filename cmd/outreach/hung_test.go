package main

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

// answerBound is how long a request may go unanswered while Redis hangs:
// under Twilio's 15 s, after which it counts the webhook failed. It is the
// test client's timeout, a correctness bound (an answer came at all, in
// time for the provider to retry), not a speed figure: the deadline the
// service sets is 5 s.
const answerBound = 12 * time.Second

// answer is one request's outcome while Redis hangs.
type answer struct {
	what string
	code int
	took time.Duration // logged, not asserted
	err  error         // the client gave up: no answer within answerBound
}

// ask sends req with the bounded client and times the answer.
func ask(what string, req *http.Request) answer {
	client := &http.Client{Timeout: answerBound}
	began := time.Now()
	resp, err := client.Do(req)
	a := answer{what: what, took: time.Since(began), err: err}
	if err == nil {
		a.code = resp.StatusCode
		resp.Body.Close()
	}
	return a
}

// signedSMS is a signed Twilio inbound webhook from a number, with its
// MessageSid and body.
func signedSMS(base, from, sid, body string) *http.Request {
	f := url.Values{
		"MessageSid": {sid}, "SmsMessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {e2eSID},
		"From": {from}, "To": {e2eOurPhone}, "Body": {body}, "NumMedia": {"0"}, "ApiVersion": {"2010-04-01"},
	}
	req, _ := http.NewRequest("POST", base+"/webhooks/twilio", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(e2eToken, e2ePublic+"/webhooks/twilio", f))
	return req
}

// telegramText is a Telegram webhook update: a text from a private chat.
func telegramText(base string, update, chat int64, text string) *http.Request {
	body := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1,"text":%q,"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"A","language_code":"fr"}}}`,
		update, update, text, chat, chat)
	req, _ := http.NewRequest("POST", base+"/webhooks/telegram", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", e2eSecret)
	return req
}

func get(base, path, token string) *http.Request {
	req, _ := http.NewRequest("GET", base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// askAll sends the requests at once, as providers do, and returns the
// answers in the same order.
func askAll(reqs map[string]*http.Request, order []string) []answer {
	out := make([]answer, len(order))
	var wg sync.WaitGroup
	for i, what := range order {
		wg.Go(func() { out[i] = ask(what, reqs[what]) })
	}
	wg.Wait()
	return out
}

// cappedProcess runs the real binary under a memory cap (RLIMIT_DATA: Go
// reserves far more address space than it uses, so RLIMIT_AS would not
// do), with its log kept for the test.
func cappedProcess(t *testing.T, bin string, vars map[string]string) (base string, logs *syncBuffer, cmd *exec.Cmd) {
	t.Helper()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("this test caps the service's memory with prlimit (util-linux): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd = exec.Command(prlimit, "--data=400000000", bin, "serve")
	cmd.Env = binaryEnv("OUTREACH_ADDR=" + addr)
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs = &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	base = "http://" + addr
	waitHealthy(t, base)
	return base, logs, cmd
}

// TestHungRedis stops (SIGSTOP) the real redis-server under the real
// binary: the connections stay open and nothing answers. Webhooks must
// still be answered, 503, in time for Twilio (15 s) and Telegram to retry;
// /readyz says 503, /healthz 200, and the process lives. When Redis goes on
// (SIGCONT), the providers' retries of the same messages are handled once
// each and every reply reaches the fakes. Then an admin API request while
// Redis hangs: 503, and the process lives.
func TestHungRedis(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	bin := buildBinary(t)
	r := startOwnRedis(t)
	p := withProviders(t)
	vars := processVars(p)
	vars["REDIS_URL"] = r.url()
	base, logs, proc := cappedProcess(t, bin, vars)
	hung := false
	pause := func() { r.cmd.Process.Signal(syscall.SIGSTOP); hung = true }
	resume := func() { r.cmd.Process.Signal(syscall.SIGCONT); hung = false }
	// Runs before the service and Redis are stopped (cleanups run last
	// first): a stopped Redis would not stop on SIGTERM.
	t.Cleanup(func() {
		if hung {
			resume()
		}
	})

	const people = 3
	phone := func(i int) string { return fmt.Sprintf("+2126123450%02d", i) }
	chat := func(i int) int64 { return int64(424242000 + i) }
	sid := func(i int, step byte) string { return fmt.Sprintf("SM%c%031d", step, i) }

	// With Redis up, each person starts: "Bonjour" gets the menu.
	for i := range people {
		if a := ask("sms", signedSMS(base, phone(i), sid(i, 'a'), "Bonjour")); a.err != nil || a.code != 200 {
			t.Fatalf("SMS with Redis up: %d %v", a.code, a.err)
		}
		if a := ask("telegram", telegramText(base, int64(1000+i), chat(i), "Bonjour")); a.err != nil || a.code != 200 {
			t.Fatalf("Telegram with Redis up: %d %v", a.code, a.err)
		}
	}
	waitFor(t, func() bool {
		return len(p.twilio.Accepted()) == 2*people && len(byChat(p.telegram.Sent())) == people && outboxEmpty(t, base)
	})
	smsBefore, telegramBefore := len(p.twilio.Accepted()), len(p.telegram.Sent())

	// Redis hangs. Every person answers "2" (health) on both channels, at once.
	pause()
	reqs := map[string]*http.Request{"/readyz": get(base, "/readyz", ""), "/healthz": get(base, "/healthz", ""), "/metrics": get(base, "/metrics", "")}
	order := []string{"/readyz", "/healthz", "/metrics"}
	for i := range people {
		reqs[fmt.Sprint("sms ", i)] = signedSMS(base, phone(i), sid(i, 'b'), "2")
		reqs[fmt.Sprint("telegram ", i)] = telegramText(base, int64(2000+i), chat(i), "2")
		order = append(order, fmt.Sprint("sms ", i), fmt.Sprint("telegram ", i))
	}
	for _, a := range askAll(reqs, order) {
		t.Logf("Redis hung: %-10s answered %d in %v", a.what, a.code, a.took.Round(time.Millisecond))
		want := http.StatusServiceUnavailable
		switch a.what {
		case "/healthz":
			want = http.StatusOK
		case "/metrics":
			want = http.StatusOK // without the outbox depth it cannot read
		}
		switch {
		case a.err != nil:
			t.Errorf("Redis hung: %s got no answer within %v: %v", a.what, answerBound, a.err)
		case a.code != want:
			t.Errorf("Redis hung: %s answered %d, want %d", a.what, a.code, want)
		}
	}
	if proc.ProcessState != nil || ask("/healthz", get(base, "/healthz", "")).code != 200 {
		t.Fatalf("the service died while Redis hung:\n%s", logs.String())
	}

	// Redis goes on. The providers retry what got a 503, twice even: each
	// message is handled once, and each person gets the health menu.
	resume()
	waitFor(t, func() bool { return ask("/readyz", get(base, "/readyz", "")).code == 200 })
	for range 2 {
		for i := range people {
			if a := ask("sms", signedSMS(base, phone(i), sid(i, 'b'), "2")); a.err != nil || a.code != 200 {
				t.Fatalf("SMS retry with Redis back: %d %v", a.code, a.err)
			}
			if a := ask("telegram", telegramText(base, int64(2000+i), chat(i), "2")); a.err != nil || a.code != 200 {
				t.Fatalf("Telegram retry with Redis back: %d %v", a.code, a.err)
			}
		}
	}
	health := c.Text("fr", "health_title", nil)
	p.twilio.WaitAccepted(t, smsBefore+people, 15*time.Second)
	waitFor(t, func() bool { return len(p.telegram.Sent()) >= telegramBefore+people })
	waitOutboxEmpty(t, base) // a wrong second reply has been sent
	bySMS := map[string][]string{}
	for _, call := range p.twilio.Accepted()[smsBefore:] {
		bySMS[call.To] = append(bySMS[call.To], call.Body)
	}
	byTelegram := byChat(p.telegram.Sent()[telegramBefore:])
	for i := range people {
		if got := bySMS[phone(i)]; len(got) != 1 || !strings.Contains(got[0], health) {
			t.Errorf("SMS person %d got %d replies after Redis came back, want the health menu once: %q", i, len(got), got)
		}
		if got := byTelegram[chat(i)]; len(got) != 1 || !strings.Contains(got[0], health) {
			t.Errorf("Telegram person %d got %d replies after Redis came back, want the health menu once: %q", i, len(got), got)
		}
	}

	// An admin API request while Redis hangs: 503, and the process lives.
	t.Run("admin API", func(t *testing.T) {
		pause()
		a := ask("admin", get(base, "/api/v1/outbox", adminToken))
		t.Logf("Redis hung: GET /api/v1/outbox answered %d in %v", a.code, a.took.Round(time.Millisecond))
		if a.err != nil || a.code != http.StatusServiceUnavailable {
			t.Errorf("GET /api/v1/outbox with Redis hung: %d %v, want 503", a.code, a.err)
		}
		if h := ask("/healthz", get(base, "/healthz", "")); h.err != nil || h.code != 200 {
			t.Fatalf("the service died on an admin request while Redis hung: %v\n%.3000s", h.err, logs.String())
		}
		resume()
		waitFor(t, func() bool { return ask("/readyz", get(base, "/readyz", "")).code == 200 })
		if a := ask("admin", get(base, "/api/v1/outbox", adminToken)); a.err != nil || a.code != 200 {
			t.Errorf("GET /api/v1/outbox with Redis back: %d %v, want 200", a.code, a.err)
		}
	})
	if strings.Contains(logs.String(), "612345") || strings.Contains(logs.String(), "424242") {
		t.Error("the log holds a phone number or a chat id")
	}
}
