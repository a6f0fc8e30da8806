package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/outreach-org/outreach/bot/redistest"
)

// apiRoute is one admin API route, with a body and path values that the
// route accepts: with Redis up, each reaches the store.
type apiRoute struct {
	method, pattern, path, body string
}

// apiRoutes lists every route that openapi.yaml describes under /api/v1 (a
// test elsewhere keeps it equal to the routes registered), each with a
// valid body from bodies. A route that reads a body and has none in bodies
// fails the test: every new route is driven here too.
func apiRoutes(t *testing.T, base string) []apiRoute {
	t.Helper()
	resp, err := http.DefaultClient.Do(apiRoute{method: "GET", path: "/api/v1/openapi.yaml"}.request(context.Background(), base))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	later := time.Now().Add(72 * time.Hour).UTC()
	files, _ := json.Marshal(map[string]any{"files": contentFiles(t)})
	bodies := map[string]string{
		"POST /api/v1/simulate":               `{"contact":"api-errors","text":"Bonjour"}`,
		"POST /api/v1/tokens":                 `{"name":"amina","role":"staff"}`,
		"POST /api/v1/sites":                  `{"id":"tiznit","names":{"fr":"Tiznit","en":"Tiznit","ar":"تيزنيت"}}`,
		"PATCH /api/v1/sites/{id}":            `{"names":{"fr":"Nador"}}`,
		"POST /api/v1/broadcasts":             `{"text":{"fr":"Avis","en":"Notice","ar":"إعلان"},"audience":{"sites":["nador"]}}`,
		"POST /api/v1/broadcasts/{id}/cancel": ``,
		"PUT /api/v1/content":                 string(files),
		"POST /api/v1/content/rollback":       `{"version":1}`,
		"POST /api/v1/requests/{id}/reply":    `{"text":"Nous vous appelons."}`,
		"POST /api/v1/requests/{id}/close":    ``,
		"POST /api/v1/distributions":          fmt.Sprintf(`{"site":"nador","starts_at":%q,"ends_at":%q,"place":"Terrain","items":["rice"],"notify":true}`, later.Format(time.RFC3339), later.Add(3*time.Hour).Format(time.RFC3339)),
		"PATCH /api/v1/distributions/{id}":    `{"bring":"la carte"}`,
	}
	values := strings.NewReplacer("/sites/{id}", "/sites/nador", "/tokens/{name}", "/tokens/amina",
		"/contacts/{id}", "/contacts/0123456789abcdef0123456789abcdef", "{id}", "x1")
	var out []apiRoute
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		for method := range ops {
			m := strings.ToUpper(method)
			switch m {
			case "GET", "POST", "PUT", "PATCH", "DELETE":
			default:
				continue
			}
			pattern := m + " " + path
			body, ok := bodies[pattern]
			if !ok && (m == "POST" || m == "PUT" || m == "PATCH") {
				t.Errorf("%s: add a valid body for it to bodies in apiRoutes", pattern)
			}
			out = append(out, apiRoute{method: m, pattern: pattern, path: values.Replace(path), body: body})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pattern < out[j].pattern })
	if len(out) < 20 {
		t.Fatalf("openapi.yaml lists %d admin routes, want them all", len(out))
	}
	return out
}

func (rt apiRoute) request(ctx context.Context, base string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, rt.method, base+rt.path, strings.NewReader(rt.body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	return req
}

// TestEveryAPIRouteWithRedisFailing drives every admin API route while
// Redis is down, then while it hangs with clients that give up: each
// answers 503 with a JSON error and Retry-After (or, when the client went
// away, nothing), the process lives on, a client that went away is not
// logged as an error, and once Redis is back every route works again.
func TestEveryAPIRouteWithRedisFailing(t *testing.T) {
	t.Parallel()
	r := startOwnRedis(t)
	p := withProviders(t)
	p.vars["REDIS_URL"] = r.url()
	const deadline = 2 * time.Second
	p.vars["OUTREACH_REQUEST_TIMEOUT"] = deadline.String()
	s := startServe(t, p.vars)
	routes := apiRoutes(t, s.base)
	client := &http.Client{Timeout: 15 * time.Second}

	alive := func(when string) {
		t.Helper()
		resp, err := client.Get(s.base + "/healthz")
		if err != nil {
			t.Fatalf("%s: the process no longer answers: %v", when, err)
		}
		resp.Body.Close()
	}

	t.Run("down", func(t *testing.T) {
		r.stop()
		for _, rt := range routes {
			resp, err := client.Do(rt.request(context.Background(), s.base))
			if err != nil {
				t.Fatalf("%s with Redis down: %v", rt.pattern, err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rt.pattern == "GET /api/v1/openapi.yaml" {
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s needs no store, answered %d", rt.pattern, resp.StatusCode)
				}
				continue
			}
			var e struct {
				Error string `json:"error"`
			}
			if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(data, &e) != nil || e.Error == "" {
				t.Errorf("%s with Redis down: %d %s, want 503 with a JSON error", rt.pattern, resp.StatusCode, data)
			}
			if resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s with Redis down: no Retry-After", rt.pattern)
			}
			alive(rt.pattern)
		}
		if strings.Contains(s.logs.String(), "goroutine ") {
			t.Errorf("a stack was logged:\n%s", s.logs.String())
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		r.start()
		waitFor(t, func() bool { return status(t, s.base+"/readyz") == http.StatusOK })
		before := len(s.logs.String())
		// Redis hangs: every request waits on it, and every client gives up.
		r.cmd.Process.Signal(syscall.SIGSTOP)
		stopped := true
		defer func() {
			if stopped {
				r.cmd.Process.Signal(syscall.SIGCONT)
			}
		}()
		var wg sync.WaitGroup
		for _, rt := range routes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				if resp, err := http.DefaultClient.Do(rt.request(ctx, s.base)); err == nil {
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		time.Sleep(200 * time.Millisecond) // the service sees the connections close
		r.cmd.Process.Signal(syscall.SIGCONT)
		stopped = false
		waitFor(t, func() bool { return status(t, s.base+"/readyz") == http.StatusOK })
		alive("after cancelled requests")
		// Every handler that waited on Redis has ended by its deadline
		// (its Redis calls end then, and erasure, bounded on its own, has
		// Redis back); only then is the log complete.
		time.Sleep(deadline + time.Second)
		for _, line := range strings.Split(s.logs.String()[before:], "\n") {
			if strings.Contains(line, `"level":"ERROR"`) {
				t.Errorf("a client that went away was logged as an error: %s", line)
			}
		}
	})

	t.Run("back", func(t *testing.T) {
		for _, rt := range routes {
			resp, err := client.Do(rt.request(context.Background(), s.base))
			if err != nil {
				t.Fatalf("%s with Redis back: %v", rt.pattern, err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" {
				// Once, as a client told to: a publish (the check of a
				// whole content set, then Redis) can overrun the deadline
				// on a machine loaded with the race detector.
				time.Sleep(time.Second)
				if resp, err = client.Do(rt.request(context.Background(), s.base)); err != nil {
					t.Fatalf("%s with Redis back, again: %v", rt.pattern, err)
				}
				data, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if resp.StatusCode >= 500 {
				t.Errorf("%s with Redis back: %d %s", rt.pattern, resp.StatusCode, data)
			}
		}
	})
}

// TestMetricsOnItsOwnAddress serves /metrics on OUTREACH_METRICS_ADDR,
// behind OUTREACH_METRICS_TOKEN, and not on the public address.
func TestMetricsOnItsOwnAddress(t *testing.T) {
	t.Parallel()
	const token = "metrics-token-0123456789"
	s := startServe(t, map[string]string{"OUTREACH_METRICS_ADDR": "127.0.0.1:0", "OUTREACH_METRICS_TOKEN": token})
	m := regexp.MustCompile(`"metrics_addr":"(127\.0\.0\.1:\d+)"`).FindStringSubmatch(s.logs.String())
	if m == nil {
		t.Fatalf("no metrics address logged:\n%s", s.logs.String())
	}
	if code := status(t, s.base+"/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on OUTREACH_ADDR: %d, want 404", code)
	}
	if code := status(t, "http://"+m[1]+"/metrics"); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
	req, _ := http.NewRequest("GET", "http://"+m[1]+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(data), "outreach_") {
		t.Errorf("/metrics with the token: %d %.200s", resp.StatusCode, data)
	}
}

// TestSiteNamesAreChecked refuses a site whose names would break the bot's
// messages, with 422 naming the field; a good site is added.
func TestSiteNamesAreChecked(t *testing.T) {
	t.Parallel()
	s := startServe(t, map[string]string{"REDIS_URL": redistest.URL(t), "OUTREACH_REDIS_PREFIX": redistest.Prefix(t), "OUTREACH_ADMIN_TOKEN": adminToken})
	for _, tt := range []struct{ body, field string }{
		{`{"id":"tiznit","names":{"fr":"Tiz\nnit"}}`, "names.fr"},
		{`{"id":"tiznit","names":{"fr":"` + strings.Repeat("x", 61) + `"}}`, "names.fr"},
		{`{"id":"tiznit","names":{"fr":"   "}}`, "names.fr"},
		{`{"id":"tiznit","names":{"ar":"تيزنيت\u202e"}}`, "names.ar"},
		{`{"id":"tiznit","names":{"xx":"Tiznit"}}`, "names.xx"},
		{`{"id":"Tiz nit","names":{"fr":"Tiznit"}}`, "id"},
	} {
		code, out := api(t, "POST", s.base+"/api/v1/sites", adminToken, tt.body)
		if msg, _ := out["error"].(string); code != http.StatusUnprocessableEntity || !strings.Contains(msg, tt.field) {
			t.Errorf("%s: %d %v, want 422 naming %s", tt.body, code, out, tt.field)
		}
	}
	if code, out := api(t, "PATCH", s.base+"/api/v1/sites/nador", adminToken, `{"names":{"fr":"Nador\u0007"}}`); code != http.StatusUnprocessableEntity {
		t.Errorf("rename with a control character: %d %v, want 422", code, out)
	}
	if code, out := api(t, "POST", s.base+"/api/v1/sites", adminToken, `{"id":"tiznit","names":{"fr":"Tiznit","ar":"تيزنيت"}}`); code != http.StatusCreated {
		t.Errorf("a good site: %d %v", code, out)
	}
}

// TestSlowUploadIsNotASlowRedis: a content set that takes longer to arrive
// than the request deadline (a partner on a slow link) is published; the
// deadline counts from when the body has arrived.
func TestSlowUploadIsNotASlowRedis(t *testing.T) {
	t.Parallel()
	s := startServe(t, map[string]string{"REDIS_URL": redistest.URL(t), "OUTREACH_REDIS_PREFIX": redistest.Prefix(t),
		"OUTREACH_ADMIN_TOKEN": adminToken, "OUTREACH_REQUEST_TIMEOUT": "3s"})
	body, _ := json.Marshal(map[string]any{"files": contentFiles(t)})
	pr, pw := io.Pipe()
	go func() {
		// The body arrives in 8 pieces over 6 s: twice the deadline. (The
		// deadline leaves the check of a whole content set, under -race on
		// a loaded machine, room to finish once the body is in.)
		step := len(body)/8 + 1
		for i := 0; i < len(body); i += step {
			pw.Write(body[i:min(i+step, len(body))])
			time.Sleep(750 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("PUT", s.base+"/api/v1/content", pr)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a slow upload of a valid content set: %d %s, want 200", resp.StatusCode, data)
	}
}
