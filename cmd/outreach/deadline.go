package main

import (
	"context"
	"net/http"
	"time"
)

// withDeadline gives every request's context a deadline d from when its
// handler starts (OUTREACH_REQUEST_TIMEOUT). The Redis client ends a call at
// its context's deadline, so when Redis hangs (stopped, not closed) a
// webhook's store call fails by then and the webhook answers 503, which the
// provider retries, instead of holding the provider until it gives up.
func withDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
