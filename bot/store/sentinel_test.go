package store_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

// TestConnectSentinelFailover: a Sentinel REDIS_URL gives a client of the
// master with the service's timeouts and pool; under a steady stream of
// writes the master is failed over, the client reconnects to the new
// master by itself, and no accepted write is lost. A write is accepted
// when the master answered it and one replica has it (WAIT 1): with
// asynchronous replication, a master's answer alone does not survive a
// failover (the test logs how many of those were lost).
func TestConnectSentinelFailover(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t)
	_, prefix := redistest.NewAt(t, s.URL)
	ctx := context.Background()
	rdb, closeRedis, err := store.Connect(ctx, s.URL, 1, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer closeRedis()
	c, ok := rdb.(*redis.Client)
	if !ok {
		t.Fatalf("Connect(sentinel URL) gave a %T, want the *redis.Client of a failover client", rdb)
	}
	o := c.Options()
	if o.DialTimeout != store.DialTimeout || o.ReadTimeout != store.ReadTimeout || o.WriteTimeout != store.WriteTimeout ||
		o.PoolTimeout != store.PoolTimeout || !o.ContextTimeoutEnabled || o.PoolSize != 10*runtime.GOMAXPROCS(0)+1 {
		t.Errorf("failover options: dial %v read %v write %v pool %v context %v pool size %d", o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.ContextTimeoutEnabled, o.PoolSize)
	}

	var (
		mu         sync.Mutex
		accepted   []int // answered by the master and replicated
		answered   []int // answered by the master, not known replicated
		failed     int   // refused or timed out: the writer would retry
		stop       = make(chan struct{})
		writerDone = make(chan struct{})
		progress   = make(chan struct{}, 1)
	)
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			var set *redis.StatusCmd
			var wait *redis.Cmd
			_, err := rdb.Pipelined(wctx, func(p redis.Pipeliner) error {
				set = p.Set(wctx, fmt.Sprintf("%sw:%d", prefix, i), i, 0)
				wait = p.Do(wctx, "WAIT", 1, 500)
				return nil
			})
			cancel()
			mu.Lock()
			switch n, _ := wait.Int(); {
			case set.Err() != nil:
				failed++
			case err == nil && n >= 1:
				accepted = append(accepted, i)
			default:
				answered = append(answered, i)
			}
			mu.Unlock()
			select {
			case progress <- struct{}{}:
			default:
			}
			// A steady stream, not a flood: the machine is shared.
			time.Sleep(2 * time.Millisecond)
		}
	}()
	acceptedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(accepted) }
	waitAccepted := func(n int, what string) {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for acceptedCount() < n {
			select {
			case <-progress:
			case <-deadline:
				t.Fatalf("%s: %d writes accepted, want %d", what, acceptedCount(), n)
			}
		}
	}

	waitAccepted(50, "before the failover")
	before := acceptedCount()
	newMaster := s.Failover(t)
	waitAccepted(acceptedCount()+50, "after the failover")
	close(stop)
	<-writerDone

	if m, err := s.Master(ctx); err != nil || m != newMaster {
		t.Fatalf("the Sentinel names %s (%v), the failover gave %s", m, err, newMaster)
	}
	node := redis.NewClient(&redis.Options{Addr: newMaster})
	defer node.Close()
	var lost []int
	for _, i := range accepted {
		if err := node.Get(ctx, fmt.Sprintf("%sw:%d", prefix, i)).Err(); err != nil {
			lost = append(lost, i)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d accepted writes are not on the new master %s: %v", len(lost), len(accepted), newMaster, lost)
	}
	lostAnswered := 0
	for _, i := range answered {
		if node.Exists(ctx, fmt.Sprintf("%sw:%d", prefix, i)).Val() == 0 {
			lostAnswered++
		}
	}
	t.Logf("%d writes accepted (%d before the failover), %d answered without a replica (%d of them lost), %d refused",
		len(accepted), before, len(answered), lostAnswered, failed)

	// The service's client writes to the new master now.
	if err := rdb.Set(ctx, prefix+"after", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := node.Get(ctx, prefix+"after").Result(); err != nil || v != "1" {
		t.Errorf("a write after the failover is not on the new master: %q, %v", v, err)
	}
}

// TestConnectSentinelRefusals: a Sentinel URL naming a master the Sentinel
// does not watch, and a Sentinel's address given as one node, are refused
// at Connect with errors that say so.
func TestConnectSentinelRefusals(t *testing.T) {
	t.Parallel()
	s := redistest.StartSentinel(t)
	ctx := context.Background()
	_, _, err := store.Connect(ctx, "redis://"+s.Addr+"?master_name=nobody", 0, quiet())
	if err == nil || !strings.Contains(err.Error(), `REDIS_URL: cannot reach the master "nobody" through its Sentinels`) {
		t.Errorf("unknown master name: %v", err)
	}
	_, _, err = store.Connect(ctx, "redis://"+s.Addr, 0, quiet())
	if err == nil || !strings.Contains(err.Error(), "REDIS_URL names a Sentinel: add master_name") {
		t.Errorf("a Sentinel as one node: %v", err)
	}
}

// pipelines records the commands of each pipeline a client sends.
type pipelines struct {
	mu   sync.Mutex
	sent [][]string
}

func (p *pipelines) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (p *pipelines) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (p *pipelines) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var names []string
		for _, c := range cmds {
			names = append(names, strings.ToLower(c.Name()))
		}
		p.mu.Lock()
		p.sent = append(p.sent, names)
		p.mu.Unlock()
		return next(ctx, cmds)
	}
}

// TestWaitFollowsTheTurnOnItsConnection: with Replicas, a message's turn
// and Redis WAIT go in one pipeline, WAIT after the script, so that WAIT
// counts the replicas holding that very write (asked on another
// connection, it would vouch for writes it never saw); a handled message's
// retry refreshes its ids and waits in one pipeline too; a turn that is not
// a message's (Durable unset) does not wait. The test asks for more
// replicas than its Redis has (none on one node or the test Cluster, one
// under Sentinel): the wait gives up, and says so.
func TestWaitFollowsTheTurnOnItsConnection(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	rec := &pipelines{}
	rdb.AddHook(rec)
	ctx := context.Background()
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix, Replicas: 3, ReplicaTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	contact := st.ContactKey("sms", "+212600000123")
	turn := store.Turn{Contact: contact, Data: []byte(`{}`), SeenID: "SM1", Durable: true}
	if err := st.Commit(ctx, turn); !errors.Is(err, store.ErrNotReplicated) {
		t.Fatalf("durable turn without a replica: %v, want ErrNotReplicated", err)
	}
	if err := st.Confirm(ctx, contact); !errors.Is(err, store.ErrNotReplicated) {
		t.Fatalf("confirm without a replica: %v, want ErrNotReplicated", err)
	}
	if err := st.Commit(ctx, store.Turn{Contact: contact, Version: 1, Data: []byte(`{"lang":"fr"}`)}); err != nil {
		t.Fatalf("a turn that is no message's: %v, want no wait", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var waits [][]string
	for _, p := range rec.sent {
		if !slices.Contains(p, "wait") {
			continue
		}
		// A server that had not seen the script answers NOSCRIPT (a
		// Cluster master no earlier test ran it on): the turn is sent
		// again with the script itself, and WAIT after it again.
		if n := len(waits); n > 0 && waits[n-1][0] == "evalsha" && p[0] == "eval" {
			waits[n-1] = p
			continue
		}
		waits = append(waits, p)
	}
	if len(waits) != 2 {
		t.Fatalf("pipelines with WAIT: %v, want the turn's and the confirmation's", waits)
	}
	for i, want := range [][]string{{"eval", "wait"}, {"pexpire", "wait"}} {
		p := waits[i]
		last := p[len(p)-1]
		if len(p) != 2 || !strings.HasPrefix(p[0], want[0]) || last != "wait" {
			t.Errorf("pipeline %d: %v, want %v (evalsha or eval, then WAIT, alone)", i, p, want)
		}
	}
}
