package console

import (
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/distribution"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/poster"
	"github.com/outreach-org/outreach/bot/sms"
)

// The distributions pages: a list by site and date; a form to create or
// change one, with the texts of every language side by side and a live
// preview; a confirmation page with the notices exactly as people will
// get them, what they cost and how many will get them; and a page per
// distribution with who was told. Every rule is distribution.Service's:
// these pages turn forms into its calls and its answers into pages.

// distSample bounds how many subscribers a preview reads to split them by
// language and channel (broadcast.Service.Reach): exact up to that many,
// an estimate above, and cheap either way.
const distSample = 1000

// distPerPage is how many distributions a page of the list shows.
const distPerPage = 50

// distErrors are the messages of the problems distribution.Service finds,
// by code.
var distErrors = map[string]string{
	distribution.CodeSiteMissing:     "dist_err_site_missing",
	distribution.CodeSiteUnknown:     "dist_err_site_unknown",
	distribution.CodeSiteRetired:     "dist_err_site_retired",
	distribution.CodeTimesMissing:    "dist_err_times_missing",
	distribution.CodeEndsBeforeStart: "dist_err_ends_before_start",
	distribution.CodeLongerThanADay:  "dist_err_longer_than_a_day",
	distribution.CodeOver:            "dist_err_over",
	distribution.CodePlaceMissing:    "dist_err_place_missing",
	distribution.CodeLanguageUnknown: "dist_err_language_unknown",
	distribution.CodeTextEmpty:       "dist_err_text_empty",
	distribution.CodeTextTooLong:     "dist_err_text_too_long",
	distribution.CodeTextBadChar:     "dist_err_text_bad_char",
	distribution.CodeItemsMissing:    "dist_err_items_missing",
	distribution.CodeItemUnknown:     "dist_err_item_unknown",
	distribution.CodeItemTwice:       "dist_err_item_twice",
	distribution.CodeCancelled:       "dist_err_cancelled",
}

// distTexts are the per-language fields of a distribution's form.
var distTexts = []string{"place", "who", "bring"}

// distRoutes are the distributions pages, for staff.
func (c *Console) distRoutes(staff []access.Role) []route {
	if c.opts.Distributions == nil || c.opts.Broadcasts == nil || c.opts.Dialog == nil {
		return nil
	}
	rs := []route{
		{"GET /distributions", staff, c.distList},
		{"GET /distributions/new", staff, c.distNew},
		{"POST /distributions/new", staff, c.distNewPost},
		{"POST /distributions/preview", staff, c.distNewFragment},
		{"GET /distributions/{id}", staff, c.distShow},
		{"GET /distributions/{id}/told", staff, c.distToldFragment},
		{"GET /distributions/{id}/edit", staff, c.distEdit},
		{"POST /distributions/{id}/edit", staff, c.distEditPost},
		{"POST /distributions/{id}/preview", staff, c.distEditFragment},
		{"GET /distributions/{id}/cancel", staff, c.distCancelPage},
		{"POST /distributions/{id}/cancel", staff, c.distCancel},
	}
	if c.opts.Poster != nil {
		rs = append(rs, route{"GET /distributions/poster", staff, c.distPoster})
	}
	return rs
}

// distOption is a site or an item as a form offers it.
type distOption struct {
	ID, Name string
}

// distRow is a distribution as the list and its page show it, in the
// console's language.
type distRow struct {
	D        engine.Distribution
	Site     string
	Ends     string // the end's time of day
	Place    string
	Items    string
	Over     bool
	Upcoming bool
}

// distListData is the list of distributions.
type distListData struct {
	Sites       []distOption
	Site        string
	Past        bool
	Rows        []distRow
	Upcoming    int
	PastCount   int
	Page, Pages int
	// Prev and Next are the links to the pages around, if any.
	Prev, Next template.URL
	// Posters are the links to each site's poster, by language; none
	// when posters are off.
	Posters []distPosters
}

// distPosters are a site's poster links, one per language.
type distPosters struct {
	Name  string
	Links []distOption // ID: the link; Name: the language's own name
}

func (c *Console) distList(w http.ResponseWriter, r *http.Request) error {
	all, err := c.opts.Distributions.List(r.Context())
	if err != nil {
		return err
	}
	sites, err := c.opts.Broadcasts.Sites(r.Context())
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p := c.newPage(r, "dist_title", nil)
	d := distListData{Site: q.Get("site"), Past: q.Get("show") == "past"}
	cont := c.opts.Dialog.Content()
	for _, s := range sites {
		d.Sites = append(d.Sites, distOption{ID: s.ID, Name: engine.SiteName(cont, sites, p.Lang, s.ID)})
	}
	now := c.opts.Now()
	var upcoming, past []distRow
	for _, x := range all {
		if d.Site != "" && x.Site != d.Site {
			continue
		}
		row := c.distRow(p, cont, sites, x, now)
		if row.Upcoming {
			upcoming = append(upcoming, row)
		} else {
			past = append(past, row)
		}
	}
	slices.Reverse(past) // the most recent first
	d.Upcoming, d.PastCount = len(upcoming), len(past)
	rows := upcoming
	if d.Past {
		rows = past
	}
	d.Pages = max(1, (len(rows)+distPerPage-1)/distPerPage)
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = min(max(d.Page, 1), d.Pages)
	d.Rows = rows[(d.Page-1)*distPerPage : min(d.Page*distPerPage, len(rows))]
	page := func(n int) template.URL {
		v := url.Values{}
		if d.Site != "" {
			v.Set("site", d.Site)
		}
		if d.Past {
			v.Set("show", "past")
		}
		v.Set("page", strconv.Itoa(n))
		return template.URL("/distributions?" + v.Encode())
	}
	if d.Page > 1 {
		d.Prev = page(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.Next = page(d.Page + 1)
	}
	if c.opts.Poster != nil {
		for _, s := range sites {
			if s.Retired {
				continue
			}
			ps := distPosters{Name: engine.SiteName(cont, sites, p.Lang, s.ID)}
			for _, lang := range cont.Languages {
				v := url.Values{"site": {s.ID}, "lang": {lang}}
				ps.Links = append(ps.Links, distOption{ID: "/distributions/poster?" + v.Encode(), Name: cont.Text(lang, content.MsgLanguageName, nil)})
			}
			d.Posters = append(d.Posters, ps)
		}
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "distributions", p)
	return nil
}

// distRow shows one distribution in the page's language.
func (c *Console) distRow(p *Page, cont *content.Content, sites []engine.Site, d engine.Distribution, now time.Time) distRow {
	row := distRow{D: d, Site: engine.SiteName(cont, sites, p.Lang, d.Site), Ends: d.EndsAt.In(c.opts.Location).Format("15:04"),
		Place: localized(d.Place, p.Lang, cont.Languages), Over: d.EndsAt.Before(now)}
	row.Upcoming = !row.Over && !d.Cancelled
	items := make([]string, len(d.Items))
	for i, it := range d.Items {
		items[i] = cont.Text(p.Lang, content.PrefixItem+it, nil)
	}
	row.Items = strings.Join(items, ", ")
	return row
}

// localized is a free text in lang, else in the first language that has it.
func localized(text engine.Localized, lang string, langs []string) string {
	if t := text[lang]; t != "" {
		return t
	}
	for _, l := range langs {
		if t := text[l]; t != "" {
			return t
		}
	}
	for _, l := range slices.Sorted(maps.Keys(text)) {
		if text[l] != "" {
			return text[l]
		}
	}
	return ""
}

// distFormData is the form to create or change a distribution.
type distFormData struct {
	// ID is the distribution changed; empty for a new one.
	ID string
	// Action is where the form goes; PreviewURL answers its live preview.
	Action, PreviewURL string
	Sites              []distOption
	// SiteName is the site of a distribution changed (it cannot change).
	SiteName string
	Langs    []string
	Items    []distOption
	// Zone is where the times are.
	Zone string
	// Preview is the live preview, when the form holds enough for one.
	Preview *distPreview
}

// distPreview is what the confirmation page and the live preview show.
type distPreview struct {
	// Mode is "create", "change" or "cancel".
	Mode     string
	Site     string
	Row      distRow
	Kind     string
	Notices  []distNotice
	People   int64
	Sampled  bool
	Read     int
	Skipped  int64
	Segments int64 // SMS segments, estimated
	SMS      int64 // people on SMS, estimated
	Cost     string
	Currency string
	Reminder time.Time
	// Problems are what stops it, said in the page's language.
	Problems []string
	// Hidden are the form's fields, carried by the confirmation.
	Hidden [][2]string
	// Once makes the confirmation of a creation safe to send twice.
	Once string
	// Base is the fingerprint of the distribution changed or cancelled.
	Base string
	// Stale is set when the distribution changed since it was previewed.
	Stale bool
	// Action is where the confirmation goes.
	Action string
}

// distNotice is a notice in one language, as people will get it.
type distNotice struct {
	Lang   string
	Text   string
	SMS    sms.Cost
	People int64 // estimated
	BySMS  int64 // estimated
	Cost   string
}

func (c *Console) distFormPage(r *http.Request, id string) (*Page, *distFormData, error) {
	sites, err := c.opts.Broadcasts.Sites(r.Context())
	if err != nil {
		return nil, nil, err
	}
	cont := c.opts.Dialog.Content()
	title := "dist_new_title"
	fd := &distFormData{ID: id, Action: "/distributions/new", PreviewURL: "/distributions/preview", Langs: cont.Languages, Zone: c.opts.Location.String()}
	if id != "" {
		title = "dist_edit_title"
		fd.Action, fd.PreviewURL = "/distributions/"+id+"/edit", "/distributions/"+id+"/preview"
	}
	p := c.newPage(r, title, fd)
	for _, s := range sites {
		if !s.Retired {
			fd.Sites = append(fd.Sites, distOption{ID: s.ID, Name: engine.SiteName(cont, sites, p.Lang, s.ID)})
		}
	}
	for _, it := range cont.Items() {
		fd.Items = append(fd.Items, distOption{ID: it, Name: cont.Text(p.Lang, content.PrefixItem+it, nil)})
	}
	return p, fd, nil
}

func (c *Console) distNew(w http.ResponseWriter, r *http.Request) error {
	p, fd, err := c.distFormPage(r, "")
	if err != nil {
		return err
	}
	p.Form = map[string][]string{"notify": {"1"}}
	if site := r.URL.Query().Get("site"); site != "" {
		p.Form["site"] = []string{site}
	} else if len(fd.Sites) == 1 {
		p.Form["site"] = []string{fd.Sites[0].ID}
	}
	c.render(w, r, http.StatusOK, "distributions-form", p)
	return nil
}

// distFromForm reads a distribution from the form; bad holds the fields
// that could not be read (a time not written as one).
func (c *Console) distFromForm(r *http.Request, langs []string) (d engine.Distribution, bad map[string]bool) {
	f := r.PostForm
	bad = map[string]bool{}
	d.Site = f.Get("site")
	d.Notify = f.Get("notify") == "1"
	var ok bool
	if d.StartsAt, ok = c.formTime(f.Get("starts")); !ok {
		bad["starts"] = true
	}
	if d.EndsAt, ok = c.formTime(f.Get("ends")); !ok {
		bad["ends"] = true
	}
	texts := map[string]*engine.Localized{"place": &d.Place, "who": &d.Who, "bring": &d.Bring}
	for _, name := range distTexts {
		m := engine.Localized{}
		for _, lang := range langs {
			// Browsers send a textarea's lines with CRLF.
			if v := strings.ReplaceAll(f.Get(name+"_"+lang), "\r\n", "\n"); strings.TrimSpace(v) != "" {
				m[lang] = v
			}
		}
		*texts[name] = m
	}
	d.Items = []string{}
	for _, it := range f["items"] {
		if it != "" && !slices.Contains(d.Items, it) {
			d.Items = append(d.Items, it)
		}
	}
	return d, bad
}

// formTime reads an <input type="datetime-local"> in the console's zone;
// an empty one is the zero time (the service says it is missing).
func (c *Console) formTime(v string) (time.Time, bool) {
	if strings.TrimSpace(v) == "" {
		return time.Time{}, true
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, strings.TrimSpace(v), c.opts.Location); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// distProblems turns what is wrong into errors by form field, in the
// page's language; ok is false for an error that is not a refusal.
func distProblems(p *Page, err error, bad map[string]bool) (map[string]string, bool) {
	out := map[string]string{}
	for field := range bad {
		out[field] = p.T("dist_err_time_format")
	}
	if err == nil {
		return out, true
	}
	var inv *distribution.InvalidError
	if !errors.As(err, &inv) {
		return nil, false
	}
	for _, pr := range inv.Problems {
		field := strings.ReplaceAll(pr.Field, ".", "_")
		switch pr.Field {
		case "starts_at":
			field = "starts"
		case "ends_at":
			field = "ends"
		case "":
			field = "form"
		}
		if out[field] != "" {
			continue // one at a time, where the person looks
		}
		var args []any
		for _, k := range slices.Sorted(maps.Keys(pr.Args)) {
			args = append(args, k, fmt.Sprint(pr.Args[k]))
		}
		id := distErrors[pr.Code]
		if id == "" {
			id = "dist_err_other"
		}
		out[field] = p.T(id, args...)
	}
	return out, true
}

func (c *Console) distNewPost(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	p, fd, err := c.distFormPage(r, "")
	if err != nil {
		return err
	}
	p.Form = r.PostForm
	d, bad := c.distFromForm(r, fd.Langs)
	step := r.PostForm.Get("step")
	if step == "edit" {
		c.render(w, r, http.StatusOK, "distributions-form", p)
		return nil
	}
	pv, err := c.opts.Distributions.PreviewCreate(r.Context(), d, distSample)
	errs, refused := distProblems(p, err, bad)
	if !refused {
		return err
	}
	if len(errs) > 0 {
		p.Errors = errs
		c.render(w, r, http.StatusUnprocessableEntity, "distributions-form", p)
		return nil
	}
	if step == "confirm" {
		made, existed, err := c.opts.Distributions.CreateOnce(r.Context(), d, signedIn(r).Name, r.PostForm.Get("once"))
		if err != nil {
			if errs, refused := distProblems(p, err, nil); refused {
				p.Errors = errs
				c.render(w, r, http.StatusUnprocessableEntity, "distributions-form", p)
				return nil
			}
			return err
		}
		if !existed {
			c.record(r, "distribution.create", made.ID)
		}
		if made.Notify && len(made.Told) > 0 {
			c.setFlash(r, "dist_flash_announced", p.Num(pv.Reach.People))
		} else {
			c.setFlash(r, "dist_flash_created")
		}
		http.Redirect(w, r, "/distributions/"+made.ID, http.StatusSeeOther)
		return nil
	}
	view, err := c.distPreviewView(r, p, "create", pv)
	if err != nil {
		return err
	}
	view.Hidden = hiddenFields(r.PostForm)
	view.Once = outbox.NewID()
	view.Action = "/distributions/new"
	p.Title, p.Data = "dist_confirm_create_title", view
	c.render(w, r, http.StatusOK, "distributions-confirm", p)
	return nil
}

// hiddenFields are a form's fields but the step and the tokens, in order,
// for the confirmation to carry.
func hiddenFields(f url.Values) [][2]string {
	var out [][2]string
	for _, k := range slices.Sorted(maps.Keys(f)) {
		if k == "step" || k == "once" || k == "base" {
			continue
		}
		for _, v := range f[k] {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// distNewFragment is the live preview of the new distribution's form.
func (c *Console) distNewFragment(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	p, fd, err := c.distFormPage(r, "")
	if err != nil {
		return err
	}
	d, bad := c.distFromForm(r, fd.Langs)
	pv, err := c.opts.Distributions.PreviewCreate(r.Context(), d, distSample)
	if fd.Preview, err = c.distLive(r, p, "create", pv, err, bad); err != nil {
		return err
	}
	c.fragment(w, r, "distributions-form", "dist-preview", p)
	return nil
}

// distLive is the live preview: the notices, or what stops them.
func (c *Console) distLive(r *http.Request, p *Page, mode string, pv distribution.Preview, err error, bad map[string]bool) (*distPreview, error) {
	errs, refused := distProblems(p, err, bad)
	if !refused {
		return nil, err
	}
	if len(errs) > 0 {
		view := &distPreview{Mode: mode}
		for _, k := range slices.Sorted(maps.Keys(errs)) {
			view.Problems = append(view.Problems, errs[k])
		}
		return view, nil
	}
	view, err := c.distPreviewView(r, p, mode, pv)
	return &view, err
}

// distPreviewView shows a preview: per language, the notice, its SMS cost,
// how many will get it (estimated from a sample when there are many) and
// what that costs at the configured prices.
func (c *Console) distPreviewView(r *http.Request, p *Page, mode string, pv distribution.Preview) (distPreview, error) {
	cont := c.opts.Dialog.Content()
	sites, err := c.opts.Broadcasts.Sites(r.Context())
	if err != nil {
		return distPreview{}, err
	}
	v := distPreview{Mode: mode, Kind: pv.Kind, People: pv.Reach.People, Read: pv.Reach.Read, Reminder: pv.Reminder, Base: pv.Base,
		Site: engine.SiteName(cont, sites, p.Lang, pv.Distribution.Site), Currency: c.opts.Currency,
		Row: c.distRow(p, cont, sites, pv.Distribution, c.opts.Now())}
	v.Sampled = int64(v.Read) < v.People
	for _, n := range pv.Reach.Skipped {
		v.Skipped += pv.Reach.Estimate(n)
	}
	var total float64
	priced := false
	for _, n := range pv.Notices {
		dn := distNotice{Lang: n.Lang, Text: n.Text, SMS: n.SMS}
		var cost float64
		for ch, k := range pv.Reach.Sent[n.Lang] {
			people := pv.Reach.Estimate(k)
			dn.People += people
			units := int64(1) // a message on a chat channel
			if ch == "sms" {
				dn.BySMS += people
				units = int64(n.SMS.Segments)
				v.Segments += people * units
			}
			if price, ok := c.opts.Prices[ch]; ok {
				priced = true
				cost += float64(people*units) * price
			}
		}
		if price, ok := c.opts.Prices["sms"]; ok {
			// What one SMS of this notice costs, whoever gets it.
			dn.Cost = p.Num(float64(n.SMS.Segments) * price)
		}
		total += cost
		v.SMS += dn.BySMS
		v.Notices = append(v.Notices, dn)
	}
	if priced {
		v.Cost = p.Num(total)
	}
	return v, nil
}

// distShowData is one distribution's page.
type distShowData struct {
	Row distRow
	// Texts are its place, who and bring, each in the languages given.
	Texts []distText
	Told  distTold
}

// distText is one of a distribution's free texts, by language.
type distText struct {
	Label string // message id
	Langs []struct{ Lang, Text string }
}

// distTold is who was told about a distribution: each notice, its counts.
type distTold struct {
	ID      string
	Notices []distToldNotice
	Done    bool
}

// distToldNotice is one notice sent (or to be sent) about a distribution.
type distToldNotice struct {
	broadcast.Report
	Waiting bool // scheduled for later (the reminder)
}

func (c *Console) distTold(r *http.Request, d engine.Distribution) (distTold, error) {
	t := distTold{ID: d.ID, Done: true}
	now := c.opts.Now()
	for i := len(d.Told) - 1; i >= 0; i-- { // the newest first
		rep, err := c.opts.Broadcasts.Get(r.Context(), d.Told[i])
		if errors.Is(err, broadcast.ErrNotFound) {
			continue
		} else if err != nil {
			return t, err
		}
		n := distToldNotice{Report: rep, Waiting: rep.Status == broadcast.Scheduled && rep.SendAt.After(now)}
		if rep.Status == broadcast.Sending || (rep.Status == broadcast.Scheduled && !n.Waiting) {
			t.Done = false
		}
		t.Notices = append(t.Notices, n)
	}
	return t, nil
}

func (c *Console) distShow(w http.ResponseWriter, r *http.Request) error {
	d, err := c.opts.Distributions.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	sites, err := c.opts.Broadcasts.Sites(r.Context())
	if err != nil {
		return err
	}
	told, err := c.distTold(r, d)
	if err != nil {
		return err
	}
	cont := c.opts.Dialog.Content()
	p := c.newPage(r, "dist_show_title", nil)
	data := distShowData{Row: c.distRow(p, cont, sites, d, c.opts.Now()), Told: told}
	for _, f := range []struct {
		label string
		text  engine.Localized
	}{{"dist_place", d.Place}, {"dist_who", d.Who}, {"dist_bring", d.Bring}} {
		t := distText{Label: f.label}
		for _, lang := range cont.Languages {
			if f.text[lang] != "" {
				t.Langs = append(t.Langs, struct{ Lang, Text string }{lang, f.text[lang]})
			}
		}
		if len(t.Langs) > 0 {
			data.Texts = append(data.Texts, t)
		}
	}
	p.Data = data
	c.render(w, r, http.StatusOK, "distributions-show", p)
	return nil
}

// distToldFragment is the live part of a distribution's page: who was told.
func (c *Console) distToldFragment(w http.ResponseWriter, r *http.Request) error {
	d, err := c.opts.Distributions.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	told, err := c.distTold(r, d)
	if err != nil {
		return err
	}
	p := c.newPage(r, "dist_show_title", distShowData{Told: told})
	c.fragment(w, r, "distributions-show", "dist-told", p)
	return nil
}

// distToForm is a stored distribution as its form holds it.
func (c *Console) distToForm(d engine.Distribution, langs []string) map[string][]string {
	f := map[string][]string{"site": {d.Site}}
	loc := c.opts.Location
	f["starts"] = []string{d.StartsAt.In(loc).Format("2006-01-02T15:04")}
	f["ends"] = []string{d.EndsAt.In(loc).Format("2006-01-02T15:04")}
	texts := map[string]engine.Localized{"place": d.Place, "who": d.Who, "bring": d.Bring}
	for _, name := range distTexts {
		for _, lang := range langs {
			f[name+"_"+lang] = []string{texts[name][lang]}
		}
	}
	f["items"] = slices.Clone(d.Items)
	return f
}

// distEditable returns the distribution of the request, if it may change.
func (c *Console) distEditable(r *http.Request) (engine.Distribution, error) {
	d, err := c.opts.Distributions.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return d, err
	}
	if d.Cancelled {
		return d, &pageError{status: http.StatusConflict, message: "dist_err_cancelled"}
	}
	return d, nil
}

func (c *Console) distEdit(w http.ResponseWriter, r *http.Request) error {
	d, err := c.distEditable(r)
	if err != nil {
		return err
	}
	p, fd, err := c.distFormPage(r, d.ID)
	if err != nil {
		return err
	}
	p.Form = c.distToForm(d, fd.Langs)
	sites, err := c.opts.Broadcasts.Sites(r.Context())
	if err != nil {
		return err
	}
	fd.SiteName = engine.SiteName(c.opts.Dialog.Content(), sites, p.Lang, d.Site)
	pv, err := c.opts.Distributions.PreviewUpdate(r.Context(), d.ID, distribution.Patch{}, distSample)
	if fd.Preview, err = c.distLive(r, p, "change", pv, err, nil); err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "distributions-form", p)
	return nil
}

// distPatch is the change the form asks of the stored d: every field,
// but times shown as they were stay exactly as stored (to the second).
func (c *Console) distPatch(r *http.Request, d engine.Distribution, langs []string) (distribution.Patch, map[string]bool) {
	in, bad := c.distFromForm(r, langs)
	loc := c.opts.Location
	p := distribution.Patch{Place: in.Place, Who: in.Who, Bring: in.Bring, Items: in.Items}
	if r.PostForm.Get("starts") != d.StartsAt.In(loc).Format("2006-01-02T15:04") {
		p.StartsAt = &in.StartsAt
	}
	if r.PostForm.Get("ends") != d.EndsAt.In(loc).Format("2006-01-02T15:04") {
		p.EndsAt = &in.EndsAt
	}
	return p, bad
}

func (c *Console) distEditPost(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	d, err := c.distEditable(r)
	if err != nil {
		return err
	}
	p, fd, err := c.distFormPage(r, d.ID)
	if err != nil {
		return err
	}
	sites, err := c.opts.Broadcasts.Sites(r.Context())
	if err != nil {
		return err
	}
	fd.SiteName = engine.SiteName(c.opts.Dialog.Content(), sites, p.Lang, d.Site)
	p.Form = r.PostForm
	step := r.PostForm.Get("step")
	if step == "edit" {
		c.render(w, r, http.StatusOK, "distributions-form", p)
		return nil
	}
	patch, bad := c.distPatch(r, d, fd.Langs)
	pv, err := c.opts.Distributions.PreviewUpdate(r.Context(), d.ID, patch, distSample)
	errs, refused := distProblems(p, err, bad)
	if !refused {
		return err
	}
	if len(errs) > 0 {
		p.Errors = errs
		c.render(w, r, http.StatusUnprocessableEntity, "distributions-form", p)
		return nil
	}
	stale := step == "confirm" && r.PostForm.Get("base") != pv.Base
	if step == "confirm" && !stale {
		if _, err := c.opts.Distributions.Update(r.Context(), d.ID, patch, signedIn(r).Name); err != nil {
			if errs, refused := distProblems(p, err, nil); refused {
				p.Errors = errs
				c.render(w, r, http.StatusUnprocessableEntity, "distributions-form", p)
				return nil
			}
			return err
		}
		c.record(r, "distribution.change", d.ID)
		if pv.Kind != "" {
			c.setFlash(r, "dist_flash_changed_told", p.Num(pv.Reach.People))
		} else {
			c.setFlash(r, "dist_flash_changed")
		}
		http.Redirect(w, r, "/distributions/"+d.ID, http.StatusSeeOther)
		return nil
	}
	view, err := c.distPreviewView(r, p, "change", pv)
	if err != nil {
		return err
	}
	view.Hidden = hiddenFields(r.PostForm)
	view.Action = "/distributions/" + d.ID + "/edit"
	view.Stale = stale
	p.Title, p.Data = "dist_confirm_change_title", view
	status := http.StatusOK
	if stale {
		status = http.StatusConflict
	}
	c.render(w, r, status, "distributions-confirm", p)
	return nil
}

// distEditFragment is the live preview of a change.
func (c *Console) distEditFragment(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	d, err := c.distEditable(r)
	if err != nil {
		return err
	}
	p, fd, err := c.distFormPage(r, d.ID)
	if err != nil {
		return err
	}
	patch, bad := c.distPatch(r, d, fd.Langs)
	pv, err := c.opts.Distributions.PreviewUpdate(r.Context(), d.ID, patch, distSample)
	if fd.Preview, err = c.distLive(r, p, "change", pv, err, bad); err != nil {
		return err
	}
	c.fragment(w, r, "distributions-form", "dist-preview", p)
	return nil
}

func (c *Console) distCancelPage(w http.ResponseWriter, r *http.Request) error {
	d, err := c.distEditable(r)
	if err != nil {
		return err
	}
	pv, err := c.opts.Distributions.PreviewCancel(r.Context(), d.ID, distSample)
	if err != nil {
		return err
	}
	p := c.newPage(r, "dist_confirm_cancel_title", nil)
	view, err := c.distPreviewView(r, p, "cancel", pv)
	if err != nil {
		return err
	}
	view.Action = "/distributions/" + d.ID + "/cancel"
	p.Data = view
	c.render(w, r, http.StatusOK, "distributions-confirm", p)
	return nil
}

func (c *Console) distCancel(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	d, err := c.distEditable(r)
	if err != nil {
		return err
	}
	pv, err := c.opts.Distributions.PreviewCancel(r.Context(), d.ID, distSample)
	if err != nil {
		return err
	}
	if r.PostForm.Get("base") != pv.Base {
		p := c.newPage(r, "dist_confirm_cancel_title", nil)
		view, err := c.distPreviewView(r, p, "cancel", pv)
		if err != nil {
			return err
		}
		view.Action, view.Stale = "/distributions/"+d.ID+"/cancel", true
		p.Data = view
		c.render(w, r, http.StatusConflict, "distributions-confirm", p)
		return nil
	}
	if err := c.opts.Distributions.Cancel(r.Context(), d.ID, signedIn(r).Name); err != nil {
		return err
	}
	c.record(r, "distribution.cancel", d.ID)
	p := &Page{Lang: c.language(r, signedIn(r))}
	if pv.Kind != "" {
		c.setFlash(r, "dist_flash_cancelled_told", p.Num(pv.Reach.People))
	} else {
		c.setFlash(r, "dist_flash_cancelled")
	}
	http.Redirect(w, r, "/distributions/"+d.ID, http.StatusSeeOther)
	return nil
}

// distPoster is a site's poster in a language, a PDF to download.
func (c *Console) distPoster(w http.ResponseWriter, r *http.Request) error {
	sites, err := c.opts.Broadcasts.Sites(r.Context())
	if err != nil {
		return err
	}
	ch, err := c.opts.Poster(r.Context())
	if err != nil {
		return err
	}
	cont := c.opts.Dialog.Content()
	id, lang := r.URL.Query().Get("site"), r.URL.Query().Get("lang")
	if lang == "" {
		lang = cont.Languages[0]
	}
	p, err := poster.For(cont, sites, id, lang, ch)
	switch {
	case errors.Is(err, poster.ErrUnknownSite), errors.Is(err, poster.ErrRetired), errors.Is(err, poster.ErrLanguage):
		return errNotFound
	case errors.Is(err, poster.ErrNoChannel):
		return &pageError{status: http.StatusConflict, message: "dist_poster_no_channel"}
	case err != nil:
		return err
	}
	data, err := poster.PDF(p, p.Heading)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "poster-"+id+"-"+lang+".pdf"))
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, err = w.Write(data)
	return err
}
