package redistest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Cluster is a local Redis Cluster of three masters (no replicas) on
// loopback ports, keeping nothing on disk but its node files in a temporary
// directory. Its processes die with the test process.
type Cluster struct {
	// URL is its REDIS_URL: redis://p1?addr=p2&addr=p3, the Cluster form.
	URL string
	// Addrs are the masters' host:port, in the order of URL.
	Addrs []string

	nodes []*server
	dir   string
}

var (
	clusterOnce sync.Once
	shared      *Cluster
	clusterErr  error
)

// SharedCluster returns the Cluster of this package's test run, started on
// first use and stopped by Main: tests share it, each under its own key
// prefix (NewAt(t, SharedCluster(t).URL)). It fails the test, saying how to
// install Redis, when it cannot be started.
func SharedCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := sharedCluster()
	if err != nil {
		t.Fatalf("this test needs a local Redis Cluster: %v", err)
	}
	return c
}

func sharedCluster() (*Cluster, error) {
	clusterOnce.Do(func() { shared, clusterErr = startCluster() })
	return shared, clusterErr
}

// StartCluster starts a Cluster for this test alone (one it may break),
// stopped when the test ends. Prefer SharedCluster: starting one takes a
// second or two.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := startCluster()
	if err != nil {
		t.Fatalf("this test needs a local Redis Cluster: %v", err)
	}
	t.Cleanup(c.stop)
	return c
}

func startCluster() (c *Cluster, err error) {
	_, cli, err := binaries()
	if err != nil {
		return nil, err
	}
	dir, err := tempDir("cluster")
	if err != nil {
		return nil, err
	}
	c = &Cluster{dir: dir}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	for i := range 3 {
		s, err := startServer(dir, fmt.Sprintf("node%d", i), nil,
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000")
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, s)
		c.Addrs = append(c.Addrs, s.addr())
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("redis-cli --cluster create: %v: %s", err, strings.TrimSpace(string(out)))
	}
	for _, s := range c.nodes {
		node := s.client()
		err := waitUntil(30*time.Second, func(ctx context.Context) (bool, string) {
			info, err := node.ClusterInfo(ctx).Result()
			if err != nil {
				return false, err.Error()
			}
			state, known := infoField(info, "cluster_state"), infoField(info, "cluster_known_nodes")
			return state == "ok" && known == "3", fmt.Sprintf("node %s: cluster_state:%s, cluster_known_nodes:%s", s.addr(), state, known)
		})
		node.Close()
		if err != nil {
			return nil, fmt.Errorf("the cluster did not become ready: %w", err)
		}
	}
	c.URL = fmt.Sprintf("redis://%s?addr=%s&addr=%s", c.Addrs[0], c.Addrs[1], c.Addrs[2])
	return c, nil
}

func (c *Cluster) stop() {
	for _, s := range c.nodes {
		s.kill()
	}
	os.RemoveAll(c.dir)
}

// stopShared stops the package's shared Cluster and Sentinel, if started.
func stopShared() {
	if shared != nil {
		shared.stop()
	}
	if sharedSent != nil {
		sharedSent.stop()
	}
}
