// Package server is the HTTP face of the service: health, readiness,
// metrics and the admin API. Routes are all in Handler.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/distribution"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/versions"
)

// maxBody bounds every request body.
const maxBody = 64 << 10

// maxText bounds the text of one simulated message, as Twilio bounds a Body.
const maxText = 1600

// Store is what the routes need of the store.
type Store interface {
	Ping(ctx context.Context) error
	PutSites(ctx context.Context, sites []engine.Site) error
}

// Server holds what the routes need.
type Server struct {
	opts  Options
	log   *slog.Logger
	guard failGuard
}

// Options are the server's parts. A channel left nil is off, and its webhook
// answers 404.
type Options struct {
	Dialog  *dialog.Service
	Store   Store
	Metrics *metrics.Metrics
	Log     *slog.Logger
	// Tokens tell who holds a bearer token; Audit records their changes.
	Tokens *access.Tokens
	Audit  *access.Audit
	Outbox *outbox.Outbox
	// Versions are the published content versions.
	Versions *versions.Store
	// Requests are the requests to talk to a person.
	Requests Requests
	// Broadcasts and Distributions serve staff.
	Broadcasts    *broadcast.Service
	Distributions *distribution.Service
	// TwilioInbound and TwilioStatus serve Twilio's webhooks.
	TwilioInbound, TwilioStatus http.Handler
	// Telegram serves Telegram's webhook.
	Telegram http.Handler
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (OUTREACH_TRUSTED_PROXIES); none = the peer is the client.
	TrustedProxies []netip.Prefix
}

// New returns a Server.
func New(opts Options) *Server {
	return &Server{opts: opts, log: opts.Log.With("component", "http")}
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
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.allow(rt.roles, rt.handler))
	}
	mux.Handle("/api/v1/", s.allow(nil, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route")
	}))
	return limitBodies(mux)
}

// limitBodies bounds every request body: 64 KiB, but for the content
// routes and simulate, which carry a whole content set (2 MiB).
func limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := int64(maxBody)
		if r.URL.Path == "/api/v1/content" || r.URL.Path == "/api/v1/simulate" {
			limit = maxContent
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// counted counts a webhook's answers by status code, and marks its Redis
// round trips as the inbound path's (delivery statuses as their own).
func (s *Server) counted(route string, next http.Handler) http.Handler {
	path := "inbound"
	if route == "twilio_status" {
		path = "status"
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(metrics.WithPath(r.Context(), path)))
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
		unavailable(w)
		return
	}
	writeJSON(w, http.StatusOK, depth)
}

// deadLetters lists the messages given up, newest first (?limit=N, at most 1000).
// Addresses stay sealed.
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	limit, ok := limitParam(w, r, 100, 1000)
	if !ok {
		return
	}
	dead, err := s.opts.Outbox.Dead(r.Context(), limit)
	if err != nil {
		unavailable(w)
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

type simulateRequest struct {
	Contact string `json:"contact"`
	Text    string `json:"text"`
	// Version previews a published content version; Draft an unpublished
	// content set (files by path).
	Version int               `json:"version"`
	Draft   map[string]string `json:"draft"`
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
	preview, ok := s.previewContent(w, r, req.Version, req.Draft)
	if !ok {
		return
	}
	channel := "simulate"
	if preview != nil {
		channel = "preview" // a preview keeps its own conversation
	}
	outcome, err := s.opts.Dialog.Handle(r.Context(), dialog.Message{Channel: channel, Address: req.Contact, Text: req.Text, Content: preview})
	if err != nil {
		s.log.Error("simulate failed", "err", err)
		unavailable(w)
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

// limitParam reads ?limit=N, from 1 to most; it answers the error itself.
func limitParam(w http.ResponseWriter, r *http.Request, def, most int64) (int64, bool) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > most {
		writeError(w, http.StatusBadRequest, "limit: want 1 to "+strconv.FormatInt(most, 10))
		return 0, false
	}
	return n, true
}
