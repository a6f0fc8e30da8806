package outbox

import (
	"context"
	_ "embed"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
)

// NewSharedGate returns a gate whose rate is shared by every instance on
// the same Redis: each send takes its place in one bucket kept under
// <prefix>rate:{<name>}, and a provider's Retry-After pauses them all.
// Priority (replies before bulk) holds within each instance. When Redis
// cannot be asked, each instance keeps to the rate on its own. The times
// shared are the gate's clock's (WithClock), passed to Redis with each
// call, so that instances agree on them as long as their clocks do.
func NewSharedGate(rdb redis.UniversalClient, prefix, name string, rate, burst float64, log *slog.Logger, opts ...GateOption) *Gate {
	g := NewGate(rate, burst, opts...)
	if rate > 0 {
		g.shared = &shared{rdb: rdb, key: keys.New(prefix).Rate(name), pauseKey: keys.New(prefix).RatePause(name),
			burst: time.Duration((g.burst - 1) / rate * float64(time.Second)), log: log}
	}
	return g
}

type shared struct {
	rdb           redis.UniversalClient
	key, pauseKey string
	burst         time.Duration // how early a place may be taken: burst-1 places' worth
	log           *slog.Logger
	failing       atomic.Bool

	// At high rates the instance reserves a slice of the rate at a time
	// (a fiftieth of a second's worth) and spends it locally, so that
	// Redis is asked at most 50 times a second per instance.
	mu      sync.Mutex
	credit  float64   // seconds of the rate reserved and not yet spent
	expires time.Time // when an unspent reservation lapses
}

// slice is the least share of the rate reserved at once, in seconds.
const slice = 0.02

//go:embed shared.lua
var sharedSrc string

var sharedScript = redis.NewScript(sharedSrc)

// wait takes a place worth seconds of the rate and waits for its time.
func (s *shared) wait(ctx context.Context, clock Clock, seconds float64) error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	if clock.Now().After(s.expires) {
		s.credit = 0
	}
	if s.credit >= seconds {
		s.credit -= seconds
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	// Asked and waited for without the lock: a pause, or a reply behind a
	// bulk send, must not queue behind a sleeper.
	take := max(seconds, slice)
	for {
		ms, err := sharedScript.Run(ctx, s.rdb, []string{s.key, s.pauseKey}, clock.Now().UnixMilli(), take*1000,
			s.burst.Seconds()*1000, maxReserve.Milliseconds(), keyMargin.Milliseconds()).Int64()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !s.failing.Swap(true) {
				s.log.Warn("the shared send rate cannot be read; this instance keeps to the rate on its own", "err", err)
			}
			return nil
		}
		if s.failing.Swap(false) {
			s.log.Info("the shared send rate is read again")
		}
		if ms >= 0 {
			// The place is ours; its time may be ahead.
			if rest := take - seconds; rest > 0 {
				s.mu.Lock()
				s.credit, s.expires = s.credit+rest, clock.Now().Add(time.Second)
				s.mu.Unlock()
			}
			if ms == 0 {
				return nil
			}
			return clock.Sleep(ctx, time.Duration(ms)*time.Millisecond)
		}
		// Paused, or too far ahead to reserve: ask again later.
		if err := clock.Sleep(ctx, time.Duration(-ms)*time.Millisecond); err != nil {
			return err
		}
	}
}

// maxReserve is the longest wait a send reserves its place for; beyond,
// it asks again later (a long pause, many instances far ahead).
const maxReserve = 10 * time.Second

// keyMargin is how long the rate's and the pause's keys outlive the time
// they hold. The times are the gates' clock's, compared in the scripts; the
// keys' expiry, Redis's own, only cleans up, so it is given room enough
// never to end a time before the clock does.
const keyMargin = time.Minute

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pause makes every instance wait d from now, as a provider asks with
// Retry-After.
func (s *shared) pause(now time.Time, d time.Duration) {
	if s == nil || d <= 0 {
		return
	}
	s.mu.Lock()
	s.credit = 0
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// Keep the later end of the pause set and this one.
	err := pauseScript.Run(ctx, s.rdb, []string{s.pauseKey}, now.UnixMilli(), now.Add(d).UnixMilli(), keyMargin.Milliseconds()).Err()
	if err != nil {
		s.log.Warn("sharing a provider's pause failed", "err", err)
	}
}

// pauseScript keeps the later of the pause's end (ms of the gates' clock)
// held in KEYS[1] and ARGV[2]; ARGV[1] is now, ARGV[3] the key's margin.
var pauseScript = redis.NewScript(`
local ends = tonumber(ARGV[2])
if tonumber(redis.call('GET', KEYS[1]) or '0') < ends then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ends - tonumber(ARGV[1]) + tonumber(ARGV[3]))
end
return 1`)
