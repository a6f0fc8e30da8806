package sites_test

import (
	"context"
	"errors"
	"testing"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/sites"
)

// memory keeps the sites as the store would.
type memory struct {
	sites   []engine.Site
	puts    int
	refresh int
}

func (m *memory) list(context.Context) ([]engine.Site, error) {
	return append([]engine.Site(nil), m.sites...), nil
}

func (m *memory) UpdateSites(_ context.Context, defaults func() []engine.Site, change func([]engine.Site) ([]engine.Site, error)) error {
	cur := append([]engine.Site(nil), m.sites...)
	if m.sites == nil {
		cur = defaults()
	}
	next, err := change(cur)
	if err != nil {
		return err
	}
	m.sites, m.puts = next, m.puts+1
	return nil
}

func service(t *testing.T, m *memory) *sites.Service {
	t.Helper()
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	return sites.New(m.list, m, func() *content.Content { return c }, func() { m.refresh++ })
}

func TestAddAndChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := &memory{sites: []engine.Site{{ID: "nador"}}}
	s := service(t, m)
	if _, err := s.Add(ctx, engine.Site{ID: "tiznit"}); !errors.Is(err, sites.ErrNoName) {
		t.Errorf("no name: %v", err)
	}
	if _, err := s.Add(ctx, engine.Site{ID: "nador", Names: map[string]string{"fr": "Nador"}}); !errors.Is(err, sites.ErrExists) {
		t.Errorf("an id that exists: %v", err)
	}
	if _, err := s.Add(ctx, engine.Site{ID: "tiznit", Names: map[string]string{"fr": "Tiz\nnit"}}); !errors.Is(err, broadcast.ErrInvalid) {
		t.Errorf("a bad name: %v", err)
	}
	if m.puts != 0 || m.refresh != 0 {
		t.Fatalf("refused additions stored %d times", m.puts)
	}
	if _, err := s.Add(ctx, engine.Site{ID: "tiznit", Names: map[string]string{"fr": "Tiznit", "ar": "تيزنيت"}, Retired: true}); err != nil {
		t.Fatal(err)
	}
	if len(m.sites) != 2 || m.sites[1].Retired || m.refresh != 1 {
		t.Errorf("after adding: %+v, refreshed %d times; want tiznit not retired, one refresh", m.sites, m.refresh)
	}
	// A change keeps the names of the other languages.
	everyone := engine.ExactPlaceEveryone
	got, err := s.Change(ctx, "tiznit", sites.Change{Names: map[string]string{"fr": "Tiznit centre"}, ExactPlace: &everyone, Area: map[string]string{"en": "Tiznit, centre"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Names["fr"] != "Tiznit centre" || got.Names["ar"] != "تيزنيت" || got.ExactPlace != everyone || got.Area["en"] != "Tiznit, centre" || m.sites[1].Names["fr"] != "Tiznit centre" {
		t.Errorf("changed: %+v", got)
	}
	bad := "nobody"
	if _, err := s.Change(ctx, "tiznit", sites.Change{ExactPlace: &bad}); !errors.Is(err, broadcast.ErrInvalid) || m.sites[1].ExactPlace != everyone {
		t.Errorf("a bad change: %v, stored %q", err, m.sites[1].ExactPlace)
	}
	if _, err := s.Change(ctx, "nowhere", sites.Change{}); !errors.Is(err, sites.ErrNotFound) {
		t.Errorf("no such site: %v", err)
	}
	// Views name each site in every language, the content's name when
	// staff gave none.
	views, _, err := s.Views(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if views[0].ID != "nador" || views[0].Names["fr"] == "" || views[0].ExactPlace != engine.ExactPlaceSubscribers || views[1].Names["fr"] != "Tiznit centre" {
		t.Errorf("views: %+v", views)
	}
}
