package redistest_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.MainParallel(m, 8)) }

// TestSharedCluster: the shared Cluster has three masters that share the
// 16384 slots, is ok on every node, is started once per package run, and
// NewAt's client reaches every master; the test's keys are deleted on
// every master when it ends.
func TestSharedCluster(t *testing.T) {
	t.Parallel()
	c := redistest.SharedCluster(t)
	if again := redistest.SharedCluster(t); again != c {
		t.Fatal("SharedCluster started a second cluster in one package run")
	}
	ctx := context.Background()
	for _, addr := range c.Addrs {
		node := redis.NewClient(&redis.Options{Addr: addr})
		info, err := node.ClusterInfo(ctx).Result()
		node.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"cluster_state:ok", "cluster_known_nodes:3", "cluster_size:3", "cluster_slots_assigned:16384"} {
			if !strings.Contains(info, want) {
				t.Errorf("node %s: CLUSTER INFO lacks %s:\n%s", addr, want, info)
			}
		}
	}
	var prefix string
	t.Run("keys", func(t *testing.T) {
		rdb, p := redistest.NewAt(t, c.URL)
		prefix = p
		if _, ok := rdb.(*redis.ClusterClient); !ok {
			t.Fatalf("NewAt(cluster URL) gave a %T, want a *redis.ClusterClient", rdb)
		}
		masters := map[string]bool{}
		for i := range 60 {
			key := fmt.Sprintf("%sk%d", p, i)
			if err := rdb.Set(ctx, key, i, 0).Err(); err != nil {
				t.Fatal(err)
			}
			slot, err := rdb.ClusterKeySlot(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			masters[masterOf(t, rdb.(*redis.ClusterClient), int(slot))] = true
		}
		if len(masters) != 3 {
			t.Errorf("60 keys landed on %d masters, want 3", len(masters))
		}
	})
	// The subtest's cleanup has run: no key under its prefix is left.
	for _, addr := range c.Addrs {
		node := redis.NewClient(&redis.Options{Addr: addr})
		keys, err := node.Keys(ctx, prefix+"*").Result()
		node.Close()
		if err != nil || len(keys) != 0 {
			t.Errorf("node %s: after the test, keys %v left (err %v)", addr, keys, err)
		}
	}
}

// masterOf returns the address of the master that serves slot.
func masterOf(t *testing.T, rdb *redis.ClusterClient, slot int) string {
	t.Helper()
	shards, err := rdb.ClusterShards(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shards {
		for _, r := range s.Slots {
			if r.Start <= int64(slot) && int64(slot) <= r.End {
				for _, n := range s.Nodes {
					if n.Role == "master" {
						return fmt.Sprintf("%s:%d", n.IP, n.Port)
					}
				}
			}
		}
	}
	t.Fatalf("no master serves slot %d", slot)
	return ""
}

// eventually polls cond until it holds or limit passes.
func eventually(limit time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// TestSentinelKillMaster: with the master killed, the Sentinel promotes the
// replica, and a client of the Sentinel URL writes to the new master;
// what the replica had received before is there.
func TestSentinelKillMaster(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t)
	ctx := context.Background()
	rdb, prefix := redistest.NewAt(t, s.URL)
	before, err := s.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Written and replicated (WAIT 1) before the kill.
	var wait *redis.Cmd
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, prefix+"before", "1", 0)
		wait = p.Do(ctx, "WAIT", 1, 5000) // WAIT is not in Pipeliner
		return nil
	}); err != nil || wait.Val() != int64(1) {
		t.Fatalf("write before the kill: %v, replicas %v", err, wait.Val())
	}
	after := s.KillMaster(t)
	if after == before {
		t.Fatalf("the master is still %s", before)
	}
	var last error
	if !eventually(30*time.Second, func() bool { last = rdb.Set(ctx, prefix+"after", "1", 0).Err(); return last == nil }) {
		t.Fatalf("no write reached the new master %s: %v", after, last)
	}
	if n, err := rdb.Exists(ctx, prefix+"before", prefix+"after").Result(); err != nil || n != 2 {
		t.Errorf("after the failover, %d of the 2 keys exist (%v)", n, err)
	}
	node := redis.NewClient(&redis.Options{Addr: after})
	defer node.Close()
	if v, err := node.Get(ctx, prefix+"after").Result(); err != nil || v != "1" {
		t.Errorf("the write after the failover is not on the new master %s: %q, %v", after, v, err)
	}
}

// TestSentinelFailoverTwice: Failover leaves a master and an in-sync
// replica, so a second one brings the first master back.
func TestSentinelFailoverTwice(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t)
	ctx := context.Background()
	first, err := s.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second := s.Failover(t)
	if second == first {
		t.Fatalf("the master is still %s", first)
	}
	if back := s.Failover(t); back != first {
		t.Fatalf("after two failovers the master is %s, want %s again", back, first)
	}
}
