package outbox

import (
	"context"
	"sync"
	"time"
)

// Gate is a token bucket that lets high-priority callers go first: while a
// reply waits for a token, bulk sends wait behind it.
type Gate struct {
	mu          sync.Mutex
	rate        float64 // tokens a second; 0 or less lets everything through
	burst       float64
	tokens      float64
	last        time.Time
	pausedUntil time.Time
	highWaiting int
	shared      *shared
}

// NewGate returns a gate that lets through rate tokens a second, with bursts
// of up to burst.
func NewGate(rate, burst float64) *Gate {
	if burst < 1 {
		burst = 1
	}
	return &Gate{rate: rate, burst: burst, tokens: burst, last: time.Now()}
}

// Wait blocks until n tokens are taken, or ctx ends. A request larger than
// the burst waits for a full bucket and leaves it in debt.
func (g *Gate) Wait(ctx context.Context, n float64, high bool) error {
	if g == nil || g.rate <= 0 {
		return nil
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
	return g.shared.wait(ctx, n/g.rate)
}

func (g *Gate) waitLocal(ctx context.Context, n float64, high bool) error {
	for {
		g.mu.Lock()
		now := time.Now()
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
		t := time.NewTimer(max(wait, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Pause stops the gate for d, as a provider asks with Retry-After.
func (g *Gate) Pause(d time.Duration) {
	if g == nil {
		return
	}
	g.mu.Lock()
	if until := time.Now().Add(d); until.After(g.pausedUntil) {
		g.pausedUntil = until
	}
	g.mu.Unlock()
	g.shared.pause(d)
}

// idle reports whether the gate is full, so that forgetting it changes nothing.
func (g *Gate) idle() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.highWaiting == 0 && g.tokens+time.Since(g.last).Seconds()*g.rate >= g.burst && time.Now().After(g.pausedUntil)
}

// gates is a gate per chat, made on first use and forgotten when idle.
type gates struct {
	mu    sync.Mutex
	rate  float64
	burst float64
	m     map[string]*Gate
}

func newGates(rate, burst float64) *gates {
	return &gates{rate: rate, burst: burst, m: map[string]*Gate{}}
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
		g = NewGate(gs.rate, gs.burst)
		gs.m[key] = g
	}
	return g
}
