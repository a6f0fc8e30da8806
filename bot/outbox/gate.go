package outbox

import (
	"context"
	"sync"
	"time"
)

// Clock is the time a gate keeps to. The system clock is the default; a
// test gives its own, to check rates on a time it controls.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// Sleep waits d, or until ctx ends, and then returns ctx's error.
	Sleep(ctx context.Context, d time.Duration) error
}

// systemClock is time.Now and a timer.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error { return sleepCtx(ctx, d) }

// GateOption tunes a gate.
type GateOption func(*Gate)

// WithClock makes a gate keep time by c instead of the system clock: its
// bucket, its pauses, and the times it shares through Redis.
func WithClock(c Clock) GateOption {
	return func(g *Gate) {
		if c != nil {
			g.clock = c
		}
	}
}

// Gate is a token bucket that lets high-priority callers go first: while a
// reply waits for a token, bulk sends wait behind it.
type Gate struct {
	mu          sync.Mutex
	rate        float64 // tokens a second; 0 or less lets everything through but pauses
	burst       float64
	tokens      float64
	last        time.Time
	pausedUntil time.Time
	highWaiting int
	clock       Clock
	shared      *shared
}

// NewGate returns a gate that lets through rate tokens a second, with bursts
// of up to burst.
func NewGate(rate, burst float64, opts ...GateOption) *Gate {
	if burst < 1 {
		burst = 1
	}
	g := &Gate{rate: rate, burst: burst, tokens: burst, clock: systemClock{}}
	for _, o := range opts {
		o(g)
	}
	g.last = g.clock.Now()
	return g
}

// Wait blocks until n tokens are taken, or ctx ends. A request larger than
// the burst waits for a full bucket and leaves it in debt. A pause (a
// provider's Retry-After) holds every gate, even one without a rate.
func (g *Gate) Wait(ctx context.Context, n float64, high bool) error {
	if g == nil {
		return nil
	}
	if g.rate <= 0 {
		return g.waitPause(ctx)
	}
	if high {
		g.mu.Lock()
		g.highWaiting++
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			g.highWaiting--
			g.mu.Unlock()
		}()
	}
	if err := g.waitLocal(ctx, n, high); err != nil {
		return err
	}
	return g.shared.wait(ctx, g.clock, n/g.rate)
}

// waitPause waits out a pause of a gate without a rate.
func (g *Gate) waitPause(ctx context.Context) error {
	for {
		g.mu.Lock()
		wait := g.pausedUntil.Sub(g.clock.Now())
		g.mu.Unlock()
		if wait <= 0 {
			return ctx.Err()
		}
		if err := g.clock.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (g *Gate) waitLocal(ctx context.Context, n float64, high bool) error {
	for {
		g.mu.Lock()
		now := g.clock.Now()
		g.tokens = min(g.burst, g.tokens+now.Sub(g.last).Seconds()*g.rate)
		g.last = now
		var wait time.Duration
		switch {
		case now.Before(g.pausedUntil):
			wait = g.pausedUntil.Sub(now)
		case !high && g.highWaiting > 0:
			wait = 5 * time.Millisecond
		case g.tokens >= min(n, g.burst):
			g.tokens -= n
			g.mu.Unlock()
			return nil
		default:
			wait = time.Duration((min(n, g.burst) - g.tokens) / g.rate * float64(time.Second))
		}
		g.mu.Unlock()
		if err := g.clock.Sleep(ctx, max(wait, time.Millisecond)); err != nil {
			return err
		}
	}
}

// Pause stops the gate for d, as a provider asks with Retry-After.
func (g *Gate) Pause(d time.Duration) {
	if g == nil || d <= 0 {
		return
	}
	g.mu.Lock()
	now := g.clock.Now()
	if until := now.Add(d); until.After(g.pausedUntil) {
		g.pausedUntil = until
	}
	g.mu.Unlock()
	g.shared.pause(now, d)
}

// idle reports whether the gate is full, so that forgetting it changes nothing.
func (g *Gate) idle() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	return g.highWaiting == 0 && g.tokens+now.Sub(g.last).Seconds()*g.rate >= g.burst && now.After(g.pausedUntil)
}

// gates is a gate per chat, made on first use and forgotten when idle.
type gates struct {
	mu    sync.Mutex
	rate  float64
	burst float64
	clock Clock
	m     map[string]*Gate
}

// newGates makes gates like model, one per chat.
func newGates(model *Gate) *gates {
	return &gates{rate: model.rate, burst: model.burst, clock: model.clock, m: map[string]*Gate{}}
}

func (gs *gates) get(key string) *Gate {
	if gs == nil || gs.rate <= 0 {
		return nil
	}
	gs.mu.Lock()
	defer gs.mu.Unlock()
	g := gs.m[key]
	if g == nil {
		if len(gs.m) >= 10000 {
			for k, old := range gs.m {
				if old.idle() {
					delete(gs.m, k)
				}
			}
		}
		g = NewGate(gs.rate, gs.burst, WithClock(gs.clock))
		gs.m[key] = g
	}
	return g
}
