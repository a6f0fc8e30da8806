package server

import (
	"net/http"
	"slices"
	"time"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/distribution"
	"github.com/outreach-org/outreach/bot/engine"
)

// siteView is a site as the API shows it: its names in every language.
type siteView struct {
	ID      string            `json:"id"`
	Names   map[string]string `json:"names"`
	Retired bool              `json:"retired,omitempty"`
	// ExactPlace is who sees exact places: the default made plain.
	ExactPlace string           `json:"exact_place"`
	Area       engine.Localized `json:"area,omitempty"`
}

func (s *Server) siteViews(r *http.Request) ([]siteView, []engine.Site, error) {
	sites, err := s.opts.Broadcasts.Sites(r.Context())
	if err != nil {
		return nil, nil, err
	}
	c := s.opts.Dialog.Content()
	out := make([]siteView, len(sites))
	for i, site := range sites {
		v := siteView{ID: site.ID, Names: map[string]string{}, Retired: site.Retired, ExactPlace: site.ExactPlace, Area: site.Area}
		if v.ExactPlace == "" {
			v.ExactPlace = engine.ExactPlaceSubscribers
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

func (s *Server) listSites(w http.ResponseWriter, r *http.Request) error {
	views, _, err := s.siteViews(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sites": views})
	return nil
}

// addSite adds a site: {"id":"tiznit","names":{"fr":"Tiznit","ar":"تيزنيت"}},
// with "exact_place" and "area" if given.
func (s *Server) addSite(w http.ResponseWriter, r *http.Request) error {
	var req engine.Site
	if err := decode(r, &req); err != nil {
		return err
	}
	if len(req.Names) == 0 {
		return apiError(Unprocessable, `names: a name in at least one language (language → name) is required`)
	}
	if err := broadcast.CheckSite(req, s.opts.Dialog.Content().Languages); err != nil {
		return err
	}
	_, sites, err := s.siteViews(r)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(sites, func(x engine.Site) bool { return x.ID == req.ID }) {
		return apiError(Conflict, "a site with that id exists")
	}
	req.Retired = false
	if err := s.opts.Store.PutSites(r.Context(), append(sites, req)); err != nil {
		return err
	}
	s.opts.Dialog.Refresh()
	s.record(r, "site.add", req.ID)
	writeJSON(w, http.StatusCreated, req)
	return nil
}

// changeSite renames ({"names":{…}}), retires ({"retired":true}), sets who
// sees exact places ({"exact_place":"everyone"}) or the public area
// ({"area":{…}}) of a site.
func (s *Server) changeSite(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Names      map[string]string `json:"names"`
		Retired    *bool             `json:"retired"`
		ExactPlace *string           `json:"exact_place"`
		Area       map[string]string `json:"area"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	_, sites, err := s.siteViews(r)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(sites, func(x engine.Site) bool { return x.ID == r.PathValue("id") })
	if i < 0 {
		return apiError(NotFound, "no such site")
	}
	if req.Names != nil {
		if sites[i].Names == nil {
			sites[i].Names = map[string]string{}
		}
		for lang, name := range req.Names {
			sites[i].Names[lang] = name
		}
	}
	if req.Retired != nil {
		sites[i].Retired = *req.Retired
	}
	if req.ExactPlace != nil {
		sites[i].ExactPlace = *req.ExactPlace
	}
	if req.Area != nil {
		if sites[i].Area == nil {
			sites[i].Area = engine.Localized{}
		}
		for lang, area := range req.Area {
			sites[i].Area[lang] = area
		}
	}
	if err := broadcast.CheckSite(sites[i], s.opts.Dialog.Content().Languages); err != nil {
		return err
	}
	if err := s.opts.Store.PutSites(r.Context(), sites); err != nil {
		return err
	}
	s.opts.Dialog.Refresh()
	s.record(r, "site.change", sites[i].ID)
	writeJSON(w, http.StatusOK, sites[i])
	return nil
}

func (s *Server) createDistribution(w http.ResponseWriter, r *http.Request) error {
	var d engine.Distribution
	if err := decode(r, &d); err != nil {
		return err
	}
	d, err := s.opts.Distributions.Create(r.Context(), d, principal(r).Name)
	if err != nil {
		return err
	}
	s.record(r, "distribution.create", d.ID)
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (s *Server) listDistributions(w http.ResponseWriter, r *http.Request) error {
	all, err := s.opts.Distributions.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"distributions": all})
	return nil
}

func (s *Server) getDistribution(w http.ResponseWriter, r *http.Request) error {
	d, err := s.opts.Distributions.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) patchDistribution(w http.ResponseWriter, r *http.Request) error {
	var p distribution.Patch
	if err := decode(r, &p); err != nil {
		return err
	}
	d, err := s.opts.Distributions.Update(r.Context(), r.PathValue("id"), p, principal(r).Name)
	if err != nil {
		return err
	}
	s.record(r, "distribution.change", d.ID)
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) deleteDistribution(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Distributions.Cancel(r.Context(), r.PathValue("id"), principal(r).Name); err != nil {
		return err
	}
	s.record(r, "distribution.cancel", r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// broadcastRequest is the body of POST /api/v1/broadcasts.
type broadcastRequest struct {
	Kind         string             `json:"kind"`
	Text         map[string]string  `json:"text"`
	Distribution string             `json:"distribution"`
	Audience     broadcast.Audience `json:"audience"`
	SendAt       *time.Time         `json:"send_at"`
	// Fallback is the language whose text people get when theirs has none.
	Fallback string `json:"fallback"`
}

func (s *Server) createBroadcast(w http.ResponseWriter, r *http.Request) error {
	var req broadcastRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Kind == "" {
		req.Kind = broadcast.KindMessage
	}
	b := broadcast.Broadcast{Kind: req.Kind, Text: req.Text, Fallback: req.Fallback, Distribution: req.Distribution, Audience: req.Audience, CreatedBy: principal(r).Name}
	if req.SendAt != nil {
		b.SendAt = req.SendAt.UTC()
	}
	if b.Distribution != "" {
		if _, err := s.opts.Distributions.Get(r.Context(), b.Distribution); err != nil {
			return err
		}
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 200 {
		return apiError(Invalid, "Idempotency-Key is longer than 200 characters")
	}
	id, existed, err := s.opts.Broadcasts.Create(r.Context(), b, key)
	if err != nil {
		return err
	}
	if !existed {
		s.record(r, "broadcast.create", id)
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id})
	return nil
}

func (s *Server) getBroadcast(w http.ResponseWriter, r *http.Request) error {
	rep, err := s.opts.Broadcasts.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

func (s *Server) listBroadcasts(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r, 50, 500)
	if err != nil {
		return err
	}
	all, err := s.opts.Broadcasts.List(r.Context(), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"broadcasts": all})
	return nil
}

func (s *Server) cancelBroadcast(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Broadcasts.Cancel(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	s.record(r, "broadcast.cancel", r.PathValue("id"))
	rep, err := s.opts.Broadcasts.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
