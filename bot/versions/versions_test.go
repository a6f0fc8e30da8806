package versions

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/outreach-org/outreach/bot/content"
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
