package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// MasterName is the name under which the local Sentinel watches its master.
const MasterName = "outreach"

// Sentinel is a local Sentinel setup on loopback ports: one master, one
// replica and one Sentinel (quorum 1) watching them. Its processes die with
// the test process.
type Sentinel struct {
	// URL is its REDIS_URL: redis://sentinel?master_name=outreach.
	URL string
	// Addr is the Sentinel's host:port.
	Addr string

	sentinel *server
	data     map[string]*server // master and replica, by host:port
	dir      string
}

var (
	sentinelOnce sync.Once
	sharedSent   *Sentinel
	sentinelErr  error
)

func sharedSentinel() (*Sentinel, error) {
	sentinelOnce.Do(func() { sharedSent, sentinelErr = startSentinel() })
	return sharedSent, sentinelErr
}

// StartSentinel starts a Sentinel setup for this test alone, stopped when
// the test ends. It fails the test, saying how to install Redis, when it
// cannot be started.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	s, err := startSentinel()
	if err != nil {
		t.Fatalf("this test needs a local Redis Sentinel setup: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

func startSentinel() (s *Sentinel, err error) {
	if _, _, err := binaries(); err != nil {
		return nil, err
	}
	dir, err := tempDir("sentinel")
	if err != nil {
		return nil, err
	}
	s = &Sentinel{dir: dir, data: map[string]*server{}}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	// Replicas sync at once, not after the default 5 s of diskless delay.
	quick := []string{"--repl-diskless-sync-delay", "0"}
	master, err := startServer(dir, "master", nil, quick...)
	if err != nil {
		return nil, err
	}
	s.data[master.addr()] = master
	replica, err := startServer(dir, "replica", nil, append(quick, "--replicaof", "127.0.0.1", fmt.Sprint(master.port))...)
	if err != nil {
		return nil, err
	}
	s.data[replica.addr()] = replica
	if err := waitReplica(replica, master.addr()); err != nil {
		return nil, err
	}
	conf := func(port int, dir string) (string, error) {
		file := filepath.Join(dir, "sentinel.conf")
		// Sentinel rewrites its file: it must be writable.
		return file, os.WriteFile(file, []byte(fmt.Sprintf(
			"sentinel monitor %[1]s 127.0.0.1 %[2]d 1\n"+
				"sentinel down-after-milliseconds %[1]s 1000\n"+
				"sentinel failover-timeout %[1]s 3000\n"+
				"sentinel parallel-syncs %[1]s 1\n", MasterName, master.port)), 0o600)
	}
	if s.sentinel, err = startServer(dir, "sentinel", conf, "--sentinel"); err != nil {
		return nil, err
	}
	s.Addr = s.sentinel.addr()
	if err := s.waitReplicaKnown(replica.addr()); err != nil {
		return nil, err
	}
	s.URL = fmt.Sprintf("redis://%s?master_name=%s", s.Addr, MasterName)
	return s, nil
}

func (s *Sentinel) stop() {
	if s.sentinel != nil {
		s.sentinel.kill()
	}
	for _, d := range s.data {
		d.kill()
	}
	os.RemoveAll(s.dir)
}

func (s *Sentinel) client() *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: s.Addr, DialTimeout: time.Second})
}

// Master returns the host:port of the master, as the Sentinel names it.
func (s *Sentinel) Master(ctx context.Context) (string, error) {
	c := s.client()
	defer c.Close()
	hp, err := c.GetMasterAddrByName(ctx, MasterName).Result()
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// Failover asks the Sentinel to fail the master over (SENTINEL FAILOVER)
// and waits until it names the replica as master and that server says it
// is master. Then it makes the old master a replica of the new one, as the
// Sentinel would some ten seconds later, and waits until it is in sync: the
// setup has a master and a replica again. It returns the new master's
// host:port.
func (s *Sentinel) Failover(t testing.TB) string {
	t.Helper()
	old := s.master(t)
	for addr := range s.data {
		if addr != old {
			// The Sentinel promotes only a replica it knows to be healthy.
			if err := s.waitReplicaKnown(addr); err != nil {
				t.Fatal(err)
			}
		}
	}
	c := s.client()
	defer c.Close()
	// The Sentinel may not yet rate its replica good enough (NOGOODSLAVE),
	// or still be busy with an earlier failover (INPROG).
	err := waitUntil(30*time.Second, func(ctx context.Context) (bool, string) {
		if err := c.Failover(ctx, MasterName).Err(); err != nil {
			return false, "SENTINEL FAILOVER: " + err.Error()
		}
		return true, ""
	})
	if err != nil {
		t.Fatal(err)
	}
	now := s.waitNewMaster(t, old)
	oldNode := s.data[old].client()
	defer oldNode.Close()
	host, port, _ := net.SplitHostPort(now)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := oldNode.ReplicaOf(ctx, host, port).Err(); err != nil {
		t.Fatalf("making the old master %s a replica of %s: %v", old, now, err)
	}
	if err := waitReplica(s.data[old], now); err != nil {
		t.Fatalf("after the failover, the old master %s did not become a replica of %s: %v", old, now, err)
	}
	return now
}

// KillMaster kills the master (SIGKILL) and waits until the Sentinel has
// promoted the replica, which says it is master. It returns the new
// master's host:port. The old master stays down.
func (s *Sentinel) KillMaster(t testing.TB) string {
	t.Helper()
	old := s.master(t)
	s.data[old].kill()
	return s.waitNewMaster(t, old)
}

func (s *Sentinel) master(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := s.Master(ctx)
	if err != nil {
		t.Fatalf("asking the Sentinel for the master: %v", err)
	}
	if s.data[m] == nil {
		t.Fatalf("the Sentinel names %s as master, not one of this setup's servers", m)
	}
	return m
}

// waitNewMaster waits until the Sentinel names a master other than old and
// that server reports role:master.
func (s *Sentinel) waitNewMaster(t testing.TB, old string) string {
	t.Helper()
	var now string
	err := waitUntil(60*time.Second, func(ctx context.Context) (bool, string) {
		m, err := s.Master(ctx)
		if err != nil {
			return false, err.Error()
		}
		if m == old {
			return false, "the Sentinel still names " + old
		}
		d := s.data[m]
		if d == nil {
			return false, "the Sentinel names an unknown master " + m
		}
		node := d.client()
		defer node.Close()
		info, err := node.Info(ctx, "replication").Result()
		if err != nil {
			return false, err.Error()
		}
		if role := infoField(info, "role"); role != "master" {
			return false, fmt.Sprintf("%s, named master, says role:%s", m, role)
		}
		now = m
		return true, ""
	})
	if err != nil {
		t.Fatalf("failing over from %s: %v", old, err)
	}
	return now
}

// waitReplica waits until replica reports it replicates master, link up.
func waitReplica(replica *server, master string) error {
	node := replica.client()
	defer node.Close()
	host, port, _ := net.SplitHostPort(master)
	return waitUntil(30*time.Second, func(ctx context.Context) (bool, string) {
		info, err := node.Info(ctx, "replication").Result()
		if err != nil {
			return false, err.Error()
		}
		role, mh, mp, link := infoField(info, "role"), infoField(info, "master_host"), infoField(info, "master_port"), infoField(info, "master_link_status")
		return role == "slave" && mh == host && mp == port && link == "up",
			fmt.Sprintf("%s: role:%s master %s:%s link %s", replica.addr(), role, mh, mp, link)
	})
}

// waitReplicaKnown waits until the Sentinel lists replica as a healthy
// replica of the master, so that it can promote it.
func (s *Sentinel) waitReplicaKnown(replica string) error {
	c := s.client()
	defer c.Close()
	return waitUntil(30*time.Second, func(ctx context.Context) (bool, string) {
		rs, err := c.Replicas(ctx, MasterName).Result()
		if err != nil {
			return false, err.Error()
		}
		for _, r := range rs {
			if net.JoinHostPort(r["ip"], r["port"]) == replica {
				ok := r["flags"] == "slave" && r["master-link-status"] == "ok"
				return ok, fmt.Sprintf("the Sentinel sees replica %s with flags %q, link %s", replica, r["flags"], r["master-link-status"])
			}
		}
		return false, fmt.Sprintf("the Sentinel does not list %s yet (%s)", replica, strings.TrimSpace(fmt.Sprint(rs)))
	})
}
