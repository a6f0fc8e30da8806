package server

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/outreach-org/outreach/bot/access"
)

// route is one admin API route and the roles that may use it (admin may use
// every route).
type route struct {
	pattern string
	roles   []access.Role
	handler handler
}

// routes lists the admin API, in one place.
func (s *Server) routes() []route {
	staff := []access.Role{access.Staff}
	partner := []access.Role{access.Partner}
	admin := []access.Role{access.Admin}
	rs := []route{
		{"POST /api/v1/simulate", partner, s.simulate},
		{"POST /api/v1/tokens", admin, s.createToken},
		{"DELETE /api/v1/tokens/{name}", admin, s.deleteToken},
		{"GET /api/v1/audit", admin, s.audit},
		{"GET /api/v1/openapi.yaml", nil, s.openAPI},
	}
	if s.opts.Broadcasts != nil {
		rs = append(rs,
			route{"GET /api/v1/sites", []access.Role{access.Staff, access.Partner}, s.listSites},
			route{"POST /api/v1/sites", staff, s.addSite},
			route{"PATCH /api/v1/sites/{id}", staff, s.changeSite},
			route{"POST /api/v1/broadcasts", staff, s.createBroadcast},
			route{"GET /api/v1/broadcasts", staff, s.listBroadcasts},
			route{"GET /api/v1/broadcasts/{id}", staff, s.getBroadcast},
			route{"POST /api/v1/broadcasts/{id}/cancel", staff, s.cancelBroadcast},
		)
	}
	if s.opts.Versions != nil {
		rs = append(rs,
			route{"PUT /api/v1/content", partner, s.putContent},
			route{"GET /api/v1/content", []access.Role{access.Partner, access.Staff}, s.getContent},
			route{"GET /api/v1/content/versions", []access.Role{access.Partner, access.Staff}, s.contentVersions},
			route{"POST /api/v1/content/rollback", partner, s.rollbackContent},
		)
	}
	if s.opts.Requests != nil {
		rs = append(rs,
			route{"GET /api/v1/requests", staff, s.listRequests},
			route{"GET /api/v1/requests/{id}", staff, s.getRequest},
			route{"POST /api/v1/requests/{id}/reply", staff, s.replyRequest},
			route{"POST /api/v1/requests/{id}/close", staff, s.closeRequest},
			route{"DELETE /api/v1/contacts/{id}", staff, s.eraseContact},
		)
	}
	if s.opts.Distributions != nil {
		rs = append(rs,
			route{"POST /api/v1/distributions", staff, s.createDistribution},
			route{"GET /api/v1/distributions", staff, s.listDistributions},
			route{"GET /api/v1/distributions/{id}", staff, s.getDistribution},
			route{"PATCH /api/v1/distributions/{id}", staff, s.patchDistribution},
			route{"DELETE /api/v1/distributions/{id}", staff, s.deleteDistribution},
		)
	}
	if s.opts.Outbox != nil {
		rs = append(rs,
			route{"GET /api/v1/outbox", staff, s.outboxDepth},
			route{"GET /api/v1/outbox/dead", staff, s.deadLetters},
		)
	}
	return rs
}

type principalKey struct{}

// principal returns who made the request.
func principal(r *http.Request) access.Principal {
	p, _ := r.Context().Value(principalKey{}).(access.Principal)
	return p
}

// allow lets through requests whose bearer token has one of roles (any
// valid token when roles is empty): 401 without a valid token, 403 with the
// wrong role.
func (s *Server) allow(roles []access.Role, h handler) http.Handler {
	next := s.handle(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="outreach"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token")
			return
		}
		if s.opts.Tokens == nil {
			writeError(w, http.StatusUnauthorized, "invalid token")
			return
		}
		ip := clientIP(r)
		if s.guard.blocked(ip, time.Now()) {
			w.Header().Set("Retry-After", "60")
			writeError(w, http.StatusTooManyRequests, "too many failed token attempts; wait a minute")
			return
		}
		p, ok, err := s.opts.Tokens.Lookup(r.Context(), token)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !ok {
			s.guard.fail(ip, time.Now())
			w.Header().Set("WWW-Authenticate", `Bearer realm="outreach", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid token")
			return
		}
		if len(roles) > 0 && !p.Role.Allows(roles...) {
			writeError(w, http.StatusForbidden, "this token's role ("+string(p.Role)+") may not do this")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// record writes an audit event for a change; a failure is logged, not
// shown: the change itself was made.
func (s *Server) record(r *http.Request, action, target string) {
	if s.opts.Audit == nil {
		return
	}
	// The change is made: its record is written even when the client has
	// gone away meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := s.opts.Audit.Record(ctx, principal(r), action, target); err != nil {
		s.log.Error("audit log write failed", "action", action, "err", err)
	}
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Name string      `json:"name"`
		Role access.Role `json:"role"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	token, err := s.opts.Tokens.Create(r.Context(), req.Name, req.Role)
	if err != nil {
		return err
	}
	s.record(r, "token.create", req.Name+" ("+string(req.Role)+")")
	writeJSON(w, http.StatusCreated, map[string]string{"name": req.Name, "role": string(req.Role), "token": token})
	return nil
}

func (s *Server) deleteToken(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := s.opts.Tokens.Delete(r.Context(), name); err != nil {
		return err
	}
	s.record(r, "token.delete", name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r, 100, 10000)
	if err != nil {
		return err
	}
	events, err := s.opts.Audit.List(r.Context(), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events})
	return nil
}

// maxFailures is how many wrong tokens one address may try in a minute.
const maxFailures = 10

// failGuard counts wrong tokens by client address, a minute at a time, and
// blocks an address over maxFailures until the minute ends.
type failGuard struct {
	mu     sync.Mutex
	minute int64
	counts map[string]int
}

func (g *failGuard) roll(now time.Time) {
	if m := now.Unix() / 60; m != g.minute || g.counts == nil {
		g.minute, g.counts = m, map[string]int{}
	}
}

func (g *failGuard) fail(ip string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roll(now)
	g.counts[ip]++
}

func (g *failGuard) blocked(ip string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.roll(now)
	return g.counts[ip] >= maxFailures
}

// clientIP is the address a request came from (not X-Forwarded-For, which
// anyone can write).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
