// Package sites changes the list of sites where aid is distributed: add
// one, rename it per language, retire it, say who sees its exact places
// and its public area. The admin API and the console both change sites
// here, so that one set of rules applies: each change is checked
// (broadcast.CheckSite), the list is changed with compare-and-set (two
// instances changing sites at once both land), and the conversation
// reads it again.
package sites

import (
	"context"
	"errors"
	"slices"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
)

// Store keeps the list of sites, changed with compare-and-set
// (store.Store.UpdateSites): change runs on the list as stored, and again
// if another change landed meanwhile.
type Store interface {
	UpdateSites(ctx context.Context, defaults func() []engine.Site, change func([]engine.Site) ([]engine.Site, error)) error
}

// Errors of the service; a site that a rule refuses is broadcast.ErrInvalid.
var (
	// ErrExists means a site with that id exists.
	ErrExists = errors.New("sites: a site with that id exists")
	// ErrNotFound means no site has that id.
	ErrNotFound = errors.New("sites: no such site")
	// ErrNoName means a new site was given no name in any language.
	ErrNoName = errors.New("sites: a name in at least one language is required")
)

// Service changes the sites.
type Service struct {
	list    func(ctx context.Context) ([]engine.Site, error)
	store   Store
	content func() *content.Content
	refresh func()
}

// New returns the service: list reads the sites (the stored ones, else
// the content's; broadcast.Service.Sites), store keeps them, content is
// the content in use and refresh makes the conversation read them again
// (dialog.Service.Refresh).
func New(list func(context.Context) ([]engine.Site, error), store Store, content func() *content.Content, refresh func()) *Service {
	return &Service{list: list, store: store, content: content, refresh: refresh}
}

// View is a site as staff see it: its names in every language the bot
// speaks (its own, else the content's "site_<id>" message).
type View struct {
	ID      string            `json:"id"`
	Names   map[string]string `json:"names"`
	Retired bool              `json:"retired,omitempty"`
	// ExactPlace is who sees exact places: the default made plain.
	ExactPlace string           `json:"exact_place"`
	Area       engine.Localized `json:"area,omitempty"`
	// Coords is the site's centre, which answers a shared location: its
	// own, else the content's for its id (flows/sites.yaml); none when
	// neither has one.
	Coords *engine.Point `json:"coords,omitempty"`
}

// Views returns every site as a view, and the sites as stored.
func (s *Service) Views(ctx context.Context) ([]View, []engine.Site, error) {
	sites, err := s.list(ctx)
	if err != nil {
		return nil, nil, err
	}
	c := s.content()
	out := make([]View, len(sites))
	for i, site := range sites {
		v := View{ID: site.ID, Names: map[string]string{}, Retired: site.Retired, ExactPlace: site.ExactPlace, Area: site.Area}
		if v.ExactPlace == "" {
			v.ExactPlace = engine.ExactPlaceSubscribers
		}
		if p, ok := engine.SiteCoords(c, site); ok {
			v.Coords = &p
		}
		for _, lang := range c.Languages {
			switch {
			case site.Names[lang] != "":
				v.Names[lang] = site.Names[lang]
			case c.Has(lang, "site_"+site.ID):
				v.Names[lang] = c.Text(lang, "site_"+site.ID, nil)
			}
		}
		out[i] = v
	}
	return out, sites, nil
}

// Languages are the languages a site's names and areas may be in.
func (s *Service) Languages() []string { return s.content().Languages }

// Add adds a site, not retired. It needs a name in at least one language;
// the names of the others fall back to the content's.
func (s *Service) Add(ctx context.Context, site engine.Site) (engine.Site, error) {
	if len(site.Names) == 0 {
		return engine.Site{}, ErrNoName
	}
	if err := broadcast.CheckSite(site, s.content().Languages); err != nil {
		return engine.Site{}, err
	}
	site.Retired = false
	err := s.store.UpdateSites(ctx, s.defaults, func(sites []engine.Site) ([]engine.Site, error) {
		if slices.ContainsFunc(sites, func(x engine.Site) bool { return x.ID == site.ID }) {
			return nil, ErrExists
		}
		return append(sites, site), nil
	})
	if err != nil {
		return engine.Site{}, err
	}
	s.refresh()
	return site, nil
}

// defaults are the sites before staff store any: the content's.
func (s *Service) defaults() []engine.Site {
	var out []engine.Site
	for _, id := range s.content().Flow.Sites {
		out = append(out, engine.Site{ID: id})
	}
	return out
}

// Change is a change to a site: each field left nil stays as it is; the
// names and areas given replace those of their languages, the centre given
// the site's.
type Change struct {
	Names      map[string]string
	Retired    *bool
	ExactPlace *string
	Area       map[string]string
	// Coords, when set, replaces the site's centre.
	Coords *engine.Point
}

// Change changes the site id and returns it as changed.
func (s *Service) Change(ctx context.Context, id string, ch Change) (engine.Site, error) {
	var changed engine.Site
	err := s.store.UpdateSites(ctx, s.defaults, func(sites []engine.Site) ([]engine.Site, error) {
		i := slices.IndexFunc(sites, func(x engine.Site) bool { return x.ID == id })
		if i < 0 {
			return nil, ErrNotFound
		}
		site := apply(sites[i], ch)
		if err := broadcast.CheckSite(site, s.content().Languages); err != nil {
			return nil, err
		}
		out := slices.Clone(sites)
		out[i] = site
		changed = site
		return out, nil
	})
	if err != nil {
		return engine.Site{}, err
	}
	s.refresh()
	return changed, nil
}

// apply returns site with the change made.
func apply(site engine.Site, ch Change) engine.Site {
	if ch.Names != nil {
		names := map[string]string{}
		for lang, name := range site.Names {
			names[lang] = name
		}
		for lang, name := range ch.Names {
			names[lang] = name
		}
		site.Names = names
	}
	if ch.Retired != nil {
		site.Retired = *ch.Retired
	}
	if ch.ExactPlace != nil {
		site.ExactPlace = *ch.ExactPlace
	}
	if ch.Coords != nil {
		site.Coords = ch.Coords
	}
	if ch.Area != nil {
		area := engine.Localized{}
		for lang, a := range site.Area {
			area[lang] = a
		}
		for lang, a := range ch.Area {
			area[lang] = a
		}
		site.Area = area
	}
	return site
}
