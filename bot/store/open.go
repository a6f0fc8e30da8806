package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Timeouts of every Redis call, so that a Redis that hangs (stopped, not
// closed: the connection stays open, nothing answers) fails calls quickly
// instead of holding them. They are below the request deadline
// (OUTREACH_REQUEST_TIMEOUT, 5 s), which bounds a request's calls together.
// A blocking read (the outbox workers' XREADGROUP … BLOCK) is not cut by
// ReadTimeout: go-redis waits for it its block time plus 10 s.
const (
	DialTimeout  = 2 * time.Second
	ReadTimeout  = 3 * time.Second
	WriteTimeout = 3 * time.Second
	// PoolTimeout bounds the wait for a free connection when all are busy.
	PoolTimeout = 4 * time.Second
)

// connectTimeout bounds Connect's first exchanges with Redis.
const connectTimeout = 10 * time.Second

// mode is how Connect reaches Redis, chosen from REDIS_URL (see Connect).
type mode string

const (
	modeNode     mode = "node"
	modeCluster  mode = "cluster"
	modeSentinel mode = "sentinel"
)

// Connect opens Redis at rawURL. With an empty rawURL it starts an
// embedded, in-process Redis-compatible server whose data is lost on exit,
// and warns once on log. close releases the client and, if any, the
// embedded server.
//
// The URL chooses the mode, in this order (rediss:// for TLS in each):
//   - with master_name=NAME: Sentinel. The host and every addr= parameter
//     are Sentinels; the client asks them for the master NAME, and
//     reconnects to the new master after a failover. username= and
//     password= (query parameters) are the master's; the URL's user
//     information is the Sentinels'.
//   - with addr= parameters and no master_name: Redis Cluster. The host and
//     every addr= are seed nodes; the client learns the others, and the
//     slots, from them. A Cluster has only database 0.
//   - else one node: redis://host:port/db (or unix:///path?db=N). If that
//     server says it is a cluster node (cluster_enabled:1 in INFO), Connect
//     uses it as the seed of a Redis Cluster (database 0 only) rather than
//     failing on the first key of another node. If it is a Sentinel, Connect
//     fails, asking for master_name.
//
// Parameters that would read from replicas (read_only, route_by_latency,
// route_randomly, replica_only) are refused: replicas lag behind the
// master, and the service reads back what it has just written.
//
// blocking is the number of connections held by blocking reads (the outbox
// workers): the pool (per node, on a Cluster) gets that many on top of
// 10 per CPU (or the URL's pool_size), so that readers waiting for work
// never starve the webhooks of connections.
//
// Calls time out as the constants above say; the url may change them with
// go-redis's query parameters dial_timeout, read_timeout, write_timeout and
// pool_timeout (e.g. ?read_timeout=2s), which must be positive. A call
// also ends when its context does (a request's deadline, a client gone).
// Connect checks that Redis answers, giving up after 10 s (or when ctx
// ends). Every error names REDIS_URL and never repeats the URL (it may
// hold a password).
func Connect(ctx context.Context, rawURL string, blocking int, log *slog.Logger) (rdb redis.UniversalClient, close func(), err error) {
	if rawURL == "" {
		srv := miniredis.NewMiniRedis()
		if err := srv.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("embedded store: %w", err)
		}
		log.Warn("REDIS_URL is not set: using an embedded in-process store; every conversation is lost when the process exits", "component", "store")
		o := &redis.Options{Addr: srv.Addr()}
		if err := settle(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.PoolSize, &o.ContextTimeoutEnabled, blocking); err != nil {
			return nil, nil, err
		}
		rdb = redis.NewClient(o)
		return rdb, func() { rdb.Close(); srv.Close() }, nil
	}
	t, err := parseURL(rawURL, blocking)
	if err != nil {
		return nil, nil, err
	}
	// go-redis retries, and a Sentinel client retries each Sentinel within
	// each retry: without a bound, an unreachable Sentinel takes half a
	// minute to say so.
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	if t.mode == modeNode {
		t, err = checkNode(ctx, rawURL, t, blocking)
		if err != nil {
			return nil, nil, err
		}
		if t.mode == modeCluster {
			log.Info("REDIS_URL names one node of a Redis Cluster: connecting to the cluster through it", "component", "store")
		}
	}
	rdb = t.client()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("REDIS_URL: cannot reach %s: %w", t.describe(), err)
	}
	return rdb, func() { rdb.Close() }, nil
}

// target is a parsed REDIS_URL: exactly one of node, cluster and failover
// is set, as mode says.
type target struct {
	mode     mode
	node     *redis.Options
	cluster  *redis.ClusterOptions
	failover *redis.FailoverOptions
}

func (t target) client() redis.UniversalClient {
	switch t.mode {
	case modeCluster:
		return redis.NewClusterClient(t.cluster)
	case modeSentinel:
		return redis.NewFailoverClient(t.failover)
	default:
		return redis.NewClient(t.node)
	}
}

func (t target) describe() string {
	switch t.mode {
	case modeCluster:
		return "the Redis Cluster"
	case modeSentinel:
		return fmt.Sprintf("the master %q through its Sentinels", t.failover.MasterName)
	default:
		return "Redis"
	}
}

// parseURL reads REDIS_URL without connecting.
func parseURL(rawURL string, blocking int) (target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the URL, password included: keep its cause only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return target{}, fmt.Errorf("REDIS_URL is not a URL (%v): use redis://host:port/db, redis://host:port?addr=host2:port2 (Cluster) or redis://sentinel:26379?master_name=NAME (Sentinel)", err)
	}
	q := u.Query()
	switch u.Scheme {
	case "redis", "rediss":
	case "unix":
		if q.Has("addr") || q.Has("master_name") {
			return target{}, errors.New("REDIS_URL: a unix:// socket is one node; a Cluster or Sentinel URL starts with redis:// or rediss://")
		}
	default:
		return target{}, fmt.Errorf("REDIS_URL: scheme %q: use redis://, rediss:// (TLS) or unix://", u.Scheme)
	}
	for _, p := range []string{"read_only", "route_by_latency", "route_randomly", "replica_only"} {
		if q.Has(p) {
			return target{}, fmt.Errorf("REDIS_URL: %s is not supported: it reads from replicas, which lag behind the master, and the service reads back what it has just written", p)
		}
	}
	switch {
	case q.Has("master_name"):
		if q.Get("master_name") == "" {
			return target{}, errors.New("REDIS_URL: master_name is empty: give the name of the master the Sentinels watch")
		}
		o, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return target{}, fmt.Errorf("REDIS_URL (Sentinel, as it has master_name): %w", err)
		}
		if err := settle(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.PoolSize, &o.ContextTimeoutEnabled, blocking); err != nil {
			return target{}, err
		}
		return target{mode: modeSentinel, failover: o}, nil
	case q.Has("addr"):
		return clusterTarget(rawURL, u, blocking, "REDIS_URL (Cluster, as it has addr= parameters)")
	default:
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return target{}, fmt.Errorf("REDIS_URL: %w", err)
		}
		if err := settle(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.PoolSize, &o.ContextTimeoutEnabled, blocking); err != nil {
			return target{}, err
		}
		return target{mode: modeNode, node: o}, nil
	}
}

func clusterTarget(rawURL string, u *url.URL, blocking int, what string) (target, error) {
	if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
		return target{}, fmt.Errorf("%s: database %q: a Redis Cluster has only database 0 (end the URL's path with /0 or nothing)", what, db)
	}
	if u.Query().Has("db") {
		return target{}, fmt.Errorf("%s: db= is not supported: a Redis Cluster has only database 0", what)
	}
	o, err := redis.ParseClusterURL(rawURL)
	if err != nil {
		return target{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := settle(&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.PoolSize, &o.ContextTimeoutEnabled, blocking); err != nil {
		return target{}, err
	}
	return target{mode: modeCluster, cluster: o}, nil
}

// settle gives a client the service's timeouts where the URL set none,
// refuses timeouts the URL disabled (go-redis reads 0 or a negative value
// as "none": then a Redis that hangs holds every request), sizes the pool
// for the blocking readers, and lets a call's context end it.
func settle(dial, read, write, pool *time.Duration, poolSize *int, ctxTimeout *bool, blocking int) error {
	for _, t := range []struct {
		name string
		dst  *time.Duration
		def  time.Duration
	}{
		{"dial_timeout", dial, DialTimeout},
		{"read_timeout", read, ReadTimeout},
		{"write_timeout", write, WriteTimeout},
		{"pool_timeout", pool, PoolTimeout},
	} {
		switch {
		case *t.dst < 0:
			return fmt.Errorf("REDIS_URL: %s must be a positive duration such as 2s: without one, a Redis that hangs holds every request", t.name)
		case *t.dst == 0:
			*t.dst = t.def
		}
	}
	if *poolSize <= 0 {
		*poolSize = 10 * runtime.GOMAXPROCS(0)
	}
	*poolSize += blocking
	// The caller's deadline reaches the socket: a request's calls end at
	// its deadline, not a ReadTimeout after it.
	*ctxTimeout = true
	return nil
}

// checkNode asks the one server a URL names what it is: a cluster node
// makes the URL a Cluster seed, a Sentinel is refused.
func checkNode(ctx context.Context, rawURL string, t target, blocking int) (target, error) {
	o := *t.node
	o.DB = 0 // a cluster node refuses SELECT: ask in database 0
	c := redis.NewClient(&o)
	defer c.Close()
	info, err := c.Info(ctx).Result()
	if err != nil {
		return target{}, fmt.Errorf("REDIS_URL: cannot reach Redis (INFO, to tell one server from a Cluster node or a Sentinel): %w", err)
	}
	fields := infoFields(info)
	switch {
	case fields["redis_mode"] == "sentinel":
		return target{}, errors.New("REDIS_URL names a Sentinel: add master_name=NAME (the master it watches), e.g. redis://sentinel:26379?master_name=NAME")
	case fields["cluster_enabled"] == "1" || fields["redis_mode"] == "cluster":
		if t.node.Network == "unix" {
			return target{}, errors.New("REDIS_URL names a Redis Cluster node by its unix socket: reach a Cluster over TCP, redis://host:port")
		}
		if t.node.DB != 0 {
			return target{}, fmt.Errorf("REDIS_URL names database %d of a Redis Cluster node: a Redis Cluster has only database 0", t.node.DB)
		}
		u, err := url.Parse(rawURL)
		if err != nil {
			return target{}, fmt.Errorf("REDIS_URL is not a URL: %v", err)
		}
		u.Path = ""
		q := u.Query()
		q.Del("db")
		u.RawQuery = q.Encode()
		return clusterTarget(u.String(), u, blocking, "REDIS_URL (a Redis Cluster node)")
	}
	return t, nil
}

// infoFields reads the name:value lines of an INFO answer.
func infoFields(info string) map[string]string {
	fields := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":"); ok && !strings.HasPrefix(k, "#") {
			fields[k] = v
		}
	}
	return fields
}
