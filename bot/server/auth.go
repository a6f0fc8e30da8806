package server

import (
	"context"
	"net"
	"net/http"
	"net/netip"
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
// wrong role. A valid token always works: only wrong tokens are counted,
// and an address over the limit gets 429 for its wrong tokens (see
// failGuard), so nobody can lock staff out by guessing from their address.
// Wrong tokens are in the audit log, a minute at a time (access.Audit.Refused).
func (s *Server) allow(roles []access.Role, h handler) http.Handler {
	next := s.handle(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token)
		if !strings.EqualFold(scheme, "Bearer") || token == "" {
			s.fail(w, r, apiError(Unauthorized, "missing bearer token"))
			return
		}
		if s.opts.Tokens == nil {
			s.fail(w, r, apiError(Unauthorized, "invalid token"))
			return
		}
		p, ok, err := s.opts.Tokens.Lookup(r.Context(), token)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !ok {
			s.recordRefused(r, "login.failed")
			if wait, limited := s.guard.fail(guardKey(clientIP(r, s.opts.TrustedProxies)), time.Now()); limited {
				s.fail(w, r, &Error{Kind: TooMany, Message: "too many wrong tokens from this address; wait a minute (a valid token still works)",
					RetryAfter: time.Duration(wait) * time.Second})
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="outreach", error="invalid_token"`)
			s.fail(w, r, apiError(Unauthorized, "invalid token"))
			return
		}
		if len(roles) > 0 && !p.Role.Allows(roles...) {
			s.fail(w, r, apiError(Forbidden, "this token's role (%s) may not do this", p.Role))
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
	ctx, cancel := auditContext(r)
	defer cancel()
	if err := s.opts.Audit.Record(ctx, principal(r), action, target); err != nil {
		s.log.Error("audit log write failed", "action", action, "err", err)
	}
}

// auditContext is the context of an audit write: what was done (or
// refused) is recorded even when the client has gone away meanwhile.
func auditContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
}

// recordRefused writes an audit event for a refused attempt (a wrong token,
// a refused publish), aggregated by minute so that cheap requests cannot
// flood the log; a failure is logged, not shown.
func (s *Server) recordRefused(r *http.Request, action string) {
	if s.opts.Audit == nil {
		return
	}
	ctx, cancel := auditContext(r)
	defer cancel()
	if err := s.opts.Audit.Refused(ctx, principal(r), action, clientIP(r, s.opts.TrustedProxies)); err != nil {
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

// maxFailures is how many wrong tokens one address may try in a minute;
// beyond, its wrong tokens get 429 until the minute ends. Its valid tokens
// still work, so the guard cannot stop a guesser (a right guess would
// pass); what keeps guessing hopeless is the token itself: a per-person
// token is 256 random bits (only its SHA-256 is stored and looked up), and
// OUTREACH_ADMIN_TOKEN must be as long and random.
const maxFailures = 10

// maxTracked bounds the addresses the guard counts in one minute. Beyond,
// new addresses share one count, which soon refuses their wrong tokens:
// a spray of addresses costs bounded memory and locks no valid token out.
const maxTracked = 10000

// overflow is the key of the addresses beyond maxTracked.
const overflow = "*"

// failGuard counts wrong tokens by client address (IPv6 by /64), a minute
// at a time.
type failGuard struct {
	mu     sync.Mutex
	minute int64
	counts map[string]int
}

// fail counts a wrong token from key at now and tells whether key is over
// the limit, and then how many seconds are left of the minute.
func (g *failGuard) fail(key string, now time.Time) (wait int, limited bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m := now.Unix() / 60; m != g.minute || g.counts == nil {
		g.minute, g.counts = m, map[string]int{}
	}
	if _, ok := g.counts[key]; !ok && len(g.counts) >= maxTracked {
		key = overflow
	}
	g.counts[key]++
	if g.counts[key] <= maxFailures {
		return 0, false
	}
	return int(60 - now.Unix()%60), true
}

// guardKey is the key failGuard counts ip under: the address, or for IPv6
// its /64, which one client usually holds whole.
func guardKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Is4() {
		return ip
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// clientIP is the address a request came from: the peer's, or, when the
// peer is one of the trusted proxies, the right-most address of
// X-Forwarded-For that is not itself a trusted proxy. X-Forwarded-For from
// anyone else is ignored: anyone can write it.
func clientIP(r *http.Request, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
	addr := peer.Addr().Unmap()
	if !isTrusted(addr, trusted) {
		return addr.String()
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		list := hops[i]
		for list != "" {
			var hop string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				list, hop = list[:j], list[j+1:]
			} else {
				list, hop = "", list
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			a, ok := parseHop(hop)
			if !ok {
				// Not an address: what came before it cannot be told, so
				// the client is the last proxy that could be believed.
				return addr.String()
			}
			addr = a
			if !isTrusted(addr, trusted) {
				return addr.String()
			}
		}
	}
	return addr.String()
}

// parseHop reads one X-Forwarded-For entry: an address, perhaps with a port.
func parseHop(hop string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(hop); err == nil {
		return a.WithZone("").Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddress is the address a request came from, as the sign-in guards
// count it: the client's address (see clientIP), IPv6 grouped by /64.
func ClientAddress(r *http.Request, trusted []netip.Prefix) string {
	return guardKey(clientIP(r, trusted))
}
