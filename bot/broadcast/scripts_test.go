package broadcast

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
)

// The KEYS/ARGV contract of enqueue.lua: the recipients, the counts, the
// bulk stream and the set the contacts were read from; each contact once.
// (The source set is a site's subscribers, outside {o}: the script crosses
// hash tags and runs on one node or Sentinel.)
func TestEnqueueScriptContract(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	k := keys.New(prefix)
	rdb.SAdd(ctx, k.Subscribers("nador"), "c1", "c2", "c3")
	declared := []string{k.BroadcastRecipients("b1"), k.BroadcastCounts("b1"), k.BulkStream(), k.Subscribers("nador")}
	// Each contact with the fields it adds to the counts when new.
	args := []any{"c1", "e", `{"ck":"c1"}`, 1, "n", "c2", "s", "", 2, "n", "s:stopped", "c3", "n", "", 3, "n", "s", "s:gone"}
	if n, err := enqueueScript.Run(ctx, rdb, declared, args...).Int(); err != nil || n != 1 {
		t.Fatalf("enqueue = %d, %v; want 1", n, err)
	}
	if n, _ := enqueueScript.Run(ctx, rdb, declared, args...).Int(); n != 0 {
		t.Errorf("enqueue again = %d, want 0: each person once", n)
	}
	redistest.OnlyDeclared(t, rdb, prefix, declared...)
	counts := rdb.HGetAll(ctx, k.BroadcastCounts("b1")).Val()
	if want := map[string]string{"n": "3", "s": "1", "s:stopped": "1", "s:gone": "1"}; !maps.Equal(counts, want) {
		t.Errorf("counts %v, want %v: the fields given, once a contact", counts, want)
	}
	if n := rdb.XLen(ctx, k.BulkStream()).Val(); n != 1 {
		t.Errorf("bulk stream holds %d entries, want 1", n)
	}
	if rdb.SIsMember(ctx, k.Subscribers("nador"), "c3").Val() {
		t.Error("a contact gone is still in the source set")
	}
}

// The broadcast's one-key scripts: status, lock release and renewal.
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
	if n, _ := extend.Run(ctx, rdb, []string{k.BroadcastLock("b1")}, "other", 60000).Int(); n != 0 {
		t.Errorf("another holder extended the lock: %d", n)
	}
	if n, _ := extend.Run(ctx, rdb, []string{k.BroadcastLock("b1")}, "me", 60000).Int(); n != 1 {
		t.Errorf("extend = %d, want 1", n)
	}
	redistest.OnlyDeclared(t, rdb, prefix, k.Broadcast("b1"), k.BroadcastLock("b1"))
	if n, _ := unlock.Run(ctx, rdb, []string{k.BroadcastLock("b1")}, "me").Int(); n != 1 {
		t.Errorf("unlock = %d, want 1", n)
	}
	redistest.OnlyDeclared(t, rdb, prefix, k.Broadcast("b1"))
}
