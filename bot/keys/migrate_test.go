package keys_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// Keys under their former names move to the new ones, with their expiry;
// a new key already there wins; other keys are left alone; a second run
// moves nothing.
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
	want := []string{s.Request("r1"), s.RequestNotes("r1"), s.OpenRequests(), s.APITokenNames(), s.APIToken("h1"),
		s.ContentCurrent(), s.ContentVersion("3"), s.ContentSeq(), s.ContactState("c1")}
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
