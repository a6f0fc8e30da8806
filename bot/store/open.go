package store

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Connect opens Redis at url (redis://host:port/db, or rediss:// for TLS).
// With an empty url it starts an embedded, in-process Redis-compatible
// server whose data is lost on exit, and warns once on log.
// close releases the client and, if any, the embedded server.
//
// blocking is the number of connections held by blocking reads (the outbox
// workers): the pool gets that many on top of go-redis's default, so that
// readers waiting for work never starve the webhooks of connections.
func Connect(ctx context.Context, url string, blocking int, log *slog.Logger) (rdb redis.UniversalClient, close func(), err error) {
	poolSize := 10*runtime.GOMAXPROCS(0) + blocking
	if url == "" {
		srv := miniredis.NewMiniRedis()
		if err := srv.StartAddr("127.0.0.1:0"); err != nil {
			return nil, nil, fmt.Errorf("embedded store: %w", err)
		}
		log.Warn("REDIS_URL is not set: using an embedded in-process store; every conversation is lost when the process exits", "component", "store")
		rdb = redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{srv.Addr()}, PoolSize: poolSize})
		return rdb, func() { rdb.Close(); srv.Close() }, nil
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb = redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:     []string{opts.Addr},
		DB:        opts.DB,
		Username:  opts.Username,
		Password:  opts.Password,
		TLSConfig: opts.TLSConfig,
		PoolSize:  poolSize,
	})
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("REDIS_URL: cannot reach Redis: %w", err)
	}
	return rdb, func() { rdb.Close() }, nil
}
