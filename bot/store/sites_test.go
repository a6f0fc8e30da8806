package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

// TestConcurrentSiteChangesAllLand: two instances (two stores on two
// clients) adding sites at the same moment lose none: the list is changed
// with compare-and-set.
func TestConcurrentSiteChangesAllLand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := redistest.New(t)
	rdb2, err := redistest.Client(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb2.Close() })
	key := make([]byte, 32)
	var stores []*store.Store
	for _, c := range []struct{ name string }{{"a"}, {"b"}} {
		client := rdb
		if c.name == "b" {
			client = rdb2
		}
		s, err := store.New(ctx, client, store.Options{Prefix: prefix, DataKey: key})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	defaults := func() []engine.Site { return []engine.Site{{ID: "nador"}} }
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 20 {
				id := fmt.Sprintf("site%d_%d", i, n)
				errs <- s.UpdateSites(ctx, defaults, func(sites []engine.Site) ([]engine.Site, error) {
					return append(sites, engine.Site{ID: id}), nil
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := stores[0].Sites(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 41 {
		t.Errorf("%d sites after 40 concurrent additions to 1, want 41", len(got))
	}
}
