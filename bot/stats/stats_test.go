package stats

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.MainParallel(m, 8)) }

// clock is a clock the test moves.
type clock struct{ t atomic.Pointer[time.Time] }

func (c *clock) now() time.Time   { return *c.t.Load() }
func (c *clock) set(t time.Time)  { c.t.Store(&t) }
func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }

func casablanca(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Africa/Casablanca")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestCountsAreWrittenByDayInTheZone(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	loc := casablanca(t)
	// The days are today and tomorrow, so that their keys are not yet
	// past their expiry.
	y, m, d := time.Now().In(loc).Date()
	day := func(i int) string { return time.Date(y, m, d+i, 12, 0, 0, 0, loc).Format(time.DateOnly) }
	clk := newClock(time.Date(y, m, d, 23, 58, 0, 0, loc))
	s := New(rdb, prefix, Options{Location: loc, Now: clk.now})

	s.Add(Name(In, "sms"), 1)
	s.Add(Name(In, "sms"), 2)
	s.Add(Name(Out, "telegram"), 1)
	// Counting writes nothing yet.
	if n, _ := rdb.Exists(ctx, s.dayKey(day(0))).Result(); n != 0 {
		t.Fatal("Add wrote to Redis before a flush")
	}
	clk.set(time.Date(y, m, d+1, 0, 1, 0, 0, loc)) // past midnight in Casablanca
	s.Add(Name(In, "sms"), 5)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	days, err := s.Days(ctx, 3, clk.now())
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 3 {
		t.Fatalf("%d days, want 3", len(days))
	}
	for i, want := range []string{day(-1), day(0), day(1)} {
		if got := days[i].Date.Format(time.DateOnly); got != want || days[i].Date.Location() != loc {
			t.Errorf("day %d is %s in %v, want %s in Casablanca", i, got, days[i].Date.Location(), want)
		}
	}
	if len(days[0].Counts) != 0 {
		t.Errorf("a day without counts has %v", days[0].Counts)
	}
	if got := days[1].Counts; got["in.sms"] != 3 || got["out.telegram"] != 1 {
		t.Errorf("today: %v, want in.sms 3 and out.telegram 1", got)
	}
	if got := days[2].Counts["in.sms"]; got != 5 {
		t.Errorf("tomorrow: in.sms %d, want 5", got)
	}
	// A second flush adds only what was counted since.
	s.Add(Name(In, "sms"), 1)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	days, _ = s.Days(ctx, 1, clk.now())
	if got := days[0].Counts["in.sms"]; got != 6 {
		t.Errorf("after more counts: in.sms %d, want 6", got)
	}
	// Each day expires Keep after it ends.
	ttl, err := rdb.TTL(ctx, s.dayKey(day(0))).Result()
	if err != nil {
		t.Fatal(err)
	}
	end := time.Date(y, m, d+1, 0, 0, 0, 0, loc).Add(Keep)
	if want := time.Until(end); ttl <= 0 || ttl > want+time.Minute || ttl < want-time.Hour {
		t.Errorf("TTL of a day's counts = %v, want about %v (Keep after the day)", ttl, want)
	}
}

func TestSumAddsAKindOverChannels(t *testing.T) {
	t.Parallel()
	d := Day{Counts: map[string]int64{"in.sms": 2, "in.telegram": 3, "out.sms": 7, "inbound": 100}}
	if got := d.Sum(In); got != 5 {
		t.Errorf("Sum(in) = %d, want 5", got)
	}
}

func TestCountsSurviveAFailedFlush(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { down.Close() })
	s := New(down, prefix, Options{})
	s.Add(Name(Delivered, "sms"), 4)
	if err := s.Flush(ctx); err == nil {
		t.Fatal("a flush to a Redis that is down succeeded")
	}
	s.Add(Name(Delivered, "sms"), 1)
	s.rdb = rdb // Redis is back
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	days, err := s.Days(ctx, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := days[0].Counts["delivered.sms"]; got != 5 {
		t.Errorf("after a failed flush and a good one: %d, want 5", got)
	}
}

func TestCountingWhileFlushingLosesNothing(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	s := New(rdb, prefix, Options{})
	var wg sync.WaitGroup
	const workers, each = 8, 2000
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				s.Add(Name(In, "whatsapp"), 1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for flushing := true; flushing; {
		select {
		case <-done:
			flushing = false
		default:
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	days, err := s.Days(ctx, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := days[0].Counts["in.whatsapp"]; got != workers*each {
		t.Errorf("counted %d, want %d", got, workers*each)
	}
}

func TestRunWritesAtStop(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	s := New(rdb, prefix, Options{Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { s.Run(ctx); close(stopped) }()
	s.Add(Name(Lang, "ar"), 1)
	cancel()
	<-stopped
	days, err := s.Days(context.Background(), 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := days[0].Counts["lang.ar"]; got != 1 {
		t.Errorf("after Run stopped: lang.ar %d, want 1 (the last flush)", got)
	}
}

func TestNilStatsCountNothing(t *testing.T) {
	t.Parallel()
	var s *Stats
	s.Add("in.sms", 1)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestOldZeroCountersAreForgotten(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	clk := newClock(time.Now())
	s := New(rdb, prefix, Options{Now: clk.now})
	s.Add(Name(In, "sms"), 1)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	clk.set(time.Now().AddDate(0, 0, 3))
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := 0
	s.counts.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Errorf("%d counters of past days are kept in memory, want 0", n)
	}
}

// TestOnEmbeddedStore: the counts work on the embedded store too.
func TestOnEmbeddedStore(t *testing.T) {
	t.Parallel()
	srv := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	s := New(rdb, "e:", Options{})
	s.Add(Name(Out, "sms"), 3)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	days, err := s.Days(context.Background(), 2, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if days[1].Counts["out.sms"] != 3 || len(days[0].Counts) != 0 {
		t.Errorf("days %+v", days)
	}
}
