package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/distribution"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/sites"
)

// siteService is the service that changes sites, over the API's parts.
func (s *Server) siteService() *sites.Service {
	return sites.New(s.opts.Broadcasts.Sites, s.opts.Store, s.opts.Dialog.Content, s.opts.Dialog.Refresh)
}

func (s *Server) listSites(w http.ResponseWriter, r *http.Request) error {
	views, _, err := s.siteService().Views(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"sites": views})
	return nil
}

// siteError is the API's answer to an error of the sites service.
func siteError(err error) error {
	switch {
	case errors.Is(err, sites.ErrNoName):
		return apiError(Unprocessable, `names: a name in at least one language (language → name) is required`)
	case errors.Is(err, sites.ErrExists):
		return apiError(Conflict, "a site with that id exists")
	case errors.Is(err, sites.ErrNotFound):
		return apiError(NotFound, "no such site")
	}
	return err
}

// pointRequest is a place as the API reads it (a site's centre, a
// simulated location): both of lat and lon are required, so that a missing
// one is not taken as 0.
type pointRequest struct {
	Lat *float64 `json:"lat"`
	Lon *float64 `json:"lon"`
}

// point returns the place asked for, nil when none was; what is missing
// is refused with 422 naming the field (what: "invalid site: coords").
func (c *pointRequest) point(what string) (*engine.Point, error) {
	switch {
	case c == nil:
		return nil, nil
	case c.Lat == nil:
		return nil, apiError(Unprocessable, "%s.lat: missing: want a latitude from -90 to 90 (decimal degrees)", what)
	case c.Lon == nil:
		return nil, apiError(Unprocessable, "%s.lon: missing: want a longitude from -180 to 180 (decimal degrees)", what)
	}
	return &engine.Point{Lat: *c.Lat, Lon: *c.Lon}, nil
}

// addSite adds a site: {"id":"tiznit","names":{"fr":"Tiznit","ar":"تيزنيت"}},
// with "exact_place", "area" and "coords" ({"lat":29.69,"lon":-9.73}) if given.
func (s *Server) addSite(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		engine.Site
		Coords *pointRequest `json:"coords"` // read here, not by engine.Site
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	var err error
	if req.Site.Coords, err = req.Coords.point("invalid site: coords"); err != nil {
		return err
	}
	site, err := s.siteService().Add(r.Context(), req.Site)
	if err != nil {
		return siteError(err)
	}
	s.record(r, "site.add", site.ID)
	writeJSON(w, http.StatusCreated, site)
	return nil
}

// changeSite renames ({"names":{…}}), retires ({"retired":true}), sets who
// sees exact places ({"exact_place":"everyone"}), the public area
// ({"area":{…}}) or the centre ({"coords":{"lat":…,"lon":…}}) of a site.
func (s *Server) changeSite(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Names      map[string]string `json:"names"`
		Retired    *bool             `json:"retired"`
		ExactPlace *string           `json:"exact_place"`
		Area       map[string]string `json:"area"`
		Coords     *pointRequest     `json:"coords"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	coords, err := req.Coords.point("invalid site: coords")
	if err != nil {
		return err
	}
	site, err := s.siteService().Change(r.Context(), r.PathValue("id"), sites.Change{
		Names: req.Names, Retired: req.Retired, ExactPlace: req.ExactPlace, Area: req.Area, Coords: coords,
	})
	if err != nil {
		return siteError(err)
	}
	s.record(r, "site.change", site.ID)
	writeJSON(w, http.StatusOK, site)
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
