package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/metrics"
)

// redisPinger adapts a Redis client to Pinger.
type redisPinger struct{ rdb *redis.Client }

func (p redisPinger) Ping(ctx context.Context) error { return p.rdb.Ping(ctx).Err() }

func (p redisPinger) PutSites(ctx context.Context, sites []engine.Site) error {
	return p.rdb.Ping(ctx).Err()
}

func TestReadyzWhenRedisIsDown(t *testing.T) {
	// Nothing listens on port 1: this client's Redis is down.
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	s := New(Options{Store: redisPinger{rdb}, Metrics: metrics.New(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := s.Handler()

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Redis down = %d, want 503", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200 while the process runs", rec.Code)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/nothing", nil))
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("unknown API route without a token = %d %s, want 401 JSON", rec.Code, rec.Header().Get("Content-Type"))
	}
}
