package distribution

import (
	"context"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
)

// The KEYS/ARGV contract of the lock release: KEYS[1] the lock, deleted
// only for its holder (ARGV[1]).
func TestReleaseLockContract(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	lock := keys.New(prefix).DistributionLock("d1")
	rdb.Set(ctx, lock, "me", time.Minute)
	if n, _ := releaseLock.Run(ctx, rdb, []string{lock}, "other").Int(); n != 0 {
		t.Errorf("another holder released the lock: %d", n)
	}
	redistest.OnlyDeclared(t, rdb, prefix, lock)
	if n, _ := releaseLock.Run(ctx, rdb, []string{lock}, "me").Int(); n != 1 {
		t.Errorf("release = %d, want 1", n)
	}
	if len(redistest.KeysUnder(t, rdb, prefix)) != 0 {
		t.Error("the lock is still there")
	}
}
