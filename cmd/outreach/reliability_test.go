package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/redistest"
)

// ownRedis runs a redis-server of the test's own, with append-only
// persistence in a temp dir, so that it can be stopped and started again
// under a running service.
type ownRedis struct {
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
}

func startOwnRedis(t testing.TB) *ownRedis {
	t.Helper()
	redistest.URL(t) // fails, saying how to install Redis, when there is none
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("this test stops and restarts a redis-server of its own: install one (apt-get install redis-server): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &ownRedis{t: t, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *ownRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *ownRedis) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--dir", r.dir, "--appendonly", "yes", "--save", "", "--logfile", filepath.Join(r.dir, "redis.log"))
	// It dies with the test process, even one killed (a fuzzing worker is).
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer rdb.Close()
	for range 200 {
		if rdb.Ping(context.Background()).Err() == nil {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	r.t.Fatal("redis-server did not start")
}

func (r *ownRedis) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Signal(syscall.SIGTERM) // a clean stop writes the append-only file
		r.cmd.Wait()
		r.cmd = nil
	}
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestRedisDownAndBack stops the real redis-server under a running service:
// webhooks answer 503 so that providers retry, /readyz says so, nothing is
// half-written; when Redis returns, the retried message is handled and its
// reply sent, once.
func TestRedisDownAndBack(t *testing.T) {
	t.Parallel()
	r := startOwnRedis(t)
	p := withProviders(t)
	p.vars["REDIS_URL"] = r.url()
	s := startServe(t, p.vars)
	if code := sms(t, s.base, e2eToken, nil); code != 200 {
		t.Fatalf("with Redis up: %d", code)
	}
	p.twilio.WaitAccepted(t, 2, 10*time.Second)

	r.stop()
	if code := smsBody(t, s.base, "SM00000000000000000000000000000002", "2"); code != http.StatusServiceUnavailable {
		t.Errorf("webhook with Redis down: %d, want 503", code)
	}
	if code := status(t, s.base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Redis down: %d, want 503", code)
	}
	if code := status(t, s.base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with Redis down: %d, want 200 (the process runs)", code)
	}

	r.start()
	waitFor(t, func() bool { return status(t, s.base+"/readyz") == http.StatusOK })
	// Twilio retries the message it got a 503 for, until it gets 200 (the
	// pool's first calls after the restart may still fail on a busy
	// machine): now it is handled, once, however often it comes.
	for range 2 {
		code := 0
		for try := 0; try < 20; try++ {
			if code = smsBody(t, s.base, "SM00000000000000000000000000000002", "2"); code != http.StatusServiceUnavailable {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if code != 200 {
			t.Fatalf("retry with Redis back: %d", code)
		}
	}
	calls := p.twilio.WaitAccepted(t, 3, 15*time.Second)
	if !strings.Contains(calls[2].Body, shipped(t).Text("fr", "health_title", nil)) {
		t.Errorf("after Redis came back, 2 got %q", calls[2].Body)
	}
	waitOutboxEmpty(t, s.base)
	if n := len(p.twilio.Accepted()); n != 3 {
		t.Errorf("%d messages sent, want 3", n)
	}
}

// smsBody posts a signed SMS with a given MessageSid and body.
func smsBody(t *testing.T, base, sid, body string) int {
	t.Helper()
	return sms(t, base, e2eToken, func(f url.Values) {
		f.Set("MessageSid", sid)
		f.Set("SmsMessageSid", sid)
		f.Set("SmsSid", sid)
		f.Set("Body", body)
	})
}

// TestSIGTERMStopsGracefully starts the binary (buildBinary) and sends it
// SIGTERM: it stops accepting and exits by itself, within its shutdown time.
func TestSIGTERMStopsGracefully(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = binaryEnv("OUTREACH_ADDR="+addr, "OUTREACH_SHUTDOWN_TIMEOUT=5s", "REDIS_URL=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, "http://"+addr)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v, want a clean exit", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still running 20 s after SIGTERM")
	}
}
