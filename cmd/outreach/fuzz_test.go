package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// bodyRoutes are the admin API routes that read a body.
var bodyRoutes = []struct{ method, path string }{
	{"POST", "/api/v1/simulate"},
	{"POST", "/api/v1/tokens"},
	{"POST", "/api/v1/sites"},
	{"PATCH", "/api/v1/sites/nador"},
	{"POST", "/api/v1/broadcasts"},
	{"PUT", "/api/v1/content"},
	{"POST", "/api/v1/content/rollback"},
	{"POST", "/api/v1/requests/r1/reply"},
	{"POST", "/api/v1/distributions"},
	{"PATCH", "/api/v1/distributions/d1"},
}

// FuzzAdminAPI sends any body to every admin API route that reads one, on
// the real service and Redis, and to a second service whose Redis is down.
// Whatever the body, the answer is a success or a 4xx with a JSON error
// naming the problem — with Redis down, also a 503 with a JSON error and
// Retry-After: never another 5xx, never a dropped connection.
//
//	go test -run XXX -fuzz FuzzAdminAPI -fuzztime 60s -fuzzminimizetime 1s ./cmd/outreach
func FuzzAdminAPI(f *testing.F) {
	later := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	seeds := []string{
		`{"contact":"fuzz","text":"Bonjour"}`,
		`{"contact":"fuzz","text":"2","draft":{"locales/fr.yaml":"x: y"}}`,
		`{"name":"amina","role":"staff"}`,
		`{"id":"tiznit","names":{"fr":"Tiznit","en":"Tiznit","ar":"تيزنيت"}}`,
		`{"retired":true}`,
		`{"text":{"fr":"Avis","en":"Notice","ar":"إعلان"},"audience":{"sites":["nador"]}}`,
		`{"text":{"fr":"plus tard"},"send_at":"` + later + `"}`,
		`{"files":{"locales/fr.yaml":"welcome: \"x\""}}`,
		`{"version":1}`,
		`{"text":"Nous vous appelons."}`,
		`{"site":"nador","starts_at":"` + later + `","ends_at":"` + later + `","place":"Terrain","items":["rice"],"notify":true}`,
		`{"cancelled":true}`,
		``, `{`, `[]`, `null`, `{"text":"\u0000\u001b"}`, "{\"text\":\"\xff\xfe\"}", `{"contact":"","text":""}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	// Each service has a redis-server of its own, which dies with the
	// process: a fuzzing worker is killed at the end, before any cleanup,
	// and must leave no keys in a shared Redis.
	up := startOwnRedis(f)
	p := withProviders(f)
	p.vars["REDIS_URL"] = up.url()
	s := startServe(f, p.vars)
	// A second service, whose Redis is gone.
	r := startOwnRedis(f)
	downVars := withProviders(f).vars
	downVars["REDIS_URL"] = r.url()
	down := startServe(f, downVars)
	r.stop()
	client := &http.Client{Timeout: 10 * time.Second}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		rt := bodyRoutes[int(which)%len(bodyRoutes)]
		for _, base := range []string{s.base, down.base} {
			req, _ := http.NewRequest(rt.method, base+rt.path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", rt.method, rt.path, err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			unavailable := base == down.base && resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != ""
			switch {
			case resp.StatusCode >= 500 && !unavailable:
				t.Fatalf("%s %s %q (Redis down: %v): %d %s", rt.method, rt.path, body, base == down.base, resp.StatusCode, out)
			case resp.StatusCode >= 400:
				var e struct {
					Error string `json:"error"`
				}
				if json.Unmarshal(out, &e) != nil || e.Error == "" {
					t.Fatalf("%s %s %q: %d without a JSON error: %s", rt.method, rt.path, body, resp.StatusCode, out)
				}
			}
		}
	})
}
