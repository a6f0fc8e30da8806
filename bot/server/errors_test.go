package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/distribution"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/store"
)

func TestDecodeErrorsNameNoGoType(t *testing.T) {
	t.Parallel()
	var v struct {
		Text   map[string]string `json:"text"`
		SendAt *time.Time        `json:"send_at"`
		Count  int               `json:"count"`
		Items  []string          `json:"items"`
	}
	tests := []struct{ body, want string }{
		{`{"text":"x"}`, `"text": want an object, got a string`},
		{`{"count":"x"}`, `"count": want a whole number, got a string`},
		{`{"items":{}}`, `"items": want a list, got an object`},
		{`{"count":1.5}`, `"count": want a whole number, got a number`},
		{`[]`, `want an object, got a list`},
		{`{"send_at":"monday"}`, `invalid JSON body`},
		{`{"nope":1}`, `unknown field "nope"`},
		{`{`, `ends too soon`},
		{``, `empty`},
		{`{"count":1} {}`, `more than one JSON value`},
		{`{"count":}`, `syntax error at byte 10`},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
		err := decode(r, &v)
		var e *Error
		if !errors.As(err, &e) || e.Kind != Invalid {
			t.Errorf("%s: %v, want an Invalid error", tt.body, err)
			continue
		}
		if !strings.Contains(e.Message, tt.want) {
			t.Errorf("%s: %q, want it to say %q", tt.body, e.Message, tt.want)
		}
		for _, goWord := range []string{"Go ", "struct", "map[", "time.Time", "int", "[]string", "json:"} {
			if strings.Contains(e.Message, goWord) {
				t.Errorf("%s: %q names a Go type (%q)", tt.body, e.Message, goWord)
			}
		}
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
	}{
		{fmt.Errorf("%w: place: required", distribution.ErrInvalid), 422},
		{fmt.Errorf("%w: text.ar: missing", broadcast.ErrInvalid), 422},
		{distribution.ErrNotFound, 404},
		{distribution.ErrBusy, 409},
		{store.ErrNoRequest, 404},
		{apiError(Conflict, "x"), 409},
		{fmt.Errorf("load: %w", context.DeadlineExceeded), 503},
		{fmt.Errorf("x: %w", redis.ErrClosed), 503},
		{redis.ErrPoolTimeout, 503},
		{errors.New("LOADING Redis is loading the dataset in memory"), 500}, // not a redis.Error: ours
		{errors.New("something of ours broke"), 500},
	}
	for _, tt := range tests {
		if got := classify(tt.err).Kind.Status(); got != tt.status {
			t.Errorf("%v: %d, want %d", tt.err, got, tt.status)
		}
	}
	if e := classify(errors.New("secret detail")); e.Message != "internal error" {
		t.Errorf("an internal error shows %q", e.Message)
	}
}

// TestFailIsTheOneErrorPath checks what fail writes and logs: internal
// errors logged once without being shown, store failures answered 503
// with Retry-After, a client that went away not logged at all.
func TestFailIsTheOneErrorPath(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	s := New(Options{Metrics: metrics.New(), Log: slog.New(slog.NewJSONHandler(&logs, nil))})

	rec := httptest.NewRecorder()
	s.fail(rec, httptest.NewRequest("GET", "/api/v1/x", nil), errors.New("a bug of ours"))
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "bug") || strings.Count(logs.String(), "a bug of ours") != 1 {
		t.Errorf("internal: %d %s; logs %s", rec.Code, rec.Body.String(), logs.String())
	}

	logs.Reset()
	rec = httptest.NewRecorder()
	s.fail(rec, httptest.NewRequest("GET", "/api/v1/x", nil), fmt.Errorf("get: %w", redis.ErrClosed))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("store down: %d %v %s", rec.Code, rec.Header(), rec.Body.String())
	}

	logs.Reset()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec = httptest.NewRecorder()
	s.fail(rec, httptest.NewRequest("GET", "/api/v1/x", nil).WithContext(ctx), fmt.Errorf("get: %w", context.Canceled))
	if logs.Len() != 0 {
		t.Errorf("a client that went away was logged: %s", logs.String())
	}
}

func TestSecurityHeadersAndPanics(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	s := New(Options{Store: redisPinger{}, Metrics: metrics.New(), Log: slog.New(slog.NewJSONHandler(&logs, nil))})
	h := s.Handler()
	for _, path := range []string{"/healthz", "/api/v1/nothing", "/metrics", "/nowhere"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "X-Frame-Options": "DENY"} {
			if got := rec.Header().Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
	}
	boom := s.recoverPanics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	rec := httptest.NewRecorder()
	boom.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
	if rec.Code != 500 || !strings.Contains(logs.String(), "panicked") {
		t.Errorf("a panic: %d, logs %s", rec.Code, logs.String())
	}
}

func TestMetricsToken(t *testing.T) {
	t.Parallel()
	s := New(Options{Store: redisPinger{}, Metrics: metrics.New(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MetricsToken: "m-token"})
	h := s.Handler()
	for _, tt := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer m-token", 200}} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		if tt.auth != "" {
			r.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tt.want {
			t.Errorf("/metrics with %q: %d, want %d", tt.auth, rec.Code, tt.want)
		}
	}
	elsewhere := New(Options{Store: redisPinger{}, Metrics: metrics.New(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), MetricsElsewhere: true})
	rec := httptest.NewRecorder()
	elsewhere.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("/metrics on the main address with OUTREACH_METRICS_ADDR: %d, want 404", rec.Code)
	}
}
