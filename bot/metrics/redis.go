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
