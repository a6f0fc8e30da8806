package outbox

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
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
	// The send recorded, then its final state.
	if n, err := statusScript.Run(ctx, rdb, declared, "sent", 3, "", 60000, "b1", "e1", "c1", "sms", "b1").Int(); err != nil || n != -1 {
		t.Fatalf("record = %d, %v; want -1", n, err)
	}
	if n, _ := statusScript.Run(ctx, rdb, []string{msg, msg}, "delivered", 4, "", 60000, "", "", "", "", "").Int(); n != -3 {
		t.Errorf("a callback not given the broadcast's counts = %d, want -3", n)
	}
	if n, err := statusScript.Run(ctx, rdb, declared, "delivered", 4, "", 60000, "b1", "", "", "", "").Int(); err != nil || n != 3 {
		t.Errorf("callback = %d, %v; want 3", n, err)
	}
	redistest.OnlyDeclared(t, rdb, prefix, declared...)
	if v := rdb.HGet(ctx, counts, "delivered").Val(); v != "1" {
		t.Errorf("delivered count %q, want 1", v)
	}
	// A message of no broadcast: KEYS[2] is the message itself.
	other := k.status("SM2")
	if n, err := statusScript.Run(ctx, rdb, []string{other, other}, "delivered", 4, "", 60000, "", "e2", "c2", "sms", "").Int(); err != nil || n != -1 {
		t.Errorf("record without a broadcast = %d, %v; want -1", n, err)
	}
	redistest.OnlyDeclared(t, rdb, prefix, msg, counts, other)
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
