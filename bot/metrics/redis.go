package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

type pathKey struct{}

// WithPath marks ctx as belonging to one code path ("inbound", "outbox",
// ...), so that the Redis round trips made under it are counted apart.
func WithPath(ctx context.Context, path string) context.Context {
	return context.WithValue(ctx, pathKey{}, path)
}

func pathOf(ctx context.Context) string {
	if p, ok := ctx.Value(pathKey{}).(string); ok {
		return p
	}
	return "other"
}

// RedisHook counts the round trips to Redis, by the path marked on their
// context: a command is one, a pipeline or transaction is one however many
// commands it holds. Add it with rdb.AddHook.
func (m *Metrics) RedisHook() redis.Hook { return roundTrips{m.RoundTrips} }

type roundTrips struct{ c *prometheus.CounterVec }

func (h roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.c.WithLabelValues(pathOf(ctx)).Inc()
		return next(ctx, cmd)
	}
}

func (h roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.c.WithLabelValues(pathOf(ctx)).Inc()
		return next(ctx, cmds)
	}
}

// WatchPool exports the Redis client's connection pool: connections in
// use and idle, and the waits for a free connection (a pool too small for
// the blocking readers shows there first).
func (m *Metrics) WatchPool(stats func() *redis.PoolStats) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "outreach_redis_pool_waits_total", Help: "Times a Redis command waited for a free connection.",
		}, func() float64 { return float64(stats().WaitCount) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "outreach_redis_pool_wait_seconds_total", Help: "Time spent waiting for a free Redis connection.",
		}, func() float64 { return float64(stats().WaitDurationNs) / 1e9 }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "outreach_redis_pool_timeouts_total", Help: "Waits for a Redis connection that timed out.",
		}, func() float64 { return float64(stats().Timeouts) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "outreach_redis_pool_connections", Help: "Connections in the Redis pool, idle or in use.",
		}, func() float64 { return float64(stats().TotalConns) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "outreach_redis_pool_idle_connections", Help: "Idle connections in the Redis pool.",
		}, func() float64 { return float64(stats().IdleConns) }),
	)
}
