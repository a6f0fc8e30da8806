package outbox_test

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
)

// simClock is a virtual clock for a known number of goroutines: time moves
// only when every one of them is asleep on it, and then straight to the
// earliest wake-up. How loaded the machine is changes nothing.
type simClock struct {
	mu       sync.Mutex
	changed  *sync.Cond
	now      time.Time
	active   int // goroutines not finished
	sleepers []*sleeper
}

type sleeper struct {
	until time.Time
	wake  chan struct{}
}

func newSimClock(goroutines int) *simClock {
	c := &simClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), active: goroutines}
	c.changed = sync.NewCond(&c.mu)
	return c
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *simClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	s := &sleeper{until: c.now.Add(d), wake: make(chan struct{})}
	c.sleepers = append(c.sleepers, s)
	c.changed.Signal()
	c.mu.Unlock()
	select {
	case <-s.wake:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		for i, o := range c.sleepers {
			if o == s {
				c.sleepers = append(c.sleepers[:i], c.sleepers[i+1:]...)
				break
			}
		}
		c.changed.Signal()
		c.mu.Unlock()
		return ctx.Err()
	}
}

// done says one goroutine is finished.
func (c *simClock) done() {
	c.mu.Lock()
	c.active--
	c.changed.Signal()
	c.mu.Unlock()
}

// run moves time until every goroutine is finished.
func (c *simClock) run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.active > 0 {
		if len(c.sleepers) < c.active {
			c.changed.Wait()
			continue
		}
		next := c.sleepers[0].until
		for _, s := range c.sleepers {
			if s.until.Before(next) {
				next = s.until
			}
		}
		if next.After(c.now) {
			c.now = next
		}
		kept := c.sleepers[:0]
		for _, s := range c.sleepers {
			if s.until.After(c.now) {
				kept = append(kept, s)
			} else {
				close(s.wake)
			}
		}
		c.sleepers = kept
	}
}

// mostInOneSecond is the most times any one second holds.
func mostInOneSecond(at []time.Time) int {
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	most := 0
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < time.Second {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

// sendThrough lets n sends through the gates, each gate waited on by
// workers goroutines (as one instance's outbox workers), and returns the
// times, on the clock, when each send was let go.
func sendThrough(t *testing.T, clock *simClock, n, workers int, gates ...*outbox.Gate) []time.Time {
	var mu sync.Mutex
	var at []time.Time
	left := n
	for _, g := range gates {
		for range workers {
			go func() {
				defer clock.done()
				for {
					mu.Lock()
					if left == 0 {
						mu.Unlock()
						return
					}
					left--
					mu.Unlock()
					if err := g.Wait(context.Background(), 1, false); err != nil {
						t.Error(err)
						return
					}
					now := clock.Now()
					mu.Lock()
					at = append(at, now)
					mu.Unlock()
				}
			}()
		}
	}
	clock.run()
	return at
}

// TestRateIsSharedAcrossInstances: two instances' gates on one Redis, four
// workers each, keep together to the configured rate on their clock, not
// twice it; two gates that do not share, on the same clock, go twice as
// fast (so that the check can fail).
func TestRateIsSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	const rate, n, workers = 30, 120, 4
	rdb, prefix := redistest.New(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	clock := newSimClock(2 * workers)
	a := outbox.NewSharedGate(rdb, prefix, "telegram", rate, 1, log, outbox.WithClock(clock))
	b := outbox.NewSharedGate(rdb, prefix, "telegram", rate, 1, log, outbox.WithClock(clock))
	at := sendThrough(t, clock, n, workers, a, b)
	if len(at) != n {
		t.Fatalf("%d sends let through, want %d", len(at), n)
	}
	t.Logf("shared: %d in the busiest second, %v in all", mostInOneSecond(at), at[len(at)-1].Sub(at[0]))
	// rate+1: times reach Redis in whole milliseconds, so a place may be
	// let go up to a millisecond early.
	if most := mostInOneSecond(at); most > rate+1 {
		t.Errorf("%d sends within one second from two instances, over the shared rate of %d", most, rate)
	}
	if took := at[len(at)-1].Sub(at[0]); took < (n-rate-1)*time.Second/rate {
		t.Errorf("%d sends took %v, faster than the rate of %d", n, took, rate)
	}

	control := newSimClock(2 * workers)
	at = sendThrough(t, control, n, workers, outbox.NewGate(rate, 1, outbox.WithClock(control)), outbox.NewGate(rate, 1, outbox.WithClock(control)))
	t.Logf("not shared: %d in the busiest second", mostInOneSecond(at))
	if most := mostInOneSecond(at); most < 2*rate-1 {
		t.Errorf("two gates that do not share let %d sends through in one second, want about %d", most, 2*rate)
	}
}

// TestProviderPauseIsSharedOnTheClock: a pause met by one instance holds
// the other's sends until it ends on the clock, and not after.
func TestProviderPauseIsSharedOnTheClock(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	clock := newSimClock(1)
	a := outbox.NewSharedGate(rdb, prefix, "sms", 30, 1, log, outbox.WithClock(clock))
	b := outbox.NewSharedGate(rdb, prefix, "sms", 30, 1, log, outbox.WithClock(clock))
	start := clock.Now()
	a.Pause(7 * time.Second)
	var went time.Time
	go func() {
		defer clock.done()
		if err := b.Wait(context.Background(), 1, true); err != nil {
			t.Error(err)
		}
		went = clock.Now()
	}()
	clock.run()
	if d := went.Sub(start); d < 7*time.Second || d > 7*time.Second+100*time.Millisecond {
		t.Errorf("the other instance went %v after a pause of 7s", d)
	}
}
