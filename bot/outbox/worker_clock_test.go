package outbox_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// setClock is a clock a test moves by hand; sleeping on it is a short real
// sleep (the worker's polling).
type setClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *setClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *setClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *setClock) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(min(d, 10*time.Millisecond)):
		return nil
	}
}

// TestWorkerKeepsItsClock: a failed send waits for its retry on the
// worker's clock, not the wall's — an hour of backoff passes when the
// clock is moved — and a notice whose time is over on that clock is not
// sent at all.
func TestWorkerKeepsItsClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	clock := &setClock{now: time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)}
	c := &chat{failOnce: map[string]*outbox.SendError{"+212600000001": {Failure: outbox.Retry, Reason: "busy"}}}
	e.StartWorker(channels(c, 1000), outbox.Options{ReplyWorkers: 1, BulkWorkers: 1, MaxTries: 3, Clock: clock,
		Backoff: func(int) time.Duration { return time.Hour }})
	ctx := context.Background()
	late := entry("+212600000002", "La distribution est finie", outbox.Bulk)
	late.Expires = clock.Now().Add(-time.Minute).UnixMilli()
	if err := e.Outbox.Enqueue(ctx, entry("+212600000001", "Bonjour", outbox.Reply), late); err != nil {
		t.Fatal(err)
	}
	waitfor.Cond(t, waitfor.Default, "the failed send delayed", func() bool {
		d, err := e.Outbox.Depth(ctx)
		return err == nil && d["delayed"] == 1 && d["bulk"] == 0 && c.callCount() >= 1
	})
	// The retry is an hour away on the worker's clock: only moving that
	// clock can bring it back within the test.
	clock.Add(time.Hour + time.Second)
	if got := texts(c.WaitSent(t, 1)); len(got) != 1 || got[0] != "Bonjour" {
		t.Errorf("sent %q, want the retried reply only (the notice was over)", got)
	}
	e.waitDrained(t)
	if got := texts(c.Sent()); len(got) != 1 {
		t.Errorf("sent %q, want the retried reply only", got)
	}
}
