package outbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// provider is a Sender and Reconciler in memory, for the outbox's side of
// reconciling: it keeps the messages it took, and answers sends as told.
type provider struct {
	mu    sync.Mutex
	taken []taken
	// answer, when set, is what send number n (from 0) returns after the
	// provider took the message (or did not: took false).
	answer  func(n int) (took bool, err error)
	sends   int
	lookups int
	// lookupErr, when set, fails the first lookups.
	lookupErr int
	// claim, when set, is the id Lookup answers whatever it finds.
	claim string
}

type taken struct {
	id, to, text string
	at           time.Time
}

func (p *provider) Send(ctx context.Context, m outbox.Message) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.sends
	p.sends++
	took, err := true, error(nil)
	if p.answer != nil {
		took, err = p.answer(n)
	}
	id := fmt.Sprintf("P%d", len(p.taken))
	if took {
		p.taken = append(p.taken, taken{id: id, to: m.To, text: m.Text, at: time.Now()})
	}
	if err != nil {
		return "", err
	}
	return id, nil
}

func (p *provider) Lookup(ctx context.Context, m outbox.Message, since time.Time) (string, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lookups++
	if p.lookupErr > 0 {
		p.lookupErr--
		return "", false, &outbox.SendError{Failure: outbox.Retry, Reason: "network", MaybeSent: true}
	}
	if p.claim != "" {
		return p.claim, true, nil
	}
	for _, t := range p.taken {
		if t.to == m.To && t.text == m.Text && !t.at.Before(since.Add(-time.Second)) {
			return t.id, true, nil
		}
	}
	return "", false, nil
}

func (p *provider) texts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, t := range p.taken {
		out = append(out, t.text)
	}
	return out
}

func (p *provider) lookupCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lookups
}

var lost = &outbox.SendError{Failure: outbox.Retry, Reason: "network", MaybeSent: true}

func startProvider(env *env, p *provider) {
	env.StartWorker(map[string]*outbox.Channel{"sms": {Sender: p, MaxLen: 1600, Gate: outbox.NewGate(1000, 1000)}},
		outbox.Options{ClaimIdle: 200 * time.Millisecond, SendTimeout: 50 * time.Millisecond, MaxTries: 5,
			Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
}

func smsEntry(env *env, texts ...string) outbox.Entry {
	e := outbox.NewEntry("sms", seal("+212612345678"), "s:+212612345678", outbox.Reply)
	for _, t := range texts {
		e.Messages = append(e.Messages, outbox.Text{Text: t})
	}
	return e
}

// settled waits until nothing is left to send and returns the dead letters.
func settled(t *testing.T, env *env) []outbox.DeadLetter {
	t.Helper()
	env.waitDrained(t)
	dead, _ := env.Outbox.Dead(context.Background(), 10)
	return dead
}

func TestUnansweredSendIsAskedAboutBeforeItGoesAgain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    *provider
		// want is what the provider took, in order.
		want        []string
		wantLookups bool
	}{
		{"taken, answer lost: found, not sent again",
			&provider{answer: func(n int) (bool, error) {
				if n < 2 {
					return true, lost
				}
				return true, nil
			}},
			[]string{"one", "two"}, true},
		{"not taken, answer lost: sent again",
			&provider{answer: func(n int) (bool, error) {
				if n == 0 {
					return false, lost
				}
				return true, nil
			}},
			[]string{"one", "two"}, true},
		{"refused: no question, sent again",
			&provider{answer: func(n int) (bool, error) {
				if n == 0 {
					return false, &outbox.SendError{Failure: outbox.Retry, Reason: "http_503"}
				}
				return true, nil
			}},
			[]string{"one", "two"}, false},
		{"the question fails: asked again later",
			&provider{lookupErr: 2, answer: func(n int) (bool, error) {
				if n == 0 {
					return true, lost
				}
				return true, nil
			}},
			[]string{"one", "two"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t)
			e := smsEntry(env, "one", "two")
			if err := env.Outbox.Enqueue(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			startProvider(env, tt.p)
			if dead := settled(t, env); len(dead) != 0 {
				t.Fatalf("dead letters %+v", dead)
			}
			if got := tt.p.texts(); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("the provider took %q, want %q", got, tt.want)
			}
			if asked := tt.p.lookupCount() > 0; asked != tt.wantLookups {
				t.Errorf("asked the provider: %v, want %v", asked, tt.wantLookups)
			}
			// Both parts are recorded under their ids: callbacks match.
			for _, id := range []string{"P0", "P1"} {
				d, _, err := env.Outbox.UpdateStatus(context.Background(), id, "delivered", "")
				if err != nil || d.ID != e.ID {
					t.Errorf("%s recorded as %+v, %v; want entry %s", id, d, err, e.ID)
				}
			}
			if n, _ := env.Redis.Exists(context.Background(), env.Space.Attempt(e.ID)).Result(); n != 0 {
				t.Error("the attempt mark outlived the entry")
			}
		})
	}
}

// TestKilledBetweenAnswerAndRecord: a worker handed the second part over
// and died before recording the answer. The worker that takes the entry
// over asks the provider, finds the part, records it and sends nothing.
func TestKilledBetweenAnswerAndRecord(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := context.Background()
	e := smsEntry(env, "one", "two")
	if err := env.Outbox.Enqueue(ctx, e); err != nil {
		t.Fatal(err)
	}
	stream := env.Outbox.Keys().StreamFor(outbox.Reply, e.Contact)
	if _, err := env.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "senders", Consumer: "worker-that-died", Streams: []string{stream, ">"}, Count: 1}).Result(); err != nil {
		t.Fatal(err)
	}
	p := &provider{}
	p.Send(ctx, outbox.Message{To: "+212612345678", Text: "one"})
	p.Send(ctx, outbox.Message{To: "+212612345678", Text: "two"})
	// What the dead worker wrote: part one sent, part two handed over.
	env.Redis.Set(ctx, env.Space.SentParts(e.ID), 1, time.Hour)
	env.Redis.Set(ctx, env.Space.Attempt(e.ID), fmt.Sprintf("1:%d", time.Now().UnixMilli()), time.Hour)
	startProvider(env, p)
	if dead := settled(t, env); len(dead) != 0 {
		t.Fatalf("dead letters %+v", dead)
	}
	if got := p.texts(); len(got) != 2 {
		t.Errorf("the provider took %q, want each part once", got)
	}
	if d, _, err := env.Outbox.UpdateStatus(ctx, "P1", "delivered", ""); err != nil || d.ID != e.ID {
		t.Errorf("the part found is recorded as %+v, %v", d, err)
	}
}

// TestFoundMessageOfAnotherEntryIsNotTaken: the provider answers with a
// message the outbox recorded for another entry (the same words to the
// same person): it is not this entry's, which is sent.
func TestFoundMessageOfAnotherEntryIsNotTaken(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := context.Background()
	first := smsEntry(env, "menu")
	if err := env.Outbox.Enqueue(ctx, first); err != nil {
		t.Fatal(err)
	}
	p := &provider{}
	startProvider(env, p)
	settled(t, env)
	// The second entry's send was lost without reaching the provider; the
	// provider points at the first entry's message.
	p.mu.Lock()
	p.claim = "P0"
	p.answer = func(n int) (bool, error) {
		if n == 1 {
			return false, lost
		}
		return true, nil
	}
	p.mu.Unlock()
	if err := env.Outbox.Enqueue(ctx, smsEntry(env, "menu")); err != nil {
		t.Fatal(err)
	}
	waitfor.Cond(t, waitfor.Default, "two messages taken", func() bool { return len(p.texts()) == 2 })
	if dead := settled(t, env); len(dead) != 0 {
		t.Fatalf("dead letters %+v", dead)
	}
	if p.lookupCount() == 0 {
		t.Error("the provider was not asked")
	}
	if d, _, err := env.Outbox.UpdateStatus(ctx, "P0", "delivered", ""); err != nil || d.ID != first.ID {
		t.Errorf("the first entry's message is now recorded as %+v, %v", d, err)
	}
}
