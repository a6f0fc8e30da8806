package store_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestConnectCluster: a Cluster REDIS_URL gives a cluster client with the
// service's timeouts and pool; keys of every slot are written and read
// back, spread over the three masters; a MULTI/EXEC and a script whose
// keys share one hash tag run, and one whose keys do not is refused
// (CROSSSLOT): the test cluster is a real one.
func TestConnectCluster(t *testing.T) {
	t.Parallel()
	c := redistest.SharedCluster(t)
	_, prefix := redistest.NewAt(t, c.URL) // deletes the keys at the end
	ctx := context.Background()
	rdb, closeRedis, err := store.Connect(ctx, c.URL, 2, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer closeRedis()
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("Connect(cluster URL) gave a %T, want a *redis.ClusterClient", rdb)
	}
	o := cc.Options()
	if o.DialTimeout != store.DialTimeout || o.ReadTimeout != store.ReadTimeout || o.WriteTimeout != store.WriteTimeout ||
		o.PoolTimeout != store.PoolTimeout || !o.ContextTimeoutEnabled || o.PoolSize != 10*runtime.GOMAXPROCS(0)+2 {
		t.Errorf("cluster options: dial %v read %v write %v pool %v context %v pool size %d", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.ContextTimeoutEnabled, o.PoolSize)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	for i := range 100 {
		if err := rdb.Set(ctx, fmt.Sprintf("%sk%d", prefix, i), i, 0).Err(); err != nil {
			t.Fatalf("SET on the cluster: %v", err)
		}
	}
	for i := range 100 {
		if v, err := rdb.Get(ctx, fmt.Sprintf("%sk%d", prefix, i)).Int(); err != nil || v != i {
			t.Fatalf("GET k%d: %d, %v", i, v, err)
		}
	}
	for _, addr := range c.Addrs {
		node := redis.NewClient(&redis.Options{Addr: addr})
		keys, err := node.Keys(ctx, prefix+"k*").Result()
		node.Close()
		if err != nil || len(keys) == 0 || len(keys) > 60 {
			t.Errorf("master %s holds %d of the 100 keys (%v): want them spread over the three", addr, len(keys), err)
		}
	}

	// One hash tag: one slot, so one transaction or script.
	a, b := prefix+"{person-1}:flags", prefix+"{person-1}:log"
	cmds, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, a, "lang", "fr")
		p.RPush(ctx, b, "one")
		return nil
	})
	if err != nil || len(cmds) != 2 {
		t.Fatalf("MULTI/EXEC within one hash tag: %v", err)
	}
	script := redis.NewScript(`redis.call('HSET', KEYS[1], 'lang', ARGV[1]); return redis.call('RPUSH', KEYS[2], ARGV[1])`)
	if n, err := script.Run(ctx, rdb, []string{a, b}, "ar").Int(); err != nil || n != 2 {
		t.Fatalf("script within one hash tag: %d, %v", n, err)
	}
	if lang, err := rdb.HGet(ctx, a, "lang").Result(); err != nil || lang != "ar" {
		t.Errorf("after the script, lang %q, %v", lang, err)
	}
	other := prefix + "{person-2}:log"
	if slotOf(t, rdb, b) == slotOf(t, rdb, other) {
		t.Fatal("the two hash tags share a slot: pick others")
	}
	err = script.Run(ctx, rdb, []string{a, other}, "x").Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Errorf("script over two slots: %v, want CROSSSLOT", err)
	}
}

func slotOf(t *testing.T, rdb redis.UniversalClient, key string) int64 {
	t.Helper()
	s, err := rdb.ClusterKeySlot(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConnectClusterNode: a one-node REDIS_URL whose server is a cluster
// node makes a cluster client (it reaches keys of the other masters); a
// database other than 0 on one is refused; addr= seeds that are not
// cluster nodes are refused at Connect.
func TestConnectClusterNode(t *testing.T) {
	t.Parallel()
	c := redistest.SharedCluster(t)
	_, prefix := redistest.NewAt(t, c.URL)
	ctx := context.Background()
	rdb, closeRedis, err := store.Connect(ctx, "redis://"+c.Addrs[1], 0, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer closeRedis()
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("Connect(one cluster node) gave a %T, want a *redis.ClusterClient", rdb)
	}
	for i := range 30 {
		if err := rdb.Set(ctx, fmt.Sprintf("%sk%d", prefix, i), i, 0).Err(); err != nil {
			t.Fatalf("SET through one seed: %v", err)
		}
	}

	_, _, err = store.Connect(ctx, "redis://"+c.Addrs[0]+"/1", 0, quiet())
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL") || !strings.Contains(err.Error(), "only database 0") {
		t.Errorf("database 1 of a cluster node: %v, want a refusal naming REDIS_URL and database 0", err)
	}

	node := redistest.URL(t)
	if strings.Contains(node, "addr=") || strings.Contains(node, "master_name=") {
		return // the suite runs on a Cluster or Sentinel: no plain node to misuse
	}
	opts, err := redis.ParseURL(node)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = store.Connect(ctx, fmt.Sprintf("redis://%s?addr=%s", opts.Addr, opts.Addr), 0, quiet())
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL") || !strings.Contains(err.Error(), "cluster support disabled") {
		t.Errorf("addr= seeds that are not cluster nodes: %v, want a refusal naming REDIS_URL and the cause", err)
	}
}

// TestClusterPubSub: a subscriber connected through Connect's cluster
// client receives what is published on each master (classic PUBLISH
// reaches every node), and what the cluster client itself publishes: the
// content versions' Follow works on a Cluster.
func TestClusterPubSub(t *testing.T) {
	t.Parallel()
	c := redistest.SharedCluster(t)
	_, prefix := redistest.NewAt(t, c.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rdb, closeRedis, err := store.Connect(ctx, c.URL, 0, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer closeRedis()
	channel := prefix + "versions"
	sub := rdb.Subscribe(ctx, channel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription is in place
		t.Fatal(err)
	}
	msgs := sub.Channel()
	receive := func(want string) {
		t.Helper()
		select {
		case m := <-msgs:
			if m.Channel != channel || m.Payload != want {
				t.Errorf("received %q on %q, want %q on %q", m.Payload, m.Channel, want, channel)
			}
		case <-ctx.Done():
			t.Fatalf("%q was not received", want)
		}
	}
	for _, addr := range c.Addrs {
		node := redis.NewClient(&redis.Options{Addr: addr})
		err := node.Publish(ctx, channel, "from "+addr).Err()
		node.Close()
		if err != nil {
			t.Fatal(err)
		}
		receive("from " + addr)
	}
	if err := rdb.Publish(ctx, channel, "through the cluster client").Err(); err != nil {
		t.Fatal(err)
	}
	receive("through the cluster client")
}
