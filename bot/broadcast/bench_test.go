package broadcast_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/telegram"
	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

const token = "7000000001:AAtesttokentesttokentesttoken"

// subscribe stores n Telegram contacts subscribed to nador, as the bot
// would, straight into Redis.
func subscribe(tb testing.TB, env *channeltest.Env, n int, lang func(i int) string) []string {
	tb.Helper()
	ctx := context.Background()
	keys := make([]string, n)
	for start := 0; start < n; start += 1000 {
		_, err := env.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := start; i < min(start+1000, n); i++ {
				chat := strconv.Itoa(100000 + i)
				ck := env.Store.ContactKey(telegram.Channel, chat)
				keys[i] = ck
				st, _ := json.Marshal(engine.State{Lang: lang(i), Node: "main", Sites: []string{"nador"}, LastSeen: time.Now()})
				p.HSet(ctx, env.Store.Keys().ContactState(ck), "v", 1, "s", st, "a", env.Store.Seal(chat), "ch", telegram.Channel)
				p.SAdd(ctx, env.Store.Keys().SubscribersOf("nador", ck), ck)
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	return keys
}

func newService(env *channeltest.Env) *broadcast.Service {
	return broadcast.New(env.Redis, env.Store, env.Dialog.Content, slog.New(slog.NewTextHandler(io.Discard, nil)), broadcast.Options{})
}

// BenchmarkFanOut fans a broadcast out to 100,000 Telegram subscribers and
// sends it through the real outbox and tgbotapi to a local fake Bot API,
// rate limits off. It reports recipients enqueued per second and messages
// sent per second. On a Cluster (REDISTEST=cluster) it also reports how
// the keys and the commands of the run spread over the masters: the
// largest share of either held or served by one master.
//
//	go test -run XXX -bench FanOut -benchtime 1x ./bot/broadcast
//	REDISTEST=cluster go test -run XXX -bench FanOut -benchtime 1x ./bot/broadcast
func BenchmarkFanOut(b *testing.B) {
	const n = 100000
	for range b.N {
		env := channeltest.New(b, telegram.Channel)
		fake := telegramtest.NewServer(b, token)
		subscribe(b, env, n, func(i int) string { return []string{"fr", "en", "ar"}[i%3] })
		svc := newService(env)
		ctx, cancel := context.WithCancel(context.Background())
		callsBefore := masterCalls(b, env.Redis)
		b.ResetTimer()
		began := time.Now()
		id, _, err := svc.Create(ctx, broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Bonjour", "en": "Hello", "ar": "مرحبا"}}, "")
		if err != nil {
			b.Fatal(err)
		}
		go svc.Run(ctx)
		for {
			r, err := svc.Get(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			if r.Counts.Total == n {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		enqueued := time.Since(began)
		bot := telegram.NewBot(token, fake.URL, 5*time.Second)
		sendBegan := time.Now()
		env.StartWorker(map[string]*outbox.Channel{telegram.Channel: {Sender: telegram.NewSender(bot), MaxLen: telegram.MaxText}},
			outbox.Options{ReplyWorkers: 1, BulkWorkers: 8})
		for {
			r, _ := svc.Get(ctx, id)
			if r.Counts.Sent == n {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		sent := time.Since(sendBegan)
		b.StopTimer()
		cancel()
		if callsBefore != nil {
			spread(b, env, callsBefore)
		}
		if err := redistest.Clean(env.Redis, env.Prefix); err != nil {
			b.Error(err)
		}
		b.ReportMetric(float64(n)/enqueued.Seconds(), "recipients_enqueued/s")
		b.ReportMetric(float64(n)/sent.Seconds(), "messages_sent/s")
		fmt.Fprintf(os.Stderr, "fan-out of %d: enqueued in %v, sent in %v\n", n, enqueued.Round(time.Millisecond), sent.Round(time.Millisecond))
	}
}

// masterCalls returns the commands each master of a Cluster has served so
// far (INFO commandstats, summed), by address; nil on one node.
func masterCalls(tb testing.TB, rdb redis.UniversalClient) map[string]int64 {
	tb.Helper()
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return nil
	}
	var mu sync.Mutex
	out := map[string]int64{}
	err := cc.ForEachMaster(context.Background(), func(ctx context.Context, node *redis.Client) error {
		info, err := node.Info(ctx, "commandstats").Result()
		if err != nil {
			return err
		}
		var n int64
		for _, line := range strings.Split(info, "\n") {
			if _, rest, ok := strings.Cut(line, ":calls="); ok {
				calls, _, _ := strings.Cut(rest, ",")
				c, _ := strconv.ParseInt(calls, 10, 64)
				n += c
			}
		}
		mu.Lock()
		out[node.Options().Addr] = n
		mu.Unlock()
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// spread reports the largest share of the run's keys one master holds and
// of its commands one master served, and prints each master's.
func spread(b *testing.B, env *channeltest.Env, before map[string]int64) {
	b.Helper()
	after := masterCalls(b, env.Redis)
	var mu sync.Mutex
	held := map[string]int64{}
	err := env.Redis.(*redis.ClusterClient).ForEachMaster(context.Background(), func(ctx context.Context, node *redis.Client) error {
		var n int64
		iter := node.Scan(ctx, 0, env.Prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		mu.Lock()
		held[node.Options().Addr] = n
		mu.Unlock()
		return iter.Err()
	})
	if err != nil {
		b.Fatal(err)
	}
	var keys, calls, maxKeys, maxCalls int64
	for addr, n := range held {
		c := after[addr] - before[addr]
		keys, calls = keys+n, calls+c
		maxKeys, maxCalls = max(maxKeys, n), max(maxCalls, c)
	}
	for addr, n := range held {
		fmt.Fprintf(os.Stderr, "master %s: %d keys (%.1f %%), %d commands (%.1f %%)\n", addr, n, 100*float64(n)/float64(keys),
			after[addr]-before[addr], 100*float64(after[addr]-before[addr])/float64(calls))
	}
	b.ReportMetric(100*float64(maxKeys)/float64(keys), "max_master_keys_%")
	b.ReportMetric(100*float64(maxCalls)/float64(calls), "max_master_commands_%")
}
