package store_test

import (
	"context"
	"testing"

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
