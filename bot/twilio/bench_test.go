package twilio

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/metrics"
)

// forgedForm is an inbound form padded with many short fields to size
// bytes, as an attacker without the auth token would post it.
func forgedForm(size int) string {
	f := url.Values{"MessageSid": {"SM00000000000000000000000000000001"}, "From": {person}, "Body": {"hi"}}
	var b strings.Builder
	b.WriteString(f.Encode())
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "&f%05d=", i)
	}
	return b.String()
}

// BenchmarkForgedForm times the answer to a forged 40 KB form: what one
// request without the auth token costs the service.
//
//	go test -run '^$' -bench ForgedForm ./bot/twilio
func BenchmarkForgedForm(b *testing.B) {
	h := NewHandler(authToken, publicURL, nil, nil, nil, []string{SMS}, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	body := forgedForm(40 << 10)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r := httptest.NewRequest("POST", "/webhooks/twilio", strings.NewReader(body))
		r.Header.Set("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==")
		rec := httptest.NewRecorder()
		h.Inbound(rec, r)
		if rec.Code < 400 || rec.Code >= 500 {
			b.Fatalf("status %d, want 4xx", rec.Code)
		}
	}
}

// BenchmarkWorstBoundedForm times the costliest form under MaxFields: a
// body as large as the server takes (64 KiB) whose first field, in signing
// order, is nearly all of it, and every other field short.
//
//	go test -run '^$' -bench WorstBoundedForm ./bot/twilio
func BenchmarkWorstBoundedForm(b *testing.B) {
	h := NewHandler(authToken, publicURL, nil, nil, nil, []string{SMS}, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	f := url.Values{"MessageSid": {"SM00000000000000000000000000000001"}, "From": {person}}
	for i := len(f); i < MaxFields-1; i++ {
		f.Set(fmt.Sprintf("f%02d", i), "x")
	}
	f.Set("A", strings.Repeat("a", 64<<10-len(f.Encode())-3))
	body := f.Encode()
	if len(f) != MaxFields || len(body) > 64<<10 {
		b.Fatalf("%d fields, %d bytes", len(f), len(body))
	}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		r := httptest.NewRequest("POST", "/webhooks/twilio", strings.NewReader(body))
		r.Header.Set("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==")
		rec := httptest.NewRecorder()
		h.Inbound(rec, r)
		if rec.Code != http.StatusForbidden {
			b.Fatalf("status %d, want 403", rec.Code)
		}
	}
}
