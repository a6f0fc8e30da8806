package main

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

type telegramCall = telegramtest.Call

// asService is the variable that makes this package's test binary run as
// the outreach binary: its TestMain then runs main, with the command line
// after the program's name, and no test.
const asService = "OUTREACH_TEST_BINARY_AS_SERVICE"

// runAsService runs main and exits, when the environment says that this
// process is the service (binaryEnv), and returns otherwise.
func runAsService() {
	if os.Getenv(asService) != "1" {
		return
	}
	os.Unsetenv(asService)
	main() // exits with 1 on an error
	os.Exit(0)
}

// built is the outreach binary when this test binary cannot stand in for
// it: built once per run of the package's tests (in a folder that TestMain
// removes at the end).
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

// buildBinary returns the outreach binary for tests that run it as a
// process of its own (with binaryEnv). Without the race detector, it is
// this test binary, which holds the same main and runs it as the service
// (runAsService): nothing to build. With the race detector, whose shadow
// memory a memory cap (TestHungRedis) cannot hold and which slows a
// process that handles thousands of messages (TestKill9…) many times, it
// is the binary built as a release is, once: the first call builds it,
// the others wait for that build and share it.
func buildBinary(t testing.TB) string {
	t.Helper()
	if !raceEnabled {
		bin, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		return bin
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "outreach-bin-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "outreach")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

// binaryEnv is the environment of a process of the binary buildBinary
// returns: this process's, the mark that makes the test binary the
// service, and vars ("NAME=value").
func binaryEnv(vars ...string) []string {
	return append(append(os.Environ(), asService+"=1"), vars...)
}

// removeBinary deletes the folder of the binary built for the tests, if any.
func removeBinary() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// process is the real binary running serve.
type process struct {
	cmd  *exec.Cmd
	base string
}

func startProcess(t testing.TB, bin string, vars map[string]string) *process {
	t.Helper()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = binaryEnv("OUTREACH_ADDR=" + addr)
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, base: "http://" + addr}
	t.Cleanup(func() { p.kill() })
	waitHealthy(t, p.base)
	return p
}

// kill ends the process with SIGKILL: no shutdown, no flush, nothing.
func (p *process) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

// TestKill9DuringBroadcastAndInbound runs the real binary, starts a
// broadcast to 300 subscribers (a third each on SMS, WhatsApp and Telegram)
// and sends 300 people's first messages (a third on each channel too), and
// kills the process with SIGKILL while both are under way. Twilio takes
// each message at once and answers after 100 ms, so that the kill finds
// sends in flight that Twilio has and the process never recorded. Messages
// the webhook had not answered are retried, as the providers do. A new
// process takes over. Afterwards every subscriber has the broadcast and
// every person their reply: nothing accepted is lost. On SMS and WhatsApp
// nothing is sent twice: the new process asks Twilio about the sends whose
// answer never came. Telegram cannot be asked: a send in flight at the
// instant of the kill is sent again, so there are at most as many repeats
// there as workers sending.
func TestKill9DuringBroadcastAndInbound(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	p := withProviders(t)
	vars := processVars(p)
	vars["OUTREACH_OUTBOX_CLAIM_IDLE"] = "1s"
	vars["OUTREACH_RATE_SMS"] = "5000"
	vars["OUTREACH_RATE_WHATSAPP"] = "5000"
	const subscribers, writers = 300, 300
	const workers = 4 + 8 // OUTREACH_OUTBOX_WORKERS and the bulk readers
	channels := []string{"sms", "whatsapp", "telegram"}
	forms := twilioForms(t)

	// 300 people subscribe to Oujda's notices through the bot.
	setup := startProcess(t, bin, vars)
	// What a first "Bonjour" gets on each channel, as a yardstick.
	want := map[string]int{}
	for _, ch := range channels {
		who := crashPerson(ch, 299999)
		if code := postAs(setup.base, forms, who, 1, "Bonjour"); code != 200 {
			t.Fatalf("first message on %s: %d", ch, code)
		}
		waitOutboxEmpty(t, setup.base)
		want[ch] = len(sentTo(p)[who.addr])
	}
	var update atomic.Int64
	var subs, people []crashAddr
	for i := range subscribers {
		subs = append(subs, crashPerson(channels[i%3], 300000+int64(i)))
	}
	for i := range writers {
		people = append(people, crashPerson(channels[i%3], 600000+int64(i)))
	}
	subscribeAll(t, setup.base, forms, subs, &update)
	waitOutboxEmpty(t, setup.base)
	setup.kill()
	setupSent := totalSent(p)

	// Slow enough that the kill lands in the middle, with sends in flight.
	vars["OUTREACH_RATE_TELEGRAM"] = "150"
	p.twilio.SetAnswerDelay(100 * time.Millisecond)
	first := startProcess(t, bin, vars)
	code, out := api(t, "POST", first.base+"/api/v1/broadcasts", adminToken,
		`{"text":{"fr":"Distribution avancée à 9 h.","en":"Distribution moved to 9 am.","ar":"التوزيع على الساعة 9."},"audience":{"sites":["oujda"]}}`)
	if code != 202 {
		t.Fatalf("broadcast: %d %v", code, out)
	}
	id := out["id"].(string)

	// 300 new people write "Bonjour"; a message not answered 200 (the
	// process is dead) is sent again until it is, as the providers do.
	var base sync.Mutex
	current := first.base
	inbound := make(chan struct{})
	go func() {
		defer close(inbound)
		for i, who := range people {
			for {
				base.Lock()
				b := current
				base.Unlock()
				if postAs(b, forms, who, int64(5000000+i), "Bonjour") == 200 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	waitFor(t, func() bool { return totalSent(p)-setupSent >= 150 })
	first.kill()
	killedAt := totalSent(p) - setupSent

	second := startProcess(t, bin, vars)
	if r := broadcastReport(t, second.base, id); fmt.Sprint(r["counts"].(map[string]any)["sent"]) == fmt.Sprint(subscribers) {
		t.Fatalf("the broadcast was over before the kill (%v): the test proves nothing", r["counts"])
	}
	base.Lock()
	current = second.base
	base.Unlock()
	<-inbound

	deadline := time.Now().Add(60 * time.Second)
	for {
		r := broadcastReport(t, second.base, id)
		sent := sentTo(p)
		done := r["status"] == "done"
		for _, who := range people {
			done = done && len(sent[who.addr]) >= want[who.channel]
		}
		// An empty outbox: what the kill left in flight has been taken
		// over and sent (or found sent), and nothing more will go.
		if done && outboxEmpty(t, second.base) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all sent within 60 s: broadcast %v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Twilio took these and the kill cut their answers off.
	unanswered := 0
	for _, c := range p.twilio.Accepted() {
		if c.Unanswered {
			unanswered++
		}
	}
	sent := sentTo(p)
	repeats := map[string]int{}
	for i, who := range subs {
		var got int
		for _, text := range sent[who.addr] {
			if strings.Contains(text, "Distribution avancée à 9 h.") {
				got++
			}
		}
		if got == 0 {
			t.Errorf("subscriber %d (%s) never got the broadcast", i, who.channel)
		}
		repeats[who.channel] += max(got-1, 0)
	}
	for i, who := range people {
		got := len(sent[who.addr])
		if got < want[who.channel] {
			t.Errorf("person %d (%s) got %d messages, want %d: an accepted message was lost", i, who.channel, got, want[who.channel])
		}
		repeats[who.channel] += max(got-want[who.channel], 0)
	}
	t.Logf("killed after %d sends, %d of them taken by Twilio and never answered; sent again after the kill: %v (Telegram's bound: %d workers)",
		killedAt, unanswered, repeats, workers)
	if unanswered == 0 {
		t.Errorf("the kill found no Twilio send in flight: the test proves nothing for SMS and WhatsApp")
	}
	for _, ch := range []string{"sms", "whatsapp"} {
		if repeats[ch] != 0 {
			t.Errorf("%d messages sent twice on %s, want none", repeats[ch], ch)
		}
	}
	if repeats["telegram"] > workers {
		t.Errorf("%d messages sent twice on Telegram: more than the %d sends that can be in flight at a kill", repeats["telegram"], workers)
	}
	if r := broadcastReport(t, second.base, id); fmt.Sprint(r["counts"].(map[string]any)["total"]) != fmt.Sprint(subscribers) {
		t.Errorf("broadcast counts %v, want total %d", r["counts"], subscribers)
	}
}

// crashAddr is one person of the crash test: a channel and the address the
// provider sees (a phone number, whatsapp:+…, or a chat id).
type crashAddr struct {
	channel string
	addr    string
	chat    int64
}

// crashPerson returns person n on a channel.
func crashPerson(channel string, n int64) crashAddr {
	switch channel {
	case "sms":
		return crashAddr{channel: channel, addr: fmt.Sprintf("+2126%08d", n)}
	case "whatsapp":
		return crashAddr{channel: channel, addr: fmt.Sprintf("whatsapp:+2127%08d", n)}
	}
	return crashAddr{channel: channel, addr: fmt.Sprint(n), chat: n}
}

// twilioForms returns the testdata webhooks of an inbound SMS and WhatsApp
// message, to be posted as other people.
func twilioForms(t testing.TB) map[string]url.Values {
	out := map[string]url.Values{}
	for ch, file := range map[string]string{"sms": "inbound_sms_bonjour.form", "whatsapp": "inbound_whatsapp_hello.form"} {
		f, err := url.ParseQuery(testdata(t, "twilio/testdata/"+file))
		if err != nil {
			t.Fatal(err)
		}
		out[ch] = f
	}
	return out
}

// postAs posts a text from who, with a provider message id made from n;
// 0 when the service could not be reached.
func postAs(base string, forms map[string]url.Values, who crashAddr, n int64, text string) int {
	if who.channel == "telegram" {
		return telegramPostAt(base, n, who.chat, text)
	}
	f := url.Values{}
	for k, v := range forms[who.channel] {
		f[k] = append([]string(nil), v...)
	}
	sid := fmt.Sprintf("SM%032d", n)
	f.Set("MessageSid", sid)
	f.Set("SmsMessageSid", sid)
	f.Set("SmsSid", sid)
	f.Set("From", who.addr)
	f.Set("Body", text)
	if who.channel == "whatsapp" {
		f.Set("WaId", strings.TrimPrefix(who.addr, "whatsapp:+"))
	}
	req, _ := http.NewRequest("POST", base+"/webhooks/twilio", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(e2eToken, e2ePublic+"/webhooks/twilio", f))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// sentTo groups what the providers took by address: Twilio's To, or
// Telegram's chat id.
func sentTo(p *providers) map[string][]string {
	out := map[string][]string{}
	for chat, texts := range byChat(p.telegram.Sent()) {
		out[fmt.Sprint(chat)] = texts
	}
	for _, c := range p.twilio.Accepted() {
		out[c.To] = append(out[c.To], c.Body)
	}
	return out
}

// totalSent counts what the providers took.
func totalSent(p *providers) int { return len(p.telegram.Sent()) + len(p.twilio.Accepted()) }

// subscribeAll has people subscribe to Oujda's notices through the bot,
// ten at a time.
func subscribeAll(t testing.TB, base string, forms map[string]url.Values, people []crashAddr, update *atomic.Int64) {
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(people); i += 10 {
				for _, text := range []string{"Bonjour", "4", "1", "2"} {
					if code := postAs(base, forms, people[i], 900000+update.Add(1), text); code != 200 {
						t.Errorf("subscribing: %d", code)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

// telegramPostAt posts one text update from a chat; 0 when the service
// could not be reached.
func telegramPostAt(base string, update, chat int64, text string) int {
	body := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":%d,"date":1,"text":%q,"chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"A","language_code":"fr"}}}`,
		update, update, text, chat, chat)
	req, _ := http.NewRequest("POST", base+"/webhooks/telegram", strings.NewReader(body))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", e2eSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// byChat groups the texts sent by chat id.
func byChat(calls []telegramCall) map[int64][]string {
	out := map[int64][]string{}
	for _, c := range calls {
		var chat int64
		fmt.Sscan(c.Params.Get("chat_id"), &chat)
		out[chat] = append(out[chat], c.Params.Get("text"))
	}
	return out
}

// quiet reports whether nothing more was sent for half a second.
func quiet(sent func() []telegramCall) bool {
	n := len(sent())
	time.Sleep(500 * time.Millisecond)
	return len(sent()) == n
}

// processVars are the providers' variables for the real binary, with the
// Telegram rates lifted and no quiet hours.
func processVars(p *providers) map[string]string {
	vars := p.vars
	vars["OUTREACH_QUIET_HOURS"] = ""
	vars["OUTREACH_TELEGRAM_SET_WEBHOOK"] = "false"
	vars["OUTREACH_RATE_TELEGRAM"] = "5000"
	vars["OUTREACH_RATE_TELEGRAM_CHAT"] = "1000"
	return vars
}

// subscribeOujda has n people, Telegram chats from first on, subscribe to
// Oujda's notices through the bot, ten at a time.
func subscribeOujda(t testing.TB, base string, first int64, n int, update *atomic.Int64) {
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 10 {
				for _, text := range []string{"Bonjour", "4", "1", "2"} {
					if code := telegramPostAt(base, 900000+update.Add(1), first+int64(i), text); code != 200 {
						t.Errorf("subscribing: %d", code)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
