package store_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

func TestSubscriberCountsCountEachSite(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	// Subscribers sit in their shard's share of a site's set.
	k := st.Keys()
	for _, ck := range []string{"a", "b", "c"} {
		rdb.SAdd(ctx, k.SubscribersOf("nador", ck), ck)
	}
	rdb.SAdd(ctx, k.SubscribersOf("oujda", "a"), "a")
	if k.ShardOf("a") == k.ShardOf("b") && k.ShardOf("b") == k.ShardOf("c") {
		t.Fatal("pick contacts of different shards")
	}
	got, err := st.Contacts().SubscriberCounts(ctx, []string{"nador", "oujda", "rabat"})
	if err != nil {
		t.Fatal(err)
	}
	if got["nador"] != 3 || got["oujda"] != 1 || got["rabat"] != 0 || len(got) != 3 {
		t.Errorf("counts = %v, want nador 3, oujda 1, rabat 0", got)
	}
	if got, err := st.Contacts().SubscriberCounts(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("no sites: %v %v", got, err)
	}
}

// TestCensusCountsPeopleBySiteAndLanguage: every person kept is counted
// once, under the first site they follow, else the city of the
// conversation under way, else none; the count is kept for the dashboard,
// another instance finds it fresh and does not count again, and a
// simulated person is not counted. The data is as the dialog writes it: the
// lasting state holds the language and subscriptions, the conversation
// (which expires) the city chosen in menu 1.
func TestCensusCountsPeopleBySiteAndLanguage(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	k := st.Keys()
	if c, err := st.Contacts().LastCensus(ctx); err != nil || !c.At.IsZero() || c.Total != 0 {
		t.Fatalf("before any count: %+v %v, want none", c, err)
	}
	people := []struct {
		state, dialog string
		n             int
	}{
		{`{"lang":"ar"}`, `{"node":"main","vars":{"site":"nador"}}`, 1500}, // over a batch of 1,000
		{`{"lang":"fr","sites":["oujda","nador"]}`, ``, 700},
		{`{"lang":"fr","sites":["rabat"]}`, `{"vars":{"site":"oujda"}}`, 2},
		{`{"lang":"en"}`, ``, 3},
		{`{}`, ``, 1},
	}
	i := 0
	pipe := rdb.Pipeline()
	for _, p := range people {
		for range p.n {
			contact := fmt.Sprintf("c%05d", i)
			pipe.HSet(ctx, k.ContactState(contact), "s", p.state, "v", 1)
			if p.dialog != "" {
				pipe.Set(ctx, k.Dialog(contact), p.dialog, time.Hour)
			}
			i++
		}
	}
	pipe.HSet(ctx, k.Simulation().ContactState("c00000"), "s", `{"lang":"ar"}`)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(time.Now().UnixMilli())
	counted, err := st.Contacts().CountPeople(ctx, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int64{"nador": {"ar": 1500}, "oujda": {"fr": 700}, "rabat": {"fr": 2}, "": {"en": 3, "": 1}}
	kept, err := st.Contacts().LastCensus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]store.Census{"counted": counted, "kept": kept} {
		if !reflect.DeepEqual(c.People, want) || c.Total != 2206 || !c.At.Equal(now) {
			t.Errorf("%s: %v, total %d at %v; want %v, 2206 at %v", name, c.People, c.Total, c.At, want, now)
		}
	}
	if ttl := rdb.PTTL(ctx, k.Census()).Val(); ttl <= 23*time.Hour || ttl > 24*time.Hour {
		t.Errorf("the census is kept %v, want a day", ttl)
	}
	// Another instance, a minute later: the count is fresh, it is not made
	// again (a new person is not in it); an hour later it is.
	rdb.HSet(ctx, k.ContactState("late"), "s", `{"lang":"en"}`)
	if again, err := st.Contacts().CountPeople(ctx, now.Add(time.Minute), time.Hour); err != nil || again.Total != 2206 || !again.At.Equal(now) {
		t.Errorf("a minute later: total %d at %v (%v), want the kept count", again.Total, again.At, err)
	}
	if later, err := st.Contacts().CountPeople(ctx, now.Add(time.Hour), time.Hour); err != nil || later.Total != 2207 {
		t.Errorf("an hour later: total %d (%v), want 2207", later.Total, err)
	}
}
