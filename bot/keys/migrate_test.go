package keys_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// Keys under their v1 names move to the new ones, with their expiry (a
// request straight to its shard); a new key already there wins; other
// keys are left alone; a second run moves nothing.
func TestMigrateRenamesFormerKeys(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	s := keys.New(prefix)
	rdb.Set(ctx, prefix+"request:r1", `{"id":"r1"}`, time.Hour)
	rdb.RPush(ctx, prefix+"request:r1:notes", "n")
	rdb.ZAdd(ctx, prefix+"requests:open", zOf("r1"))
	rdb.HSet(ctx, prefix+"tokens", "fatima", "h1")
	rdb.HSet(ctx, prefix+"token:h1", "name", "fatima")
	rdb.Set(ctx, prefix+"content:current", "3", 0)
	rdb.Set(ctx, prefix+"content:v:3", "{}", 0)
	rdb.Set(ctx, s.ContentSeq(), "9", 0)
	rdb.Set(ctx, prefix+"content:seq", "3", 0) // older than the new one: dropped
	rdb.HSet(ctx, s.ContactState("c1"), "v", 1)
	n, err := keys.Migrate(ctx, rdb, s)
	if err != nil || n != 7 {
		t.Fatalf("migrate = %d, %v; want 7", n, err)
	}
	want := []string{s.Request("r1"), s.RequestNotes("r1"), s.OpenRequests(s.ShardOf("r1")), s.APITokenNames(), s.APIToken("h1"),
		s.ContentCurrent(), s.ContentVersion("3"), s.ContentSeq(), s.ContactState("c1"), s.ShardCount(), s.Layout()}
	redistest.OnlyDeclared(t, rdb, prefix, want...)
	if len(redistest.KeysUnder(t, rdb, prefix)) != len(want) {
		t.Errorf("keys after the migration: %v, want %v", redistest.KeysUnder(t, rdb, prefix), want)
	}
	if ttl := rdb.PTTL(ctx, s.Request("r1")).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("the request expires in %v, want its former expiry", ttl)
	}
	if v := rdb.Get(ctx, s.ContentSeq()).Val(); v != "9" {
		t.Errorf("content seq %q, want the new key's 9", v)
	}
	if n, err := keys.Migrate(ctx, rdb, s); err != nil || n != 0 {
		t.Errorf("second migrate = %d, %v; want 0", n, err)
	}
}

func zOf(m string) redis.Z { return redis.Z{Score: 1, Member: m} }

// v2 writes a dataset of the layout before shards under prefix: every
// family that moves, splits or goes.
type v2 struct {
	reply, bulk map[string]string // stream entry id → contact key
}

func entry(id, ck string) string { return `{"id":"` + id + `","ch":"sms","ck":"` + ck + `"}` }

func writeV2(t *testing.T, ctx context.Context, rdb redis.UniversalClient, p string) v2 {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	pipe := rdb.Pipeline()
	pipe.HSet(ctx, p+"{c:ck1}:state", "lang", "ar")
	pipe.Expire(ctx, p+"{c:ck1}:state", time.Hour)
	pipe.Set(ctx, p+"{c:ck1}:dialog", "old", 10*time.Minute)
	pipe.ZAdd(ctx, p+"{c:ck1}:seen", redis.Z{Score: 42, Member: "SM0"})
	pipe.Set(ctx, p+"{c:ck1}:n:2961", "3", 2*time.Minute)
	pipe.SAdd(ctx, p+"{c:ck1}:requests", "r1")
	pipe.HSet(ctx, p+"sim:{c:ck2}:state", "lang", "fr")
	pipe.Expire(ctx, p+"sim:{c:ck2}:state", time.Hour)
	pipe.Set(ctx, p+"sim:{c:ck2}:dialog", "d", time.Hour)
	pipe.ZAdd(ctx, p+"sim:{c:ck2}:seen", redis.Z{Score: 1, Member: "x"})
	pipe.Set(ctx, p+"sim:{c:ck2}:n:7", "1", time.Minute)

	pipe.Set(ctx, p+"{r}:request:r1", `{"id":"r1"}`, time.Hour)
	pipe.RPush(ctx, p+"{r}:request:r1:notes", "n1", "n2")
	pipe.RPush(ctx, p+"{r}:request:r1:replies", "re")
	pipe.Set(ctx, p+"{r}:request:r1:assignee", "amina", time.Hour)
	pipe.ZAdd(ctx, p+"{r}:requests:open", redis.Z{Score: 100, Member: "r1"}, redis.Z{Score: 200, Member: "r2"})
	pipe.ZAdd(ctx, p+"{r}:requests:closed", redis.Z{Score: 300, Member: "r3"})
	pipe.SAdd(ctx, p+"{r}:requests:urgent", "r1", "r2")
	pipe.Set(ctx, p+"request:r9", `{"id":"r9"}`, time.Hour) // v1
	pipe.ZAdd(ctx, p+"requests:open", redis.Z{Score: 900, Member: "r9"})

	pipe.SAdd(ctx, p+"site:rabat:subscribers", "ck1", "ck2", "ck3", "ck4")

	pipe.ZAdd(ctx, p+"{o}:delayed", redis.Z{Score: 5, Member: entry("e5", "ck1")}, redis.Z{Score: 6, Member: entry("e6", "ck3")})
	pipe.HSet(ctx, p+"{o}:msg:SM1", "ck", "ck1", "status", "sent")
	pipe.Expire(ctx, p+"{o}:msg:SM1", 30*24*time.Hour)
	pipe.Set(ctx, p+"{o}:done:e1", "2", 7*24*time.Hour)
	pipe.Set(ctx, p+"{o}:try:e1", "1", 7*24*time.Hour)
	pipe.Set(ctx, p+"{o}:rate:sms", "1", time.Minute)
	pipe.Set(ctx, p+"{o}:rate:sms:pause-until", "1", time.Minute)

	pipe.HSet(ctx, p+"{o}:bc:b1:n", "queued", 4, "sent", 1)
	pipe.SAdd(ctx, p+"{o}:bc:b1:rcpt", "ck1", "ck2", "ck3", "ck4")
	pipe.SAdd(ctx, p+"{o}:bc:b1:told", "ck1")
	pipe.SAdd(ctx, p+"{o}:bc:reach:x", "ck1")
	_, err := pipe.Exec(ctx)
	must(err)

	d := v2{reply: map[string]string{}, bulk: map[string]string{}}
	must(rdb.XGroupCreateMkStream(ctx, p+"{o}:reply", "senders", "0").Err())
	must(rdb.XGroupCreateMkStream(ctx, p+"{o}:bulk", "senders", "0").Err())
	for i, ck := range []string{"ck1", "ck2", "ck1"} {
		id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: p + "{o}:reply", Values: []any{"e", entry("r"+strconv.Itoa(i), ck)}}).Result()
		must(err)
		d.reply[id] = ck
	}
	for i, ck := range []string{"ck3", "ck4"} {
		id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: p + "{o}:bulk", Values: []any{"e", entry("b"+strconv.Itoa(i), ck)}}).Result()
		must(err)
		d.bulk[id] = ck
	}
	// An entry delivered to a sender of the former version, not yet
	// acknowledged: it moves too.
	must(rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "senders", Consumer: "w1", Streams: []string{p + "{o}:reply", ">"}, Count: 1}).Err())
	return d
}

// Every key of the layout before shards moves to its shard (or splits over
// the shards of its members, or goes), keeping values, expiry, scores and
// stream ids; a key of this layout already there wins; the keys of this
// layout are left alone; a second run moves nothing.
func TestMigrateSpreadsV2OverShards(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	s := keys.New(prefix)
	sim := s.Simulation()
	shards := map[int]bool{}
	for _, ck := range []string{"ck1", "ck2", "ck3", "ck4"} {
		shards[s.ShardOf(ck)] = true
	}
	if len(shards) < 2 {
		t.Fatal("the test's contacts all fall in one shard: choose others")
	}
	d := writeV2(t, ctx, rdb, prefix)
	// Keys of this layout, there before.
	rdb.Set(ctx, s.Dialog("ck1"), "new", time.Hour)                                   // wins over the old one
	rdb.ZAdd(ctx, s.OpenRequests(s.ShardOf("r2")), redis.Z{Score: 250, Member: "r2"}) // keeps its score
	rdb.HSet(ctx, s.Broadcast("b1"), "status", "sent")
	rdb.ZAdd(ctx, s.BroadcastsDue(), redis.Z{Score: 1, Member: "b1"})
	rdb.Set(ctx, s.BroadcastLock("b1"), "i1", time.Minute)
	rdb.LPush(ctx, s.Dead(), "letter")

	n, err := keys.Migrate(ctx, rdb, s)
	if err != nil || n != 27 {
		t.Fatalf("migrate = %d, %v; want 27", n, err)
	}

	want := map[string]bool{}
	for _, k := range []string{
		s.ContactState("ck1"), s.Dialog("ck1"), s.Seen("ck1"), s.MinuteCount("ck1", "2961"), s.RequestsOf("ck1"),
		sim.ContactState("ck2"), sim.Dialog("ck2"), sim.Seen("ck2"), sim.MinuteCount("ck2", "7"),
		s.Request("r1"), s.RequestNotes("r1"), s.RequestReplies("r1"), s.RequestAssignee("r1"), s.Request("r9"),
		s.OpenRequests(s.ShardOf("r1")), s.OpenRequests(s.ShardOf("r2")), s.OpenRequests(s.ShardOf("r9")),
		s.ClosedRequests(s.ShardOf("r3")), s.UrgentRequests(s.ShardOf("r1")), s.UrgentRequests(s.ShardOf("r2")),
		s.Delayed(s.ShardOf("ck1")), s.Delayed(s.ShardOf("ck3")),
		s.Delivery("SM1"), s.SentParts("e1"), s.Attempt("e1"),
		s.BroadcastCounts("b1", 0), s.BroadcastTold("b1", s.ShardOf("ck1")),
		s.Broadcast("b1"), s.BroadcastsDue(), s.BroadcastLock("b1"), s.Dead(), s.ShardCount(),
	} {
		want[k] = true
	}
	for _, ck := range []string{"ck1", "ck2", "ck3", "ck4"} {
		want[s.SubscribersOf("rabat", ck)] = true
		want[s.BroadcastRecipients("b1", s.ShardOf(ck))] = true
	}
	for _, ck := range d.reply {
		want[s.ReplyStream(s.ShardOf(ck))] = true
	}
	for _, ck := range d.bulk {
		want[s.BulkStream(s.ShardOf(ck))] = true
	}
	want[s.Layout()] = true
	var declared []string
	for k := range want {
		declared = append(declared, k)
	}
	redistest.OnlyDeclared(t, rdb, prefix, declared...)
	after := redistest.KeysUnder(t, rdb, prefix)
	if len(after) != len(want) {
		t.Errorf("keys after the migration: %v, want %v", after, declared)
	}
	for _, k := range after {
		if s.Family(k) == nil {
			t.Errorf("%s belongs to no family", k)
		}
	}

	// A person's keys, with their expiry.
	if v := rdb.HGet(ctx, s.ContactState("ck1"), "lang").Val(); v != "ar" {
		t.Errorf("state lang %q, want ar", v)
	}
	within(t, rdb, s.ContactState("ck1"), time.Hour)
	within(t, rdb, s.MinuteCount("ck1", "2961"), 2*time.Minute)
	if v := rdb.Get(ctx, s.Dialog("ck1")).Val(); v != "new" {
		t.Errorf("dialog %q, want the new key's", v)
	}
	if sc := rdb.ZScore(ctx, s.Seen("ck1"), "SM0").Val(); sc != 42 {
		t.Errorf("seen SM0 score %v, want 42", sc)
	}
	if !rdb.SIsMember(ctx, s.RequestsOf("ck1"), "r1").Val() {
		t.Error("r1 is not among ck1's requests")
	}
	if v := rdb.HGet(ctx, sim.ContactState("ck2"), "lang").Val(); v != "fr" {
		t.Errorf("simulated state lang %q, want fr", v)
	}
	within(t, rdb, sim.ContactState("ck2"), time.Hour)
	within(t, rdb, sim.MinuteCount("ck2", "7"), time.Minute)

	// Requests, in the shard of their id.
	if v := rdb.Get(ctx, s.Request("r1")).Val(); v != `{"id":"r1"}` {
		t.Errorf("request r1 %q", v)
	}
	within(t, rdb, s.Request("r1"), time.Hour)
	within(t, rdb, s.Request("r9"), time.Hour)
	within(t, rdb, s.RequestAssignee("r1"), time.Hour)
	if v := rdb.LRange(ctx, s.RequestNotes("r1"), 0, -1).Val(); len(v) != 2 || v[0] != "n1" || v[1] != "n2" {
		t.Errorf("notes %q, want [n1 n2]", v)
	}
	for id, score := range map[string]float64{"r1": 100, "r2": 250, "r9": 900} {
		if sc, err := rdb.ZScore(ctx, s.OpenRequests(s.ShardOf(id)), id).Result(); err != nil || sc != score {
			t.Errorf("open %s: %v, %v; want %v", id, sc, err, score)
		}
	}
	if sc := rdb.ZScore(ctx, s.ClosedRequests(s.ShardOf("r3")), "r3").Val(); sc != 300 {
		t.Errorf("closed r3 score %v, want 300", sc)
	}
	for _, id := range []string{"r1", "r2"} {
		if !rdb.SIsMember(ctx, s.UrgentRequests(s.ShardOf(id)), id).Val() {
			t.Errorf("%s is not urgent in its shard", id)
		}
	}

	// Subscribers and a broadcast's people, in their shard.
	total := 0
	for i := range s.Shards() {
		total += int(rdb.SCard(ctx, s.Subscribers("rabat", i)).Val())
	}
	for _, ck := range []string{"ck1", "ck2", "ck3", "ck4"} {
		if !rdb.SIsMember(ctx, s.SubscribersOf("rabat", ck), ck).Val() {
			t.Errorf("%s is not among the subscribers of its shard", ck)
		}
		if !rdb.SIsMember(ctx, s.BroadcastRecipients("b1", s.ShardOf(ck)), ck).Val() {
			t.Errorf("%s is not among the recipients of its shard", ck)
		}
	}
	if total != 4 {
		t.Errorf("%d subscribers in all, want 4", total)
	}
	if !rdb.SIsMember(ctx, s.BroadcastTold("b1", s.ShardOf("ck1")), "ck1").Val() {
		t.Error("ck1 is not among the people reached")
	}
	if v := rdb.HGetAll(ctx, s.BroadcastCounts("b1", 0)).Val(); v["queued"] != "4" || v["sent"] != "1" {
		t.Errorf("counts %v, want queued 4 sent 1 in shard 0", v)
	}
	if v := rdb.HGet(ctx, s.Broadcast("b1"), "status").Val(); v != "sent" {
		t.Errorf("broadcast status %q, want it left alone", v)
	}

	// The outbox.
	streamHas(t, rdb, d.reply, func(ck string) string { return s.ReplyStream(s.ShardOf(ck)) })
	streamHas(t, rdb, d.bulk, func(ck string) string { return s.BulkStream(s.ShardOf(ck)) })
	for ck, score := range map[string]float64{"ck1": 5, "ck3": 6} {
		id := map[string]string{"ck1": "e5", "ck3": "e6"}[ck]
		if sc, err := rdb.ZScore(ctx, s.Delayed(s.ShardOf(ck)), entry(id, ck)).Result(); err != nil || sc != score {
			t.Errorf("delayed %s: %v, %v; want %v", id, sc, err, score)
		}
	}
	if v := rdb.HGet(ctx, s.Delivery("SM1"), "status").Val(); v != "sent" {
		t.Errorf("delivery status %q, want sent", v)
	}
	within(t, rdb, s.Delivery("SM1"), 30*24*time.Hour)
	within(t, rdb, s.SentParts("e1"), 7*24*time.Hour)
	within(t, rdb, s.Attempt("e1"), 7*24*time.Hour)
	if v := rdb.Get(ctx, s.ShardCount()).Val(); v != "16" {
		t.Errorf("shard count recorded %q, want 16", v)
	}

	if n, err := keys.Migrate(ctx, rdb, s); err != nil || n != 0 {
		t.Errorf("second migrate = %d, %v; want 0", n, err)
	}
	if again := redistest.KeysUnder(t, rdb, prefix); !slices.Equal(again, after) {
		t.Errorf("the second run changed the keys: %v, then %v", after, again)
	}
}

// within fails the test unless key expires within max (and does expire).
func within(t *testing.T, rdb redis.UniversalClient, key string, max time.Duration) {
	t.Helper()
	if ttl := rdb.PTTL(context.Background(), key).Val(); ttl <= 0 || ttl > max {
		t.Errorf("%s expires in %v, want its former expiry (at most %v)", key, ttl, max)
	}
}

// streamHas fails the test unless each entry (id → contact key) is, once,
// in the stream of its contact's shard, with its field "e", and the
// streams hold nothing else.
func streamHas(t *testing.T, rdb redis.UniversalClient, entries map[string]string, stream func(ck string) string) {
	t.Helper()
	ctx := context.Background()
	streams := map[string]int{}
	for id, ck := range entries {
		streams[stream(ck)]++
		got := rdb.XRange(ctx, stream(ck), id, id).Val()
		if len(got) != 1 {
			t.Errorf("entry %s of %s is not in %s", id, ck, stream(ck))
			continue
		}
		if e, _ := got[0].Values["e"].(string); !strings.Contains(e, `"ck":"`+ck+`"`) {
			t.Errorf("entry %s holds %q, want the entry to %s", id, e, ck)
		}
	}
	for k, n := range streams {
		if l := rdb.XLen(ctx, k).Val(); l != int64(n) {
			t.Errorf("%s holds %d entries, want %d", k, l, n)
		}
	}
}

// A run interrupted after copying some members and entries goes on from
// there: what was copied is kept, nothing is copied twice.
func TestMigrateResumesAnInterruptedSplit(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	s := keys.New(prefix)
	rdb.SAdd(ctx, prefix+"site:rabat:subscribers", "ck1", "ck2", "ck3")
	rdb.SAdd(ctx, s.SubscribersOf("rabat", "ck1"), "ck1") // copied before
	entries := map[string]string{}
	for i, ck := range []string{"ck1", "ck2", "ck1"} {
		id := rdb.XAdd(ctx, &redis.XAddArgs{Stream: prefix + "{o}:reply", Values: []any{"e", entry("r"+strconv.Itoa(i), ck)}}).Val()
		entries[id] = ck
		if i == 0 { // copied before, with its id
			rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.ReplyStream(s.ShardOf(ck)), ID: id, Values: []any{"e", entry("r0", ck)}})
		}
	}
	rdb.Set(ctx, s.ShardCount(), "16", 0)
	n, err := keys.Migrate(ctx, rdb, s)
	if err != nil || n != 2 {
		t.Fatalf("migrate = %d, %v; want 2", n, err)
	}
	for _, ck := range []string{"ck1", "ck2", "ck3"} {
		if !rdb.SIsMember(ctx, s.SubscribersOf("rabat", ck), ck).Val() {
			t.Errorf("%s is not among the subscribers of its shard", ck)
		}
	}
	streamHas(t, rdb, entries, func(ck string) string { return s.ReplyStream(s.ShardOf(ck)) })
	for _, k := range redistest.KeysUnder(t, rdb, prefix) {
		if s.Family(k) == nil {
			t.Errorf("%s belongs to no family", k)
		}
	}
}

// With no key of a former layout, Migrate writes nothing; keys of this
// layout, unknown keys, keys named like a former family but of another
// type and keys under another prefix are left alone.
func TestMigrateLeavesOtherKeysAlone(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	s := keys.New(prefix + "app:")
	p := s.Prefix()
	rdb.HSet(ctx, s.ContactState("ck1"), "lang", "ar")
	rdb.SAdd(ctx, s.SubscribersOf("rabat", "ck1"), "ck1")
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.BulkStream(3), Values: []any{"e", entry("b", "ck1")}})
	rdb.Set(ctx, p+"site:rabat:subscribers", "not a set", 0)
	rdb.Set(ctx, p+"{c:ck1}:other", "x", 0)
	rdb.Set(ctx, p+"unrelated", "x", 0)
	rdb.Set(ctx, prefix+"{c:ck1}:state", "x", 0) // another prefix
	before := redistest.KeysUnder(t, rdb, prefix)
	if n, err := keys.Migrate(ctx, rdb, s); err != nil || n != 0 {
		t.Fatalf("migrate = %d, %v; want 0", n, err)
	}
	// Only the layout is recorded.
	after := redistest.KeysUnder(t, rdb, prefix)
	if !slices.Equal(slices.DeleteFunc(slices.Clone(after), func(k string) bool { return k == s.Layout() }), before) || len(after) != len(before)+1 {
		t.Errorf("keys %v became %v", before, after)
	}
}

// Once a run has moved everything, the next ones return at once: a key
// of a former layout written afterwards (by an instance of the former
// version left running, which the doc says to stop) is not looked for.
func TestMigrateRecordsTheLayout(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	s := keys.New(prefix)
	rdb.HSet(ctx, prefix+"{c:ck1}:state", "v", 1)
	if n, err := keys.Migrate(ctx, rdb, s); err != nil || n != 1 {
		t.Fatalf("migrate = %d, %v; want 1", n, err)
	}
	if v := rdb.Get(ctx, s.Layout()).Val(); v != keys.CurrentLayout {
		t.Fatalf("layout %q, want %q", v, keys.CurrentLayout)
	}
	rdb.HSet(ctx, prefix+"{c:ck2}:state", "v", 1)
	if n, err := keys.Migrate(ctx, rdb, s); err != nil || n != 0 {
		t.Fatalf("second migrate = %d, %v; want 0", n, err)
	}
	if rdb.Exists(ctx, prefix+"{c:ck2}:state").Val() != 1 {
		t.Error("a run after the layout was recorded scanned the keyspace")
	}
}

// Data laid out in another shard count is not spread over a second one.
func TestMigrateRefusesAnotherShardCount(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	s := keys.New(prefix).WithShards(4)
	rdb.Set(ctx, s.ShardCount(), "8", 0)
	rdb.HSet(ctx, prefix+"{c:ck1}:state", "lang", "ar")
	if n, err := keys.Migrate(ctx, rdb, s); err == nil || n != 0 {
		t.Fatalf("migrate = %d, %v; want an error", n, err)
	}
	if rdb.Exists(ctx, prefix+"{c:ck1}:state").Val() != 1 {
		t.Error("the old key moved")
	}
	if got := redistest.KeysUnder(t, rdb, prefix); len(got) != 2 {
		t.Errorf("keys %v, want the old state and the count only", got)
	}
}

// A key an instance of the former version writes after the layout was
// recorded (a rolling upgrade) is moved by the next run: the fixed-name
// keys that version writes bring the whole migration back.
func TestMigrateAgainAfterAFormerInstanceWrote(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	s := keys.New(prefix)
	if n, err := keys.Migrate(ctx, rdb, s); err != nil || n != 0 {
		t.Fatalf("first migrate = %d, %v", n, err)
	}
	rdb.HSet(ctx, prefix+"{c:ck9}:state", "v", 1)
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: prefix + "{o}:reply", Values: []any{"e", entry("r9", "ck9")}})
	if n, err := keys.Migrate(ctx, rdb, s); err != nil || n != 2 {
		t.Fatalf("migrate after a former instance wrote = %d, %v; want 2", n, err)
	}
	redistest.OnlyDeclared(t, rdb, prefix, s.ContactState("ck9"), s.ReplyStream(s.ShardOf("ck9")), s.Layout(), s.ShardCount())
}
