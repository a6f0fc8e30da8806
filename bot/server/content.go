package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/versions"
)

// problemView is one content problem as the API shows it.
type problemView struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Key     string `json:"key,omitempty"`
	Message string `json:"message"`
	Warning bool   `json:"warning,omitempty"`
}

func problemViews(ps content.Problems) []problemView {
	out := make([]problemView, len(ps))
	for i, p := range ps {
		out[i] = problemView{File: p.File, Line: p.Line, Key: p.Key, Message: p.Msg, Warning: p.Warning}
	}
	return out
}

// maxContent bounds a content upload: the whole set of flows and locales.
const maxContent = 2 << 20

// putContent publishes a new content version: {"files":{"flows/main.yaml":"…",
// "locales/fr.yaml":"…",…}}, the whole set. Invalid content is refused with
// 422 and every problem; the running content is untouched.
func (s *Server) putContent(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Files map[string]string `json:"files"`
	}
	if !decode(w, r, &req) {
		return
	}
	if len(req.Files) == 0 {
		writeError(w, http.StatusBadRequest, `"files" is required: the whole content set, by path (flows/main.yaml, locales/fr.yaml, …)`)
		return
	}
	meta, c, problems, err := s.opts.Versions.Publish(r.Context(), req.Files, principal(r).Name)
	var invalid *versions.ErrInvalid
	switch {
	case errors.As(err, &invalid):
		s.recordRefused(r, "content.refused")
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error": "the content is not valid; nothing was published", "problems": problemViews(problems),
		})
		return
	case err != nil:
		unavailable(w)
		return
	}
	s.opts.Dialog.UseVersion(meta.Version, c) // here at once; other instances follow
	s.record(r, "content.publish", "version "+strconv.Itoa(meta.Version))
	writeJSON(w, http.StatusOK, map[string]any{"version": meta.Version, "published_by": meta.PublishedBy,
		"published_at": meta.PublishedAt, "warnings": problemViews(problems)})
}

func (s *Server) getContent(w http.ResponseWriter, r *http.Request) {
	v, err := s.opts.Versions.Current(r.Context())
	if err != nil {
		unavailable(w)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) contentVersions(w http.ResponseWriter, r *http.Request) {
	list, err := s.opts.Versions.List(r.Context())
	if err != nil {
		unavailable(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": list})
}

func (s *Server) rollbackContent(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Version int `json:"version"`
	}
	if !decode(w, r, &req) {
		return
	}
	meta, c, err := s.opts.Versions.Rollback(r.Context(), req.Version, principal(r).Name)
	var invalid *versions.ErrInvalid
	switch {
	case errors.As(err, &invalid):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "that version does not load", "problems": problemViews(invalid.Problems)})
		return
	case errors.Is(err, versions.ErrNotFound):
		writeError(w, http.StatusNotFound, "no such version")
		return
	case err != nil:
		unavailable(w)
		return
	}
	s.opts.Dialog.UseVersion(meta.Version, c)
	s.record(r, "content.rollback", "to version "+strconv.Itoa(req.Version)+" as version "+strconv.Itoa(meta.Version))
	writeJSON(w, http.StatusOK, meta)
}

// previewContent returns the content a simulate request asks for: a
// published version, or an unpublished draft; nil for the content in use.
// It answers the error itself and returns false when it cannot.
func (s *Server) previewContent(w http.ResponseWriter, r *http.Request, version int, draft map[string]string) (*content.Content, bool) {
	switch {
	case draft != nil:
		c, problems := versions.Check(draft)
		if c == nil || problems.HasErrors() {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "the draft is not valid", "problems": problemViews(problems.Errors())})
			return nil, false
		}
		return c, true
	case version > 0:
		if s.opts.Versions == nil {
			writeError(w, http.StatusNotFound, "no such version")
			return nil, false
		}
		v, err := s.opts.Versions.Get(r.Context(), version)
		if errors.Is(err, versions.ErrNotFound) {
			writeError(w, http.StatusNotFound, "no such version")
			return nil, false
		} else if err != nil {
			unavailable(w)
			return nil, false
		}
		c, problems := versions.Check(v.Files)
		if c == nil || problems.HasErrors() {
			writeError(w, http.StatusUnprocessableEntity, "that version does not load")
			return nil, false
		}
		return c, true
	}
	return nil, true
}
