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
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
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
	opts       Options
	log        *slog.Logger
	adminToken [32]byte
	adminOpen  bool
}

// Options are the server's parts. A channel left nil is off, and its webhook
// answers 404.
type Options struct {
	Dialog  *dialog.Service
	Store   Pinger
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// AdminToken opens the admin API; empty keeps it closed.
	AdminToken string
	Outbox     *outbox.Outbox
	// TwilioInbound and TwilioStatus serve Twilio's webhooks.
	TwilioInbound, TwilioStatus http.Handler
	// Telegram serves Telegram's webhook.
	Telegram http.Handler
}

// New returns a Server.
func New(opts Options) *Server {
	s := &Server{opts: opts, log: opts.Log.With("component", "http")}
	if opts.AdminToken != "" {
		s.adminToken = sha256.Sum256([]byte(opts.AdminToken))
		s.adminOpen = true
	}
	return s
}

// Handler returns every route of the service.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Metrics.Registry, promhttp.HandlerOpts{}))
	if s.opts.TwilioInbound != nil {
		mux.Handle("POST /webhooks/twilio", s.counted("twilio", s.opts.TwilioInbound))
		mux.Handle("POST /webhooks/twilio/status", s.counted("twilio_status", s.opts.TwilioStatus))
	}
	if s.opts.Telegram != nil {
		mux.Handle("POST /webhooks/telegram", s.counted("telegram", s.opts.Telegram))
	}
	mux.Handle("POST /api/v1/simulate", s.admin(http.HandlerFunc(s.simulate)))
	if s.opts.Outbox != nil {
		mux.Handle("GET /api/v1/outbox", s.admin(http.HandlerFunc(s.outboxDepth)))
		mux.Handle("GET /api/v1/outbox/dead", s.admin(http.HandlerFunc(s.deadLetters)))
	}
	mux.Handle("/api/v1/", s.admin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route")
	})))
	return http.MaxBytesHandler(mux, maxBody)
}

// counted counts a webhook's answers by status code.
func (s *Server) counted(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		s.opts.Metrics.Webhooks.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) outboxDepth(w http.ResponseWriter, r *http.Request) {
	depth, err := s.opts.Outbox.Depth(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "the store is unavailable; try again")
		return
	}
	writeJSON(w, http.StatusOK, depth)
}

// deadLetters lists the messages given up, newest first (?limit=N, at most 1000).
// Addresses stay sealed.
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	limit := int64(100)
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit: want 1 to 1000")
			return
		}
		limit = n
	}
	dead, err := s.opts.Outbox.Dead(r.Context(), limit)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "the store is unavailable; try again")
		return
	}
	type letter struct {
		ID        string    `json:"id"`
		Channel   string    `json:"channel"`
		Priority  string    `json:"priority"`
		Broadcast string    `json:"broadcast,omitempty"`
		Tries     int       `json:"tries"`
		Reason    string    `json:"reason"`
		At        time.Time `json:"at"`
	}
	out := make([]letter, len(dead))
	for i, d := range dead {
		out[i] = letter{ID: d.Entry.ID, Channel: d.Entry.Channel, Priority: string(d.Entry.Priority), Broadcast: d.Entry.Broadcast, Tries: d.Entry.Tries, Reason: d.Reason, At: d.At}
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead": out})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.opts.Store.Ping(r.Context()); err != nil {
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
	outcome, err := s.opts.Dialog.Handle(r.Context(), dialog.Message{Channel: "simulate", Address: req.Contact, Text: req.Text})
	if err != nil {
		s.log.Error("simulate failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "the store is unavailable; try again")
		return
	}
	out := struct {
		Replies []simulateReply `json:"replies"`
	}{Replies: make([]simulateReply, len(outcome.Replies))}
	for i, rep := range outcome.Replies {
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
