// Package server is the HTTP face of the service: health, readiness,
// metrics and the admin API. Routes are all in Handler.
package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/metrics"
)

// maxBody bounds every request body.
const maxBody = 64 << 10

// maxText bounds the text of one simulated message, as Twilio bounds a Body.
const maxText = 1600

// Pinger tells whether the store answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Server holds what the routes need.
type Server struct {
	dialog     *dialog.Service
	store      Pinger
	metrics    *metrics.Metrics
	log        *slog.Logger
	adminToken [32]byte
	adminOpen  bool
}

// New returns a Server. An empty adminToken keeps the admin API closed.
func New(d *dialog.Service, store Pinger, m *metrics.Metrics, log *slog.Logger, adminToken string) *Server {
	s := &Server{dialog: d, store: store, metrics: m, log: log.With("component", "http")}
	if adminToken != "" {
		s.adminToken = sha256.Sum256([]byte(adminToken))
		s.adminOpen = true
	}
	return s
}

// Handler returns every route of the service.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	mux.Handle("POST /api/v1/simulate", s.admin(http.HandlerFunc(s.simulate)))
	mux.Handle("/api/v1/", s.admin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route")
	})))
	return http.MaxBytesHandler(mux, maxBody)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.store.Ping(r.Context()); err != nil {
		s.log.Warn("not ready: Redis does not answer", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("redis unavailable\n"))
		return
	}
	w.Write([]byte("ok\n"))
}

// admin lets through requests that carry the admin bearer token. Tokens are
// compared in constant time, as hashes so that their length does not leak.
func (s *Server) admin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="outreach"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token")
			return
		}
		sum := sha256.Sum256([]byte(token))
		if !s.adminOpen || subtle.ConstantTimeCompare(sum[:], s.adminToken[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="outreach", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

type simulateRequest struct {
	Contact string `json:"contact"`
	Text    string `json:"text"`
}

type simulateReply struct {
	Text string `json:"text"`
}

// simulate runs a message through the same engine, state and content as the
// real channels, and returns the replies instead of sending them.
func (s *Server) simulate(w http.ResponseWriter, r *http.Request) {
	var req simulateRequest
	if !decode(w, r, &req) {
		return
	}
	switch {
	case req.Contact == "":
		writeError(w, http.StatusBadRequest, `"contact" is required`)
		return
	case len(req.Contact) > 256:
		writeError(w, http.StatusBadRequest, `"contact" is longer than 256 bytes`)
		return
	case utf8.RuneCountInString(req.Text) > maxText:
		writeError(w, http.StatusBadRequest, `"text" is longer than 1600 characters`)
		return
	}
	replies, err := s.dialog.Handle(r.Context(), dialog.Message{Channel: "simulate", Address: req.Contact, Text: req.Text})
	if err != nil {
		s.log.Error("simulate failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "the store is unavailable; try again")
		return
	}
	out := struct {
		Replies []simulateReply `json:"replies"`
	}{Replies: make([]simulateReply, len(replies))}
	for i, rep := range replies {
		out.Replies[i] = simulateReply{Text: rep.Text}
	}
	writeJSON(w, http.StatusOK, out)
}

// decode reads a JSON body into v, answering the error itself when it fails.
// The Content-Type is not checked: `curl -d` sends JSON as a form.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body too large")
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
