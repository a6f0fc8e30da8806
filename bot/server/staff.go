package server

import (
	"errors"
	"net/http"
	"regexp"
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
}

func (s *Server) siteViews(r *http.Request) ([]siteView, []engine.Site, error) {
	sites, err := s.opts.Broadcasts.Sites(r.Context())
	if err != nil {
		return nil, nil, err
	}
	c := s.opts.Dialog.Content()
	out := make([]siteView, len(sites))
	for i, site := range sites {
		v := siteView{ID: site.ID, Names: map[string]string{}, Retired: site.Retired}
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

func (s *Server) listSites(w http.ResponseWriter, r *http.Request) {
	views, _, err := s.siteViews(r)
	if err != nil {
		unavailable(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sites": views})
}

var siteID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// addSite adds a site: {"id":"tiznit","names":{"fr":"Tiznit","ar":"تيزنيت"}}.
func (s *Server) addSite(w http.ResponseWriter, r *http.Request) {
	var req engine.Site
	if !decode(w, r, &req) {
		return
	}
	if !siteID.MatchString(req.ID) || len(req.Names) == 0 {
		writeError(w, http.StatusBadRequest, `"id" (lower-case letters, digits, - and _) and "names" (language → name) are required`)
		return
	}
	_, sites, err := s.siteViews(r)
	if err != nil {
		unavailable(w)
		return
	}
	if slices.ContainsFunc(sites, func(x engine.Site) bool { return x.ID == req.ID }) {
		writeError(w, http.StatusConflict, "a site with that id exists")
		return
	}
	req.Retired = false
	if err := s.opts.Store.PutSites(r.Context(), append(sites, req)); err != nil {
		unavailable(w)
		return
	}
	s.opts.Dialog.Refresh()
	s.record(r, "site.add", req.ID)
	writeJSON(w, http.StatusCreated, req)
}

// changeSite renames ({"names":{…}}) or retires ({"retired":true}) a site.
func (s *Server) changeSite(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Names   map[string]string `json:"names"`
		Retired *bool             `json:"retired"`
	}
	if !decode(w, r, &req) {
		return
	}
	_, sites, err := s.siteViews(r)
	if err != nil {
		unavailable(w)
		return
	}
	i := slices.IndexFunc(sites, func(x engine.Site) bool { return x.ID == r.PathValue("id") })
	if i < 0 {
		writeError(w, http.StatusNotFound, "no such site")
		return
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
	if err := s.opts.Store.PutSites(r.Context(), sites); err != nil {
		unavailable(w)
		return
	}
	s.opts.Dialog.Refresh()
	s.record(r, "site.change", sites[i].ID)
	writeJSON(w, http.StatusOK, sites[i])
}

func (s *Server) createDistribution(w http.ResponseWriter, r *http.Request) {
	var d engine.Distribution
	if !decode(w, r, &d) {
		return
	}
	d, err := s.opts.Distributions.Create(r.Context(), d, principal(r).Name)
	if !s.distributionError(w, err) {
		return
	}
	s.record(r, "distribution.create", d.ID)
	writeJSON(w, http.StatusCreated, d)
}

func (s *Server) listDistributions(w http.ResponseWriter, r *http.Request) {
	all, err := s.opts.Distributions.List(r.Context())
	if err != nil {
		unavailable(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"distributions": all})
}

func (s *Server) getDistribution(w http.ResponseWriter, r *http.Request) {
	d, err := s.opts.Distributions.Get(r.Context(), r.PathValue("id"))
	if !s.distributionError(w, err) {
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) patchDistribution(w http.ResponseWriter, r *http.Request) {
	var p distribution.Patch
	if !decode(w, r, &p) {
		return
	}
	d, err := s.opts.Distributions.Update(r.Context(), r.PathValue("id"), p, principal(r).Name)
	if !s.distributionError(w, err) {
		return
	}
	s.record(r, "distribution.change", d.ID)
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) deleteDistribution(w http.ResponseWriter, r *http.Request) {
	err := s.opts.Distributions.Cancel(r.Context(), r.PathValue("id"), principal(r).Name)
	if !s.distributionError(w, err) {
		return
	}
	s.record(r, "distribution.cancel", r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
}

// distributionError answers an error of the distributions; true when none.
func (s *Server) distributionError(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, distribution.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such distribution")
	case errors.Is(err, distribution.ErrBusy):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, distribution.ErrInvalid), errors.Is(err, broadcast.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, err.Error())
	default:
		s.log.Error("distribution failed", "err", err)
		unavailable(w)
	}
	return false
}

// broadcastRequest is the body of POST /api/v1/broadcasts.
type broadcastRequest struct {
	Kind         string             `json:"kind"`
	Text         map[string]string  `json:"text"`
	Fallback     string             `json:"fallback"`
	Distribution string             `json:"distribution"`
	Audience     broadcast.Audience `json:"audience"`
	SendAt       *time.Time         `json:"send_at"`
}

func (s *Server) createBroadcast(w http.ResponseWriter, r *http.Request) {
	var req broadcastRequest
	if !decode(w, r, &req) {
		return
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
			s.distributionError(w, err)
			return
		}
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 200 {
		writeError(w, http.StatusBadRequest, "Idempotency-Key is longer than 200 characters")
		return
	}
	id, existed, err := s.opts.Broadcasts.Create(r.Context(), b, key)
	switch {
	case errors.Is(err, broadcast.ErrInvalid):
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	case errors.Is(err, broadcast.ErrIdempotencyConflict):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		unavailable(w)
		return
	}
	if !existed {
		s.record(r, "broadcast.create", id)
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id})
}

func (s *Server) getBroadcast(w http.ResponseWriter, r *http.Request) {
	rep, err := s.opts.Broadcasts.Get(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, broadcast.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such broadcast")
		return
	case err != nil:
		unavailable(w)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) listBroadcasts(w http.ResponseWriter, r *http.Request) {
	limit, ok := limitParam(w, r, 50, 500)
	if !ok {
		return
	}
	all, err := s.opts.Broadcasts.List(r.Context(), limit)
	if err != nil {
		unavailable(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"broadcasts": all})
}

func (s *Server) cancelBroadcast(w http.ResponseWriter, r *http.Request) {
	err := s.opts.Broadcasts.Cancel(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, broadcast.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such broadcast")
		return
	case err != nil:
		unavailable(w)
		return
	}
	s.record(r, "broadcast.cancel", r.PathValue("id"))
	rep, err := s.opts.Broadcasts.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		unavailable(w)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func unavailable(w http.ResponseWriter) {
	unavailable(w)
}
