package broadcast_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/telegram"
	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
	"github.com/outreach-org/outreach/bot/waitfor"
)

func waitCounts(t *testing.T, svc *broadcast.Service, id string, done func(broadcast.Counts) bool) broadcast.Report {
	t.Helper()
	var r broadcast.Report
	var err error
	if !waitfor.Within(30*time.Second, func() bool {
		r, err = svc.Get(context.Background(), id)
		return err != nil || done(r.Counts)
	}) {
		t.Fatalf("broadcast stuck: %+v", r)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestWorkerKilledMidBroadcast sends a broadcast of 500. Midway, one worker
// "dies" holding entries (taken, never acknowledged) and the other is
// stopped; a new worker finishes. Every person gets it exactly once.
func TestWorkerKilledMidBroadcast(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	fake := telegramtest.NewServer(t, token)
	const n = 500
	subscribe(t, env, n, func(int) string { return "fr" })
	svc := running(t, env)
	ctx := context.Background()
	id, _, err := svc.Create(ctx, broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Avis"}, Fallback: "fr"}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitCounts(t, svc, id, func(c broadcast.Counts) bool { return c.Total == n })

	// A worker that dies with 20 entries in hand, from the shards' streams.
	taken := 0
	for _, bulk := range env.Outbox.Keys().Streams(outbox.Bulk) {
		got, err := env.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "senders", Consumer: "killed", Streams: []string{bulk, ">"}, Count: int64(20 - taken)}).Result()
		if err != nil {
			t.Fatalf("taking entries: %v", err)
		}
		if taken += len(got[0].Messages); taken == 20 {
			break
		}
	}
	if taken != 20 {
		t.Fatalf("took %d entries, want 20", taken)
	}
	bot := telegram.NewBot(token, fake.URL, 5*time.Second)
	chans := func() map[string]*outbox.Channel {
		return map[string]*outbox.Channel{telegram.Channel: {Sender: telegram.NewSender(bot), MaxLen: telegram.MaxText, Gate: outbox.NewGate(400, 1)}}
	}
	stop := env.StartWorker(chans(), outbox.Options{BulkWorkers: 2, ClaimIdle: 300 * time.Millisecond})
	fake.WaitSent(t, 100, 20*time.Second)
	stop() // the second worker stops midway
	if n := len(fake.Sent()); n >= 480 {
		t.Fatalf("the first worker sent %d: stop it earlier", n)
	}
	env.StartWorker(chans(), outbox.Options{BulkWorkers: 2, ClaimIdle: 300 * time.Millisecond})
	r := waitCounts(t, svc, id, func(c broadcast.Counts) bool { return c.Sent == n })
	time.Sleep(700 * time.Millisecond) // two more claim rounds: nothing more may leave
	perChat := map[string]int{}
	for _, c := range fake.Sent() {
		perChat[c.Params.Get("chat_id")]++
	}
	if len(perChat) != n {
		t.Errorf("%d people reached, want %d", len(perChat), n)
	}
	for chat, k := range perChat {
		if k != 1 {
			t.Errorf("chat %s got the broadcast %d times", chat, k)
		}
	}
	if r.Counts.Delivered != n || r.Status != broadcast.Done {
		t.Errorf("report %+v", r)
	}
}

// recorder notes when each message is let go, and sends it through the
// real sender.
type recorder struct {
	next outbox.Sender
	mu   sync.Mutex
	at   []time.Time
}

func (r *recorder) Send(ctx context.Context, m outbox.Message) (string, error) {
	at := time.Now() // when the gate let it go, before the network's jitter
	id, err := r.next.Send(ctx, m)
	if err == nil {
		r.mu.Lock()
		r.at = append(r.at, at)
		r.mu.Unlock()
	}
	return id, err
}

// TestRateIsKept sends 150 messages at a configured 50 a second: no second
// holds more than the rate and its burst. (An upper bound: a slow machine
// cannot make it fail.)
func TestRateIsKept(t *testing.T) {
	t.Parallel()
	const rate, n = 50, 150
	at := sendAtRate(t, n, 1, func(*channeltest.Env) *outbox.Gate { return outbox.NewGate(rate, 1) })
	// The broadcast's sends go through the channel's gate: they cannot
	// all leave faster than the rate. (A loaded machine only slows them, so
	// this holds under load; counting sends per second of the wall clock
	// does not: a late record crowds the next second. How the gate itself
	// keeps the rate is tested on a virtual clock in bot/outbox.)
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	least := time.Duration(n-2) * time.Second / rate // the first goes at once, with the burst of one
	const lateFirst = 300 * time.Millisecond         // the first send's record may come late
	if span := at[len(at)-1].Sub(at[0]); span < least-lateFirst {
		t.Errorf("%d messages left within %v, faster than the rate of %d a second (at least %v)", n, span, rate, least)
	}
}

// running returns the broadcast service of env, running until the test ends.
func running(t *testing.T, env *channeltest.Env) *broadcast.Service {
	svc := newService(env)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go svc.Run(ctx)
	return svc
}

// sendAtRate broadcasts to n people through workers, each with its own
// gate (as instances of the service), and returns when each message left.
func sendAtRate(t *testing.T, n, workers int, gate func(*channeltest.Env) *outbox.Gate) []time.Time {
	env := channeltest.New(t, telegram.Channel)
	fake := telegramtest.NewServer(t, token)
	subscribe(t, env, n, func(int) string { return "en" })
	svc := running(t, env)
	ctx := context.Background()
	id, _, err := svc.Create(ctx, broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"en": "Notice"}, Fallback: "en"}, "")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{next: telegram.NewSender(telegram.NewBot(token, fake.URL, 5*time.Second))}
	for range workers {
		env.StartWorker(map[string]*outbox.Channel{telegram.Channel: {Sender: rec, MaxLen: telegram.MaxText, Gate: gate(env)}},
			outbox.Options{BulkWorkers: 4})
	}
	waitCounts(t, svc, id, func(c broadcast.Counts) bool { return c.Sent == int64(n) })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.at)
}

func TestAudienceFilters(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	subscribe(t, env, 30, func(i int) string { return []string{"fr", "en", "ar"}[i%3] })
	svc := running(t, env)
	ctx := context.Background()
	id, _, err := svc.Create(ctx, broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Bonjour"}, Fallback: "fr",
		Audience: broadcast.Audience{Sites: []string{"nador"}, Languages: []string{"ar"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitCounts(t, svc, id, func(c broadcast.Counts) bool { return c.Total == 10 })
	entries := env.Entries(outbox.Bulk)
	if len(entries) != 10 {
		t.Fatalf("%d entries, want the 10 Arabic speakers", len(entries))
	}
	// Staff wrote French only and named it the fallback: Arabic speakers
	// get the French text, with the footer in Arabic.
	if text := entries[0].Messages[0].Text; !strings.Contains(text, "Bonjour") || !strings.Contains(text, env.Text("ar", "notice_footer")) {
		t.Errorf("text %q", text)
	}
	if _, _, err := svc.Create(ctx, broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "x"}, Fallback: "fr", Audience: broadcast.Audience{Channels: []string{"sms"}}}, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(env.Entries(outbox.Bulk)); n != 10 {
		t.Errorf("an SMS-only broadcast reached Telegram: %d entries", n)
	}
}

func TestWhatsAppOutsideTheWindow(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, "whatsapp")
	ctx := context.Background()
	// Two WhatsApp subscribers: one wrote an hour ago, one three days ago.
	for i, seen := range []time.Duration{time.Hour, 72 * time.Hour} {
		phone := "+21261200000" + string(rune('1'+i))
		ck := env.Store.ContactKey("whatsapp", phone)
		st, _ := json.Marshal(engine.State{Lang: "fr", Node: "main", Sites: []string{"nador"}, LastSeen: time.Now().Add(-seen)})
		env.Redis.HSet(ctx, env.Store.Keys().ContactState(ck), "v", 1, "s", st, "a", env.Store.Seal(phone), "ch", "whatsapp")
		env.Redis.SAdd(ctx, env.Store.Keys().SubscribersOf("nador", ck), ck)
	}
	for _, tt := range []struct {
		templates map[string]string
		entries   int
		skipped   int64
	}{{nil, 1, 1}, {map[string]string{"message": "HX0123"}, 2, 0}} {
		svc := broadcast.New(env.Redis, env.Store, env.Dialog.Content, slog.New(slog.NewTextHandler(io.Discard, nil)), broadcast.Options{Templates: tt.templates})
		cctx, cancel := context.WithCancel(ctx)
		go svc.Run(cctx)
		id, _, err := svc.Create(ctx, broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Avis"}, Fallback: "fr"}, "")
		if err != nil {
			t.Fatal(err)
		}
		r := waitCounts(t, svc, id, func(c broadcast.Counts) bool { return c.Total == 2 })
		cancel()
		var entries []outbox.Entry // this broadcast's (the shards' streams hold the earlier one's too)
		for _, e := range env.Entries(outbox.Bulk) {
			if e.Broadcast == id {
				entries = append(entries, e)
			}
		}
		if len(entries) != tt.entries || r.Counts.Skipped != tt.skipped {
			t.Errorf("templates %v: %d entries, %d skipped (%v); want %d, %d", tt.templates, len(entries), r.Counts.Skipped, r.Counts.SkippedBy, tt.entries, tt.skipped)
		}
		if tt.skipped == 1 && r.Counts.SkippedBy["needs_template"] != 1 {
			t.Errorf("skipped by %v, want needs_template", r.Counts.SkippedBy)
		}
		if tt.templates != nil && len(entries) == 2 && entries[1].Template != "HX0123" && entries[0].Template != "HX0123" {
			t.Errorf("no entry uses the template: %+v", entries)
		}
	}
}

// TestForgetWhoWasReached: once a broadcast is over and older than the
// retention period, the sets naming who it reached go; its record stays. A
// broadcast still under way keeps them.
func TestForgetWhoWasReached(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	fake := telegramtest.NewServer(t, token)
	subscribe(t, env, 5, func(int) string { return "fr" })
	svc := running(t, env)
	ctx := context.Background()
	id, _, err := svc.Create(ctx, broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Avis"}, Fallback: "fr"}, "")
	if err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	pending, _, err := svc.Create(ctx, broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Plus tard"}, Fallback: "fr", SendAt: later}, "")
	if err != nil {
		t.Fatal(err)
	}
	env.StartWorker(map[string]*outbox.Channel{telegram.Channel: {Sender: telegram.NewSender(telegram.NewBot(token, fake.URL, 5*time.Second)), MaxLen: telegram.MaxText, Gate: outbox.NewGate(100, 10)}}, outbox.Options{})
	waitCounts(t, svc, id, func(c broadcast.Counts) bool { return c.Sent == 5 })
	if n := cardOfShares(t, env, func(i int) string { return env.Store.Keys().BroadcastTold(id, i) }); n != 5 {
		t.Fatalf("told sets hold %d, want 5", n)
	}

	if n, err := svc.Forget(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("Forget of what is older than an hour ago: %d, %v; want nothing", n, err)
	}
	n, err := svc.Forget(ctx, later.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("Forget: %d, %v; want the one broadcast that is over", n, err)
	}
	if left := shardKeys(t, env, id); len(left) > 0 {
		t.Errorf("keys of the shards are still kept: %v", left)
	}
	if r, err := svc.Get(ctx, id); err != nil || r.Counts.Sent != 5 || r.Text["fr"] != "Avis" {
		t.Errorf("the record went too: %+v, %v", r, err)
	}
	if n, err := svc.Forget(ctx, later.Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("forgetting again: %d, %v; want nothing", n, err)
	}
	if list, err := svc.List(ctx, 10); err != nil || len(list) != 2 {
		t.Errorf("the list of broadcasts: %d, %v; want both still listed", len(list), err)
	}
	if r, err := svc.Get(ctx, pending); err != nil || r.Status != broadcast.Scheduled {
		t.Errorf("the scheduled broadcast: %+v, %v", r, err)
	}
}

// cardOfShares sums the sizes of a set's shares, share(i) that of shard i.
func cardOfShares(t testing.TB, env *channeltest.Env, share func(i int) string) int64 {
	t.Helper()
	var n int64
	for i := range env.Store.Keys().Shards() {
		c, err := env.Redis.SCard(context.Background(), share(i)).Result()
		if err != nil {
			t.Fatal(err)
		}
		n += c
	}
	return n
}

// shardKeys returns the keys of the shards that broadcast id keeps: who
// it was queued for and reached, and its shares of the counts.
func shardKeys(t testing.TB, env *channeltest.Env, id string) []string {
	t.Helper()
	ks := env.Store.Keys()
	var out []string
	for i := range ks.Shards() {
		for _, k := range []string{ks.BroadcastRecipients(id, i), ks.BroadcastTold(id, i), ks.BroadcastCounts(id, i)} {
			n, err := env.Redis.Exists(context.Background(), k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				out = append(out, k)
			}
		}
	}
	return out
}
