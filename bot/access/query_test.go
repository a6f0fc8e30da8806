package access_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/redistest"
)

func TestTokensListShowsNamesAndRolesNeverTokens(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	tokens := access.NewTokens(rdb, prefix, "bootstrap-secret-token")
	if got, err := tokens.List(ctx); err != nil || len(got) != 0 {
		t.Fatalf("no tokens: %v %v (the bootstrap token is not stored, so not listed)", got, err)
	}
	for _, tk := range []struct {
		name string
		role access.Role
	}{{"zineb", access.Partner}, {"amina", access.Staff}, {"ops", access.Admin}} {
		if _, err := tokens.Create(ctx, tk.name, tk.role); err != nil {
			t.Fatal(err)
		}
	}
	if err := tokens.Delete(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	got, err := tokens.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "amina" || got[0].Role != access.Staff || got[1].Name != "zineb" || got[1].Role != access.Partner {
		t.Fatalf("List = %+v, want amina (staff) then zineb (partner)", got)
	}
	if time.Since(got[0].Created) > time.Minute {
		t.Errorf("created %v, want just now", got[0].Created)
	}
}

// record writes n entries, one a millisecond from start, by who.
func record(t *testing.T, a *access.Audit, c *clock, start time.Time, n int, who, action string) {
	t.Helper()
	for i := range n {
		c.Set(start.Add(time.Duration(i) * time.Millisecond))
		if err := a.Record(context.Background(), access.Principal{Name: who, Role: access.Staff}, action, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// all follows the pages of q to the end.
func all(t *testing.T, a *access.Audit, q access.AuditQuery) (events []access.Event, pages int) {
	t.Helper()
	for {
		p, err := a.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, p.Events...)
		pages++
		if p.Next == "" {
			return events, pages
		}
		if pages > 1000 {
			t.Fatal("the pages never end")
		}
		q.After = p.Next
	}
}

func TestAuditQueryFiltersAndPages(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	c := &clock{}
	a := newAudit(rdb, prefix, c.Now)
	day := time.Now().UTC().Truncate(24 * time.Hour).Add(-48 * time.Hour)
	record(t, a, c, day, 120, "amina", "site.change")
	record(t, a, c, day.Add(time.Hour), 30, "Karim", "token.create")
	record(t, a, c, day.Add(25*time.Hour), 10, "amina", "site.add")
	c.Set(time.Now())

	// Everything, newest first, in pages of 50 that neither skip nor repeat.
	events, pages := all(t, a, access.AuditQuery{})
	if len(events) != 160 || pages != 4 {
		t.Fatalf("%d events in %d pages, want 160 in 4", len(events), pages)
	}
	seen := map[string]bool{}
	for i, e := range events {
		if i > 0 && e.At.After(events[i-1].At) {
			t.Fatalf("entry %d (%v) is newer than the one before (%v)", i, e.At, events[i-1].At)
		}
		k := e.Action + e.Target
		if seen[k] {
			t.Fatalf("%s %s is on two pages", e.Action, e.Target)
		}
		seen[k] = true
	}
	// By who, in any case; by the start of an action; by time.
	if got, _ := all(t, a, access.AuditQuery{Who: "karim"}); len(got) != 30 || got[0].Who != "Karim" {
		t.Errorf("who=karim: %d entries, want 30", len(got))
	}
	if got, _ := all(t, a, access.AuditQuery{Action: "site."}); len(got) != 130 {
		t.Errorf("action=site.: %d entries, want 130", len(got))
	}
	if got, _ := all(t, a, access.AuditQuery{Who: "amina", Action: "site.add"}); len(got) != 10 {
		t.Errorf("amina's site.add: %d entries, want 10", len(got))
	}
	got, _ := all(t, a, access.AuditQuery{From: day, Until: day.Add(24 * time.Hour)})
	if len(got) != 150 {
		t.Errorf("the first day: %d entries, want 150", len(got))
	}
	for _, e := range got {
		if e.Action == "site.add" {
			t.Errorf("the first day holds an entry of the next: %+v", e)
		}
	}
	if _, err := a.Query(context.Background(), access.AuditQuery{After: "nonsense"}); !errors.Is(err, access.ErrInvalid) {
		t.Errorf("a bad cursor: %v, want ErrInvalid", err)
	}
}

// Entries of the same millisecond are neither lost nor repeated across
// pages.
func TestAuditQueryPagesThroughTies(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	at := time.Now().Add(-time.Minute)
	a := newAudit(rdb, prefix, func() time.Time { return at })
	for i := range 7 {
		if err := a.Record(context.Background(), admin, "person.invite", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	events, pages := all(t, a, access.AuditQuery{Limit: 3})
	if len(events) != 7 || pages != 3 {
		t.Fatalf("%d events in %d pages, want 7 in 3", len(events), pages)
	}
	seen := map[string]bool{}
	for _, e := range events {
		if seen[e.Target] {
			t.Errorf("%s twice", e.Target)
		}
		seen[e.Target] = true
	}
}

// A filter few entries match stops after MaxAuditScan entries and says
// so; going on finds the rest.
func TestAuditQueryBoundsItsSearch(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	c := &clock{}
	a := newAudit(rdb, prefix, c.Now)
	start := time.Now().Add(-time.Hour)
	record(t, a, c, start, 1, "rare", "token.delete")
	record(t, a, c, start.Add(time.Second), access.MaxAuditScan+10, "busy", "site.change")
	c.Set(time.Now())
	p, err := a.Query(context.Background(), access.AuditQuery{Who: "rare"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 0 || !p.Searched || p.Next == "" {
		t.Fatalf("first page: %d events, searched %v, next %q; want none, searched, and a next", len(p.Events), p.Searched, p.Next)
	}
	p, err = a.Query(context.Background(), access.AuditQuery{Who: "rare", After: p.Next})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 1 || p.Events[0].Action != "token.delete" || p.Next != "" {
		t.Errorf("second page: %+v, next %q; want the one entry and no more", p.Events, p.Next)
	}
}

func TestAuditQueryOnEmbeddedStore(t *testing.T) {
	t.Parallel()
	srv := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	c := &clock{}
	a := newAudit(rdb, "e:", c.Now)
	record(t, a, c, time.Now().Add(-time.Minute), 12, "amina", "site.change")
	c.Set(time.Now())
	if events, pages := all(t, a, access.AuditQuery{Limit: 5}); len(events) != 12 || pages != 3 {
		t.Errorf("%d events in %d pages, want 12 in 3", len(events), pages)
	}
}
