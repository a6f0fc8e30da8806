package sites_test

import (
	"context"
	"slices"
	"testing"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/sites"
)

// A site's centre: its own when staff gave one, else the content's for its
// id; a change replaces it, and one out of range is refused naming its
// field, the stored list left as it was.
func TestCoords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tiznit := engine.Point{Lat: 29.6974, Lon: -9.7316}
	m := &memory{sites: []engine.Site{{ID: "nador"}, {ID: "tiznit", Names: map[string]string{"fr": "Tiznit"}, Coords: &tiznit}, {ID: "taza", Names: map[string]string{"fr": "Taza"}}}}
	s := service(t, m)
	views, _, err := s.Views(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]*engine.Point{"nador": {Lat: 35.174, Lon: -2.9287}, "tiznit": &tiznit, "taza": nil}
	for _, v := range views {
		if w := want[v.ID]; (v.Coords == nil) != (w == nil) || w != nil && *v.Coords != *w {
			t.Errorf("%s: coords %v, want %v", v.ID, v.Coords, w)
		}
	}
	moved := engine.Point{Lat: 35.1688, Lon: -2.9335}
	if got, err := s.Change(ctx, "nador", sites.Change{Coords: &moved}); err != nil || got.Coords == nil || *got.Coords != moved {
		t.Fatalf("change nador's centre: %+v, %v", got, err)
	}
	for _, tt := range []struct {
		bad   engine.Point
		field string
	}{{engine.Point{Lat: 90.5, Lon: 0}, "coords.lat"}, {engine.Point{Lat: 0, Lon: -180.5}, "coords.lon"}} {
		bad := tt.bad
		before := slices.Clone(m.sites)
		_, err := s.Change(ctx, "nador", sites.Change{Coords: &bad})
		if fields := broadcast.Fields(err); !slices.Equal(fields, []string{tt.field}) {
			t.Errorf("centre %v: %v (fields %v), want %s", bad, err, fields, tt.field)
		}
		if !slices.EqualFunc(before, m.sites, func(a, b engine.Site) bool { return a.ID == b.ID && a.Coords == b.Coords }) {
			t.Errorf("centre %v: the sites changed", bad)
		}
		if _, err := s.Add(ctx, engine.Site{ID: "agadir", Names: map[string]string{"fr": "Agadir"}, Coords: &bad}); len(broadcast.Fields(err)) != 1 {
			t.Errorf("add at %v: %v", bad, err)
		}
	}
}
