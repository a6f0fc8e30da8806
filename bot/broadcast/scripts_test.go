package broadcast

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
)

// onEach runs a script's contract on one node and on a Cluster: there,
// keys of more than one slot are refused (CROSSSLOT), so the contract
// holds only if the keys it declares share one.
func onEach(t *testing.T, contract func(t *testing.T, rdb redis.UniversalClient, prefix string)) {
	for _, at := range []struct{ name, url string }{{"node", redistest.URL(t)}, {"cluster", redistest.SharedCluster(t).URL}} {
		t.Run(at.name, func(t *testing.T) {
			rdb, prefix := redistest.NewAt(t, at.url)
			contract(t, rdb, prefix)
		})
	}
}

// The KEYS/ARGV contract of enqueue.lua: a shard's recipients, its share
// of the counts, its bulk stream and its share of the set the contacts
// were read from; each contact once.
func TestEnqueueScriptContract(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		k := keys.New(prefix)
		const shard = 3
		src := k.Subscribers("nador", shard)
		rdb.SAdd(ctx, src, "c1", "c2", "c3")
		declared := []string{k.BroadcastRecipients("b1", shard), k.BroadcastCounts("b1", shard), k.BulkStream(shard), src}
		// Each contact with the fields it adds to the counts when new.
		args := []any{"c1", "e", `{"ck":"c1"}`, 1, "n", "c2", "s", "", 2, "n", "s:stopped", "c3", "n", "", 3, "n", "s", "s:gone"}
		if n, err := enqueueScript.Run(ctx, rdb, declared, args...).Int(); err != nil || n != 1 {
			t.Fatalf("enqueue = %d, %v; want 1", n, err)
		}
		if n, err := enqueueScript.Run(ctx, rdb, declared, args...).Int(); err != nil || n != 0 {
			t.Errorf("enqueue again = %d, %v; want 0: each person once", n, err)
		}
		redistest.OnlyDeclared(t, rdb, prefix, declared...)
		counts := rdb.HGetAll(ctx, k.BroadcastCounts("b1", shard)).Val()
		if want := map[string]string{"n": "3", "s": "1", "s:stopped": "1", "s:gone": "1"}; !maps.Equal(counts, want) {
			t.Errorf("counts %v, want %v: the fields given, once a contact", counts, want)
		}
		if n := rdb.XLen(ctx, k.BulkStream(shard)).Val(); n != 1 {
			t.Errorf("bulk stream holds %d entries, want 1", n)
		}
		if rdb.SIsMember(ctx, src, "c3").Val() {
			t.Error("a contact gone is still in the source set")
		}
	})
}

// The KEYS/ARGV contract of progress.lua: the broadcast's hash and its
// lock; a mark recorded and the lock renewed only for its holder, and
// never once cancelled.
func TestProgressScriptContract(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		k := keys.New(prefix)
		declared := []string{k.Broadcast("b1"), k.BroadcastLock("b1")}
		rdb.HSet(ctx, k.Broadcast("b1"), "status", "sending")
		rdb.Set(ctx, k.BroadcastLock("b1"), "me", time.Second)
		progress := func(holder, mark string) int {
			t.Helper()
			n, err := progressScript.Run(ctx, rdb, declared, holder, 60000, "cur:x", mark).Int()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := progress("other", "7"); n != progressLost {
			t.Errorf("another holder: %d, want %d", n, progressLost)
		}
		if got := rdb.HGet(ctx, k.Broadcast("b1"), "cur:x").Val(); got != "" {
			t.Errorf("another holder recorded its mark %q", got)
		}
		if n := progress("me", "12"); n != progressKept {
			t.Errorf("the holder: %d, want %d", n, progressKept)
		}
		if got := rdb.HGet(ctx, k.Broadcast("b1"), "cur:x").Val(); got != "12" {
			t.Errorf("mark %q, want 12", got)
		}
		if ttl := rdb.PTTL(ctx, k.BroadcastLock("b1")).Val(); ttl < 50*time.Second {
			t.Errorf("lock expires in %v: not renewed", ttl)
		}
		rdb.HSet(ctx, k.Broadcast("b1"), "status", "cancelled")
		if n := progress("me", "done"); n != progressCancelled {
			t.Errorf("cancelled: %d, want %d", n, progressCancelled)
		}
		if got := rdb.HGet(ctx, k.Broadcast("b1"), "cur:x").Val(); got != "12" {
			t.Errorf("mark %q after the cancel, want 12 still", got)
		}
		redistest.OnlyDeclared(t, rdb, prefix, declared...)
	})
}

// The KEYS/ARGV contract of union.lua: where the union goes, then the
// sets of one shard; the union expires, and an empty one is not made.
func TestUnionScriptContract(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, rdb redis.UniversalClient, prefix string) {
		ctx := context.Background()
		k := keys.New(prefix)
		const shard = 5
		a, b, union := k.BroadcastTold("a", shard), k.BroadcastTold("b", shard), k.BroadcastReach("u", shard)
		rdb.SAdd(ctx, a, "c1", "c2")
		rdb.SAdd(ctx, b, "c2", "c3")
		if n, err := unionScript.Run(ctx, rdb, []string{union, a, b}, 30000).Int(); err != nil || n != 3 {
			t.Fatalf("union = %d, %v; want 3", n, err)
		}
		if ttl := rdb.PTTL(ctx, union).Val(); ttl <= 0 || ttl > 30*time.Second {
			t.Errorf("the union expires in %v, want within 30s", ttl)
		}
		redistest.OnlyDeclared(t, rdb, prefix, union, a, b)
		empty := k.BroadcastReach("v", shard)
		if n, err := unionScript.Run(ctx, rdb, []string{empty, k.BroadcastTold("none", shard)}, 30000).Int(); err != nil || n != 0 {
			t.Errorf("union of nothing = %d, %v; want 0", n, err)
		}
		redistest.OnlyDeclared(t, rdb, prefix, union, a, b)
	})
}

// The broadcast's one-key scripts: status and lock release.
func TestBroadcastOneKeyScriptsContract(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	k := keys.New(prefix)
	rdb.HSet(ctx, k.Broadcast("b1"), "status", "scheduled")
	rdb.Set(ctx, k.BroadcastLock("b1"), "me", time.Minute)
	if n, _ := setStatus.Run(ctx, rdb, []string{k.Broadcast("b1")}, "sending").Int(); n != 1 {
		t.Errorf("setStatus = %d, want 1", n)
	}
	if n, _ := unlock.Run(ctx, rdb, []string{k.BroadcastLock("b1")}, "other").Int(); n != 0 {
		t.Errorf("another holder released the lock: %d", n)
	}
	redistest.OnlyDeclared(t, rdb, prefix, k.Broadcast("b1"), k.BroadcastLock("b1"))
	if n, _ := unlock.Run(ctx, rdb, []string{k.BroadcastLock("b1")}, "me").Int(); n != 1 {
		t.Errorf("unlock = %d, want 1", n)
	}
	redistest.OnlyDeclared(t, rdb, prefix, k.Broadcast("b1"))
}
