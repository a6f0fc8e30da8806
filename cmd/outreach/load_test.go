package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
)

// BenchmarkInbound drives POST /webhooks/telegram of the real binary, on the
// real Redis, with valid secrets, from 32 concurrent senders, each a person
// of their own. It reports inbound messages a second, p50 and p99 latency,
// Redis commands per inbound message (from INFO commandstats, the outbox
// worker's sends included), and the Redis round trips per message of the
// webhook itself and of the worker that sends the reply (from the service's
// own /metrics).
//
//	go test -run XXX -bench Inbound -benchtime 20000x ./cmd/outreach
func BenchmarkInbound(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "outreach")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	url := redistest.URL(b)
	prefix := redistest.Prefix(b)
	fake := telegramtest.NewServer(b, e2eBot)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "OUTREACH_ADDR="+addr, "REDIS_URL="+url, "OUTREACH_REDIS_PREFIX="+prefix,
		"OUTREACH_DATA_KEY=ZTJlLWRhdGEta2V5LTMyLWJ5dGVzLWxvbmctb2shISE=",
		"TELEGRAM_BOT_TOKEN="+e2eBot, "TELEGRAM_WEBHOOK_SECRET="+e2eSecret, "TELEGRAM_API_URL="+fake.URL,
		"OUTREACH_FLOOD_PER_MINUTE=10000")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := "http://" + addr
	waitHealthy(b, base)

	opts, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	calls := func() int64 {
		info, _ := rdb.Info(context.Background(), "commandstats").Result()
		var total int64
		for _, line := range strings.Split(info, "\n") {
			if i := strings.Index(line, "calls="); i >= 0 {
				n, _ := strconv.ParseInt(strings.SplitN(line[i+6:], ",", 2)[0], 10, 64)
				total += n
			}
		}
		return total
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(update int64, chat int) time.Duration {
		body := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":1,"date":1,"text":"%d","chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"A","language_code":"fr"}}}`,
			update, update%6, chat, chat)
		req, _ := http.NewRequest("POST", base+"/webhooks/telegram", bytes.NewReader([]byte(body)))
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", e2eSecret)
		began := time.Now()
		resp, err := client.Do(req)
		d := time.Since(began)
		if err != nil || resp.StatusCode != 200 {
			b.Errorf("webhook: %v %v", err, resp)
			return d
		}
		resp.Body.Close()
		return d
	}
	const senders = 32
	var next atomic.Int64
	lat := make([][]time.Duration, senders)
	before := calls()
	rtBefore := metricValues(b, base)
	b.ResetTimer()
	began := time.Now()
	var wg sync.WaitGroup
	for w := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				lat[w] = append(lat[w], post(i, 200000+int(i)%5000))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	after := calls()
	rtAfter := metricValues(b, base)
	rt := func(path string) float64 {
		k := `outreach_redis_round_trips_total{path="` + path + `"}`
		return (rtAfter[k] - rtBefore[k]) / float64(b.N)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	p := func(q float64) time.Duration { return all[int(float64(len(all)-1)*q)] }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(p(0.50).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(p(0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(after-before)/float64(b.N), "redis_cmds/msg")
	b.ReportMetric(rt("inbound"), "inbound_rtt/msg")
	b.ReportMetric(rt("outbox"), "outbox_rtt/msg")
	sent := `outreach_sent_total{channel="telegram"}`
	b.ReportMetric((rtAfter[sent]-rtBefore[sent])/float64(b.N), "sent/msg")
}

// metricValues reads the service's /metrics into a map from a sample's name
// and labels, as written, to its value.
func metricValues(t testing.TB, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
