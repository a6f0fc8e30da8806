// Package server is the HTTP face of the service: health, readiness,
// metrics and the admin API. Routes are all in Handler.
package server

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
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
	UpdateSites(ctx context.Context, defaults func() []engine.Site, change func([]engine.Site) ([]engine.Site, error)) error
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
	// TwilioInbound and TwilioStatus serve Twilio's webhooks, TwilioVoice
	// its calls, and Audio the recordings its <Play> fetches.
	TwilioInbound, TwilioStatus, TwilioVoice, Audio http.Handler
	// Telegram serves Telegram's webhook.
	Telegram http.Handler
	// MetricsToken, when set, is the bearer token /metrics asks for
	// (OUTREACH_METRICS_TOKEN).
	MetricsToken string
	// MetricsElsewhere leaves /metrics out of Handler: MetricsHandler is
	// served on a listen address of its own (OUTREACH_METRICS_ADDR).
	MetricsElsewhere bool
	// TrustedProxies are the peers whose X-Forwarded-For is believed
	// (OUTREACH_TRUSTED_PROXIES); none = the peer is the client.
	TrustedProxies []netip.Prefix
	// Console serves every other path: the web console's pages.
	Console http.Handler
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
	if !s.opts.MetricsElsewhere {
		mux.Handle("GET /metrics", s.MetricsHandler())
	}
	if s.opts.TwilioInbound != nil {
		mux.Handle("POST /webhooks/twilio", s.counted("twilio", s.opts.TwilioInbound))
		mux.Handle("POST /webhooks/twilio/status", s.counted("twilio_status", s.opts.TwilioStatus))
	}
	if s.opts.TwilioVoice != nil {
		mux.Handle("POST /webhooks/twilio/voice", s.counted("twilio_voice", s.opts.TwilioVoice))
		mux.Handle("GET /audio/{file}", s.opts.Audio)
	}
	if s.opts.Telegram != nil {
		mux.Handle("POST /webhooks/telegram", s.counted("telegram", s.opts.Telegram))
	}
	for _, rt := range s.routes() {
		mux.Handle(rt.pattern, s.allow(rt.roles, rt.handler))
	}
	mux.Handle("/api/v1/", s.allow(nil, func(w http.ResponseWriter, r *http.Request) error {
		return apiError(NotFound, "no such route")
	}))
	if s.opts.Console != nil {
		mux.Handle("/", s.opts.Console)
	}
	return s.recoverPanics(secure(limitBodies(mux)))
}

// MetricsHandler serves the Prometheus metrics; with a MetricsToken, only to
// a request that bears it.
func (s *Server) MetricsHandler() http.Handler {
	// A metric that cannot be read now (the outbox depth, with Redis down)
	// is left out and logged; the others are still served, so that the
	// scrape shows the outage instead of failing.
	metrics := promhttp.HandlerFor(s.opts.Metrics.Registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	})
	if s.opts.MetricsToken == "" {
		return metrics
	}
	want := []byte("Bearer " + s.opts.MetricsToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			writeError(w, http.StatusUnauthorized, "/metrics needs the metrics token")
			return
		}
		metrics.ServeHTTP(w, r)
	})
}

// secure sets the headers every answer carries: no content sniffing, no
// framing, no referrer, and no caching (every answer is about now, and
// the API's may name people's requests).
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// recoverPanics answers a request whose handler panicked with a 500 and
// logs it once, with its stack but without the request (which may hold a
// person's words), so that one bad request never takes the process down
// or goes unseen.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("a request's handler panicked", "path", r.URL.Path, "stack", string(debug.Stack()))
			writeError(w, http.StatusInternalServerError, "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBodies bounds every request body (BodyLimit).
func limitBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, BodyLimit(r.URL.Path))
		next.ServeHTTP(w, r)
	})
}

// BodyLimit is the bound on the body of a request to path: 64 KiB, but for
// simulate, which may carry a draft content set (2 MiB), and for a publish,
// which carries a whole content set and its recordings (24 MiB).
func BodyLimit(path string) int64 {
	switch path {
	case "/api/v1/content":
		return maxContent
	case "/api/v1/simulate":
		return maxDraft
	}
	return maxBody
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

func (s *Server) outboxDepth(w http.ResponseWriter, r *http.Request) error {
	depth, err := s.opts.Outbox.Depth(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, depth)
	return nil
}

// deadLetters lists the messages given up, newest first (?limit=N, at most 1000).
// Addresses stay sealed.
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r, 100, 1000)
	if err != nil {
		return err
	}
	dead, err := s.opts.Outbox.Dead(r.Context(), limit)
	if err != nil {
		return err
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
	return nil
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
	// Location previews the answer to a shared location.
	Location *pointRequest `json:"location"`
	// Call previews a phone call: "start" its beginning, "key" a key
	// pressed (text is the key), as a call says the replies.
	Call string `json:"call"`
}

type simulateReply struct {
	Text string `json:"text"`
	// Spoken are the parts a call says, each in its language (call only).
	Spoken []spokenPart `json:"spoken,omitempty"`
}

type spokenPart struct {
	Text string `json:"text"`
	Lang string `json:"lang"`
}

// simulate runs a message through the same engine, state and content as the
// real channels, and returns the replies instead of sending them.
func (s *Server) simulate(w http.ResponseWriter, r *http.Request) error {
	var req simulateRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	switch {
	case req.Contact == "":
		return apiError(Invalid, `"contact": required`)
	case len(req.Contact) > 256:
		return apiError(Invalid, `"contact": longer than 256 bytes`)
	case utf8.RuneCountInString(req.Text) > maxText:
		return apiError(Invalid, `"text": longer than 1600 characters`)
	case req.Call != "" && req.Call != "start" && req.Call != "key":
		return apiError(Unprocessable, `"call": want "start" (a call begins) or "key" (text is the key pressed)`)
	case req.Call == "key" && (len(req.Text) != 1 || !strings.Contains("0123456789*#", req.Text)):
		return apiError(Unprocessable, `"text": on a call, one key: 0-9, * or #`)
	}
	location, err := req.Location.point("location")
	if err != nil {
		return err
	}
	if location != nil && !location.Valid() {
		return apiError(Unprocessable, "location: want a latitude (lat) from -90 to 90 and a longitude (lon) from -180 to 180, in decimal degrees")
	}
	preview, err := s.previewContent(r, req.Version, req.Draft)
	if err != nil {
		return err
	}
	channel := dialog.ChannelSimulate
	if preview != nil {
		channel = dialog.ChannelPreview // a preview keeps its own conversation
	}
	msg := dialog.Message{Channel: channel, Address: req.Contact, Text: req.Text, Location: location, Content: preview, Voice: req.Call != "", Call: req.Call == "start"}
	outcome, err := s.opts.Dialog.Handle(r.Context(), msg)
	if err != nil {
		return err
	}
	out := struct {
		Replies []simulateReply `json:"replies"`
	}{Replies: make([]simulateReply, len(outcome.Replies))}
	for i, rep := range outcome.Replies {
		out.Replies[i] = simulateReply{Text: rep.Text}
		for _, p := range rep.Parts {
			out.Replies[i].Spoken = append(out.Replies[i].Spoken, spokenPart{Text: p.Text, Lang: p.Lang})
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
