package console

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/store"
)

// BenchmarkDashboard renders the dashboard with 100,000 subscribers, 10,000
// open requests and 30 days of counts in Redis, and reports its weight.
//
//	go test -run '^$' -bench Dashboard -benchtime 20x ./bot/console/
func BenchmarkDashboard(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	sites := []string{"nador", "oujda", "rabat", "casablanca", "tanger"}
	p := f.rdb.Pipeline()
	for i := range 100_000 {
		ck := fmt.Sprintf("c%06d", i)
		p.SAdd(ctx, f.store.Keys().SubscribersOf(sites[i%len(sites)], ck), ck)
		if i%5000 == 4999 {
			if _, err := p.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := range 10_000 {
		if err := f.store.Requests().Add(ctx, store.Request{ID: fmt.Sprintf("r%05d", i), Contact: "c", Channel: "sms", Lang: "fr", Site: "nador",
			Text: f.store.Seal("a message"), CreatedAt: time.Now(), Open: true, Urgent: i%10 == 0}); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			if _, err := p.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	for d := range 30 {
		day := time.Now().AddDate(0, 0, -d).Format(time.DateOnly)
		p.HSet(ctx, f.prefix+"{stats}:day:"+day, "in.sms", 100+d, "out.sms", 300+d, "in.telegram", 50, "out.telegram", 120, "delivered.sms", 280, "failed.sms", 4, "lang.ar", 7, "site.nador", 12)
	}
	if _, err := p.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	admin := f.signIn("admin", bootstrap)
	b.ResetTimer()
	var size int
	for b.Loop() {
		code, page, _ := admin.get("/")
		if code != http.StatusOK {
			b.Fatalf("dashboard: %d", code)
		}
		size = len(page)
	}
	b.ReportMetric(float64(size), "bytes/page")
}
