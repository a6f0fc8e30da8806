package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

// consolePages are the pages the benchmark renders: every page of the
// console a signed-in admin can open without an id.
var consolePages = []string{
	"/", "/distributions", "/distributions/new", "/broadcasts", "/broadcasts/new",
	"/requests", "/content", "/content/flow", "/admin/people", "/admin/tokens", "/admin/sites", "/admin/audit",
}

// BenchmarkConsolePages renders each console page on the real service and
// Redis holding 100,000 subscribers (at two sites) and 10,000 open
// requests. It reports the server's time per page (ns/op, from request to
// the last byte, on loopback) and the weight of the page with its assets
// (page+assets_B), which must stay under 250 KB:
//
//	go test -run XXX -bench ConsolePages -benchtime 20x ./cmd/outreach
func BenchmarkConsolePages(b *testing.B) {
	rdb, prefix := redistest.New(b)
	seedConsole(b, rdb, prefix, 100_000, 10_000)
	svc := startServe(b, map[string]string{
		"REDIS_URL":             redistest.URL(b),
		"OUTREACH_REDIS_PREFIX": prefix,
		"OUTREACH_ADMIN_TOKEN":  adminToken,
		"OUTREACH_DATA_KEY":     benchDataKey,
	})
	client := signedInClient(b, svc.base, "admin", adminToken)
	assets := assetWeight(b, client, svc.base)
	for _, page := range consolePages {
		b.Run(strings.Trim(strings.ReplaceAll(page, "/", "_"), "_")+"_", func(b *testing.B) {
			var n int
			for b.Loop() {
				n = getPage(b, client, svc.base+page)
			}
			b.ReportMetric(float64(n), "page_B")
			b.ReportMetric(float64(n+assets), "page+assets_B")
			if n+assets > 250_000 {
				b.Errorf("%s weighs %d bytes with its assets, over 250 KB", page, n+assets)
			}
		})
	}
}

// benchDataKey is the data key of the seeded store and of the service.
const benchDataKey = "dGVzdC1kYXRhLWtleS0zMi1ieXRlcy1sb25nLW9rISE="

// seedConsole fills Redis as a busy deployment would: subscribers at two
// sites and open requests (sealed texts), through the store's own writes.
func seedConsole(b *testing.B, rdb redis.UniversalClient, prefix string, subscribers, requests int) {
	b.Helper()
	ctx := context.Background()
	key, err := base64.StdEncoding.DecodeString(benchDataKey)
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix, DataKey: key, Retention: 180 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	pipe := rdb.Pipeline()
	for i := range subscribers {
		site := "nador"
		if i%3 == 0 {
			site = "oujda"
		}
		ck := fmt.Sprintf("c%07d", i)
		pipe.SAdd(ctx, st.Keys().SubscribersOf(site, ck), ck)
		if pipe.Len() >= 5000 {
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	now := time.Now().UTC()
	langs := []string{"fr", "en", "ar"}
	for i := range requests {
		err := st.Requests().Add(ctx, store.Request{
			ID: outbox.NewID(), Contact: fmt.Sprintf("c%07d", i), Channel: "sms", Lang: langs[i%3], Site: "nador",
			Text: st.Seal("Bonjour, j'ai besoin d'aide pour inscrire mon fils a l'ecole"), CreatedAt: now.Add(-time.Duration(i) * time.Minute),
			Open: true, Urgent: i%50 == 0,
		})
		if err != nil {
			b.Fatal(err)
		}
		if pipe.Len() >= 5000 {
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
}

// signedInClient signs in through the form and keeps the session cookie.
func signedInClient(tb testing.TB, base, user, pass string) *http.Client {
	tb.Helper()
	client := &http.Client{Jar: newJar(tb), Timeout: 30 * time.Second}
	resp, err := client.PostForm(base+"/login", url.Values{"username": {user}, "password": {pass}})
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("signing in: %d", resp.StatusCode)
	}
	return client
}

// getPage fetches a page and returns its size; anything but 200 fails.
func getPage(tb testing.TB, client *http.Client, u string) int {
	tb.Helper()
	resp, err := client.Get(u)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return len(body)
}

// assetWeight is the size of the assets every page loads (its CSS and
// JavaScript), read from the dashboard's links.
func assetWeight(tb testing.TB, client *http.Client, base string) int {
	tb.Helper()
	resp, err := client.Get(base + "/")
	if err != nil {
		tb.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	total := 0
	for _, m := range regexp.MustCompile(`(?:href|src)="(/assets/[^"]+)"`).FindAllStringSubmatch(string(page), -1) {
		total += getPage(tb, client, base+m[1])
	}
	if total == 0 {
		tb.Fatal("the dashboard links no assets")
	}
	return total
}
