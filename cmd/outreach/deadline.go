package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/outreach-org/outreach/bot/server"
)

// withDeadline gives every request's context a deadline d
// (OUTREACH_REQUEST_TIMEOUT). The Redis client ends a call at its context's
// deadline, so when Redis hangs (stopped, not closed) a webhook's store call
// fails by then and the webhook answers 503, which the provider retries,
// instead of holding the provider until it gives up.
//
// The deadline counts from when the body has arrived (read here, within
// its bound; the server's ReadTimeout bounds a slow one): a content set
// uploaded over a slow link is not taken for a slow Redis.
func withDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			// One byte over the bound, so that the server's own bound
			// still sees a body too large and answers 413.
			body, err := io.ReadAll(io.LimitReader(r.Body, server.BodyLimit(r.URL.Path)+1))
			r.Body.Close()
			if err != nil {
				http.Error(w, "the request's body did not arrive", http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
