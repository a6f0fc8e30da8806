package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

// BenchmarkInbound drives the webhooks of the real binary, on the real
// Redis, with valid secrets and signatures, from 32 concurrent senders over
// 5,000 people. It reports inbound messages a second, p50 and p99 latency
// of the webhook, Redis commands per message (INFO commandstats, the
// worker's included), and the Redis round trips per message of the webhook
// itself (inbound_rtt) and of the worker sending the reply (outbox_rtt),
// from the service's own outreach_redis_round_trips_total.
//
//	go test -run XXX -bench Inbound -benchtime 20000x ./cmd/outreach
//
// telegram and twilio_sms run with the providers' rates (30 and 10
// messages/s): the replies wait in the outbox, as they would on a busy day.
// telegram_all_sent lifts the rates and runs until every reply is sent:
// msgs/s there is messages answered end to end.
func BenchmarkInbound(b *testing.B) {
	bin := buildBinary(b)
	b.Run("telegram", func(b *testing.B) { loadRun(b, bin, telegramPost, nil) })
	b.Run("twilio_sms", func(b *testing.B) { loadRun(b, bin, twilioPost, nil) })
	b.Run("telegram_all_sent", func(b *testing.B) {
		loadRun(b, bin, telegramPost, map[string]string{"OUTREACH_RATE_TELEGRAM": "100000", "OUTREACH_RATE_TELEGRAM_CHAT": "100000"})
	})
}

// poster makes the webhook request of message n from person p.
type poster func(base string, n int64, p int) *http.Request

func telegramPost(base string, n int64, p int) *http.Request {
	body := fmt.Sprintf(`{"update_id":%d,"message":{"message_id":1,"date":1,"text":"%d","chat":{"id":%d,"type":"private"},"from":{"id":%d,"is_bot":false,"first_name":"A","language_code":"fr"}}}`,
		n, n%6, 200000+p, 200000+p)
	req, _ := http.NewRequest("POST", base+"/webhooks/telegram", bytes.NewReader([]byte(body)))
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", e2eSecret)
	return req
}

func twilioPost(base string, n int64, p int) *http.Request {
	f := url.Values{
		"MessageSid": {fmt.Sprintf("SM%032x", n)}, "AccountSid": {e2eSID}, "From": {fmt.Sprintf("+2126%08d", p)},
		"To": {e2eOurPhone}, "Body": {strconv.FormatInt(n%6, 10)}, "NumMedia": {"0"}, "NumSegments": {"1"},
		"SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
	}
	req, _ := http.NewRequest("POST", base+"/webhooks/twilio", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twiliotest.Sign(e2eToken, e2ePublic+"/webhooks/twilio", f))
	return req
}

func loadRun(b *testing.B, bin string, post poster, extra map[string]string) {
	p := withProviders(b)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = binaryEnv("OUTREACH_ADDR="+addr, "OUTREACH_FLOOD_PER_MINUTE=10000", "OUTREACH_TELEGRAM_SET_WEBHOOK=false")
	for k, v := range p.vars {
		if k != "OUTREACH_TELEGRAM_SET_WEBHOOK" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := "http://" + addr
	waitHealthy(b, base)

	rdb, err := redistest.Client(p.vars["REDIS_URL"]) // one node, Cluster or Sentinel
	if err != nil {
		b.Fatal(err)
	}
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
	send := func(req *http.Request) time.Duration {
		began := time.Now()
		resp, err := client.Do(req)
		d := time.Since(began)
		if err != nil || resp.StatusCode != 200 {
			b.Errorf("webhook: %v %v", err, resp)
			return d
		}
		io.Copy(io.Discard, resp.Body) // read to the end, or the connection is not reused
		resp.Body.Close()
		return d
	}
	const senders = 32
	var next atomic.Int64
	lat := make([][]time.Duration, senders)
	before := calls()
	mBefore := metricValues(b, base)
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
				lat[w] = append(lat[w], send(post(base, i, int(i)%5000)))
			}
		}()
	}
	wg.Wait()
	if extra != nil { // all sent: wait for the outbox to drain
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
			if replyLen(rdb, p.vars["OUTREACH_REDIS_PREFIX"]) == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("the outbox did not drain in 2 minutes")
			}
		}
	}
	elapsed := time.Since(began)
	b.StopTimer()
	after := calls()
	mAfter := metricValues(b, base)
	per := func(sample string) float64 { return (mAfter[sample] - mBefore[sample]) / float64(b.N) }
	all := slices.Concat(lat...)
	slices.Sort(all)
	q := func(q float64) time.Duration { return all[int(float64(len(all)-1)*q)] }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(q(0.50).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(q(0.99).Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(after-before)/float64(b.N), "redis_cmds/msg")
	b.ReportMetric(per(`outreach_redis_round_trips_total{path="inbound"}`), "inbound_rtt/msg")
	b.ReportMetric(per(`outreach_redis_round_trips_total{path="outbox"}`), "outbox_rtt/msg")
	b.ReportMetric(per(`outreach_sent_total{channel="telegram"}`)+per(`outreach_sent_total{channel="sms"}`), "sent/msg")
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
