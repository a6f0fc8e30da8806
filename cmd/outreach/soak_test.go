package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/redistest"
)

var soakFor = flag.Duration("soak", 3*time.Minute, "how long BenchmarkSoak sends traffic")

// BenchmarkSoak runs the real binary on the real Redis for a bounded time
// (-soak, 3 minutes by default) under steady inbound traffic — 400
// messages a second from 2,000 people — with a broadcast to 1,000
// subscribers every 30 seconds, every reply and notice sent to a local
// fake Bot API. Every 15 seconds it samples the process's resident memory
// and Go heap, its goroutines, the number of Redis keys under its prefix
// and Redis's memory. It fails when the heap or the keys keep growing:
// the heap at the end over 1.5 times the heap after the first third, or
// more keys than the people and broadcasts account for.
//
//	go test -v -run XXX -bench Soak -benchtime 1x ./cmd/outreach -args -soak 3m
func BenchmarkSoak(b *testing.B) {
	bin := buildBinary(b)
	p := withProviders(b)
	vars := processVars(p)
	vars["OUTREACH_FLOOD_PER_MINUTE"] = "10000"
	proc := startProcess(b, bin, vars)
	prefix := vars["OUTREACH_REDIS_PREFIX"]
	rdb, err := redistest.Client(vars["REDIS_URL"]) // one node, Cluster or Sentinel
	if err != nil {
		b.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()

	const subscribers, people, rate = 1000, 2000, 400
	var update atomic.Int64
	update.Store(1_000_000)
	subscribeOujda(b, proc.base, 300000, subscribers, &update)
	var wg sync.WaitGroup
	waitFor(b, func() bool { return quiet(p.telegram.Sent) })

	type sample struct {
		at                       time.Duration
		rss, heap, redisMem      float64
		goroutines, keys, outbox float64
		sent                     int
	}
	began := time.Now()
	take := func() sample {
		m := metricValues(b, proc.base)
		s := sample{at: time.Since(began).Round(time.Second), heap: m["go_memstats_heap_inuse_bytes"] / 1e6,
			goroutines: m["go_goroutines"], outbox: m[`outreach_outbox_depth{queue="reply"}`] + m[`outreach_outbox_depth{queue="bulk"}`],
			sent: len(p.telegram.Sent())}
		if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", proc.cmd.Process.Pid)); err == nil {
			for _, line := range strings.Split(string(status), "\n") {
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
					kb, _ := strconv.ParseFloat(f[1], 64)
					s.rss = kb / 1000
				}
			}
		}
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			s.keys++
		}
		if info, err := rdb.Info(ctx, "memory").Result(); err == nil {
			for _, line := range strings.Split(info, "\r\n") {
				if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
					n, _ := strconv.ParseFloat(v, 64)
					s.redisMem = n / 1e6
				}
			}
		}
		return s
	}

	b.ResetTimer()
	stop := make(chan struct{})
	var sentIn atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(8 * time.Second / rate) // 8 senders: rate a second in all
			defer tick.Stop()
			texts := []string{"1", "2", "0", "MENU", "3", "9"}
			for n := w; ; n += 8 {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if telegramPostAt(proc.base, update.Add(1), 600000+int64(n%people), texts[n%len(texts)]) == 200 {
					sentIn.Add(1)
				}
			}
		}()
	}
	broadcasts := 0
	var samples []sample
	every := time.NewTicker(15 * time.Second)
	defer every.Stop()
	end := time.After(*soakFor)
	samples = append(samples, take())
	for running := true; running; {
		if broadcasts < int(time.Since(began)/(30*time.Second))+1 {
			code, out := api(b, "POST", proc.base+"/api/v1/broadcasts", adminToken,
				fmt.Sprintf(`{"text":{"fr":"Avis %d","en":"Notice %d","ar":"إعلان %d"},"audience":{"sites":["oujda"]}}`, broadcasts, broadcasts, broadcasts))
			if code != 202 {
				b.Fatalf("broadcast: %d %v", code, out)
			}
			broadcasts++
		}
		select {
		case <-every.C:
			samples = append(samples, take())
		case <-end:
			running = false
		case <-time.After(time.Second):
		}
	}
	close(stop)
	wg.Wait()
	elapsed := time.Since(began)
	waitFor(b, func() bool { return quiet(p.telegram.Sent) })
	b.StopTimer()
	samples = append(samples, take())

	b.Logf("%8s %8s %8s %6s %8s %9s %7s %8s", "at", "rss_MB", "heap_MB", "gor", "keys", "redis_MB", "outbox", "sent")
	for _, s := range samples {
		b.Logf("%8s %8.1f %8.1f %6.0f %8.0f %9.1f %7.0f %8d", s.at, s.rss, s.heap, s.goroutines, s.keys, s.redisMem, s.outbox, s.sent)
	}
	warm := samples[len(samples)/3]
	last := samples[len(samples)-1]
	if last.heap > 1.5*warm.heap {
		b.Errorf("the heap grew from %.1f MB (at %s) to %.1f MB", warm.heap, warm.at, last.heap)
	}
	// Per person: state, conversation, handled ids and the flood counters
	// of this minute and the last; per broadcast: its record, counts,
	// recipients, who was told; and a few fixed keys.
	if bound := 5*(subscribers+people+1) + 4*broadcasts + 50; last.keys > float64(bound) {
		b.Errorf("%0.f keys at the end, more than the %d people and broadcasts account for", last.keys, bound)
	}
	b.ReportMetric(float64(sentIn.Load())/elapsed.Seconds(), "inbound_msgs/s")
	b.ReportMetric(float64(broadcasts), "broadcasts")
	b.ReportMetric(warm.rss, "rss_warm_MB")
	b.ReportMetric(last.rss, "rss_end_MB")
	b.ReportMetric(warm.heap, "heap_warm_MB")
	b.ReportMetric(last.heap, "heap_end_MB")
	b.ReportMetric(last.keys, "keys_end")
}
