package store

import (
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestParseURL: each form of REDIS_URL gives its mode, addresses, database
// and the service's timeouts and pool, without connecting.
func TestParseURL(t *testing.T) {
	t.Parallel()
	base := 10 * runtime.GOMAXPROCS(0)
	for _, tt := range []struct {
		url   string
		mode  mode
		addrs []string
		db    int
		// timeouts: dial, read, write, pool
		timeouts [4]time.Duration
		pool     int
		master   string
	}{
		{url: "redis://10.0.0.1:6379/2", mode: modeNode, addrs: []string{"10.0.0.1:6379"}, db: 2,
			timeouts: [4]time.Duration{DialTimeout, ReadTimeout, WriteTimeout, PoolTimeout}, pool: base + 3},
		{url: "rediss://user:secret@redis.example:6380", mode: modeNode, addrs: []string{"redis.example:6380"},
			timeouts: [4]time.Duration{DialTimeout, ReadTimeout, WriteTimeout, PoolTimeout}, pool: base + 3},
		{url: "redis://10.0.0.1:6379/0?read_timeout=1s&pool_size=7", mode: modeNode, addrs: []string{"10.0.0.1:6379"},
			timeouts: [4]time.Duration{DialTimeout, time.Second, WriteTimeout, PoolTimeout}, pool: 7 + 3},
		{url: "redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000", mode: modeCluster,
			addrs:    []string{"10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"},
			timeouts: [4]time.Duration{DialTimeout, ReadTimeout, WriteTimeout, PoolTimeout}, pool: base + 3},
		{url: "redis://10.0.0.1:7000/0?addr=10.0.0.2:7000&dial_timeout=1500ms&write_timeout=2s&pool_timeout=3s", mode: modeCluster,
			addrs:    []string{"10.0.0.1:7000", "10.0.0.2:7000"},
			timeouts: [4]time.Duration{1500 * time.Millisecond, ReadTimeout, 2 * time.Second, 3 * time.Second}, pool: base + 3},
		{url: "redis://s1:26379?master_name=main&addr=s2:26379&addr=s3:26379", mode: modeSentinel,
			addrs: []string{"s1:26379", "s2:26379", "s3:26379"}, master: "main",
			timeouts: [4]time.Duration{DialTimeout, ReadTimeout, WriteTimeout, PoolTimeout}, pool: base + 3},
		{url: "redis://s1:26379/4?master_name=main&password=pw&read_timeout=2s", mode: modeSentinel,
			addrs: []string{"s1:26379"}, master: "main", db: 4,
			timeouts: [4]time.Duration{DialTimeout, 2 * time.Second, WriteTimeout, PoolTimeout}, pool: base + 3},
	} {
		t.Run(tt.url, func(t *testing.T) {
			got, err := parseURL(tt.url, 3)
			if err != nil {
				t.Fatal(err)
			}
			if got.mode != tt.mode {
				t.Fatalf("mode %s, want %s", got.mode, tt.mode)
			}
			var (
				addrs    []string
				db, pool int
				to       [4]time.Duration
				ctxTO    bool
				master   string
			)
			switch got.mode {
			case modeNode:
				o := got.node
				addrs, db, pool, ctxTO = []string{o.Addr}, o.DB, o.PoolSize, o.ContextTimeoutEnabled
				to = [4]time.Duration{o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout}
			case modeCluster:
				o := got.cluster
				addrs, pool, ctxTO = o.Addrs, o.PoolSize, o.ContextTimeoutEnabled
				to = [4]time.Duration{o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout}
			case modeSentinel:
				o := got.failover
				addrs, db, pool, ctxTO, master = o.SentinelAddrs, o.DB, o.PoolSize, o.ContextTimeoutEnabled, o.MasterName
				to = [4]time.Duration{o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout}
			}
			if !slices.Equal(addrs, tt.addrs) || db != tt.db || master != tt.master {
				t.Errorf("addrs %v db %d master %q, want %v %d %q", addrs, db, master, tt.addrs, tt.db, tt.master)
			}
			if to != tt.timeouts || pool != tt.pool || !ctxTO {
				t.Errorf("timeouts %v pool %d context deadlines %v, want %v %d true", to, pool, ctxTO, tt.timeouts, tt.pool)
			}
		})
	}
}

// TestParseURLRefusals: a REDIS_URL that is not one of the forms, or would
// lose data or hang, is refused with an error that names REDIS_URL and the
// problem, and never repeats the password.
func TestParseURLRefusals(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ url, want string }{
		{"http://10.0.0.1:6379", `scheme "http"`},
		{"10.0.0.1:6379", "not a URL"},
		{"localhost:6379", `scheme "localhost"`},
		{"redis://:secret@10.0.0.1:bad", "not a URL"},
		{"redis://10.0.0.1:6379/x", "invalid database number"},
		{"redis://10.0.0.1:6379?colour=blue", "unexpected option: colour"},
		{"redis://10.0.0.1:7000/3?addr=10.0.0.2:7000", "only database 0"},
		{"redis://10.0.0.1:7000?addr=10.0.0.2:7000&db=2", "only database 0"},
		{"redis://10.0.0.1:7000?addr=10.0.0.2", "addr"},
		{"redis://10.0.0.1:7000?addr=", "addr"},
		{"redis://10.0.0.1:7000?addr=10.0.0.2:7000&read_only=true", "read_only is not supported"},
		{"redis://10.0.0.1:7000?addr=10.0.0.2:7000&route_randomly=true", "route_randomly is not supported"},
		{"redis://s1:26379?master_name=", "master_name is empty"},
		{"redis://s1:26379?master_name=main&replica_only=true", "replica_only is not supported"},
		{"redis://s1:26379?master_name=main&route_by_latency=true", "route_by_latency is not supported"},
		{"redis://s1:26379?master_name=main&addr=s2", "addr"},
		{"redis://s1:26379?master_name=main&colour=blue", "unexpected option: colour"},
		{"unix:///run/redis.sock?addr=10.0.0.2:7000", "unix:// socket is one node"},
		{"redis://10.0.0.1:6379?read_timeout=0", "read_timeout must be a positive duration"},
		{"redis://10.0.0.1:7000?addr=10.0.0.2:7000&write_timeout=-1s", "write_timeout must be a positive duration"},
		{"redis://s1:26379?master_name=main&dial_timeout=0s", "dial_timeout must be a positive duration"},
		{"redis://s1:26379?master_name=main&pool_timeout=soon", "pool_timeout"},
	} {
		_, err := parseURL(tt.url, 0)
		if err == nil {
			t.Errorf("%s: accepted", tt.url)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "REDIS_URL") || !strings.Contains(msg, tt.want) || strings.Contains(msg, "secret") {
			t.Errorf("%s: %q, want an error starting REDIS_URL, saying %q, without the password", tt.url, msg, tt.want)
		}
	}
}
