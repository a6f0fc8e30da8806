package outbox

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/tally"
)

// The KEYS/ARGV contract of move.lua: due entries go from a shard's
// delayed set to its stream of their priority; nothing else is touched.
func TestMoveScriptContract(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	k := NewKeys(keys.New(prefix))
	const shard = 3
	rdb.ZAdd(ctx, k.delayed(shard), zmember(1, `{"prio":"reply","id":"a"}`), zmember(2, `{"prio":"bulk","id":"b"}`), zmember(5000, `{"prio":"bulk","id":"c"}`))
	declared := []string{k.delayed(shard), k.Stream(Reply, shard), k.Stream(Bulk, shard)}
	if n, err := moveScript.Run(ctx, rdb, declared, 100, 10).Int(); err != nil || n != 2 {
		t.Fatalf("move = %d, %v; want 2", n, err)
	}
	redistest.OnlyDeclared(t, rdb, prefix, declared...)
	if rdb.XLen(ctx, k.Stream(Reply, shard)).Val() != 1 || rdb.XLen(ctx, k.Stream(Bulk, shard)).Val() != 1 || rdb.ZCard(ctx, k.delayed(shard)).Val() != 1 {
		t.Error("the due entries did not move to their streams")
	}
}

// The keys each script and transaction of the outbox is given share one
// slot, in every shard: a Cluster refuses them otherwise (CROSSSLOT).
func TestScriptKeysShareASlot(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 16, 1024} {
		k := NewKeys(keys.New("p:").WithShards(n))
		for i := range n {
			same(t, "move.lua", k.delayed(i), k.Stream(Reply, i), k.Stream(Bulk, i))
			// finish: a broadcast's share of counts and of who it reached,
			// with the stream acknowledged.
			same(t, "finish", k.Stream(Bulk, i), k.Stream(Reply, i), k.BroadcastCounts("b1", i), k.BroadcastTold("b1", i))
		}
		for _, id := range []string{"SM1", "SMffffffffffffffffffffffffffffffff", "P0", "5551234"} {
			same(t, "status.lua", k.status(id), k.BroadcastCounts("b1", k.ShardOf(id)))
		}
		for _, ck := range []string{"t:42", "s:+212612345678", ""} {
			e := Entry{Contact: ck}
			same(t, "a retry", k.delayed(k.shard(e)), k.StreamFor(Bulk, ck), k.StreamFor(Reply, ck), k.BroadcastToldOf("b1", ck))
		}
		id := NewID()
		same(t, "progress", k.done(id), k.attempt(id))
	}
}

func same(t *testing.T, what string, ks ...string) {
	t.Helper()
	for _, k := range ks[1:] {
		if keys.Slot(k) != keys.Slot(ks[0]) {
			t.Errorf("%s: %s (slot %d) and %s (slot %d) are in different slots", what, ks[0], keys.Slot(ks[0]), k, keys.Slot(k))
		}
	}
}

// The KEYS/ARGV contract of status.lua: the message hash and the counts
// of the broadcast it is of, both given as KEYS; called with another
// broadcast's (or none) once the message names one, it writes nothing and
// answers -3.
func TestStatusScriptContract(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	k := NewKeys(keys.New(prefix))
	// The counts in the message's shard: the script's keys share a slot.
	countsOf := func(sid string) string { return k.BroadcastCounts("b1", k.ShardOf(sid)) }
	msg, counts := k.status("SM1"), countsOf("SM1")
	declared := []string{msg, counts}
	// What each final state adds to the counts: "delivered" two fields,
	// "failed" one, "read" none (ARGV[10..]).
	finals := []any{"delivered", 2, "d1", "d2", "failed", 1, "f", "read", 0}
	run := func(keys []string, args ...any) (int, error) {
		return statusScript.Run(ctx, rdb, keys, append(args, finals...)...).Int()
	}
	// The send recorded, then its final state.
	if n, err := run(declared, "sent", 3, "", 60000, "b1", "e1", "c1", "sms", "b1"); err != nil || n != -1 {
		t.Fatalf("record = %d, %v; want -1", n, err)
	}
	if n, _ := run([]string{msg, msg}, "delivered", 4, "", 60000, "", "", "", "", ""); n != -3 {
		t.Errorf("a callback not given the broadcast's counts = %d, want -3", n)
	}
	if n, err := run(declared, "delivered", 4, "", 60000, "b1", "", "", "", ""); err != nil || n != 3 {
		t.Errorf("callback = %d, %v; want 3", n, err)
	}
	if n, err := run(declared, "failed", 4, "", 60000, "b1", "", "", "", ""); err != nil || n != -2 {
		t.Errorf("a later final callback = %d, %v; want -2 (not moved)", n, err)
	}
	redistest.OnlyDeclared(t, rdb, prefix, declared...)
	if got, want := rdb.HGetAll(ctx, counts).Val(), map[string]string{"d1": "1", "d2": "1"}; !maps.Equal(got, want) {
		t.Errorf("counts %v, want %v: the fields given for delivered, once", got, want)
	}
	// A final state counted with the fields given for it, from the state
	// stored when the send is recorded after the callback.
	early, earlyCounts := k.status("SM3"), countsOf("SM3")
	if _, err := run([]string{early, early}, "failed", 4, "", 60000, "", "", "", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := run([]string{early, earlyCounts}, "queued", 1, "", 60000, "b1", "e3", "c3", "sms", "b1"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"f": "1"}
	if earlyCounts == counts {
		want = map[string]string{"d1": "1", "d2": "1", "f": "1"}
	}
	if got := rdb.HGetAll(ctx, earlyCounts).Val(); !maps.Equal(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	// A message of no broadcast: KEYS[2] is the message itself.
	other := k.status("SM2")
	if n, err := run([]string{other, other}, "delivered", 4, "", 60000, "", "e2", "c2", "sms", ""); err != nil || n != -1 {
		t.Errorf("record without a broadcast = %d, %v; want -1", n, err)
	}
	redistest.OnlyDeclared(t, rdb, prefix, msg, counts, other, early, earlyCounts)
	n := rdb.HLen(ctx, counts).Val()
	if counts != earlyCounts {
		n += rdb.HLen(ctx, earlyCounts).Val()
	}
	if n != 3 {
		t.Errorf("the counts hold %d fields, want 3: a message of no broadcast adds none", n)
	}
}

// finalCounts gives status.lua every final state, each with the fields
// of its event in package tally; no other state.
func TestFinalCountsAreTallysEvents(t *testing.T) {
	t.Parallel()
	got := map[string][]string{}
	for i := 0; i < len(finalCounts); {
		st, n := finalCounts[i].(string), finalCounts[i+1].(int)
		for _, f := range finalCounts[i+2 : i+2+n] {
			got[st] = append(got[st], f.(string))
		}
		i += 2 + n
	}
	want := map[string][]string{
		"delivered":   tally.Fields(tally.Delivered),
		"read":        tally.Fields(tally.Delivered),
		"failed":      tally.Fields(tally.Failed),
		"undelivered": tally.Fields(tally.Failed),
		"canceled":    tally.Fields(tally.Failed),
	}
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("finalCounts %v, want %v", got, want)
	}
}

// The KEYS/ARGV contract of shared.lua and the pause script: the rate's
// key and its pause key, nothing else.
func TestSharedRateScriptsContract(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	s := keys.New(prefix)
	declared := []string{s.Rate("sms"), s.RatePause("sms")}
	now := time.Now().UnixMilli()
	if ms, err := sharedScript.Run(ctx, rdb, declared, now, 1000, 0, 5000, 1000).Int(); err != nil || ms != 0 {
		t.Fatalf("first place = %d, %v; want 0 (go now)", ms, err)
	}
	if ms, _ := sharedScript.Run(ctx, rdb, declared, now, 1000, 0, 5000, 1000).Int(); ms != 1000 {
		t.Errorf("second place = %d, want 1000 ms to wait", ms)
	}
	if err := pauseScript.Run(ctx, rdb, declared[1:], now, now+2000, 1000).Err(); err != nil {
		t.Fatal(err)
	}
	if ms, _ := sharedScript.Run(ctx, rdb, declared, now, 1000, 0, 5000, 1000).Int(); ms != -2000 {
		t.Errorf("while paused = %d, want -2000", ms)
	}
	redistest.OnlyDeclared(t, rdb, prefix, declared...)
}

func zmember(score float64, m string) redis.Z { return redis.Z{Score: score, Member: m} }
