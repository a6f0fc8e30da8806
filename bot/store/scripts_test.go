package store

import (
	"context"
	"fmt"
	"testing"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
)

// The KEYS/ARGV contract of turn.lua: it writes only the keys it is
// given — the state, the seen ids, the outbox stream, the conversation and
// one key a write — and answers 1 done, 0 on a stale version, 2 for a
// message already handled. Every key is in the person's shard (the
// request's id drawn there): on a Cluster it runs in one slot.
func TestTurnScriptContract(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	k := keys.New(prefix)
	i := k.ShardOf("c1")
	n := 0
	r1 := k.DrawInShard(i, func() string { n++; return fmt.Sprintf("r%d", n) })
	declared := []string{k.ContactState("c1"), k.Seen("c1"), k.ReplyStream(i), k.Dialog("c1"),
		k.SubscribersOf("nador", "c1"), k.Request(r1), k.OpenRequests(i), k.RequestsOf("c1")}
	for _, key := range declared {
		if keys.Slot(key) != keys.Slot(declared[0]) {
			t.Fatalf("%s is not in the person's slot", key)
		}
	}
	args := []any{0, `{"lang":"fr"}`, 60000, "sealed", "sms", 60000, `{"at":"menu"}`, 60000,
		"SM1", 1700000000000, 100, 1, `{"e":1}`,
		"SADD", 1, "c1",
		"SET", 3, `{"id":"` + r1 + `"}`, "PX", 60000,
		"ZADD", 2, 1, r1,
		"SADD", 1, r1}
	if n, err := turnScript.Run(ctx, rdb, declared, args...).Int(); err != nil || n != 1 {
		t.Fatalf("turn = %d, %v; want 1", n, err)
	}
	redistest.OnlyDeclared(t, rdb, prefix, declared...)
	for _, key := range declared {
		if rdb.Exists(ctx, key).Val() != 1 {
			t.Errorf("%s was not written", key)
		}
	}
	if n, _ := turnScript.Run(ctx, rdb, declared, args...).Int(); n != 0 {
		t.Errorf("a turn on version 0 again = %d, want 0 (conflict)", n)
	}
	args[0] = 1
	if n, _ := turnScript.Run(ctx, rdb, declared, args...).Int(); n != 2 {
		t.Errorf("a turn with a handled message id = %d, want 2 (duplicate)", n)
	}
	args[8], args[13] = "SM2", "DEL"
	if err := turnScript.Run(ctx, rdb, declared, args...).Err(); err == nil {
		t.Error("a write with a command not allowed was run")
	}
}

// The small scripts of the store touch their declared keys only.
func TestStoreOneKeyScriptsContract(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	k := keys.New(prefix)
	rdb.HSet(ctx, k.ContactState("c1"), "v", 1)
	rdb.Set(ctx, k.Request("r1"), `{"id":"r1","open":true}`, 0)
	rdb.Set(ctx, k.Keyring(), "old", 0)
	if err := setIfKept.Run(ctx, rdb, []string{k.ContactState("c1")}, "x", "undeliverable").Err(); err != nil {
		t.Fatal(err)
	}
	if n, _ := setIfKept.Run(ctx, rdb, []string{k.ContactState("gone")}, "x", "undeliverable").Int(); n != 0 {
		t.Errorf("setIfKept on a missing state = %d, want 0", n)
	}
	if n, err := markUrgentScript.Run(ctx, rdb, []string{k.Request("r1"), k.UrgentRequests(k.ShardOf("r1"))}, "r1").Int(); err != nil || n != 1 {
		t.Errorf("markUrgent = %d, %v; want 1", n, err)
	}
	if n, _ := markUrgentScript.Run(ctx, rdb, []string{k.Request("gone"), k.UrgentRequests(k.ShardOf("gone"))}, "gone").Int(); n != 0 {
		t.Errorf("markUrgent on a missing request = %d, want 0", n)
	}
	if n, err := rewrap.Run(ctx, rdb, []string{k.Keyring()}, "old", "new").Int(); err != nil || n != 1 {
		t.Errorf("rewrap = %d, %v; want 1", n, err)
	}
	if n, _ := rewrap.Run(ctx, rdb, []string{k.Keyring()}, "old", "newer").Int(); n != 0 {
		t.Errorf("rewrap of a keyring changed meanwhile = %d, want 0", n)
	}
	redistest.OnlyDeclared(t, rdb, prefix, k.ContactState("c1"), k.Request("r1"), k.UrgentRequests(k.ShardOf("r1")), k.Keyring())
}
