package server

import (
	"encoding/base64"
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

// maxContent bounds a content upload: the whole set of flows and locales,
// and the recordings in base64 (content.MaxAudioTotalBytes, 16 MiB, is
// 22 MiB so).
const maxContent = 24 << 20

// maxDraft bounds a simulation's draft: a content set's texts.
const maxDraft = 2 << 20

// putContent publishes a new content version: {"files":{"flows/main.yaml":"…",
// "locales/fr.yaml":"…",…}}, the whole set. Invalid content is refused with
// 422 and every problem; the running content is untouched.
func (s *Server) putContent(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Files map[string]string `json:"files"`
		// Audio are the recordings, base64, by path; absent, the current
		// version's are kept.
		Audio map[string]string `json:"audio"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if len(req.Files) == 0 {
		return apiError(Invalid, `"files" is required: the whole content set, by path (flows/main.yaml, locales/fr.yaml, …)`)
	}
	var audio map[string][]byte
	if req.Audio != nil {
		audio = make(map[string][]byte, len(req.Audio))
		for path, b64 := range req.Audio {
			data, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return &Error{Kind: Unprocessable, Message: "the content is not valid; nothing was published",
					Problems: []problemView{{File: path, Message: "not base64: a recording is sent as its bytes in base64"}}}
			}
			audio[path] = data
		}
	}
	meta, c, problems, err := s.opts.Versions.PublishSet(r.Context(), req.Files, audio, principal(r).Name, "")
	var invalid *versions.ErrInvalid
	switch {
	case errors.As(err, &invalid):
		s.recordRefused(r, "content.refused")
		return &Error{Kind: Unprocessable, Message: "the content is not valid; nothing was published", Problems: problemViews(problems)}
	case err != nil:
		return err
	}
	s.opts.Dialog.UseVersion(meta.Version, c) // here at once; other instances follow
	s.record(r, "content.publish", "version "+strconv.Itoa(meta.Version))
	writeJSON(w, http.StatusOK, map[string]any{"version": meta.Version, "published_by": meta.PublishedBy,
		"published_at": meta.PublishedAt, "warnings": problemViews(problems)})
	return nil
}

func (s *Server) getContent(w http.ResponseWriter, r *http.Request) error {
	v, err := s.opts.Versions.Current(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) contentVersions(w http.ResponseWriter, r *http.Request) error {
	list, err := s.opts.Versions.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": list})
	return nil
}

func (s *Server) rollbackContent(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Version int `json:"version"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	meta, c, err := s.opts.Versions.Rollback(r.Context(), req.Version, principal(r).Name)
	var invalid *versions.ErrInvalid
	if errors.As(err, &invalid) {
		return &Error{Kind: Unprocessable, Message: "that version does not load", Problems: problemViews(invalid.Problems)}
	}
	if err != nil {
		return err
	}
	s.opts.Dialog.UseVersion(meta.Version, c)
	s.record(r, "content.rollback", "to version "+strconv.Itoa(req.Version)+" as version "+strconv.Itoa(meta.Version))
	writeJSON(w, http.StatusOK, meta)
	return nil
}

// previewContent returns the content a simulate request asks for: a
// published version, or an unpublished draft; nil for the content in use.
func (s *Server) previewContent(r *http.Request, version int, draft map[string]string) (*content.Content, error) {
	switch {
	case draft != nil:
		c, problems := versions.Check(draft)
		if c == nil || problems.HasErrors() {
			return nil, &Error{Kind: Unprocessable, Message: "the draft is not valid", Problems: problemViews(problems.Errors())}
		}
		return c, nil
	case version > 0:
		if s.opts.Versions == nil {
			return nil, apiError(NotFound, "no such version")
		}
		v, err := s.opts.Versions.Get(r.Context(), version)
		if err != nil {
			return nil, err
		}
		c, problems := versions.Check(v.Files)
		if c == nil || problems.HasErrors() {
			return nil, apiError(Unprocessable, "that version does not load")
		}
		return c, nil
	}
	return nil, nil
}
