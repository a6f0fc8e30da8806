package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/distribution"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/store"
	"github.com/outreach-org/outreach/bot/versions"
)

// fixedRoutes are the routes outside routes(): registered by Handler()
// itself, or to be found in routes() (the description of the API).
var fixedRoutes = []string{
	"GET /healthz",
	"GET /readyz",
	"GET /metrics",
	"POST /webhooks/twilio",
	"POST /webhooks/twilio/status",
	"POST /webhooks/twilio/voice",
	"GET /audio/{file}",
	"POST /webhooks/telegram",
	"GET /api/v1/openapi.yaml",
}

// httpMethods are the keys of an OpenAPI path item that are operations.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

const testAdminToken = "test-admin-token"

type okStore struct{}

func (okStore) Ping(context.Context) error { return nil }
func (okStore) UpdateSites(context.Context, func() []engine.Site, func([]engine.Site) ([]engine.Site, error)) error {
	return nil
}

type noRequests struct{}

func (noRequests) List(context.Context) ([]store.Request, error) { return nil, nil }
func (noRequests) Get(context.Context, string) (store.Request, []string, error) {
	return store.Request{}, nil, store.ErrNoRequest
}
func (noRequests) Unseal(string) (string, error) { return "", nil }

// fullServer returns a Server with every part present, so that every route
// is registered. The parts are empty: only routes that touch none of them
// may be called.
func fullServer() *Server {
	webhook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return New(Options{
		Dialog:        &dialog.Service{},
		Store:         okStore{},
		Metrics:       metrics.New(),
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Tokens:        access.NewTokens(nil, "", testAdminToken),
		Audit:         &access.Audit{},
		Outbox:        &outbox.Outbox{},
		Requests:      noRequests{},
		Broadcasts:    &broadcast.Service{},
		Distributions: &distribution.Service{},
		Versions:      &versions.Store{},
		TwilioInbound: webhook,
		TwilioStatus:  webhook,
		TwilioVoice:   webhook,
		Audio:         webhook,
		Telegram:      webhook,
	})
}

// operation is what the test reads of an OpenAPI operation.
type operation struct {
	Roles      *[]string        `yaml:"x-roles"`
	Security   *[]any           `yaml:"security"`
	Parameters []map[string]any `yaml:"parameters"`
	Responses  map[string]any   `yaml:"responses"`
}

type spec struct {
	raw map[string]any
	// ops by "METHOD /path", as the routes are written.
	ops map[string]operation
}

func loadSpec(t *testing.T) spec {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	sp := spec{ops: map[string]operation{}}
	if err := yaml.Unmarshal(OpenAPI, &sp.raw); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	for path, item := range doc.Paths {
		for key, node := range item {
			if !slices.Contains(httpMethods, key) {
				continue
			}
			var op operation
			if err := node.Decode(&op); err != nil {
				t.Fatalf("openapi.yaml: %s %s: %v", key, path, err)
			}
			sp.ops[strings.ToUpper(key)+" "+path] = op
		}
	}
	return sp
}

func TestOpenAPIHeader(t *testing.T) {
	t.Parallel()
	sp := loadSpec(t)
	if v := sp.raw["openapi"]; v != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", v)
	}
	info, _ := sp.raw["info"].(map[string]any)
	if info["title"] != "outreach" || info["version"] != "1" {
		t.Errorf("info = %v, want title outreach, version 1", info)
	}
}

// TestOpenAPIMatchesRoutes keeps openapi.yaml and the routes in step: every
// route is described, and every operation described is a route.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	sp := loadSpec(t)
	s := fullServer()
	var inTable []string
	for _, rt := range s.routes() {
		inTable = append(inTable, rt.pattern)
	}
	all := append(slices.Clone(inTable), fixedRoutes...)
	for _, pattern := range all {
		method, path, _ := strings.Cut(pattern, " ")
		if _, ok := sp.ops[pattern]; !ok {
			t.Errorf("route %q is not described in openapi.yaml: add paths[%q].%s", pattern, path, strings.ToLower(method))
		}
	}
	for pattern := range sp.ops {
		if !slices.Contains(all, pattern) {
			t.Errorf("openapi.yaml describes %q, which is not a route: remove it, or register the route", pattern)
		}
	}

	// A fixed route outside routes() must be registered by Handler(): it
	// must not fall through to the mux's 404/405 or the /api/v1/ catch-all.
	h := s.Handler()
	for _, pattern := range fixedRoutes {
		if slices.Contains(inTable, pattern) {
			continue
		}
		method, path, _ := strings.Cut(pattern, " ")
		req := httptest.NewRequest(method, path, strings.NewReader(""))
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
			hint := ""
			if pattern == "GET /api/v1/openapi.yaml" {
				hint = `: add {"GET /api/v1/openapi.yaml", nil, s.openAPI} to routes()`
			}
			t.Errorf("route %q is described in openapi.yaml but not registered (%s answers %d)%s", pattern, pattern, rec.Code, hint)
		}
	}
}

// TestOpenAPIRoles checks that each admin API operation names the roles of
// its route (x-roles), is behind the bearer scheme and lists the answers
// of the authorisation, and that the other routes need no token.
func TestOpenAPIRoles(t *testing.T) {
	t.Parallel()
	sp := loadSpec(t)
	roles := map[string][]string{}
	for _, rt := range fullServer().routes() {
		rs := []string{}
		for _, r := range rt.roles {
			rs = append(rs, string(r))
		}
		roles[rt.pattern] = rs
	}
	for pattern, op := range sp.ops {
		_, path, _ := strings.Cut(pattern, " ")
		if !strings.HasPrefix(path, "/api/v1/") {
			if op.Security == nil || len(*op.Security) != 0 {
				t.Errorf("%s: want security: [] (no token)", pattern)
			}
			continue
		}
		if op.Security != nil {
			t.Errorf("%s: an admin API route takes the bearer scheme; remove its security override", pattern)
		}
		if op.Roles == nil {
			t.Errorf("%s: x-roles is missing", pattern)
			continue
		}
		if want, ok := roles[pattern]; ok && !slices.Equal(*op.Roles, want) {
			t.Errorf("%s: x-roles = %v, want %v as in routes()", pattern, *op.Roles, want)
		}
		for _, code := range []string{"401", "503"} {
			if op.Responses[code] == nil {
				t.Errorf("%s: response %s is missing", pattern, code)
			}
		}
		if got, want := op.Responses["403"] != nil, len(*op.Roles) > 0; got != want {
			t.Errorf("%s: response 403 listed = %v, want %v (roles %v)", pattern, got, want, *op.Roles)
		}
	}
}

// TestOpenAPIPathParameters checks that each {name} of a path is declared.
func TestOpenAPIPathParameters(t *testing.T) {
	t.Parallel()
	sp := loadSpec(t)
	wildcard := regexp.MustCompile(`\{([^}]+)\}`)
	for pattern, op := range sp.ops {
		_, path, _ := strings.Cut(pattern, " ")
		var declared []string
		for _, p := range op.Parameters {
			if ref, ok := p["$ref"].(string); ok {
				p, _ = resolve(sp.raw, ref).(map[string]any)
			}
			if p["in"] == "path" {
				name, _ := p["name"].(string)
				declared = append(declared, name)
			}
		}
		var want []string
		for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
			want = append(want, m[1])
		}
		slices.Sort(declared)
		slices.Sort(want)
		if !slices.Equal(declared, want) {
			t.Errorf("%s: path parameters declared %v, want %v", pattern, declared, want)
		}
	}
}

// TestOpenAPIRefs checks that every local $ref resolves.
func TestOpenAPIRefs(t *testing.T) {
	t.Parallel()
	sp := loadSpec(t)
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if ref, ok := x.(string); ok && k == "$ref" {
					if !strings.HasPrefix(ref, "#/") || resolve(sp.raw, ref) == nil {
						t.Errorf("%s: $ref %q does not resolve", at, ref)
					}
					continue
				}
				walk(at+"/"+k, x)
			}
		case []any:
			for _, x := range v {
				walk(at, x)
			}
		}
	}
	walk("#", sp.raw)
}

// resolve follows a local JSON pointer ("#/components/schemas/Site").
func resolve(doc map[string]any, ref string) any {
	var cur any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	fullServer().openAPI(rec, httptest.NewRequest("GET", "/api/v1/openapi.yaml", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/yaml" || rec.Body.String() != string(OpenAPI) {
		t.Errorf("openAPI = %d %q, %d bytes; want 200 application/yaml, openapi.yaml", rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
	}
}
