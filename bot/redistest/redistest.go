// Package redistest gives tests a real Redis server and a key prefix of their
// own. It uses REDIS_URL when set, else a server on 127.0.0.1:6379, else it
// starts a private redis-server on a free port in a temporary directory. When
// none of these works the test fails, saying how to install Redis: a test
// that needs Redis never skips.
//
// REDIS_URL may name one node, a Redis Cluster (addr= seeds) or a Sentinel
// (master_name=), as the service's REDIS_URL does; with REDISTEST=cluster
// (or REDISTEST=sentinel) and no REDIS_URL, the tests use a 3-master
// Cluster (or a Sentinel setup) that the package starts for itself (see
// SharedCluster and StartSentinel).
//
// A package whose tests use it runs them through Main:
//
//	func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	once    sync.Once
	url     string
	setup   error
	private *exec.Cmd
	tmpDir  string
)

// Main runs the tests of a package and stops a private Redis server, if one
// was started, when they are done.
func Main(m *testing.M) int {
	code := m.Run()
	stopShared()
	if private != nil {
		private.Process.Kill()
		private.Wait()
	}
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	return code
}

// MainParallel is Main for a package whose tests mostly wait (on Redis, a
// timer, a fake provider or a process) rather than compute: unless the
// command line says otherwise (-parallel), up to parallel of its tests run
// at once, not GOMAXPROCS of them (two on a two-core machine, whose cores
// would then be mostly idle).
func MainParallel(m *testing.M, parallel int) int {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(parallel))
	}
	return Main(m)
}

// URL returns the redis:// URL of the server the tests use, failing the test
// when no server can be reached or started.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { url, setup = find() })
	if setup != nil {
		t.Fatalf("this test needs a Redis server: %v\n"+
			"Install one (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) "+
			"so that redis-server is on PATH, or start one on 127.0.0.1:6379, or set REDIS_URL.", setup)
	}
	return url
}

// New returns a client to the test Redis server and a key prefix unique to
// this test. Keys under the prefix are deleted when the test ends, through
// a client of their own: the test may have closed its client (to see the
// store fail).
func New(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	return NewAt(t, URL(t))
}

// NewAt is New for the server (node, Cluster or Sentinel) at url, such as
// SharedCluster(t).URL.
func NewAt(t testing.TB, url string) (redis.UniversalClient, string) {
	t.Helper()
	rdb, err := Client(url)
	if err != nil {
		t.Fatal(err)
	}
	prefix := uniquePrefix(t)
	t.Cleanup(func() {
		rdb.Close()
		cleaner, err := Client(url)
		if err != nil {
			t.Errorf("redistest: deleting the keys under %s: %v", prefix, err)
			return
		}
		defer cleaner.Close()
		if err := Clean(cleaner, prefix); err != nil {
			t.Errorf("redistest: deleting the keys under %s: %v", prefix, err)
		}
	})
	return rdb, prefix
}

// Prefix returns a key prefix unique to this test and this run, for a
// program under test to use on the server at URL. Keys under it are deleted
// when the test ends.
func Prefix(t testing.TB) string {
	t.Helper()
	_, prefix := New(t)
	return prefix
}

func uniquePrefix(t testing.TB) string {
	b := make([]byte, 4)
	rand.Read(b)
	name := strings.NewReplacer("/", ".", " ", "_", "{", "(", "}", ")").Replace(t.Name())
	return "test:" + name + ":" + hex.EncodeToString(b) + ":"
}

// Clean deletes every key under prefix (on every master of a Cluster).
func Clean(rdb redis.UniversalClient, prefix string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if c, ok := rdb.(*redis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return clean(ctx, node, prefix)
		})
	}
	return clean(ctx, rdb, prefix)
}

func clean(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	// UNLINK, 500 keys a round trip: a test of thousands of people leaves
	// thousands of keys, which one DEL a key took longer than the bound to
	// delete on a busy machine.
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys[:n] {
				p.Unlink(ctx, k)
			}
			return nil
		}); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

func find() (string, error) {
	if u := os.Getenv("REDIS_URL"); u != "" {
		if err := ping(u); err != nil {
			return "", fmt.Errorf("REDIS_URL=%s does not answer: %w", u, err)
		}
		return u, nil
	}
	switch os.Getenv("REDISTEST") {
	case "":
	case "cluster":
		c, err := sharedCluster()
		if err != nil {
			return "", fmt.Errorf("REDISTEST=cluster: %w", err)
		}
		return c.URL, nil
	case "sentinel":
		s, err := sharedSentinel()
		if err != nil {
			return "", fmt.Errorf("REDISTEST=sentinel: %w", err)
		}
		return s.URL, nil
	default:
		return "", fmt.Errorf("REDISTEST=%q: use cluster, sentinel or nothing", os.Getenv("REDISTEST"))
	}
	const local = "redis://127.0.0.1:6379/0"
	if ping(local) == nil {
		return local, nil
	}
	return start()
}

func ping(u string) error {
	rdb, err := Client(u)
	if err != nil {
		return err
	}
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return rdb.Ping(ctx).Err()
}

// Client returns a client for url in the forms of the service's REDIS_URL:
// master_name= makes it a Sentinel client, addr= parameters a Cluster
// client, and one node that reports cluster_enabled:1 a Cluster client
// too. It is the test side of store.Connect, without the service's pool
// sizing (the two must agree on the mode; store tests check Connect).
func Client(url string) (redis.UniversalClient, error) {
	u, err := neturl.Parse(url)
	if err != nil {
		return nil, err
	}
	switch q := u.Query(); {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(url)
		if err != nil {
			return nil, err
		}
		return redis.NewFailoverClient(o), nil
	case q.Has("addr"):
		o, err := redis.ParseClusterURL(url)
		if err != nil {
			return nil, err
		}
		return redis.NewClusterClient(o), nil
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, err
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = time.Second
	}
	node := redis.NewClient(o)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	info, err := node.Info(ctx, "cluster").Result()
	if err != nil || !strings.Contains(info, "cluster_enabled:1") {
		return node, nil // a failing node fails the caller's first command
	}
	node.Close()
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{o.Addr}, Username: o.Username, Password: o.Password, TLSConfig: o.TLSConfig}), nil
}

// start runs a private redis-server on a free port, keeping nothing on disk.
func start() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("nothing answers on 127.0.0.1:6379, REDIS_URL is not set, and redis-server is not on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if tmpDir, err = os.MkdirTemp("", "outreach-redis-"); err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", tmpDir,
		"--logfile", filepath.Join(tmpDir, "redis.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the tests
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting redis-server: %w", err)
	}
	private = cmd
	u := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ping(u) == nil {
			return u, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("started %s on port %d, but it did not answer within 10s (see %s)", bin, port, filepath.Join(tmpDir, "redis.log"))
}

// --- keys: script contracts (issue 13) ---

// KeysUnder returns the keys under prefix, sorted (on every master of a
// Cluster).
func KeysUnder(t testing.TB, rdb redis.UniversalClient, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var out []string
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			out = append(out, iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	var err error
	if c, ok := rdb.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error { return scan(ctx, node) })
	} else {
		err = scan(ctx, rdb)
	}
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// OnlyDeclared fails the test when a key under prefix is not among
// declared: run a script against a fresh prefix, then check it wrote no
// key it was not given in KEYS.
func OnlyDeclared(t testing.TB, rdb redis.UniversalClient, prefix string, declared ...string) {
	t.Helper()
	for _, k := range KeysUnder(t, rdb, prefix) {
		if !slices.Contains(declared, k) {
			t.Errorf("%s exists, and is not among the declared keys %v", k, declared)
		}
	}
}
