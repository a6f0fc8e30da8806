package access_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.MainParallel(m, 8)) }

var admin = access.Principal{Name: access.BootstrapName, Role: access.Admin}

// clock is a settable clock for the audit log.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func newAudit(rdb redis.UniversalClient, prefix string, now func() time.Time) *access.Audit {
	return access.NewAudit(rdb, prefix, access.AuditOptions{Now: now})
}

func list(t *testing.T, a *access.Audit) []access.Event {
	t.Helper()
	events, err := a.List(context.Background(), 100000)
	if err != nil {
		t.Fatal(err)
	}
	return events
}

func has(events []access.Event, action, target string) bool {
	for _, e := range events {
		if e.Action == action && e.Target == target {
			return true
		}
	}
	return false
}

// TestAuditKeptByAgeNotCount: the log used to be capped at 100,000 entries,
// so enough cheap entries pushed an earlier change out.
func TestAuditKeptByAgeNotCount(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	a := newAudit(rdb, prefix, nil)
	if err := a.Record(ctx, admin, "token.create", "amina (staff)"); err != nil {
		t.Fatal(err)
	}
	const more, workers = 100500, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < more; i += workers {
				if err := a.Record(ctx, admin, "site.change", fmt.Sprint("s", i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	events, err := a.List(ctx, more+1)
	if err != nil {
		t.Fatal(err)
	}
	if !has(events, "token.create", "amina (staff)") {
		t.Errorf("after %d more entries the first change is gone (%d entries listed)", more, len(events))
	}
}

// TestRefusedAttemptsAreAggregated: 10,000 refused attempts in a minute,
// from as many addresses, add a bounded number of entries, push no change
// out, and are all counted.
func TestRefusedAttemptsAreAggregated(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 12, 1, 10, 0, 5, 0, time.UTC)}
	a := newAudit(rdb, prefix, c.Now)
	if err := a.Record(ctx, admin, "token.create", "amina (staff)"); err != nil {
		t.Fatal(err)
	}
	for range 500 {
		if err := a.Refused(ctx, access.Principal{}, "login.failed", "198.51.100.9"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10000 {
		if err := a.Refused(ctx, access.Principal{}, "login.failed", fmt.Sprintf("2001:db8::%x", i)); err != nil {
			t.Fatal(err)
		}
	}
	partner := access.Principal{Name: "caritas", Role: access.Partner}
	for range 300 {
		if err := a.Refused(ctx, partner, "content.refused", "192.0.2.4"); err != nil {
			t.Fatal(err)
		}
	}
	events := list(t, a)
	if !has(events, "token.create", "amina (staff)") {
		t.Error("the change made before the refused attempts is gone")
	}
	counts := map[string]int64{}
	for _, e := range events {
		counts[e.Action] += e.Count
		if e.Action == "login.failed" && e.Target == "198.51.100.9" && (e.Count != 500 || e.Who != access.NoToken) {
			t.Errorf("the one address's entry: %+v, want count 500 by %s", e, access.NoToken)
		}
		if e.Action == "content.refused" && (e.Count != 300 || e.Who != "caritas" || e.Target != "192.0.2.4") {
			t.Errorf("refused publishes: %+v, want one entry of 300 by caritas from 192.0.2.4", e)
		}
	}
	if counts["login.failed"] != 10500 || counts["content.refused"] != 300 {
		t.Errorf("counted %v, want 10500 failed logins and 300 refused publishes", counts)
	}
	if most := 1 + 2*(access.MaxRefusedSources+1); len(events) > most {
		t.Errorf("a minute of refused attempts made %d entries, want at most %d", len(events), most)
	}
	// The next minute has entries of its own.
	c.Set(c.Now().Add(time.Minute))
	if err := a.Refused(ctx, access.Principal{}, "login.failed", "198.51.100.9"); err != nil {
		t.Fatal(err)
	}
	if got := list(t, a)[0]; got.Action != "login.failed" || got.Count != 1 || !got.At.Equal(c.Now()) {
		t.Errorf("newest entry %+v, want one failed login at %s", got, c.Now())
	}
}

// TestAuditRetention: entries older than the retention are dropped, from
// the store, not only from the list.
func TestAuditRetention(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	c := &clock{t: start}
	a := access.NewAudit(rdb, prefix, access.AuditOptions{Retention: 30 * 24 * time.Hour, Now: c.Now})
	for i := range 250 {
		if err := a.Record(ctx, admin, "site.add", fmt.Sprint("old", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Refused(ctx, access.Principal{}, "login.failed", "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	c.Set(start.Add(30 * 24 * time.Hour))
	if err := a.Record(ctx, admin, "site.add", "kept"); err != nil {
		t.Fatal(err)
	}
	if n := len(list(t, a)); n != 252 {
		t.Errorf("at exactly the retention: %d entries, want all 252", n)
	}
	c.Set(start.Add(30*24*time.Hour + time.Millisecond))
	if events := list(t, a); len(events) != 1 || events[0].Target != "kept" {
		t.Errorf("past the retention the list is %+v, want only the kept entry", events)
	}
	n, err := a.Forget(ctx)
	if err != nil || n != 251 {
		t.Errorf("Forget = %d, %v; want 251 removed", n, err)
	}
	if got := rdb.ZCard(ctx, prefix+"{audit}:at").Val() + rdb.HLen(ctx, prefix+"{audit}:ev").Val() + rdb.HLen(ctx, prefix+"{audit}:n").Val(); got != 2 {
		t.Errorf("%d stored fields left, want 2 (the kept entry)", got)
	}
	// Writing drops old entries too.
	c.Set(start)
	if err := a.Record(ctx, admin, "site.add", "old again"); err != nil {
		t.Fatal(err)
	}
	c.Set(start.Add(61 * 24 * time.Hour))
	if err := a.Record(ctx, admin, "site.add", "new"); err != nil {
		t.Fatal(err)
	}
	if got := rdb.ZCard(ctx, prefix+"{audit}:at").Val(); got != 1 {
		t.Errorf("after a write past the retention %d entries are stored, want 1", got)
	}
}

// TestImportLegacy: the stream of earlier versions moves into the log.
func TestImportLegacy(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	a := newAudit(rdb, prefix, func() time.Time { return now })
	for _, e := range []struct {
		id     string
		action string
	}{{"1000-0", "site.add"}, {fmt.Sprint(now.Add(-time.Hour).UnixMilli(), "-0"), "token.create"}, {fmt.Sprint(now.Add(-time.Hour).UnixMilli(), "-1"), "token.delete"}} {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: prefix + "audit", ID: e.id, Values: []any{"who", "amina", "role", "admin", "action", e.action, "target", "x"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := a.ImportLegacy(ctx); err != nil || n != 2 {
		t.Fatalf("ImportLegacy = %d, %v; want the 2 entries within the retention", n, err)
	}
	events := list(t, a)
	if len(events) != 2 || events[0].Action != "token.delete" || events[1].Action != "token.create" || events[1].Who != "amina" ||
		!events[1].At.Equal(now.Add(-time.Hour)) {
		t.Errorf("imported %+v", events)
	}
	if rdb.Exists(ctx, prefix+"audit").Val() != 0 {
		t.Error("the legacy stream is still there")
	}
	if n, err := a.ImportLegacy(ctx); err != nil || n != 0 {
		t.Errorf("second ImportLegacy = %d, %v; want nothing to do", n, err)
	}
}

// TestAuditOnEmbeddedStore: the scripts run on the embedded store too.
func TestAuditOnEmbeddedStore(t *testing.T) {
	t.Parallel()
	srv := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	a := access.NewAudit(rdb, "e:", access.AuditOptions{Retention: time.Hour, Now: c.Now})
	for range 3 {
		if err := a.Refused(ctx, access.Principal{}, "login.failed", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Record(ctx, admin, "site.add", "nador"); err != nil {
		t.Fatal(err)
	}
	if events := list(t, a); len(events) != 2 || !has(events, "site.add", "nador") || !has(events, "login.failed", "192.0.2.1") || events[0].Count+events[1].Count != 3 {
		t.Errorf("events %+v", events)
	}
	c.Set(c.Now().Add(2 * time.Hour))
	if n, err := a.Forget(ctx); err != nil || n != 2 {
		t.Errorf("Forget = %d, %v", n, err)
	}
}
