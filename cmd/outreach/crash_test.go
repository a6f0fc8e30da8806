package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
)

type telegramCall = telegramtest.Call

// buildBinary builds the real outreach binary for tests that run it as a
// process of its own.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "outreach")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
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
	cmd.Env = append(os.Environ(), "OUTREACH_ADDR="+addr)
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
// broadcast to 300 subscribers and sends 300 people's first messages, and
// kills the process with SIGKILL while both are under way. Messages the
// webhook had not answered are retried, as the providers do. A new process
// takes over. Afterwards every subscriber has the broadcast and every
// person their reply: nothing accepted is lost. Nothing is sent twice
// either, but a send in flight at the instant of the kill (the provider got
// it, the process died before recording it): that one is sent again, so
// there are at most as many repeats as workers sending.
func TestKill9DuringBroadcastAndInbound(t *testing.T) {
	bin := buildBinary(t)
	p := withProviders(t)
	vars := processVars(p)
	vars["OUTREACH_OUTBOX_CLAIM_IDLE"] = "1s"
	const subscribers, writers = 300, 300
	const workers = 4 + 8 // OUTREACH_OUTBOX_WORKERS and the bulk readers

	// 300 people subscribe to Oujda's notices through the bot.
	setup := startProcess(t, bin, vars)
	// What a first "Bonjour" gets, as a yardstick.
	if code := telegramPostAt(setup.base, 1, 299999, "Bonjour"); code != 200 {
		t.Fatalf("first message: %d", code)
	}
	waitFor(t, func() bool { return quiet(p.telegram.Sent) })
	want := len(byChat(p.telegram.Sent())[299999])
	subscribeOujda(t, setup.base, 300000, subscribers, new(atomic.Int64))
	waitFor(t, func() bool { return quiet(p.telegram.Sent) })
	setup.kill()
	setupSent := len(p.telegram.Sent())

	// Slow enough that the kill lands in the middle.
	vars["OUTREACH_RATE_TELEGRAM"] = "150"
	first := startProcess(t, bin, vars)
	code, out := api(t, "POST", first.base+"/api/v1/broadcasts", adminToken,
		`{"text":{"fr":"Distribution avancée à 9 h.","en":"Distribution moved to 9 am.","ar":"التوزيع على الساعة 9."},"audience":{"sites":["oujda"]}}`)
	if code != 202 {
		t.Fatalf("broadcast: %d %v", code, out)
	}
	id := out["id"].(string)

	// 300 new people write "Bonjour"; a message not answered 200 (the
	// process is dead) is sent again until it is, as Telegram does.
	var base sync.Mutex
	current := first.base
	inbound := make(chan struct{})
	go func() {
		defer close(inbound)
		for i := range writers {
			for {
				base.Lock()
				b := current
				base.Unlock()
				if telegramPostAt(b, int64(5000000+i), 600000+int64(i), "Bonjour") == 200 {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	waitFor(t, func() bool { return len(p.telegram.Sent())-setupSent >= 150 })
	first.kill()
	killedAt := len(p.telegram.Sent()) - setupSent

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
		chats := byChat(p.telegram.Sent())
		done := r["status"] == "done"
		for i := range writers {
			done = done && len(chats[600000+int64(i)]) >= want
		}
		if done && quiet(p.telegram.Sent) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all sent within 60 s: broadcast %v", r)
		}
		time.Sleep(100 * time.Millisecond)
	}

	chats := byChat(p.telegram.Sent())
	repeats := 0
	for i := range subscribers {
		var got int
		for _, text := range chats[300000+int64(i)] {
			if strings.Contains(text, "Distribution avancée à 9 h.") {
				got++
			}
		}
		if got == 0 {
			t.Errorf("subscriber %d never got the broadcast", i)
		}
		repeats += max(got-1, 0)
	}
	for i := range writers {
		got := len(chats[600000+int64(i)])
		if got < want {
			t.Errorf("person %d got %d messages, want %d: an accepted message was lost", i, got, want)
		}
		repeats += max(got-want, 0)
	}
	t.Logf("killed after %d sends; %d sent again after the kill (bound: %d workers)", killedAt, repeats, workers)
	if repeats > workers {
		t.Errorf("%d messages sent twice: more than the %d sends that can be in flight at a kill", repeats, workers)
	}
	if r := broadcastReport(t, second.base, id); fmt.Sprint(r["counts"].(map[string]any)["total"]) != fmt.Sprint(subscribers) {
		t.Errorf("broadcast counts %v, want total %d", r["counts"], subscribers)
	}
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
