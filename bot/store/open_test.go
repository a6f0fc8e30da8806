package store_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

// TestConnectTimeouts: every client Connect makes has bounded dial, read,
// write and pool waits and ends a call at its context's deadline; REDIS_URL
// may change a timeout, not remove it.
func TestConnectTimeouts(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	base := redistest.URL(t)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	for _, tt := range []struct {
		name, url               string
		dial, read, write, pool time.Duration
	}{
		{"defaults", base, store.DialTimeout, store.ReadTimeout, store.WriteTimeout, store.PoolTimeout},
		{"from REDIS_URL", base + sep + "dial_timeout=1s&read_timeout=1500ms&write_timeout=2s&pool_timeout=2500ms", time.Second, 1500 * time.Millisecond, 2 * time.Second, 2500 * time.Millisecond},
		{"embedded", "", store.DialTimeout, store.ReadTimeout, store.WriteTimeout, store.PoolTimeout},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rdb, closeRedis, err := store.Connect(context.Background(), tt.url, 0, log)
			if err != nil {
				t.Fatal(err)
			}
			defer closeRedis()
			var dial, read, write, pool time.Duration
			var ctxTO bool
			switch c := rdb.(type) {
			case *redis.Client:
				o := c.Options()
				dial, read, write, pool, ctxTO = o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.ContextTimeoutEnabled
			case *redis.ClusterClient: // REDIS_URL (or REDISTEST) names a Cluster
				o := c.Options()
				dial, read, write, pool, ctxTO = o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.ContextTimeoutEnabled
			default:
				t.Fatalf("Connect gave a %T", rdb)
			}
			if dial != tt.dial || read != tt.read || write != tt.write || pool != tt.pool || !ctxTO {
				t.Errorf("dial %v read %v write %v pool %v, context deadlines honoured %v; want %v %v %v %v and true",
					dial, read, write, pool, ctxTO, tt.dial, tt.read, tt.write, tt.pool)
			}
		})
	}
	for _, param := range []string{"read_timeout=0", "write_timeout=-1", "dial_timeout=-5s", "pool_timeout=0s"} {
		_, _, err := store.Connect(context.Background(), base+sep+param, 0, log)
		if name, _, _ := strings.Cut(param, "="); err == nil || !strings.Contains(err.Error(), "REDIS_URL: "+name) {
			t.Errorf("REDIS_URL with %s: %v, want a refusal naming %s", param, err, name)
		}
	}
}
