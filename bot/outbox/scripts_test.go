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

// The KEYS/ARGV contract of move.lua: due entries go from the delayed set
// to their priority's stream; nothing else is touched.
func TestMoveScriptContract(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	k := NewKeys(prefix)
	rdb.ZAdd(ctx, k.delayed(), zmember(1, `{"prio":"reply","id":"a"}`), zmember(2, `{"prio":"bulk","id":"b"}`), zmember(5000, `{"prio":"bulk","id":"c"}`))
	declared := []string{k.delayed(), k.Stream(Reply), k.Stream(Bulk)}
	if n, err := moveScript.Run(ctx, rdb, declared, 100, 10).Int(); err != nil || n != 2 {
		t.Fatalf("move = %d, %v; want 2", n, err)
	}
	redistest.OnlyDeclared(t, rdb, prefix, declared...)
	if rdb.XLen(ctx, k.Stream(Reply)).Val() != 1 || rdb.XLen(ctx, k.Stream(Bulk)).Val() != 1 || rdb.ZCard(ctx, k.delayed()).Val() != 1 {
		t.Error("the due entries did not move to their streams")
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
	k := NewKeys(prefix)
	msg, counts := k.status("SM1"), k.BroadcastCounts("b1")
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
	early := k.status("SM3")
	if _, err := run([]string{early, early}, "failed", 4, "", 60000, "", "", "", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := run([]string{early, counts}, "queued", 1, "", 60000, "b1", "e3", "c3", "sms", "b1"); err != nil {
		t.Fatal(err)
	}
	if got, want := rdb.HGetAll(ctx, counts).Val(), map[string]string{"d1": "1", "d2": "1", "f": "1"}; !maps.Equal(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	// A message of no broadcast: KEYS[2] is the message itself.
	other := k.status("SM2")
	if n, err := run([]string{other, other}, "delivered", 4, "", 60000, "", "e2", "c2", "sms", ""); err != nil || n != -1 {
		t.Errorf("record without a broadcast = %d, %v; want -1", n, err)
	}
	redistest.OnlyDeclared(t, rdb, prefix, msg, counts, other, early)
	if n := rdb.HLen(ctx, counts).Val(); n != 3 {
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
