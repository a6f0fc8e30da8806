package broadcast

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
	"github.com/outreach-org/outreach/bot/telegram"
	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
	"github.com/outreach-org/outreach/bot/waitfor"
)

const clusterToken = "7000000002:AAclustertokenclustertokencluster"

// clusterEnv is channeltest's Env on the package's shared 3-master Redis
// Cluster, its people spread over shards shards.
func clusterEnv(t *testing.T, shards int) *channeltest.Env {
	t.Helper()
	env := envAt(t, redistest.SharedCluster(t).URL, shards)
	if _, ok := env.Redis.(*redis.ClusterClient); !ok {
		t.Fatalf("the shared Cluster's client is a %T", env.Redis)
	}
	return env
}

// onBoth runs a test on one node and on the shared Cluster, its people
// spread over shards shards.
func onBoth(t *testing.T, shards int, test func(t *testing.T, env *channeltest.Env)) {
	t.Run("node", func(t *testing.T) {
		t.Parallel()
		test(t, envAt(t, redistest.URL(t), shards))
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		test(t, clusterEnv(t, shards))
	})
}

// envAt is channeltest's Env on the Redis at url, its people spread over
// shards shards.
func envAt(t *testing.T, url string, shards int) *channeltest.Env {
	t.Helper()
	ctx := context.Background()
	rdb, prefix := redistest.NewAt(t, url)
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix, DataKey: []byte("cluster-test-data-key-32-bytes!!"), Shards: shards})
	if err != nil {
		t.Fatal(err)
	}
	logs := &channeltest.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ob := outbox.New(rdb, st.Keys())
	if err := ob.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	d := dialog.New(st, c, m, log, dialog.Options{IdleAfter: time.Hour, Outbox: ob, Deliver: []string{telegram.Channel}})
	return &channeltest.Env{T: t, Redis: rdb, Prefix: prefix, Content: c, Store: st, Outbox: ob, Dialog: d, Metrics: m, Log: log, Logs: logs}
}

// follower is a Telegram person of a cluster test, by chat id.
type follower struct {
	chat     int
	sites    []string
	optedOut bool
	purged   bool // subscribed, but their state is gone
}

// follow stores people as the bot would, each in their shard, and returns
// their contact keys.
func follow(t *testing.T, env *channeltest.Env, people []follower) []string {
	t.Helper()
	ctx := context.Background()
	ks := env.Store.Keys()
	cks := make([]string, len(people))
	if _, err := env.Redis.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, f := range people {
			chat := strconv.Itoa(f.chat)
			ck := env.Store.ContactKey(telegram.Channel, chat)
			cks[i] = ck
			for _, site := range f.sites {
				p.SAdd(ctx, ks.SubscribersOf(site, ck), ck)
			}
			if f.purged {
				continue
			}
			st, _ := json.Marshal(engine.State{Lang: []string{"fr", "en", "ar"}[i%3], Node: "main", Sites: f.sites, OptedOut: f.optedOut, LastSeen: time.Now()})
			p.HSet(ctx, ks.ContactState(ck), "v", 1, "s", st, "a", env.Store.Seal(chat), "ch", telegram.Channel)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return cks
}

func serviceOf(env *channeltest.Env) *Service {
	return New(env.Redis, env.Store, env.Dialog.Content, env.Log, Options{})
}

// queuedTo returns how many bulk entries wait for each contact, and fails
// the test for an entry outside its contact's shard.
func queuedTo(t *testing.T, env *channeltest.Env) map[string]int {
	t.Helper()
	ks := env.Store.Keys()
	out := map[string]int{}
	for i := range ks.Shards() {
		msgs, err := env.Redis.XRange(context.Background(), ks.BulkStream(i), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			var e outbox.Entry
			if err := json.Unmarshal([]byte(m.Values["e"].(string)), &e); err != nil {
				t.Fatal(err)
			}
			if ks.ShardOf(e.Contact) != i {
				t.Errorf("an entry waits in shard %d, its contact is of shard %d", i, ks.ShardOf(e.Contact))
			}
			out[e.Contact]++
		}
	}
	return out
}

// noPersonalData fails the test when the logs hold a chat id of people or
// a message's text.
func noPersonalData(t *testing.T, env *channeltest.Env, people []follower, texts ...string) {
	t.Helper()
	logs := env.Logs.String()
	for _, f := range people {
		if strings.Contains(logs, `"`+strconv.Itoa(f.chat)+`"`) || strings.Contains(logs, ":"+strconv.Itoa(f.chat)+",") {
			t.Fatalf("the logs name chat %d:\n%s", f.chat, logs)
		}
	}
	for _, text := range texts {
		if strings.Contains(logs, text) {
			t.Fatalf("the logs hold the text %q", text)
		}
	}
}

// TestClusterBroadcastReachesEachOnce: on a Cluster, a broadcast to the
// subscribers of two sites, spread over every shard, queues each person
// once in their shard's stream — those of both sites too —, counts them
// once, and sends each their message once; Reach and Estimate said so
// before.
func TestClusterBroadcastReachesEachOnce(t *testing.T) {
	t.Parallel()
	env := clusterEnv(t, keys.DefaultShards)
	var people []follower
	for i := range 300 {
		f := follower{chat: 500000 + i, sites: []string{"nador"}}
		switch {
		case i%3 == 1:
			f.sites = []string{"oujda"}
		case i%3 == 2:
			f.sites = []string{"nador", "oujda"}
		}
		f.optedOut = i%50 == 7
		f.purged = i%50 == 9
		people = append(people, f)
	}
	cks := follow(t, env, people)
	shards := map[int]bool{}
	for _, ck := range cks {
		shards[env.Store.Shard(ck)] = true
	}
	if len(shards) != keys.DefaultShards {
		t.Fatalf("the people fall in %d shards of %d", len(shards), keys.DefaultShards)
	}
	const purged, optedOut = 6, 6
	svc := serviceOf(env)
	ctx := context.Background()
	b := Broadcast{Kind: KindMessage, Text: map[string]string{"fr": "Avis aux abonnés"}, Fallback: "fr", Audience: Audience{Sites: []string{"nador", "oujda"}}}
	reach, err := svc.Reach(ctx, b, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if reach.People != 300 || reach.Read != 300 || reach.Skipped["no_contact"] != purged || reach.Skipped["opted_out"] != optedOut {
		t.Errorf("reach %+v; want 300 people, each once, all read, %d gone, %d opted out", reach, purged, optedOut)
	}
	est, err := svc.Estimate(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if est.Total != 300 || est.People() != 300-purged-optedOut {
		t.Errorf("estimate: %d in all, %d sent; want 300, %d", est.Total, est.People(), 300-purged-optedOut)
	}
	for _, k := range redistest.KeysUnder(t, env.Redis, env.Prefix) {
		if env.Store.Keys().Family(k) == keys.BcReachF {
			t.Errorf("Reach left %s behind", k)
		}
	}

	id, _, err := svc.Create(ctx, b, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.fanOut(ctx, id); err != nil {
		t.Fatal(err)
	}
	queued := queuedTo(t, env)
	if len(queued) != 300-purged-optedOut {
		t.Errorf("%d people queued, want %d", len(queued), 300-purged-optedOut)
	}
	for i, ck := range cks {
		want := 1
		if people[i].purged || people[i].optedOut {
			want = 0
		}
		if queued[ck] != want {
			t.Errorf("person %d (sites %v) queued %d times, want %d", i, people[i].sites, queued[ck], want)
		}
	}
	r, err := svc.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Counts.Total != 300 || r.Counts.Skipped != purged+optedOut || r.Counts.SkippedBy["no_contact"] != purged || r.Counts.SkippedBy["opted_out"] != optedOut {
		t.Errorf("counts %+v; want 300 in all, %d gone and %d opted out skipped", r.Counts, purged, optedOut)
	}
	// Who is gone leaves the subscribers, from their shard's share.
	if n, err := env.Store.Contacts().SubscriberCounts(ctx, []string{"nador", "oujda"}); err != nil || n["nador"]+n["oujda"] != 400-8 {
		t.Errorf("subscribers after the fan-out: %v, %v; want the 4+4 subscriptions of the gone out of 400", n, err)
	}

	fake := telegramtest.NewServer(t, clusterToken)
	env.StartWorker(map[string]*outbox.Channel{telegram.Channel: {Sender: telegram.NewSender(telegram.NewBot(clusterToken, fake.URL, 5*time.Second)), MaxLen: telegram.MaxText}},
		outbox.Options{BulkWorkers: 4, ClaimIdle: time.Second})
	want := int64(300 - purged - optedOut)
	if !waitfor.Within(30*time.Second, func() bool { r, err = svc.Get(ctx, id); return err != nil || r.Counts.Sent == want }) {
		t.Fatalf("sent %d of %d: %+v", r.Counts.Sent, want, r)
	}
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // anything sent twice would leave meanwhile
	perChat := map[string]int{}
	for _, c := range fake.Sent() {
		perChat[c.Params.Get("chat_id")]++
	}
	for i, f := range people {
		want := 1
		if f.purged || f.optedOut {
			want = 0
		}
		if got := perChat[strconv.Itoa(f.chat)]; got != want {
			t.Errorf("person %d got the broadcast %d times, want %d", i, got, want)
		}
	}
	if r.Status != Done || r.Counts.Delivered != want {
		t.Errorf("report: status %s, counts %+v; want done, %d delivered", r.Status, r.Counts, want)
	}
	noPersonalData(t, env, people, "Avis aux abonnés")
}

// TestFanOutResumed: on one node and on a Cluster, a fan-out that loses
// its lock midway (its instance stalled, and its lock lapsed) stops, a
// batch queued but not marked; another instance resumes it from each
// shard's marks, and no one is queued twice or counted twice.
func TestFanOutResumed(t *testing.T) {
	t.Parallel()
	// 750 a shard: a shard is read in batches.
	onBoth(t, 4, testFanOutResumed)
}

func testFanOutResumed(t *testing.T, env *channeltest.Env) {
	const n = 3000
	var people []follower
	for i := range n {
		people = append(people, follower{chat: 600000 + i, sites: []string{"nador"}})
	}
	cks := follow(t, env, people)
	ctx := context.Background()
	first := serviceOf(env)
	id, _, err := first.Create(ctx, Broadcast{Kind: KindMessage, Text: map[string]string{"fr": "Reprise"}, Fallback: "fr"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var stolen atomic.Bool
	first.queued = func(int) {
		if stolen.Load() {
			return
		}
		// Once a batch is marked, the first instance stalls after the
		// next batch it queues, before its mark: its lock lapses, and
		// another instance takes it.
		for f := range env.Redis.HGetAll(ctx, first.hash(id)).Val() {
			if strings.HasPrefix(f, "cur:") && stolen.CompareAndSwap(false, true) {
				env.Redis.Set(ctx, first.lockKey(id), "another", lockTTL)
				return
			}
		}
	}
	if err := first.fanOut(ctx, id); err == nil || !strings.Contains(err.Error(), "lost the fan-out lock") {
		t.Fatalf("the stalled fan-out: %v; want it to stop, its lock lost", err)
	}
	if before := queuedTo(t, env); len(before) == 0 {
		t.Fatal("nothing queued before the resumption")
	}
	fields := env.Redis.HGetAll(ctx, first.hash(id)).Val()
	marks := 0
	for f := range fields {
		if strings.HasPrefix(f, "cur:") {
			marks++
		}
	}
	if fields["fanned"] != "" || marks == 0 {
		t.Fatalf("after the stalled fan-out: fanned %q, %d marks; want it unfinished, with marks", fields["fanned"], marks)
	}

	// The other instance's lock lapses too (it crashed); a third resumes.
	env.Redis.Del(ctx, first.lockKey(id))
	second := serviceOf(env)
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go second.Run(runCtx)
	var r Report
	if !waitfor.Within(30*time.Second, func() bool {
		r, err = second.Get(ctx, id)
		return err != nil || env.Redis.HGet(ctx, second.hash(id), "fanned").Val() == "1"
	}) {
		t.Fatalf("the fan-out was not resumed: %+v", r)
	}
	if err != nil {
		t.Fatal(err)
	}
	queued := queuedTo(t, env)
	for i, ck := range cks {
		if queued[ck] != 1 {
			t.Errorf("person %d queued %d times, want once", i, queued[ck])
		}
	}
	if r.Counts.Total != n {
		t.Errorf("counted %d, want %d: each person once", r.Counts.Total, n)
	}
	if fields := env.Redis.HGetAll(ctx, second.hash(id)).Val(); len(fields) > 0 {
		for i := range env.Store.Keys().Shards() {
			if mark := fields[markField(env.Store.Keys().Subscribers("nador", i))]; mark != markDone {
				t.Errorf("shard %d's mark is %q, want done", i, mark)
			}
		}
	}
	noPersonalData(t, env, people, "Reprise")
}

// TestForgetLeavesNoShardKey: on one node and on a Cluster, a broadcast
// sent, then corrected to those it reached (their told sets unioned a
// shard each), then forgotten, leaves no key of any shard: neither who it
// was queued for or reached nor its shares of the counts, which stay,
// summed, in its record.
func TestForgetLeavesNoShardKey(t *testing.T) {
	t.Parallel()
	onBoth(t, keys.DefaultShards, testForgetLeavesNoShardKey)
}

func testForgetLeavesNoShardKey(t *testing.T, env *channeltest.Env) {
	var people []follower
	for i := range 60 {
		people = append(people, follower{chat: 700000 + i, sites: []string{"nador"}})
	}
	follow(t, env, people)
	svc := serviceOf(env)
	ctx := context.Background()
	runCtx, stop := context.WithCancel(ctx)
	t.Cleanup(stop)
	go svc.Run(runCtx)
	fake := telegramtest.NewServer(t, clusterToken)
	env.StartWorker(map[string]*outbox.Channel{telegram.Channel: {Sender: telegram.NewSender(telegram.NewBot(clusterToken, fake.URL, 5*time.Second)), MaxLen: telegram.MaxText}},
		outbox.Options{BulkWorkers: 4})
	send := func(b Broadcast) string {
		t.Helper()
		id, _, err := svc.Create(ctx, b, "")
		if err != nil {
			t.Fatal(err)
		}
		var r Report
		if !waitfor.Within(30*time.Second, func() bool { r, err = svc.Get(ctx, id); return err != nil || r.Status == Done }) {
			t.Fatalf("broadcast not done: %+v", r)
		}
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := send(Broadcast{Kind: KindMessage, Text: map[string]string{"fr": "Premier"}, Fallback: "fr"})
	half := Broadcast{Kind: KindMessage, Text: map[string]string{"fr": "Second"}, Fallback: "fr", Audience: Audience{Languages: []string{"fr"}}}
	second := send(half)
	correction := Broadcast{Kind: KindMessage, Text: map[string]string{"fr": "Correction"}, Fallback: "fr", Audience: Audience{RecipientsOf: []string{first, second}}}
	if reach, err := svc.Reach(ctx, correction, 100); err != nil || reach.People != 60 {
		t.Errorf("reach of a correction to both: %+v, %v; want the 60 told, each once", reach, err)
	}
	third := send(correction)
	if r, err := svc.Get(ctx, third); err != nil || r.Counts.Sent != 60 || r.Counts.Total != 60 {
		t.Errorf("the correction: %+v, %v; want 60 sent", r, err)
	}

	if n, err := svc.Forget(ctx, time.Now().Add(time.Minute)); err != nil || n != 3 {
		t.Fatalf("Forget: %d, %v; want the three", n, err)
	}
	for _, k := range redistest.KeysUnder(t, env.Redis, env.Prefix) {
		switch env.Store.Keys().Family(k) {
		case keys.BcRecipientsF, keys.BcToldF, keys.BcCountsF, keys.BcReachF:
			t.Errorf("%s is left after Forget", k)
		}
	}
	for id, want := range map[string]int64{first: 60, second: 20, third: 60} {
		if r, err := svc.Get(ctx, id); err != nil || r.Counts.Sent != want || r.Counts.Total != want || r.Status != Done {
			t.Errorf("forgotten broadcast: %+v, %v; want its record, %d sent", r, err, want)
		}
	}
	if list, err := svc.List(ctx, 10); err != nil || len(list) != 3 || list[0].Counts.Sent != 60 {
		t.Errorf("the list after Forget: %+v, %v", list, err)
	}
	noPersonalData(t, env, people, "Premier", "Correction")
}
