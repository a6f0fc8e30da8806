package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

// sitesServer is a server over a real store, with the sites, the dialog
// (for simulate) and the audit log; call sends a request as admin.
func sitesServer(t *testing.T) func(method, path, body string) (int, string) {
	t.Helper()
	rdb, prefix := redistest.New(t)
	st, err := store.New(context.Background(), rdb, store.Options{Prefix: prefix, DataKey: []byte("server-sites-test-data-key-32-by")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := metrics.New()
	d := dialog.New(st, c, m, log, dialog.Options{})
	h := New(Options{
		Dialog: d, Store: st, Metrics: m, Log: log,
		Tokens:     access.NewTokens(rdb, prefix, testAdminToken),
		Audit:      access.NewAudit(rdb, prefix, access.AuditOptions{}),
		Broadcasts: broadcast.New(rdb, st, d.Content, log, broadcast.Options{}),
	}).Handler()
	return func(method, path, body string) (int, string) {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+testAdminToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code, rec.Body.String()
	}
}

// siteCoords returns the coordinates GET /api/v1/sites shows for id.
func siteCoords(t *testing.T, call func(method, path, body string) (int, string), id string) string {
	t.Helper()
	code, body := call("GET", "/api/v1/sites", "")
	var out struct {
		Sites []struct {
			ID     string          `json:"id"`
			Coords json.RawMessage `json:"coords"`
		} `json:"sites"`
	}
	if err := json.Unmarshal([]byte(body), &out); code != 200 || err != nil {
		t.Fatalf("GET /api/v1/sites: %d %s", code, body)
	}
	for _, s := range out.Sites {
		if s.ID == id {
			return string(s.Coords)
		}
	}
	t.Fatalf("no site %s in %s", id, body)
	return ""
}

// Sites have coordinates: the content's by default, staff's own when they
// give them; a centre out of range, or half of one, is refused with 422
// naming the field, and nothing changes.
func TestSiteCoordinates(t *testing.T) {
	t.Parallel()
	call := sitesServer(t)
	if got := siteCoords(t, call, "nador"); got != `{"lat":35.174,"lon":-2.9287}` {
		t.Errorf("nador: coords %s, want the content's", got)
	}
	code, body := call("POST", "/api/v1/sites", `{"id":"tiznit","names":{"fr":"Tiznit"},"coords":{"lat":29.6974,"lon":-9.7316}}`)
	if code != http.StatusCreated || !strings.Contains(body, `"coords":{"lat":29.6974,"lon":-9.7316}`) {
		t.Fatalf("POST tiznit: %d %s", code, body)
	}
	if got := siteCoords(t, call, "tiznit"); got != `{"lat":29.6974,"lon":-9.7316}` {
		t.Errorf("tiznit: coords %s", got)
	}
	if code, body := call("PATCH", "/api/v1/sites/nador", `{"coords":{"lat":35.1688,"lon":-2.9335}}`); code != 200 {
		t.Fatalf("PATCH nador: %d %s", code, body)
	}
	if got := siteCoords(t, call, "nador"); got != `{"lat":35.1688,"lon":-2.9335}` {
		t.Errorf("nador after PATCH: coords %s", got)
	}
	for _, tt := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/api/v1/sites", `{"id":"agadir","names":{"fr":"Agadir"},"coords":{"lat":95,"lon":-9.6}}`, 422, "coords.lat: 95: want a latitude from -90 to 90"},
		{"POST", "/api/v1/sites", `{"id":"agadir","names":{"fr":"Agadir"},"coords":{"lat":30.4,"lon":-180.5}}`, 422, "coords.lon: -180.5: want a longitude from -180 to 180"},
		{"POST", "/api/v1/sites", `{"id":"agadir","names":{"fr":"Agadir"},"coords":{"lat":30.4}}`, 422, "coords.lon: missing"},
		{"POST", "/api/v1/sites", `{"id":"agadir","names":{"fr":"Agadir"},"coords":{"lon":-9.6}}`, 422, "coords.lat: missing"},
		{"POST", "/api/v1/sites", `{"id":"agadir","names":{"fr":"Agadir"},"coords":{"lat":"30.4","lon":-9.6}}`, 400, "lat"},
		{"POST", "/api/v1/sites", `{"id":"agadir","names":{"fr":"Agadir"},"coords":{"lat":30.4,"lon":-9.6,"alt":3}}`, 400, "alt"},
		{"PATCH", "/api/v1/sites/nador", `{"coords":{"lat":-91,"lon":181}}`, 422, "coords.lat: -91: want a latitude from -90 to 90 (decimal degrees, south negative); coords.lon: 181"},
		{"PATCH", "/api/v1/sites/nador", `{"coords":{"lat":35}}`, 422, "coords.lon: missing"},
	} {
		code, body := call(tt.method, tt.path, tt.body)
		if code != tt.status || !strings.Contains(body, tt.want) {
			t.Errorf("%s %s %s: %d %s; want %d naming %q", tt.method, tt.path, tt.body, code, body, tt.status, tt.want)
		}
	}
	if got := siteCoords(t, call, "nador"); got != `{"lat":35.1688,"lon":-2.9335}` {
		t.Errorf("nador after refused changes: coords %s", got)
	}
	if code, body := call("GET", "/api/v1/sites", ""); strings.Contains(body, "agadir") {
		t.Errorf("a refused site was added: %d %s", code, body)
	}
}

// simulate takes a location and answers as a channel would, naming the
// nearest site; a location out of range is refused.
func TestSimulateLocation(t *testing.T) {
	t.Parallel()
	call := sitesServer(t)
	if code, body := call("POST", "/api/v1/sites", `{"id":"tiznit","names":{"fr":"Tiznit","en":"Tiznit"},"coords":{"lat":29.6974,"lon":-9.7316}}`); code != 201 {
		t.Fatalf("POST tiznit: %d %s", code, body)
	}
	code, body := call("POST", "/api/v1/simulate", `{"contact":"p1","text":"Hello"}`)
	if code != 200 {
		t.Fatalf("simulate Hello: %d %s", code, body)
	}
	code, body = call("POST", "/api/v1/simulate", `{"contact":"p1","location":{"lat":29.71,"lon":-9.74}}`)
	if code != 200 || !strings.Contains(body, "The city nearest to you: Tiznit, about 2 km away.") {
		t.Errorf("simulate a location near Tiznit: %d %s", code, body)
	}
	code, body = call("POST", "/api/v1/simulate", `{"contact":"p1","location":{"lat":-45,"lon":170}}`)
	if code != 200 || !strings.Contains(body, "None of our cities is within 50 km of you.") {
		t.Errorf("simulate a location far away: %d %s", code, body)
	}
	for in, want := range map[string]string{
		`{"contact":"p1","location":{"lat":91,"lon":0}}`: "location: want a latitude (lat) from -90 to 90",
		`{"contact":"p1","location":{"lat":1}}`:          "location.lon: missing",
	} {
		if code, body := call("POST", "/api/v1/simulate", in); code != 422 || !strings.Contains(body, want) {
			t.Errorf("simulate %s: %d %s; want 422 naming %q", in, code, body, want)
		}
	}
}

// simulate previews a call: its beginning offers each language in itself,
// and a key answers as a call says it; anything but one key is refused.
func TestSimulateCall(t *testing.T) {
	t.Parallel()
	call := sitesServer(t)
	code, body := call("POST", "/api/v1/simulate", `{"contact":"c1","call":"start"}`)
	if code != 200 || !strings.Contains(body, `{"text":"For English, press 2.","lang":"en"}`) {
		t.Fatalf("simulate a call's start: %d %s", code, body)
	}
	code, body = call("POST", "/api/v1/simulate", `{"contact":"c1","call":"key","text":"2"}`)
	if code != 200 || !strings.Contains(body, "Health care: press 2.") || strings.Contains(body, "reply with a number") {
		t.Errorf("simulate key 2: %d %s", code, body)
	}
	for in, want := range map[string]string{
		`{"contact":"c1","call":"key","text":"12"}`: "one key",
		`{"contact":"c1","call":"ring"}`:            "a call begins",
	} {
		if code, body := call("POST", "/api/v1/simulate", in); code != 422 || !strings.Contains(body, want) {
			t.Errorf("simulate %s: %d %s; want 422 naming %q", in, code, body, want)
		}
	}
}
