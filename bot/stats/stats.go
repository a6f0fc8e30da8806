// Package stats keeps the daily counts the console's dashboard shows:
// messages in and out by channel, deliveries and failures, and how many
// people first chose a language or a city. They are counts only: nothing
// in them names or identifies a person.
//
// Counting costs no round trip to Redis: Add counts in memory (one atomic
// addition), and Run writes what was counted every few seconds, in one
// transaction of HINCRBY, and once more when it stops. Each day is a hash
// under the prefix, "{stats}:day:<YYYY-MM-DD>" (the day in the configured
// zone), that expires Keep after the day ends. A process that dies without
// stopping loses at most its last interval of counts.
package stats

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
)

// The names counted; each is followed by a dot and a channel, a language
// or a site id ("in.sms", "lang.ar", "site.nador").
const (
	// In counts the messages people sent that were handled, by channel
	// (duplicates and simulations aside).
	In = "in"
	// Out counts the messages a provider accepted, by channel: each part of
	// a message cut in parts counts one.
	Out = "out"
	// Delivered counts the messages the provider said it delivered, by
	// channel. Telegram gives no delivery receipts: a message it accepted is
	// in the chat, and counts as delivered when it is accepted.
	Delivered = "delivered"
	// Failed counts the messages that did not reach the person, by channel:
	// those the provider reported failed or undelivered, and those given up
	// before the provider took them.
	Failed = "failed"
	// Lang counts the people who chose a language for the first time, by
	// language.
	Lang = "lang"
	// Site counts the people who named their city for the first time, by
	// site.
	Site = "site"
)

// UnknownChannel stands for the channel of a delivery receipt that came
// before the send it is about was recorded (a rare race).
const UnknownChannel = "unknown"

// Name is the counted name of kind for one channel, language or site.
func Name(kind, of string) string { return kind + "." + of }

// Keep is how long a day's counts are kept after the day.
const Keep = 35 * 24 * time.Hour

// DefaultInterval is how often counts are written by default.
const DefaultInterval = 5 * time.Second

// Options tune the counts.
type Options struct {
	// Location is where days begin and end; nil means UTC.
	Location *time.Location
	// Interval is how often Run writes the counts; zero means
	// DefaultInterval.
	Interval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives the failures to write; nil discards them.
	Log *slog.Logger
}

// Stats are the daily counts. A nil *Stats counts nothing, so that a part
// without counts needs no check.
type Stats struct {
	rdb    redis.UniversalClient
	prefix string
	opts   Options

	// counts are the counts not yet written, by day and name.
	counts sync.Map // key → *atomic.Int64
	// current caches the current day's name until the day ends.
	current atomic.Pointer[dayName]
}

type key struct{ day, name string }

type dayName struct {
	name         string
	start, until time.Time
}

// New returns the counts under prefix.
func New(rdb redis.UniversalClient, prefix string, opts Options) *Stats {
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Stats{rdb: rdb, prefix: prefix, opts: opts}
}

// dayKey is the key of one day's hash.
func (s *Stats) dayKey(day string) string { return keys.New(s.prefix).StatsDay(day) }

// startOf is the start of the day of t, in the zone.
func (s *Stats) startOf(t time.Time) time.Time {
	t = t.In(s.opts.Location)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, s.opts.Location)
}

// today is the name of the day of now (its date in the zone), kept until
// the day ends so that counting formats no date.
func (s *Stats) today(now time.Time) string {
	if d := s.current.Load(); d != nil && now.Before(d.until) && !now.Before(d.start) {
		return d.name
	}
	start := s.startOf(now)
	d := &dayName{name: start.Format(time.DateOnly), start: start, until: start.AddDate(0, 0, 1)}
	s.current.Store(d)
	return d.name
}

// Add counts n more of name today, in memory; Flush writes it.
func (s *Stats) Add(name string, n int64) {
	if s == nil || n == 0 {
		return
	}
	s.counter(key{s.today(s.opts.Now()), name}).Add(n)
}

// counter is the counter of k, made when it is first needed.
func (s *Stats) counter(k key) *atomic.Int64 {
	v, ok := s.counts.Load(k)
	if !ok {
		v, _ = s.counts.LoadOrStore(k, new(atomic.Int64))
	}
	return v.(*atomic.Int64)
}

// Flush writes the counts made since the last flush, in one transaction.
// When it fails, the counts are kept for the next one.
func (s *Stats) Flush(ctx context.Context) error {
	if s == nil {
		return nil
	}
	type item struct {
		k key
		n int64
	}
	var items []item
	s.counts.Range(func(k, v any) bool {
		if n := v.(*atomic.Int64).Swap(0); n != 0 {
			items = append(items, item{k.(key), n})
		}
		return true
	})
	if len(items) > 0 {
		_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			days := map[string]bool{}
			for _, it := range items {
				p.HIncrBy(ctx, s.dayKey(it.k.day), it.k.name, it.n)
				days[it.k.day] = true
			}
			for day := range days {
				if end, err := time.ParseInLocation(time.DateOnly, day, s.opts.Location); err == nil {
					p.ExpireAt(ctx, s.dayKey(day), end.AddDate(0, 0, 1).Add(Keep))
				}
			}
			return nil
		})
		if err != nil {
			for _, it := range items {
				s.counter(it.k).Add(it.n)
			}
			return err
		}
	}
	// Forget the counters of days no Add can still reach (two days back):
	// they are zero, and would otherwise pile up.
	old := s.startOf(s.opts.Now()).AddDate(0, 0, -2).Format(time.DateOnly)
	s.counts.Range(func(k, v any) bool {
		if k.(key).day <= old && v.(*atomic.Int64).Load() == 0 {
			s.counts.Delete(k)
		}
		return true
	})
	return nil
}

// Run writes the counts every Interval until ctx ends, then once more, so
// that what was counted before a stop is kept. Start it before what counts
// and stop it after: the last write must come after the last count.
func (s *Stats) Run(ctx context.Context) {
	if s == nil {
		return
	}
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := s.Flush(last); err != nil {
				s.opts.Log.Error("writing the last daily counts failed; they are lost", "component", "stats", "err", err)
			}
			return
		case <-t.C:
			if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
				s.opts.Log.Warn("writing the daily counts failed; they are kept for the next try", "component", "stats", "err", err)
			}
		}
	}
}

// Day is one day's counts, by name ("in.sms", "delivered.telegram"…).
type Day struct {
	// Date is the day's start, in the zone.
	Date   time.Time
	Counts map[string]int64
}

// Sum adds up the counts of kind over channels, languages or sites.
func (d Day) Sum(kind string) int64 {
	var n int64
	for name, v := range d.Counts {
		if strings.HasPrefix(name, kind+".") {
			n += v
		}
	}
	return n
}

// Days returns the written counts of the n days up to the day of now, the
// oldest first, in one round trip. Counts not yet flushed are not in them.
func (s *Stats) Days(ctx context.Context, n int, now time.Time) ([]Day, error) {
	if n <= 0 {
		return nil, nil
	}
	today := s.startOf(now)
	out := make([]Day, n)
	cmds := make([]*redis.MapStringStringCmd, n)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range out {
			out[i].Date = today.AddDate(0, 0, i-n+1)
			cmds[i] = p.HGetAll(ctx, s.dayKey(out[i].Date.Format(time.DateOnly)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, c := range cmds {
		out[i].Counts = map[string]int64{}
		for name, v := range c.Val() {
			if x, err := strconv.ParseInt(v, 10, 64); err == nil {
				out[i].Counts[name] = x
			}
		}
	}
	return out, nil
}
