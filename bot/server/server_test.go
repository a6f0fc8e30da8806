package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.MainParallel(m, 8)) }

// redisPinger adapts a Redis client to Pinger.
type redisPinger struct{ rdb *redis.Client }

func (p redisPinger) Ping(ctx context.Context) error { return p.rdb.Ping(ctx).Err() }

func (p redisPinger) UpdateSites(ctx context.Context, _ func() []engine.Site, _ func([]engine.Site) ([]engine.Site, error)) error {
	return p.rdb.Ping(ctx).Err()
}

func TestReadyzWhenRedisIsDown(t *testing.T) {
	t.Parallel()
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

func TestFailedTokensAreLimited(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	s := New(Options{Store: redisPinger{}, Metrics: metrics.New(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Tokens: access.NewTokens(rdb, prefix, "the-bootstrap-token-0123456789")})
	h := s.Handler()
	try := func(token string) int {
		r := httptest.NewRequest("GET", "/api/v1/audit", nil)
		r.RemoteAddr = "192.0.2.7:4444"
		r.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	for i := range maxFailures {
		if code := try(fmt.Sprint("guess-", i)); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, code)
		}
	}
	if code := try("guess-more"); code != http.StatusTooManyRequests {
		t.Errorf("after %d wrong tokens: %d, want 429", maxFailures, code)
	}
}
