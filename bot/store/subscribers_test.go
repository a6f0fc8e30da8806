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
	rdb.SAdd(ctx, st.SubscribersKey("nador"), "a", "b", "c")
	rdb.SAdd(ctx, st.SubscribersKey("oujda"), "a")
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
// once, under the site chosen in menu 1, else the first one followed, else
// none; the count is kept for the dashboard, and a simulated person is not
// counted.
func TestCensusCountsPeopleBySiteAndLanguage(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	k := st.Keys()
	if c, err := st.Contacts().Census(ctx); err != nil || !c.At.IsZero() || c.Total != 0 {
		t.Fatalf("before any count: %+v %v, want none", c, err)
	}
	states := map[string]int{ // state → how many people have it (over a batch of 1,000)
		`{"lang":"ar","vars":{"site":"nador"}}`:                   1500,
		`{"lang":"fr","sites":["oujda","nador"]}`:                 700,
		`{"lang":"fr","vars":{"site":"rabat"},"sites":["oujda"]}`: 2,
		`{"lang":"en"}`: 3,
		`{}`:            1,
	}
	i := 0
	pipe := rdb.Pipeline()
	for s, n := range states {
		for range n {
			pipe.HSet(ctx, k.ContactState(fmt.Sprintf("c%05d", i)), "s", s, "v", 1)
			i++
		}
	}
	pipe.HSet(ctx, k.Simulation().ContactState("c00000"), "s", `{"lang":"ar"}`)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(time.Now().UnixMilli())
	counted, err := st.Contacts().CountPeople(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]int64{"nador": {"ar": 1500}, "oujda": {"fr": 700}, "rabat": {"fr": 2}, "": {"en": 3, "": 1}}
	kept, err := st.Contacts().Census(ctx)
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
}
