// Package console is the web console for staff, partners and admins:
// server-rendered pages (html/template, embedded), forms that work without
// JavaScript, and a little embedded JavaScript that asks the server for
// HTML fragments (live counts, previews). It calls the same services as
// the admin API; it holds no rule of its own.
//
// Routes are all in routes. Every page is in French, English and Arabic
// (go-i18n, messages/*.yaml); Arabic pages are right to left.
package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/config"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/distribution"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/poster"
	"github.com/outreach-org/outreach/bot/store"
	"github.com/outreach-org/outreach/bot/versions"
)

// IdleTimeout ends a session nobody has used for this long.
const IdleTimeout = 12 * time.Hour

// Lifetime ends every session after this long, used or not.
const Lifetime = 7 * 24 * time.Hour

// Requests is what the console needs of the requests to a person.
type Requests interface {
	// List is the open requests.
	List(ctx context.Context) ([]store.Request, error)
	// Counts are how many requests are open and urgent.
	Counts(ctx context.Context) (open, urgent int64, err error)
	// Get is one request and the person's notes after it, sealed.
	Get(ctx context.Context, id string) (store.Request, []string, error)
	// Unseal opens a sealed text.
	Unseal(sealed string) (string, error)
	// requests
	// Replies are staff's replies to a request, sealed.
	Replies(ctx context.Context, id string) ([]store.Reply, error)
	// Assign notes who of staff takes care of a request.
	Assign(ctx context.Context, id, username string) error
	// Assignees are who takes care of each request ("" for nobody).
	Assignees(ctx context.Context, ids ...string) ([]string, error)
}

// Sites is what the console needs to change the sites.
type Sites interface {
	UpdateSites(ctx context.Context, defaults func() []engine.Site, change func([]engine.Site) ([]engine.Site, error)) error
}

// Options are the console's parts. A service left nil leaves its pages
// out of the navigation and answers 404 there.
type Options struct {
	People   *access.People
	Failures *access.Failures
	Sessions scs.CtxStore
	Audit    *access.Audit
	Tokens   *access.Tokens

	Dialog        *dialog.Service
	Broadcasts    *broadcast.Service
	Distributions *distribution.Service
	Versions      *versions.Store
	Requests      Requests
	Sites         Sites
	Outbox        *outbox.Outbox
	// Stats are the daily counts the dashboard shows; nil leaves them out.
	Stats Stats

	Log *slog.Logger
	// PublicURL is where people reach the service (OUTREACH_PUBLIC_URL):
	// invitation links start with it, and cookies are Secure when it is
	// https.
	PublicURL string
	// Location is where dates and times are shown.
	Location *time.Location
	// Prices are the estimated cost of one message segment, per channel,
	// for the broadcast estimate (OUTREACH_PRICE_SMS and the like).
	Prices map[string]float64
	// Currency names the prices' currency, as shown ("MAD", "USD").
	Currency string
	// ClientAddress is the address a request came from, as sign-in guards
	// count it.
	ClientAddress func(*http.Request) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Refresh is how often a page that follows a job under way (a
	// broadcast's progress, whom a distribution's notices reached)
	// reloads its live part; zero means DefaultRefresh.
	Refresh time.Duration

	// broadcasts

	// Quiet are the hours when bulk traffic waits (OUTREACH_QUIET_HOURS),
	// shown where a broadcast is scheduled; the zero value means none.
	Quiet config.QuietHours

	// content
	// Drafts keeps the partners' draft of the next content version; nil
	// (or no Versions or Dialog) leaves the content pages out.
	Drafts *ContentDrafts
	// dashboard

	// Subscribers count the subscribers of each site (store.Contacts); nil
	// leaves them out.
	Subscribers SubscriberCounts
	// Census is the last count of the people by site and language
	// (store.Contacts); nil leaves it out.
	Census Census

	// Poster returns the channels a site's poster shows (the distributions
	// page's poster links); nil leaves the posters out.
	Poster func(context.Context) (poster.Channels, error)
}

// DefaultRefresh is how often, by default, a page that follows a job under
// way reloads its live part (Options.Refresh).
const DefaultRefresh = 3 * time.Second

// Console serves the console's pages.
type Console struct {
	opts     Options
	log      *slog.Logger
	sessions *scs.SessionManager
	pages    *pages

	// bcast keeps recent audience counts for the broadcast composer.
	bcast bcastEstimates
}

// New returns the console. It fails only when its embedded templates or
// messages do not parse, which the tests rule out.
func New(opts Options) (*Console, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.ClientAddress == nil {
		opts.ClientAddress = func(r *http.Request) string { return r.RemoteAddr }
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	sm := scs.New()
	sm.Store = opts.Sessions
	sm.IdleTimeout = IdleTimeout
	sm.Lifetime = Lifetime
	sm.Cookie.Name = "outreach_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = strings.HasPrefix(strings.ToLower(opts.PublicURL), "https://")
	sm.Cookie.Persist = false
	c := &Console{opts: opts, log: opts.Log.With("component", "console"), sessions: sm}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c.pages = p
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		c.fail(w, r, err)
	}
	return c, nil
}

// route is one console route and the roles that may use it: nil means
// anyone signed in, public means anyone.
type route struct {
	pattern string
	roles   []access.Role
	handler handler
}

// handler is a console handler: it writes a page, or returns an error
// that fail turns into one.
type handler func(w http.ResponseWriter, r *http.Request) error

// public marks routes that need no session (sign-in, invitations).
var public = []access.Role{}

// routes lists the console, in one place.
func (c *Console) routes() []route {
	staff := []access.Role{access.Staff}
	partner := []access.Role{access.Partner}
	admin := []access.Role{access.Admin}
	_, _, _ = staff, partner, admin
	rs := []route{
		{"GET /login", public, c.loginPage},
		{"POST /login", public, c.login},
		{"POST /logout", nil, c.logout},
		{"GET /invite/{token}", public, c.invitePage},
		{"POST /invite/{token}", public, c.acceptInvite},
		{"POST /language", nil, c.setLanguage},
		{"GET /{$}", nil, c.dashboard},
	}
	// distributions
	rs = append(rs, c.distRoutes(staff)...)
	// broadcasts
	if c.opts.Broadcasts != nil && c.opts.Dialog != nil {
		rs = append(rs,
			route{"GET /broadcasts", staff, c.bcastListPage},
			route{"GET /broadcasts/new", staff, c.bcastNew},
			route{"POST /broadcasts/new", staff, c.bcastNew},
			route{"POST /broadcasts/new/segments/{lang}", staff, c.bcastSegmentsPart},
			route{"POST /broadcasts/new/estimate", staff, c.bcastEstimatePart},
			route{"POST /broadcasts/new/confirm", staff, c.bcastConfirm},
			route{"POST /broadcasts", staff, c.bcastCreate},
			route{"GET /broadcasts/{id}", staff, c.bcastShow},
			route{"GET /broadcasts/{id}/progress", staff, c.bcastProgressPart},
			route{"GET /broadcasts/{id}/cancel", staff, c.bcastCancelPage},
			route{"POST /broadcasts/{id}/cancel", staff, c.bcastCancel},
		)
	}
	// requests
	rs = append(rs,
		route{"GET /requests", staff, c.requests},
		route{"GET /requests/{id}", staff, c.requestPage},
		route{"POST /requests/{id}/reply", staff, c.replyRequest},
		route{"POST /requests/{id}/segments", staff, c.requestSegments},
		route{"POST /requests/{id}/assign", staff, c.assignRequest},
		route{"GET /requests/{id}/close", staff, c.closePage},
		route{"POST /requests/{id}/close", staff, c.closeRequest},
	)
	// content
	rs = append(rs,
		route{"GET /content", partner, c.contentList},
		route{"GET /content/messages/{id}", partner, c.contentEdit},
		route{"POST /content/messages/{id}", partner, c.contentSave},
		route{"POST /content/messages/{id}/meter", partner, c.contentMeter},
		route{"GET /content/simulator", partner, c.contentSim},
		route{"POST /content/simulator", partner, c.contentSimSend},
		route{"POST /content/simulator/restart", partner, c.contentSimRestart},
		route{"GET /content/flow", partner, c.contentFlow},
		route{"GET /content/publish", partner, c.contentPublishPage},
		route{"POST /content/publish", partner, c.contentPublish},
		route{"GET /content/versions", partner, c.contentVersions},
		route{"GET /content/versions/{n}/rollback", partner, c.contentRollbackPage},
		route{"POST /content/versions/{n}/rollback", partner, c.contentRollback},
		route{"GET /content/draft/discard", partner, c.contentDiscardPage},
		route{"POST /content/draft/discard", partner, c.contentDiscard},
	)
	// admin
	rs = append(rs,
		route{"GET /admin", admin, c.adminHome},
		route{"GET /admin/people", admin, c.adminPeople},
		route{"POST /admin/people", admin, c.invitePerson},
		route{"GET /admin/people/{name}/disable", admin, c.confirmDisable},
		route{"POST /admin/people/{name}/disable", admin, c.disablePerson},
		route{"POST /admin/people/{name}/enable", admin, c.enablePerson},
		route{"GET /admin/tokens", admin, c.adminTokens},
		route{"POST /admin/tokens", admin, c.createToken},
		route{"GET /admin/tokens/{name}/delete", admin, c.confirmDeleteToken},
		route{"POST /admin/tokens/{name}/delete", admin, c.deleteToken},
		route{"GET /admin/sites", admin, c.adminSites},
		route{"POST /admin/sites", admin, c.addSite},
		route{"GET /admin/sites/{id}", admin, c.sitePage},
		route{"POST /admin/sites/{id}", admin, c.changeSite},
		route{"GET /admin/audit", admin, c.adminAudit},
	)
	return rs
}

// Handler returns the console's routes, its assets and its 404 page.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /assets/", assets())
	for _, rt := range c.routes() {
		mux.Handle(rt.pattern, c.allow(rt.roles, rt.handler))
	}
	mux.Handle("/", c.allow(public, func(w http.ResponseWriter, r *http.Request) error {
		return errNotFound
	}))
	protect := http.NewCrossOriginProtection()
	protect.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, http.StatusForbidden, "error", c.errorPage(r, http.StatusForbidden, "error_cross_site"))
	}))
	return policy(c.sessions.LoadAndSave(protect.Handler(mux)))
}

// policy sets the console's Content-Security-Policy: only this origin,
// no inline script or style, no framing, forms only to here.
func policy(next http.Handler) http.Handler {
	const csp = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		next.ServeHTTP(w, r)
	})
}

// errNotFound answers 404.
var errNotFound = &pageError{status: http.StatusNotFound, message: "error_not_found"}

// pageError is an error shown as a page: a status and a message id.
type pageError struct {
	status  int
	message string
}

func (e *pageError) Error() string { return e.message }

// fail shows err as a page. Errors of the services that mean "try again"
// or "not found" get their status; anything else is logged once, without
// the request, and shown as an internal error.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	var pe *pageError
	switch {
	case errors.As(err, &pe):
	case errors.Is(err, distribution.ErrNotFound), errors.Is(err, versions.ErrNotKept), errors.Is(err, store.ErrNoRequest), errors.Is(err, broadcast.ErrNotFound), errors.Is(err, access.ErrNoPerson):
		pe = &pageError{status: http.StatusNotFound, message: "error_not_found"}
	case errors.Is(err, distribution.ErrBusy), errors.Is(err, dialog.ErrBusy), errors.Is(err, broadcast.ErrIdempotencyBusy):
		pe = &pageError{status: http.StatusConflict, message: "error_busy"}
	case errors.Is(err, context.DeadlineExceeded), store.Unavailable(err):
		w.Header().Set("Retry-After", "5")
		pe = &pageError{status: http.StatusServiceUnavailable, message: "error_unavailable"}
	default:
		c.log.Error("a console page failed", "path", r.URL.Path, "err", err)
		pe = &pageError{status: http.StatusInternalServerError, message: "error_internal"}
	}
	c.render(w, r, pe.status, "error", c.errorPage(r, pe.status, pe.message))
}
