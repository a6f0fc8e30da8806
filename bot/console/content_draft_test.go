package console

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"sync"
	"testing"

	"github.com/outreach-org/outreach/bot/redistest"
)

func TestDraftUpdateAndDelete(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	d := NewContentDrafts(rdb, prefix)
	ctx := context.Background()
	live := map[string]string{"locales/fr.yaml": "a: \"1\"\n"}
	start := func() (Draft, error) { return Draft{Files: live, Base: 3}, nil }

	// Changing nothing starts no draft.
	_, changed, err := d.Update(ctx, "nadia", "a", start, func(dr Draft) (map[string]string, error) { return dr.Files, nil })
	if err != nil || changed {
		t.Fatalf("no change: changed=%v err=%v", changed, err)
	}
	if _, ok, _ := d.Get(ctx); ok {
		t.Fatal("a draft was started for nothing")
	}
	set := func(who, v string) (Draft, bool, error) {
		return d.Update(ctx, who, "a", start, func(dr Draft) (map[string]string, error) {
			return map[string]string{"locales/fr.yaml": "a: \"" + v + "\"\n"}, nil
		})
	}
	dr, changed, err := set("nadia", "2")
	if err != nil || !changed || dr.Rev != 1 || dr.Base != 3 || dr.StartedBy != "nadia" || dr.ChangedBy != "nadia" {
		t.Fatalf("first save: %+v changed=%v err=%v", dr, changed, err)
	}
	dr, _, _ = set("omar", "3")
	if dr.Rev != 2 || dr.StartedBy != "nadia" || dr.ChangedBy != "omar" || dr.Changed != "a" {
		t.Fatalf("second save: %+v", dr)
	}
	got, ok, err := d.Get(ctx)
	if err != nil || !ok || got.Files["locales/fr.yaml"] != "a: \"3\"\n" {
		t.Fatalf("Get: %+v %v %v", got, ok, err)
	}
	// A change that fails leaves the draft as it was.
	boom := errors.New("boom")
	if _, _, err := d.Update(ctx, "x", "a", start, func(Draft) (map[string]string, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("failing change: %v", err)
	}
	if again, _, _ := d.Get(ctx); again.Rev != 2 {
		t.Fatalf("after a failing change, rev %d", again.Rev)
	}
	// Delete only the revision shown.
	if ok, err := d.Delete(ctx, 1); err != nil || ok {
		t.Fatalf("Delete of an old revision: %v %v", ok, err)
	}
	if ok, err := d.Delete(ctx, 2); err != nil || !ok {
		t.Fatalf("Delete: %v %v", ok, err)
	}
	if _, ok, _ := d.Get(ctx); ok {
		t.Fatal("the draft is still there")
	}
}

// Saves of different files at once are all kept: each runs again on the
// draft another save left.
func TestDraftConcurrentSavesAllKept(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	d := NewContentDrafts(rdb, prefix)
	ctx := context.Background()
	start := func() (Draft, error) { return Draft{Files: map[string]string{}}, nil }
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			name := "locales/l" + strconv.Itoa(i) + ".yaml"
			_, _, err := d.Update(ctx, "p"+strconv.Itoa(i), name, start, func(dr Draft) (map[string]string, error) {
				files := maps.Clone(dr.Files)
				if files == nil {
					files = map[string]string{}
				}
				files[name] = "x"
				return files, nil
			})
			if err != nil && !errors.Is(err, ErrDraftChanged) {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	dr, _, err := d.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dr.Files) != dr.Rev {
		t.Errorf("%d files after %d saves: a save was lost", len(dr.Files), dr.Rev)
	}
	if dr.Rev < 1 {
		t.Errorf("no save went through")
	}
}
