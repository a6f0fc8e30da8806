package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/redistest"
)

const bootstrapToken = "the-bootstrap-token-0123456789"

// newTestAudit is the audit log the tests read, on a fixed clock.
func newTestAudit(rdb redis.UniversalClient, prefix string, now time.Time) *access.Audit {
	return access.NewAudit(rdb, prefix, access.AuditOptions{Now: func() time.Time { return now }})
}

// authServer is a Server with tokens and an audit log in Redis.
func authServer(t *testing.T, trusted ...netip.Prefix) (*Server, *access.Tokens) {
	t.Helper()
	rdb, prefix := redistest.New(t)
	tokens := access.NewTokens(rdb, prefix, bootstrapToken)
	s := New(Options{Store: redisPinger{}, Metrics: metrics.New(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Tokens: tokens, Audit: newTestAudit(rdb, prefix, time.Date(2026, 12, 1, 10, 0, 5, 0, time.UTC)), TrustedProxies: trusted})
	return s, tokens
}

// call makes one API request from remote (host:port) and returns the answer.
func call(h http.Handler, method, path, remote, token, xff, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = remote
	r.Header.Set("Authorization", "Bearer "+token)
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// TestValidTokenWorksAfterWrongOnes: wrong tokens from an address (all the
// staff behind one proxy) used to lock its valid tokens out too.
func TestValidTokenWorksAfterWrongOnes(t *testing.T) {
	t.Parallel()
	s, tokens := authServer(t)
	h := s.Handler()
	staff, err := tokens.Create(context.Background(), "amina", access.Staff)
	if err != nil {
		t.Fatal(err)
	}
	const addr = "192.0.2.7:4444"
	for i := range 100 {
		rec := call(h, "GET", "/api/v1/openapi.yaml", addr, fmt.Sprint("guess-", i), "", "")
		switch {
		case i < maxFailures && rec.Code != http.StatusUnauthorized:
			t.Fatalf("wrong token %d: %d, want 401", i+1, rec.Code)
		case i >= maxFailures && rec.Code != http.StatusTooManyRequests:
			t.Fatalf("wrong token %d: %d, want 429", i+1, rec.Code)
		case i >= maxFailures:
			if wait, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || wait < 1 || wait > 60 {
				t.Fatalf("wrong token %d: Retry-After %q, want 1 to 60 seconds", i+1, rec.Header().Get("Retry-After"))
			}
		}
	}
	for name, token := range map[string]string{"bootstrap": bootstrapToken, "staff": staff} {
		if rec := call(h, "GET", "/api/v1/openapi.yaml", addr, token, "", ""); rec.Code != http.StatusOK {
			t.Errorf("the %s token after 100 wrong ones from its address: %d %s, want 200", name, rec.Code, rec.Body)
		}
	}
}

// TestForwardedForOnlyFromTrustedProxies: X-Forwarded-For is the client's
// address only when a trusted proxy wrote it.
func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::1/128")}
	for _, tt := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"203.0.113.5:1234", nil, "203.0.113.5"},
		{"203.0.113.5:1234", []string{"198.51.100.1"}, "203.0.113.5"},                   // untrusted peer: ignored
		{"10.1.2.3:1234", nil, "10.1.2.3"},                                              // a proxy without the header
		{"10.1.2.3:1234", []string{"198.51.100.1"}, "198.51.100.1"},                     // believed
		{"10.1.2.3:1234", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},            // the client's own claim is not
		{"10.1.2.3:1234", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},  // two proxies
		{"10.1.2.3:1234", []string{"6.6.6.6", "198.51.100.1,10.9.9.9"}, "198.51.100.1"}, // header lines in order
		{"10.1.2.3:1234", []string{"10.5.5.5, 10.9.9.9"}, "10.5.5.5"},                   // all proxies
		{"10.1.2.3:1234", []string{"6.6.6.6, garbage, 10.9.9.9"}, "10.9.9.9"},           // cannot go past garbage
		{"10.1.2.3:1234", []string{"198.51.100.1:5555"}, "198.51.100.1"},                // with a port
		{"10.1.2.3:1234", []string{"[2001:db8::1]:5555, "}, "2001:db8::1"},              // IPv6 with a port
		{"[fd00::1]:1234", []string{"2001:db8::7"}, "2001:db8::7"},                      // IPv6 proxy
		{"[fd00::2]:1234", []string{"2001:db8::7"}, "fd00::2"},                          // not that one
		{"[::ffff:10.1.2.3]:1234", []string{"::ffff:198.51.100.1"}, "198.51.100.1"},     // mapped IPv4
	} {
		r := httptest.NewRequest("GET", "/api/v1/audit", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientIP(r, trusted); got != tt.want {
			t.Errorf("from %s with X-Forwarded-For %q: %s, want %s", tt.remote, tt.xff, got, tt.want)
		}
		if got := clientIP(r, nil); got != netip.MustParseAddrPort(tt.remote).Addr().Unmap().String() {
			t.Errorf("from %s, no proxy trusted: %s, want the peer", tt.remote, got)
		}
	}

	// Through the server: behind a trusted proxy, one client's wrong
	// tokens do not slow another's; from an untrusted peer, a new
	// X-Forwarded-For on each try does not escape the count.
	s, _ := authServer(t, trusted...)
	h := s.Handler()
	for i := range maxFailures + 1 {
		call(h, "GET", "/api/v1/audit", "10.0.0.2:1000", fmt.Sprint("guess-", i), "198.51.100.66", "")
	}
	if rec := call(h, "GET", "/api/v1/audit", "10.0.0.2:1000", "guess-other", "198.51.100.77", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("another client behind the proxy: %d, want 401 (its own count)", rec.Code)
	}
	if rec := call(h, "GET", "/api/v1/audit", "10.0.0.2:1000", "guess-more", "198.51.100.66", ""); rec.Code != http.StatusTooManyRequests {
		t.Errorf("the guessing client behind the proxy: %d, want 429", rec.Code)
	}
	for i := range maxFailures {
		call(h, "GET", "/api/v1/audit", "203.0.113.9:1000", fmt.Sprint("guess-", i), fmt.Sprint("198.51.100.", i), "")
	}
	if rec := call(h, "GET", "/api/v1/audit", "203.0.113.9:1000", "guess-more", "198.51.100.200", ""); rec.Code != http.StatusTooManyRequests {
		t.Errorf("an untrusted peer writing a new X-Forwarded-For each time: %d, want 429", rec.Code)
	}
}

// TestGuardMemoryIsBounded: a spray of addresses in one minute does not
// grow the guard without bound, and an IPv6 client counts as its /64.
func TestGuardMemoryIsBounded(t *testing.T) {
	t.Parallel()
	var g failGuard
	now := time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC)
	for range maxFailures {
		g.fail(guardKey("198.51.100.1"), now)
	}
	for i := range 200000 {
		g.fail(guardKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).String()), now)
	}
	if n := len(g.counts); n > maxTracked+1 {
		t.Errorf("after 200000 addresses the guard holds %d, want at most %d", n, maxTracked+1)
	}
	if wait, limited := g.fail(guardKey("198.51.100.1"), now); !limited || wait != 30 {
		t.Errorf("the address tracked before the spray: limited %v, wait %d; want true, 30", limited, wait)
	}
	if _, limited := g.fail(guardKey("198.51.100.2"), now.Add(time.Minute)); limited {
		t.Error("a new minute starts afresh")
	}
	for i := range maxFailures {
		g.fail(guardKey(fmt.Sprintf("2001:db8:1:2::%x", i+1)), now.Add(time.Minute))
	}
	if _, limited := g.fail(guardKey("2001:db8:1:2:ffff::1"), now.Add(time.Minute)); !limited {
		t.Error("addresses of one /64 are counted apart")
	}
}

// TestFailedLoginsDoNotFlushTheAudit: 10,000 wrong tokens from as many
// addresses are in the audit log, counted, in a bounded number of entries,
// and push no change out.
func TestFailedLoginsDoNotFlushTheAudit(t *testing.T) {
	t.Parallel()
	s, _ := authServer(t)
	h := s.Handler()
	if rec := call(h, "POST", "/api/v1/tokens", "192.0.2.1:1", bootstrapToken, "", `{"name":"amina","role":"staff"}`); rec.Code != http.StatusCreated {
		t.Fatalf("create token: %d %s", rec.Code, rec.Body)
	}
	const wrong = 10000
	for i := range wrong {
		ip := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		call(h, "GET", "/api/v1/audit", netip.AddrPortFrom(ip, 1000).String(), fmt.Sprint("guess-", i), "", "")
	}
	rec := call(h, "GET", "/api/v1/audit?limit=10000", "192.0.2.1:1", bootstrapToken, "", "")
	var out struct {
		Events []access.Event `json:"events"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("audit: %d %s", rec.Code, rec.Body)
	}
	var created bool
	var failed int64
	for _, e := range out.Events {
		created = created || e.Action == "token.create"
		if e.Action == "login.failed" {
			failed += e.Count
		}
	}
	if !created {
		t.Error("the token created before the wrong tokens is not in the audit log")
	}
	if failed != wrong {
		t.Errorf("the audit log counts %d failed logins, want %d", failed, wrong)
	}
	if most := 1 + access.MaxRefusedSources + 1; len(out.Events) > most {
		t.Errorf("a minute of wrong tokens made %d audit entries, want at most %d", len(out.Events), most)
	}
}
