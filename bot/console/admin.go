package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/sites"
)

// The admin pages: people and their invitations, API tokens, sites and the
// audit log. Every change is audited under the admin's name, with the
// same action names as the admin API ("token.create", "site.change"…).

// adminPageSize is how many rows a list page shows.
const adminPageSize = 50

// adminRoles are the roles a person or a token may be given.
var adminRoles = []access.Role{access.Staff, access.Partner, access.Admin}

// pager is the page of a list: ?page=N, from 1.
type pager struct {
	Page, Pages, Total int
	// Prev and Next are the numbers of the pages around, 0 for none.
	Prev, Next int
}

// paginate cuts the page ?page= out of n rows; from and to bound it.
func paginate(r *http.Request, n int) (p pager, from, to int) {
	p.Total = n
	p.Pages = max(1, (n+adminPageSize-1)/adminPageSize)
	p.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	p.Page = min(max(p.Page, 1), p.Pages)
	if p.Page > 1 {
		p.Prev = p.Page - 1
	}
	if p.Page < p.Pages {
		p.Next = p.Page + 1
	}
	from = (p.Page - 1) * adminPageSize
	return p, from, min(from+adminPageSize, n)
}

// noStore keeps a page that shows a secret out of every cache, so that
// going back does not show it again.
func noStore(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }

// adminCounts are the admin home's numbers.
type adminCounts struct {
	People, Invited, Disabled, Tokens, Sites int
	HasPeople, HasTokens, HasSites, HasAudit bool
}

func (c *Console) adminHome(w http.ResponseWriter, r *http.Request) error {
	var d adminCounts
	people, err := c.opts.People.List(r.Context())
	if err != nil {
		return err
	}
	d.HasPeople, d.People = true, len(people)
	for _, p := range people {
		if p.Invited {
			d.Invited++
		}
		if p.Disabled {
			d.Disabled++
		}
	}
	if c.opts.Tokens != nil {
		tokens, err := c.opts.Tokens.List(r.Context())
		if err != nil {
			return err
		}
		d.HasTokens, d.Tokens = true, len(tokens)
	}
	if s := c.siteService(); s != nil {
		views, _, err := s.Views(r.Context())
		if err != nil {
			return err
		}
		d.HasSites, d.Sites = true, len(views)
	}
	d.HasAudit = c.opts.Audit != nil
	c.render(w, r, http.StatusOK, "admin", c.newPage(r, "admin_title", d))
	return nil
}

// peopleData is the people page: the list, and an invitation just made.
type peopleData struct {
	People []access.Person
	Pager  pager
	Roles  []access.Role
	// Invite is the invitation just made, shown this once.
	Invite *shownInvite
}

// shownInvite is an invitation link as shown to the admin who made it.
type shownInvite struct {
	Person  access.Person
	Link    string
	Expires time.Time
}

func (c *Console) peoplePage(r *http.Request, invite *shownInvite) (*Page, error) {
	people, err := c.opts.People.List(r.Context())
	if err != nil {
		return nil, err
	}
	pg, from, to := paginate(r, len(people))
	return c.newPage(r, "admin_people_title", peopleData{People: people[from:to], Pager: pg, Roles: adminRoles, Invite: invite}), nil
}

func (c *Console) adminPeople(w http.ResponseWriter, r *http.Request) error {
	p, err := c.peoplePage(r, nil)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "admin-people", p)
	return nil
}

// invitePerson invites a person: the page shows the one-time link once.
// Inviting again someone whose link was never used makes a new link.
func (c *Console) invitePerson(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	name := strings.TrimSpace(r.PostForm.Get("username"))
	role, lang := access.Role(r.PostForm.Get("role")), r.PostForm.Get("lang")
	errs := map[string]string{}
	if !access.ValidName(name) || strings.EqualFold(name, access.BootstrapUser) || strings.EqualFold(name, access.BootstrapName) {
		errs["username"] = "admin_name_invalid"
	}
	if !role.Valid() {
		errs["role"] = "admin_role_invalid"
	}
	if !known(lang) {
		errs["lang"] = "admin_lang_invalid"
	}
	var inv access.Invite
	if len(errs) == 0 {
		var err error
		inv, err = c.opts.People.Invite(r.Context(), name, role, lang)
		switch {
		case errors.Is(err, access.ErrPersonExists):
			errs["username"] = "admin_person_exists"
		case errors.Is(err, access.ErrInvalid):
			errs["username"] = "admin_name_invalid"
		case err != nil:
			return err
		}
	}
	if len(errs) > 0 {
		p, err := c.peoplePage(r, nil)
		if err != nil {
			return err
		}
		p.Form, p.Errors = r.PostForm, translate(p, errs)
		c.render(w, r, http.StatusUnprocessableEntity, "admin-people", p)
		return nil
	}
	c.record(r, "person.invite", inv.Person.Name+" ("+string(inv.Person.Role)+")")
	p, err := c.peoplePage(r, &shownInvite{
		Person:  inv.Person,
		Link:    strings.TrimSuffix(c.opts.PublicURL, "/") + "/invite/" + url.PathEscape(inv.Token),
		Expires: inv.Expires,
	})
	if err != nil {
		return err
	}
	noStore(w)
	c.render(w, r, http.StatusOK, "admin-people", p)
	return nil
}

// translate turns field → message id into field → text.
func translate(p *Page, ids map[string]string) map[string]string {
	out := make(map[string]string, len(ids))
	for f, id := range ids {
		out[f] = p.T(id, "Max", broadcast.MaxSiteName, "MaxArea", broadcast.MaxSiteArea)
	}
	return out
}

// person is the person the path names, or 404.
func (c *Console) person(r *http.Request) (access.Person, error) {
	name := r.PathValue("name")
	if strings.EqualFold(name, access.BootstrapUser) {
		return access.Person{}, errNotFound // the bootstrap admin is not listed, nor disabled here
	}
	return c.opts.People.Get(r.Context(), name)
}

// errSelf refuses to disable oneself, which would end one's own session.
var errSelf = &pageError{status: http.StatusUnprocessableEntity, message: "admin_disable_self"}

func (c *Console) confirmDisable(w http.ResponseWriter, r *http.Request) error {
	person, err := c.person(r)
	if err != nil {
		return err
	}
	if strings.EqualFold(person.Name, signedIn(r).Name) {
		return errSelf
	}
	c.render(w, r, http.StatusOK, "admin-person-disable", c.newPage(r, "admin_disable_title", person))
	return nil
}

func (c *Console) disablePerson(w http.ResponseWriter, r *http.Request) error {
	return c.setDisabled(w, r, true)
}

func (c *Console) enablePerson(w http.ResponseWriter, r *http.Request) error {
	return c.setDisabled(w, r, false)
}

// setDisabled disables or enables a person. A disabled person's sessions
// end at their next request (allow reads the person every time).
func (c *Console) setDisabled(w http.ResponseWriter, r *http.Request, disabled bool) error {
	person, err := c.person(r)
	if err != nil {
		return err
	}
	if disabled && strings.EqualFold(person.Name, signedIn(r).Name) {
		return errSelf
	}
	if err := c.opts.People.SetDisabled(r.Context(), person.Name, disabled); err != nil {
		return err
	}
	if disabled {
		c.record(r, "person.disable", person.Name)
		c.setFlash(r, "admin_disabled", person.Name)
	} else {
		c.record(r, "person.enable", person.Name)
		c.setFlash(r, "admin_enabled", person.Name)
	}
	http.Redirect(w, r, "/admin/people", http.StatusSeeOther)
	return nil
}

// tokensData is the tokens page: the list, and a token just made.
type tokensData struct {
	Tokens []access.TokenInfo
	Pager  pager
	Roles  []access.Role
	// Created is the token just made, shown this once.
	Created *shownToken
}

// shownToken is a new token as shown to the admin who made it.
type shownToken struct {
	Name  string
	Role  access.Role
	Token string
}

func (c *Console) tokensPage(r *http.Request, created *shownToken) (*Page, error) {
	if c.opts.Tokens == nil {
		return nil, errNotFound
	}
	tokens, err := c.opts.Tokens.List(r.Context())
	if err != nil {
		return nil, err
	}
	pg, from, to := paginate(r, len(tokens))
	return c.newPage(r, "admin_tokens_title", tokensData{Tokens: tokens[from:to], Pager: pg, Roles: adminRoles, Created: created}), nil
}

func (c *Console) adminTokens(w http.ResponseWriter, r *http.Request) error {
	p, err := c.tokensPage(r, nil)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "admin-tokens", p)
	return nil
}

// createToken makes an API token: the page shows it once, as the API does.
func (c *Console) createToken(w http.ResponseWriter, r *http.Request) error {
	if c.opts.Tokens == nil {
		return errNotFound
	}
	if err := readForm(r); err != nil {
		return err
	}
	name, role := strings.TrimSpace(r.PostForm.Get("name")), access.Role(r.PostForm.Get("role"))
	errs := map[string]string{}
	if !access.ValidName(name) || name == access.BootstrapName {
		errs["name"] = "admin_name_invalid"
	}
	if !role.Valid() {
		errs["role"] = "admin_role_invalid"
	}
	var token string
	if len(errs) == 0 {
		var err error
		token, err = c.opts.Tokens.Create(r.Context(), name, role)
		switch {
		case errors.Is(err, access.ErrExists):
			errs["name"] = "admin_token_exists"
		case errors.Is(err, access.ErrInvalid):
			errs["name"] = "admin_name_invalid"
		case err != nil:
			return err
		}
	}
	if len(errs) > 0 {
		p, err := c.tokensPage(r, nil)
		if err != nil {
			return err
		}
		p.Form, p.Errors = r.PostForm, translate(p, errs)
		c.render(w, r, http.StatusUnprocessableEntity, "admin-tokens", p)
		return nil
	}
	c.record(r, "token.create", name+" ("+string(role)+")")
	p, err := c.tokensPage(r, &shownToken{Name: name, Role: role, Token: token})
	if err != nil {
		return err
	}
	noStore(w)
	c.render(w, r, http.StatusOK, "admin-tokens", p)
	return nil
}

// token is the token the path names, or 404.
func (c *Console) token(r *http.Request) (access.TokenInfo, error) {
	if c.opts.Tokens == nil {
		return access.TokenInfo{}, errNotFound
	}
	tokens, err := c.opts.Tokens.List(r.Context())
	if err != nil {
		return access.TokenInfo{}, err
	}
	for _, t := range tokens {
		if t.Name == r.PathValue("name") {
			return t, nil
		}
	}
	return access.TokenInfo{}, errNotFound
}

func (c *Console) confirmDeleteToken(w http.ResponseWriter, r *http.Request) error {
	t, err := c.token(r)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "admin-token-delete", c.newPage(r, "admin_token_delete_title", t))
	return nil
}

func (c *Console) deleteToken(w http.ResponseWriter, r *http.Request) error {
	if c.opts.Tokens == nil {
		return errNotFound
	}
	name := r.PathValue("name")
	if err := c.opts.Tokens.Delete(r.Context(), name); errors.Is(err, access.ErrNotFound) {
		return errNotFound
	} else if err != nil {
		return err
	}
	c.record(r, "token.delete", name)
	c.setFlash(r, "admin_token_deleted", name)
	http.Redirect(w, r, "/admin/tokens", http.StatusSeeOther)
	return nil
}

// sitesData is the sites page and the form to add one.
type sitesData struct {
	Sites     []sites.View
	Languages []string
}

// siteData is the form to change one site.
type siteData struct {
	Site      sites.View
	Stored    engine.Site
	Languages []string
}

// needSites is the sites service, or 404 when the console has not its parts.
func (c *Console) needSites() (*sites.Service, error) {
	s := c.siteService()
	if s == nil {
		return nil, errNotFound
	}
	return s, nil
}

func (c *Console) sitesPage(r *http.Request) (*Page, error) {
	s, err := c.needSites()
	if err != nil {
		return nil, err
	}
	views, _, err := s.Views(r.Context())
	if err != nil {
		return nil, err
	}
	return c.newPage(r, "admin_sites_title", sitesData{Sites: views, Languages: s.Languages()}), nil
}

func (c *Console) adminSites(w http.ResponseWriter, r *http.Request) error {
	p, err := c.sitesPage(r)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "admin-sites", p)
	return nil
}

// siteForm reads the fields a site form sends: names and areas per
// language (blank ones are left out: they keep what is there), who sees
// exact places, and, when changing, whether it is retired.
func siteForm(r *http.Request, languages []string) (names, area map[string]string, exact string) {
	names, area = map[string]string{}, map[string]string{}
	for _, lang := range languages {
		if v := strings.TrimSpace(r.PostForm.Get("name_" + lang)); v != "" {
			names[lang] = v
		}
		if v := strings.TrimSpace(r.PostForm.Get("area_" + lang)); v != "" {
			area[lang] = v
		}
	}
	return names, area, r.PostForm.Get("exact_place")
}

// siteErrors maps the problems of a refused site to the form's fields.
func siteErrors(err error) map[string]string {
	errs := map[string]string{}
	switch {
	case errors.Is(err, sites.ErrNoName):
		errs["names"] = "admin_site_no_name"
	case errors.Is(err, sites.ErrExists):
		errs["id"] = "admin_site_exists"
	case errors.Is(err, broadcast.ErrInvalid):
		for _, f := range broadcast.Fields(err) {
			kind, lang, _ := strings.Cut(f, ".")
			switch kind {
			case "id":
				errs["id"] = "admin_site_id_invalid"
			case "names":
				errs["name_"+lang] = "admin_site_name_invalid"
			case "area":
				errs["area_"+lang] = "admin_site_area_invalid"
			case "exact_place":
				errs["exact_place"] = "admin_site_exact_invalid"
			case "coords":
				errs["coords"] = errCoords["coords"]
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func (c *Console) addSite(w http.ResponseWriter, r *http.Request) error {
	s, err := c.needSites()
	if err != nil {
		return err
	}
	if err := readForm(r); err != nil {
		return err
	}
	names, area, exact := siteForm(r, s.Languages())
	site := engine.Site{ID: strings.TrimSpace(r.PostForm.Get("id")), Names: names, ExactPlace: exact}
	if len(area) > 0 {
		site.Area = area
	}
	coords, ok := siteCoords(r)
	site.Coords = coords
	errs := errCoords
	if ok {
		site, err = s.Add(r.Context(), site)
		errs = siteErrors(err)
	}
	if errs != nil {
		p, err := c.sitesPage(r)
		if err != nil {
			return err
		}
		p.Form, p.Errors = r.PostForm, translate(p, errs)
		c.render(w, r, http.StatusUnprocessableEntity, "admin-sites", p)
		return nil
	} else if err != nil {
		return err
	}
	c.record(r, "site.add", site.ID)
	c.setFlash(r, "admin_site_added", site.ID)
	http.Redirect(w, r, "/admin/sites", http.StatusSeeOther)
	return nil
}

// site is the site the path names, as a view and as stored.
func (c *Console) site(r *http.Request, s *sites.Service) (sites.View, engine.Site, error) {
	views, stored, err := s.Views(r.Context())
	if err != nil {
		return sites.View{}, engine.Site{}, err
	}
	for i, v := range views {
		if v.ID == r.PathValue("id") {
			return v, stored[i], nil
		}
	}
	return sites.View{}, engine.Site{}, errNotFound
}

func (c *Console) sitePage(w http.ResponseWriter, r *http.Request) error {
	s, err := c.needSites()
	if err != nil {
		return err
	}
	v, stored, err := c.site(r, s)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "admin-site", c.newPage(r, "admin_site_title", siteData{Site: v, Stored: stored, Languages: s.Languages()}))
	return nil
}

func (c *Console) changeSite(w http.ResponseWriter, r *http.Request) error {
	s, err := c.needSites()
	if err != nil {
		return err
	}
	v, stored, err := c.site(r, s)
	if err != nil {
		return err
	}
	if err := readForm(r); err != nil {
		return err
	}
	names, area, exact := siteForm(r, s.Languages())
	retired := r.PostForm.Get("retired") == "1"
	ch := sites.Change{Retired: &retired, ExactPlace: &exact}
	if len(names) > 0 {
		ch.Names = names
	}
	if len(area) > 0 {
		ch.Area = area
	}
	coords, ok := siteCoords(r)
	ch.Coords = coords
	errs := errCoords
	if ok {
		_, err = s.Change(r.Context(), v.ID, ch)
		errs = siteErrors(err)
	}
	if errs != nil {
		p := c.newPage(r, "admin_site_title", siteData{Site: v, Stored: stored, Languages: s.Languages()})
		p.Form, p.Errors = r.PostForm, translate(p, errs)
		c.render(w, r, http.StatusUnprocessableEntity, "admin-site", p)
		return nil
	} else if errors.Is(err, sites.ErrNotFound) {
		return errNotFound
	} else if err != nil {
		return err
	}
	c.record(r, "site.change", v.ID)
	c.setFlash(r, "admin_site_changed", v.ID)
	http.Redirect(w, r, "/admin/sites", http.StatusSeeOther)
	return nil
}

// auditData is a page of the audit log and its filters.
type auditData struct {
	Page access.AuditPage
	// Older is the query of the next page, Filtered whether a filter is on.
	Older    string
	Filtered bool
	Limit    int
	// Max is how many entries a page looks at, at most.
	Max int
}

func (c *Console) adminAudit(w http.ResponseWriter, r *http.Request) error {
	if c.opts.Audit == nil {
		return errNotFound
	}
	q := r.URL.Query()
	aq := access.AuditQuery{Who: strings.TrimSpace(q.Get("who")), Action: strings.TrimSpace(q.Get("action")), After: q.Get("after"), Limit: adminPageSize}
	errs := map[string]string{}
	loc := c.opts.Location
	if v := q.Get("from"); v != "" {
		t, err := time.ParseInLocation(time.DateOnly, v, loc)
		if err != nil {
			errs["from"] = "admin_audit_bad_date"
		}
		aq.From = t
	}
	if v := q.Get("until"); v != "" {
		t, err := time.ParseInLocation(time.DateOnly, v, loc)
		if err != nil {
			errs["until"] = "admin_audit_bad_date"
		}
		aq.Until = t.AddDate(0, 0, 1) // the day given is included
	}
	if !aq.From.IsZero() && !aq.Until.IsZero() && !aq.Until.After(aq.From) {
		errs["until"] = "admin_audit_bad_range"
	}
	d := auditData{Filtered: aq.Who != "" || aq.Action != "" || q.Get("from") != "" || q.Get("until") != "", Limit: adminPageSize, Max: access.MaxAuditScan}
	status := http.StatusOK
	if len(errs) == 0 {
		page, err := c.opts.Audit.Query(r.Context(), aq)
		if errors.Is(err, access.ErrInvalid) {
			return &pageError{status: http.StatusBadRequest, message: "error_bad_form"}
		} else if err != nil {
			return err
		}
		d.Page = page
		if page.Next != "" {
			next := url.Values{}
			for _, k := range []string{"who", "action", "from", "until"} {
				if v := q.Get(k); v != "" {
					next.Set(k, v)
				}
			}
			next.Set("after", page.Next)
			d.Older = "/admin/audit?" + next.Encode()
		}
	} else {
		status = http.StatusUnprocessableEntity
	}
	p := c.newPage(r, "admin_audit_title", d)
	p.Form = q
	if len(errs) > 0 {
		p.Errors = translate(p, errs)
	}
	c.render(w, r, status, "admin-audit", p)
	return nil
}
