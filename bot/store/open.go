package store

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
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

// Connect opens Redis at url (redis://host:port/db, or rediss:// for TLS).
// With an empty url it starts an embedded, in-process Redis-compatible
// server whose data is lost on exit, and warns once on log.
// close releases the client and, if any, the embedded server.
//
// blocking is the number of connections held by blocking reads (the outbox
// workers): the pool gets that many on top of go-redis's default, so that
// readers waiting for work never starve the webhooks of connections.
//
// Calls time out as the constants above say; the url may change them with
// go-redis's query parameters dial_timeout, read_timeout, write_timeout and
// pool_timeout (e.g. ?read_timeout=2s), which must be positive. A call
// also ends when its context does (a request's deadline, a client gone).
func Connect(ctx context.Context, url string, blocking int, log *slog.Logger) (rdb redis.UniversalClient, close func(), err error) {
	uo := &redis.UniversalOptions{
		PoolSize:    10*runtime.GOMAXPROCS(0) + blocking,
		DialTimeout: DialTimeout, ReadTimeout: ReadTimeout, WriteTimeout: WriteTimeout, PoolTimeout: PoolTimeout,
		// The caller's deadline reaches the socket: a request's calls end
		// at its deadline, not a ReadTimeout after it.
		ContextTimeoutEnabled: true,
	}
	if url == "" {
		srv := miniredis.NewMiniRedis()
		if err := srv.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("embedded store: %w", err)
		}
		log.Warn("REDIS_URL is not set: using an embedded in-process store; every conversation is lost when the process exits", "component", "store")
		uo.Addrs = []string{srv.Addr()}
		rdb = redis.NewUniversalClient(uo)
		return rdb, func() { rdb.Close(); srv.Close() }, nil
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	for _, t := range []struct {
		name string
		set  time.Duration
		dst  *time.Duration
	}{
		{"dial_timeout", opts.DialTimeout, &uo.DialTimeout},
		{"read_timeout", opts.ReadTimeout, &uo.ReadTimeout},
		{"write_timeout", opts.WriteTimeout, &uo.WriteTimeout},
		{"pool_timeout", opts.PoolTimeout, &uo.PoolTimeout},
	} {
		switch {
		case t.set < 0:
			return nil, nil, fmt.Errorf("REDIS_URL: %s must be a positive duration such as 2s: without one, a Redis that hangs holds every request", t.name)
		case t.set > 0:
			*t.dst = t.set
		}
	}
	uo.Addrs, uo.DB, uo.Username, uo.Password, uo.TLSConfig = []string{opts.Addr}, opts.DB, opts.Username, opts.Password, opts.TLSConfig
	rdb = redis.NewUniversalClient(uo)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("REDIS_URL: cannot reach Redis: %w", err)
	}
	return rdb, func() { rdb.Close() }, nil
}
