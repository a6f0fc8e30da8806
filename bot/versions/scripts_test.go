package versions

import (
	"context"
	"testing"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
)

// The KEYS/ARGV contract of the script keeping a version: it writes the
// new version, the list and the current number, deletes only the versions
// it is given in KEYS (never the current one), and publishes on the
// channel named in ARGV — a channel, not a key.
func TestStoreScriptContract(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	k := keys.New(prefix)
	sub := rdb.Subscribe(ctx, k.ContentChanged())
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	base := []string{k.ContentVersion("2"), k.ContentVersions(), k.ContentCurrent()}
	if err := storeScript.Run(ctx, rdb, base, 2, `{"v":2}`, k.ContentChanged()).Err(); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.ReceiveMessage(ctx); err != nil || m.Payload != "2" {
		t.Errorf("published %v, %v; want 2", m, err)
	}
	// Version 3, dropping 2 — and 3 itself, given by mistake, is kept.
	ks := []string{k.ContentVersion("3"), k.ContentVersions(), k.ContentCurrent(), k.ContentVersion("2"), k.ContentVersion("3")}
	if err := storeScript.Run(ctx, rdb, ks, 3, `{"v":3}`, k.ContentChanged(), 2, 3).Err(); err != nil {
		t.Fatal(err)
	}
	redistest.OnlyDeclared(t, rdb, prefix, k.ContentVersion("3"), k.ContentVersions(), k.ContentCurrent())
	if got := rdb.ZRange(ctx, k.ContentVersions(), 0, -1).Val(); len(got) != 1 || got[0] != "3" {
		t.Errorf("versions listed %v, want [3]", got)
	}
}
