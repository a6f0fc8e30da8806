package versions

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/outreach-org/outreach/bot/content"
	keyspace "github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

func shipped(t *testing.T) (map[string][]byte, map[string]string) {
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	raw := c.Files()
	files := map[string]string{}
	for k, v := range raw {
		files[k] = string(v)
	}
	return raw, files
}

// TestConcurrentPublishesHigherWins publishes eight versions at once: the
// newest is current, never an older one that finished last.
func TestConcurrentPublishesHigherWins(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	raw, files := shipped(t)
	s := New(rdb, prefix, raw)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, _, err := s.Publish(ctx, files, "t"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	cur, err := s.CurrentNumber(ctx)
	if err != nil || cur != 9 {
		t.Errorf("current %d, %v; want 9, the newest of versions 2 to 9", cur, err)
	}
	list, _ := s.List(ctx)
	if len(list) != 9 || list[0].Version != 9 || list[8].Version != 1 {
		t.Errorf("versions %+v", list)
	}
}

func TestInvalidIsRefusedAndMissingSourcesToo(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	raw, files := shipped(t)
	s := New(rdb, prefix, raw)
	delete(files, "locales/sources.md")
	_, _, problems, err := s.Publish(context.Background(), files, "t")
	if err == nil || !strings.Contains(problems.Error(), "locales/sources.md") {
		t.Errorf("content without its facts file: %v", err)
	}
	if n, _ := s.CurrentNumber(context.Background()); n != 1 {
		t.Errorf("current %d after a refused publish, want 1", n)
	}
}

// TestOnlyTheLastVersionsAreKept: with 3 kept, six publishes leave
// versions 5 to 7 in Redis (and the built-in 1); the older ones are
// deleted, listed nowhere, and a rollback to one is refused as no longer
// kept, while one within them works.
func TestOnlyTheLastVersionsAreKept(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	raw, files := shipped(t)
	s := New(rdb, prefix, raw).WithKeep(3)
	ctx := context.Background()
	for range 6 {
		if _, _, _, err := s.Publish(ctx, files, "t"); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, m := range list {
		got = append(got, m.Version)
	}
	if !slices.Equal(got, []int{7, 6, 5, 1}) {
		t.Errorf("versions listed %v, want [7 6 5 1]", got)
	}
	ks := keyspace.New(prefix)
	keys, err := rdb.Keys(ctx, ks.Glob(keyspace.ContentVersionF)).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if want := []string{ks.ContentVersion("5"), ks.ContentVersion("6"), ks.ContentVersion("7")}; !slices.Equal(keys, want) {
		t.Errorf("version keys in Redis %v, want %v", keys, want)
	}
	if n, err := rdb.ZCard(ctx, ks.ContentVersions()).Result(); err != nil || n != 3 {
		t.Errorf("the version list holds %d, %v; want 3", n, err)
	}

	_, _, err = s.Rollback(ctx, 3, "t")
	if !errors.Is(err, ErrNotKept) || !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no longer kept") {
		t.Errorf("rollback to version 3, deleted: %v; want ErrNotKept", err)
	}
	if _, err := s.Get(ctx, 99); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrNotKept) {
		t.Errorf("version 99, never published: %v; want ErrNotFound only", err)
	}
	meta, c, err := s.Rollback(ctx, 5, "t")
	if err != nil || c == nil || meta.Version != 8 {
		t.Fatalf("rollback to version 5, kept: %+v, %v", meta, err)
	}
	if _, err := s.Get(ctx, 6); err != nil {
		t.Errorf("version 6 is among the last 3 (6, 7, 8): %v", err)
	}
	if _, err := s.Get(ctx, 5); !errors.Is(err, ErrNotKept) {
		t.Errorf("version 5, rolled back to as 8 and now the oldest: %v, want ErrNotKept", err)
	}
	if _, _, err := s.Rollback(ctx, 1, "t"); err != nil {
		t.Errorf("the built-in version is always there: %v", err)
	}

	// Keeping fewer from now on: the older ones are refused at once,
	// before a publish deletes them.
	fewer := New(rdb, prefix, raw).WithKeep(1)
	if _, err := fewer.Get(ctx, 8); !errors.Is(err, ErrNotKept) {
		t.Errorf("version 8 with only 1 kept (9): %v, want ErrNotKept", err)
	}
	if list, _ := fewer.List(ctx); len(list) != 2 || list[0].Version != 9 {
		t.Errorf("versions listed with 1 kept: %+v", list)
	}
}

// TestPublishIsBounded: a publish over the bounds of a content set is
// refused with the problem, and nothing is stored: a file that is not
// content, or a message file of too many ids.
func TestPublishIsBounded(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	raw, files := shipped(t)
	s := New(rdb, prefix, raw)
	ctx := context.Background()
	junk := maps.Clone(files)
	junk["backup/all.bin"] = strings.Repeat("x", 100<<10)
	var b strings.Builder
	for i := range content.MaxEntries + 1 {
		fmt.Fprintf(&b, "x%d: a\n", i)
	}
	many := maps.Clone(files)
	many["locales/fr.yaml"] += b.String()
	for name, set := range map[string]map[string]string{"junk": junk, "many ids": many} {
		_, _, problems, err := s.Publish(ctx, set, "t")
		var invalid *ErrInvalid
		if !errors.As(err, &invalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
		if msg := problems.Error(); !strings.Contains(msg, "backup/all.bin: not a content file") && !strings.Contains(msg, fmt.Sprintf("entries: at most %d", content.MaxEntries)) {
			t.Errorf("%s: problems %v", name, msg)
		}
	}
	if n, err := rdb.Exists(ctx, keyspace.New(prefix).ContentVersions(), keyspace.New(prefix).ContentCurrent()).Result(); err != nil || n != 0 {
		t.Errorf("a refused publish stored something: %d keys, %v", n, err)
	}
}

// console-content: a publish may carry a note, kept in the version's meta.
func TestPublishNoteIsKept(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	raw, files := shipped(t)
	s := New(rdb, prefix, raw)
	ctx := context.Background()
	meta, _, _, err := s.PublishNote(ctx, files, "nadia", "clinic hours at Nador")
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Get(ctx, meta.Version)
	if err != nil || v.Note != "clinic hours at Nador" || v.PublishedBy != "nadia" {
		t.Errorf("version %d: %+v, %v", meta.Version, v.Meta, err)
	}
	list, _ := s.List(ctx)
	if len(list) != 2 || list[0].Note != "clinic hours at Nador" {
		t.Errorf("List: %+v", list)
	}
}
