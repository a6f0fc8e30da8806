// Package channeltest is the test harness shared by the channels: a real
// Redis, the real store, outbox and dialog service behind a channel's
// webhook handler, and a table runner that checks, for each provider
// payload, the answer, what was stored and what reached the provider's fake.
package channeltest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// Env is one test's service: real Redis under a key prefix of its own.
type Env struct {
	T       testing.TB
	Redis   redis.UniversalClient
	Prefix  string
	Content *content.Content
	Store   *store.Store
	Outbox  *outbox.Outbox
	Dialog  *dialog.Service
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// Logs is everything logged, to check that no personal data is.
	Logs *Buffer
	// Outbound, set by a channel's setup, starts the outbox worker on the
	// provider's fake and returns the first n texts the provider accepted.
	Outbound func(t testing.TB, n int) []string
}

// dataKey is the master key every Env uses.
const dataKey = "channeltest-data-key-32-bytes-ok"

// New returns an Env whose dialog delivers on the given channels.
func New(t testing.TB, channels ...string) *Env {
	t.Helper()
	rdb, prefix := redistest.New(t)
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), rdb, store.Options{Prefix: prefix, DataKey: []byte(dataKey)})
	if err != nil {
		t.Fatal(err)
	}
	logs := &Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	m := metrics.New()
	ob := outbox.New(rdb, st.Keys())
	if err := ob.Setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	d := dialog.New(st, c, m, log, dialog.Options{IdleAfter: time.Hour, Outbox: ob, Deliver: channels})
	return &Env{T: t, Redis: rdb, Prefix: prefix, Content: c, Store: st, Outbox: ob, Dialog: d, Metrics: m, Log: log, Logs: logs}
}

// StartWorker runs an outbox worker over channels until the test ends.
func (e *Env) StartWorker(channels map[string]*outbox.Channel, opts outbox.Options) (stop func()) {
	e.T.Helper()
	if opts.Block == 0 {
		opts.Block = 50 * time.Millisecond
	}
	w := e.Outbox.NewWorker(channels, e.Dialog.People(), e.Store, e.Metrics, e.Log, opts)
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

// Entries returns the entries waiting in a priority's streams, shard by
// shard.
func (e *Env) Entries(p outbox.Priority) []outbox.Entry {
	e.T.Helper()
	var msgs []redis.XMessage
	for i := range e.Outbox.Keys().Shards() {
		some, err := e.Redis.XRange(context.Background(), e.Outbox.Keys().Stream(p, i), "-", "+").Result()
		if err != nil {
			e.T.Fatal(err)
		}
		msgs = append(msgs, some...)
	}
	out := make([]outbox.Entry, 0, len(msgs))
	for _, m := range msgs {
		var en outbox.Entry
		if err := json.Unmarshal([]byte(m.Values["e"].(string)), &en); err != nil {
			e.T.Fatal(err)
		}
		out = append(out, en)
	}
	return out
}

// Replies returns the messages waiting in the reply stream, in order.
func (e *Env) Replies() []outbox.Text {
	e.T.Helper()
	var out []outbox.Text
	for _, en := range e.Entries(outbox.Reply) {
		out = append(out, en.Messages...)
	}
	return out
}

// State returns the dialog state of the person at address on channel.
func (e *Env) State(channel, address string) (engine.State, bool) {
	e.T.Helper()
	st, err := e.Store.LoadState(context.Background(), e.Store.ContactKey(channel, address), "")
	if err != nil {
		e.T.Fatal(err)
	}
	if st.Data == nil {
		return engine.State{}, false
	}
	var s engine.State
	if err := json.Unmarshal(st.Data, &s); err != nil {
		e.T.Fatal(err)
	}
	return s, true
}

// Text returns a message of the shipped content.
func (e *Env) Text(lang, id string) string {
	return e.Content.Text(lang, id, map[string]any{"Site": ""})
}

// Case is one webhook request and what must follow from it.
type Case struct {
	Label   string
	Request func(t testing.TB) *http.Request
	Status  int
	// Replies is how many replies must be queued; ReplyHas what the first
	// reply must contain.
	Replies  int
	ReplyHas string
	// Channel and Address name the contact; Lang, when set, is the language
	// the contact's state must have, and NoState says nothing may be stored.
	Channel, Address string
	Lang             string
	NoState          bool
	// Sends, in order, must each be contained in a text the provider's fake
	// accepted once the outbox worker ran (the expected outbound calls).
	Sends []string
	// Check runs last, for what is particular to the case.
	Check func(t testing.TB, env *Env)
}

// Run serves each case to the handler of a fresh Env made by setup and
// checks the answer, the outbox and the stored state.
func Run(t *testing.T, cases []Case, setup func(t *testing.T) (*Env, http.Handler)) {
	for _, c := range cases {
		t.Run(c.Label, func(t *testing.T) {
			env, h := setup(t)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, c.Request(t))
			if rec.Code != c.Status {
				t.Fatalf("status %d, want %d; body %q", rec.Code, c.Status, rec.Body.String())
			}
			entries := env.Entries(outbox.Reply)
			replies := env.Replies()
			if len(entries) > 1 {
				t.Errorf("%d outbox entries for one message, want at most 1 (its replies in order)", len(entries))
			}
			if len(replies) != c.Replies {
				t.Errorf("%d replies queued, want %d", len(replies), c.Replies)
			}
			if c.ReplyHas != "" && (len(replies) == 0 || !strings.Contains(replies[0].Text, c.ReplyHas)) {
				t.Errorf("first reply does not contain %q: %+v", c.ReplyHas, replies)
			}
			for _, en := range entries {
				if c.Address != "" && strings.Contains(en.To, c.Address) {
					t.Errorf("an outbox entry holds the address in clear")
				}
			}
			if c.Address != "" {
				st, ok := env.State(c.Channel, c.Address)
				switch {
				case c.NoState && ok:
					t.Errorf("state stored, want none")
				case c.Lang != "" && st.Lang != c.Lang:
					t.Errorf("contact language %q, want %q", st.Lang, c.Lang)
				}
			}
			if len(c.Sends) > 0 {
				if env.Outbound == nil {
					t.Fatal("the channel's setup gives no Outbound")
				}
				got := env.Outbound(t, len(c.Sends))
				for i, want := range c.Sends {
					if i >= len(got) || !strings.Contains(got[i], want) {
						t.Errorf("outbound call %d does not contain %q: %q", i, want, got)
					}
				}
			}
			if c.Check != nil {
				c.Check(t, env)
			}
		})
	}
}

// Buffer is a bytes.Buffer safe for concurrent writes.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ReadAll reads a response body, for tests.
func ReadAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}

// WaitFor polls cond until it holds, failing the test after
// waitfor.Default.
func WaitFor(t testing.TB, cond func() bool) {
	t.Helper()
	waitfor.Cond(t, waitfor.Default, "the condition", cond)
}

// Stored returns every key and value under the Env's prefix, as one text,
// to check that something was not kept anywhere (a sealed value reads as
// its ciphertext). Streams and hashes show their fields.
func (e *Env) Stored() string {
	e.T.Helper()
	ctx := context.Background()
	var b strings.Builder
	iter := e.Redis.Scan(ctx, 0, e.Prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		b.WriteString(key + "\n")
		typ, err := e.Redis.Type(ctx, key).Result()
		if err != nil {
			e.T.Fatal(err)
		}
		var v any
		switch typ {
		case "string":
			v, err = e.Redis.Get(ctx, key).Result()
		case "hash":
			v, err = e.Redis.HGetAll(ctx, key).Result()
		case "set":
			v, err = e.Redis.SMembers(ctx, key).Result()
		case "zset":
			v, err = e.Redis.ZRangeWithScores(ctx, key, 0, -1).Result()
		case "list":
			v, err = e.Redis.LRange(ctx, key, 0, -1).Result()
		case "stream":
			v, err = e.Redis.XRange(ctx, key, "-", "+").Result()
		}
		if err != nil && err != redis.Nil {
			e.T.Fatal(err)
		}
		fmt.Fprintf(&b, "%v\n", v)
	}
	if err := iter.Err(); err != nil {
		e.T.Fatal(err)
	}
	return b.String()
}

// NoTrace checks that none of the words is stored (Stored) or logged.
func (e *Env) NoTrace(t testing.TB, words ...string) {
	t.Helper()
	stored, logs := e.Stored(), e.Logs.String()
	for _, w := range words {
		if strings.Contains(stored, w) {
			t.Errorf("%q is stored", w)
		}
		if strings.Contains(logs, w) {
			t.Errorf("%q is logged", w)
		}
	}
}
