package outbox_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// env is one test's outbox on a real Redis (one node, or a Cluster with
// REDISTEST=cluster or clusterEnv), under a prefix of its own, with fakes
// for what the service gives the worker: people, sealing, a provider.
type env struct {
	T        *testing.T
	Redis    redis.UniversalClient
	Prefix   string
	Space    keys.Space
	Outbox   *outbox.Outbox
	Metrics  *metrics.Metrics
	Log      *slog.Logger
	Logs     *logBuffer
	Contacts *people
}

// newEnv is an env on the test Redis (redistest.New).
func newEnv(t *testing.T) *env {
	rdb, prefix := redistest.New(t)
	return envOn(t, rdb, prefix)
}

// clusterEnv is an env on the package's 3-master Cluster, whatever
// REDISTEST says.
func clusterEnv(t *testing.T) *env {
	rdb, prefix := redistest.NewAt(t, redistest.SharedCluster(t).URL)
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("the shared Cluster gave a %T", rdb)
	}
	return envOn(t, rdb, prefix)
}

func envOn(t *testing.T, rdb redis.UniversalClient, prefix string) *env {
	t.Helper()
	logs := &logBuffer{}
	space := keys.New(prefix)
	ob := outbox.New(rdb, space)
	if err := ob.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &env{T: t, Redis: rdb, Prefix: prefix, Space: space, Outbox: ob, Metrics: metrics.New(),
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Logs: logs,
		Contacts: &people{suppressed: map[string]string{}}}
}

// StartWorker runs an outbox worker over channels until the test ends.
func (e *env) StartWorker(channels map[string]*outbox.Channel, opts outbox.Options) (stop func()) {
	e.T.Helper()
	if opts.Block == 0 {
		opts.Block = 50 * time.Millisecond
	}
	w := e.Outbox.NewWorker(channels, e.Contacts, opener{}, e.Metrics, e.Log, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	e.T.Cleanup(stop)
	return stop
}

// waitDrained waits until no entry waits in the outbox, delayed or not.
func (e *env) waitDrained(t *testing.T) {
	t.Helper()
	waitfor.Cond(t, waitfor.Default, "the outbox drained", func() bool {
		d, err := e.Outbox.Depth(context.Background())
		return err == nil && d["reply"]+d["bulk"]+d["delayed"] == 0
	})
}

// noWarnings fails the test when the worker warned (a refused command, a
// CROSSSLOT…), or logged any of secrets (addresses, texts).
func (e *env) noWarnings(t *testing.T, secrets ...string) {
	t.Helper()
	for _, l := range e.Logs.lines() {
		if l["level"] == "WARN" || l["level"] == "ERROR" {
			t.Errorf("the worker warned: %v", l)
		}
	}
	all := e.Logs.String()
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the logs hold %q", s)
		}
	}
}

// seal is what the fake opener opens: not encryption, but the words do
// not show.
func seal(s string) string { return "sealed:" + base64.StdEncoding.EncodeToString([]byte(s)) }

type opener struct{}

func (opener) Open(s string) (string, error) {
	v, ok := strings.CutPrefix(s, "sealed:")
	if !ok {
		return "", errors.New("not sealed")
	}
	b, err := base64.StdEncoding.DecodeString(v)
	return string(b), err
}

// people is the Contacts of the worker: who is suppressed and why, and
// what the worker marked.
type people struct {
	mu         sync.Mutex
	suppressed map[string]string
	marked     []string
}

func (p *people) Suppressed(ctx context.Context, contact string, bulk bool) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.suppressed[contact], nil
}

func (p *people) mark(what, contact string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.marked = append(p.marked, what+" "+contact)
	return nil
}

func (p *people) MarkOptedOut(ctx context.Context, c string) error { return p.mark("opted_out", c) }
func (p *people) MarkBlocked(ctx context.Context, c string) error  { return p.mark("blocked", c) }
func (p *people) MarkUndeliverable(ctx context.Context, c string) error {
	return p.mark("undeliverable", c)
}
func (p *people) MarkNeedsTemplate(ctx context.Context, c string) error {
	return p.mark("needs_template", c)
}

func (p *people) marks() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.marked...)
}

// chat is a provider like Telegram's: no message ids (so no delivery
// callbacks), button presses answered, an empty text refused for good,
// an address that fails as it is told.
type chat struct {
	mu        sync.Mutex
	sent      []outbox.Message
	calls     int
	delay     time.Duration
	fail      map[string]*outbox.SendError
	failCalls int // callback answers refused
	// failOnce fails the first send to an address as it says.
	failOnce map[string]*outbox.SendError
	ids      bool
}

func (c *chat) Send(ctx context.Context, m outbox.Message) (string, error) {
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if m.Callback != "" {
		if c.failCalls > 0 {
			c.failCalls--
			return "", &outbox.SendError{Failure: outbox.Permanent, Reason: "chat_400"}
		}
		return "", nil
	}
	if se := c.fail[m.To]; se != nil {
		return "", se
	}
	if se := c.failOnce[m.To]; se != nil {
		delete(c.failOnce, m.To)
		return "", se
	}
	if m.Text == "" && m.Template == "" {
		return "", &outbox.SendError{Failure: outbox.Permanent, Reason: "chat_400"}
	}
	c.sent = append(c.sent, m)
	if c.ids {
		return fmt.Sprintf("P%d", len(c.sent)-1), nil
	}
	return "", nil
}

// Sent returns the messages the provider took, in order.
func (c *chat) Sent() []outbox.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]outbox.Message(nil), c.sent...)
}

func (c *chat) callCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// WaitSent waits until the provider took n messages and returns them.
func (c *chat) WaitSent(t *testing.T, n int) []outbox.Message {
	t.Helper()
	waitfor.Cond(t, waitfor.Default, fmt.Sprintf("%d messages sent", n), func() bool { return len(c.Sent()) >= n })
	return c.Sent()
}

func texts(ms []outbox.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Text)
	}
	return out
}

// channels is the "chat" channel on c, at rate a second.
func channels(c *chat, rate float64) map[string]*outbox.Channel {
	return map[string]*outbox.Channel{"chat": {Sender: c, MaxLen: 4096, Gate: outbox.NewGate(rate, 1)}}
}

// entry is an entry on the chat channel to address to (contact "c:"+to).
func entry(to, text string, p outbox.Priority) outbox.Entry {
	e := outbox.NewEntry("chat", seal(to), "c:"+to, p)
	e.Messages = []outbox.Text{{Text: text}}
	return e
}

// logBuffer keeps what was logged.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) lines() []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}
