package console

// The content pages, for partners: every message in every language side
// by side, edited one message at a time into a draft (see Draft) that is
// validated as a publish validates; a simulator that chats with the draft
// (content_sim.go); the flow as a tree of menus (content_flow.go);
// publish, versions and rollback (content_publish.go).

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/sms"
	"github.com/outreach-org/outreach/bot/versions"
)

// contentPageSize is how many messages a page of the list shows.
const contentPageSize = 50

// contentState is the live version and the draft, read for one request.
type contentState struct {
	Live     versions.Version
	LiveSet  *contentSet
	Draft    Draft
	HasDraft bool
	// Work is the set the pages show and edit: the draft's, else the
	// live version's.
	Work *contentSet
}

// contentOn answers 404 when the content pages have no services.
func (c *Console) contentOn() error {
	if c.opts.Versions == nil || c.opts.Dialog == nil || c.opts.Drafts == nil {
		return errNotFound
	}
	return nil
}

// contentState reads the live version and the draft.
func (c *Console) contentState(r *http.Request) (*contentState, error) {
	if err := c.contentOn(); err != nil {
		return nil, err
	}
	live, err := c.opts.Versions.Current(r.Context())
	if err != nil {
		return nil, err
	}
	st := &contentState{Live: live, LiveSet: newContentSet(live.Files)}
	st.Draft, st.HasDraft, err = c.opts.Drafts.Get(r.Context())
	if err != nil {
		return nil, err
	}
	st.Work = st.LiveSet
	if st.HasDraft {
		st.Work = newContentSet(st.Draft.Files)
	}
	return st, nil
}

// draftInfo is the draft as every content page sums it up.
type draftInfo struct {
	Has                  bool
	Rev, Base, Live      int
	StartedBy, ChangedBy string
	StartedAt, ChangedAt time.Time
	Changed              string
	Errors, Warnings     int
	// Changes is how many messages differ from the live version.
	Changes int
}

func (st *contentState) info() draftInfo {
	d := draftInfo{Has: st.HasDraft, Live: st.Live.Version}
	for _, p := range st.Work.Problems {
		if p.Warning {
			d.Warnings++
		} else {
			d.Errors++
		}
	}
	if st.HasDraft {
		dr := st.Draft
		d.Rev, d.Base, d.StartedBy, d.StartedAt = dr.Rev, dr.Base, dr.StartedBy, dr.StartedAt
		d.ChangedBy, d.ChangedAt, d.Changed = dr.ChangedBy, dr.ChangedAt, dr.Changed
		d.Changes = len(diffSets(st.LiveSet, st.Work).Messages)
	}
	return d
}

// messageRow is one message id of the list, its texts side by side.
type messageRow struct {
	ID       string
	Section  string
	Cells    []cellView
	Problems []problemView
	Errors   int
	// Changed is set when the draft's texts differ from the live ones.
	Changed bool
}

// cellView is a message in one language.
type cellView struct {
	Lang    string
	Missing bool
	Forms   []formView
}

// contentListData is the list of messages.
type contentListData struct {
	Draft    draftInfo
	Langs    []string
	Rows     []messageRow
	Total    int
	Matching int
	Page     int
	Pages    int
	Q        string
	Section  string
	Show     string
	Sections []string
	// Problems are the set's problems, errors first (at most 30 shown).
	Problems     []problemView
	MoreProblems int
	PrevURL      string
	NextURL      string
}

// contentList shows every message id with its texts in each language,
// filtered (?q= an id or words of a text, ?section=, ?show=problems,
// errors, missing or changed) and 50 a page (?page=).
func (c *Console) contentList(w http.ResponseWriter, r *http.Request) error {
	st, err := c.contentState(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := contentListData{Draft: st.info(), Langs: st.Work.Langs, Q: strings.TrimSpace(q.Get("q")), Section: q.Get("section"),
		Show: q.Get("show"), Sections: st.Work.Sections, Total: len(st.Work.Order)}
	if !slices.Contains([]string{"", "problems", "errors", "missing", "changed"}, d.Show) {
		d.Show = ""
	}
	all := st.Work.problemViews(st.Work.Problems)
	d.Problems = all[:min(len(all), 30)]
	d.MoreProblems = len(all) - len(d.Problems)
	byMsg := st.Work.byMessage()
	foldedQ := content.Fold(d.Q)
	var rows []messageRow
	for _, id := range st.Work.Order {
		row := messageRow{ID: id, Section: st.Work.Section[id], Problems: byMsg[id]}
		for _, p := range row.Problems {
			if !p.Warning {
				row.Errors++
			}
		}
		plural := st.Work.Plural(id)
		match := d.Q == "" || strings.Contains(strings.ToLower(id), strings.ToLower(d.Q))
		missing := false
		for _, lang := range st.Work.Langs {
			forms := st.Work.forms(lang, id)
			cell := cellView{Lang: lang, Missing: forms == nil, Forms: formViews(forms, plural)}
			missing = missing || cell.Missing
			if !match && foldedQ != "" {
				for _, f := range cell.Forms {
					if strings.Contains(content.Fold(f.Text), foldedQ) {
						match = true
						break
					}
				}
			}
			if st.HasDraft && !sameForms(forms, st.LiveSet.forms(lang, id)) {
				row.Changed = true
			}
			row.Cells = append(row.Cells, cell)
		}
		switch {
		case !match, d.Section != "" && row.Section != d.Section,
			d.Show == "problems" && len(row.Problems) == 0,
			d.Show == "errors" && row.Errors == 0,
			d.Show == "missing" && !missing,
			d.Show == "changed" && !row.Changed:
			continue
		}
		rows = append(rows, row)
	}
	d.Matching = len(rows)
	d.Pages = max(1, (len(rows)+contentPageSize-1)/contentPageSize)
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = min(max(d.Page, 1), d.Pages)
	d.Rows = rows[(d.Page-1)*contentPageSize : min(len(rows), d.Page*contentPageSize)]
	pageURL := func(n int) string {
		v := url.Values{}
		for k, val := range map[string]string{"q": d.Q, "section": d.Section, "show": d.Show} {
			if val != "" {
				v.Set(k, val)
			}
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if s := v.Encode(); s != "" {
			return "/content?" + s
		}
		return "/content"
	}
	if d.Page > 1 {
		d.PrevURL = pageURL(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.NextURL = pageURL(d.Page + 1)
	}
	c.render(w, r, http.StatusOK, "content", c.newPage(r, "content_title", d))
	return nil
}

func sameForms(a, b map[string]string) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// editField is one textarea of the edit page: a message in one language,
// or one plural form of it.
type editField struct {
	Name, ID, Cat string
	Value         string
	Live          string
	// Changed is set when Value differs from the live text.
	Changed bool
	Meter   sms.Cost
}

// editLang is the part of the edit page for one language.
type editLang struct {
	Lang     string
	Fields   []editField
	Problems []problemView
	// Now are the draft's texts when someone changed them meanwhile.
	Now []formView
}

// usage is a node of the flow that uses a message.
type usage struct {
	Node, Kind string
}

// contentEditData is the edit page of one message.
type contentEditData struct {
	ID      string
	Section string
	Plural  bool
	Langs   []editLang
	Base    string
	Draft   draftInfo
	Used    []usage
	// Problems are every error of the draft, linked; Other those of this
	// message that belong to no language.
	Problems []problemView
	Other    []problemView
	// Saved is set when the page answers a save whose message has errors.
	Saved bool
	// Conflict names who changed the message since the form was opened.
	Conflict string
}

// fieldName is the form field of a message's text in lang (and plural
// category cat).
func fieldName(lang, cat string) string {
	if cat == "" {
		return "text_" + lang
	}
	return "text_" + lang + "_" + cat
}

// editCats are the plural categories the edit page offers in lang.
func editCats(set *contentSet, lang, id string, plural bool) []string {
	if !plural {
		return []string{""}
	}
	cats := content.PluralForms(lang)
	for cat := range set.forms(lang, id) {
		if !slices.Contains(cats, cat) {
			cats = append(cats, cat)
		}
	}
	slices.SortFunc(cats, func(a, b string) int { return slices.Index(cldrOrder, a) - slices.Index(cldrOrder, b) })
	return cats
}

// editData builds the edit page; values, when given, are the texts to
// show instead of the draft's (a form sent back).
func (c *Console) editData(st *contentState, id string, values map[string]string) contentEditData {
	set := st.Work
	plural := set.Plural(id)
	d := contentEditData{ID: id, Section: set.Section[id], Plural: plural, Base: set.messageHash(id), Draft: st.info()}
	mine := st.Work.byMessage()[id]
	for _, lang := range set.Langs {
		el := editLang{Lang: lang}
		forms, live := set.forms(lang, id), st.LiveSet.forms(lang, id)
		for _, cat := range editCats(set, lang, id, plural) {
			key := cat
			if key == "" {
				key = "other"
			}
			f := editField{Name: fieldName(lang, cat), ID: "text-" + lang, Cat: cat, Value: forms[key], Live: live[key]}
			if cat != "" {
				f.ID += "-" + cat
			}
			if v, ok := values[f.Name]; ok {
				f.Value = v
			}
			f.Changed = f.Value != f.Live
			f.Meter = sms.Measure(f.Value)
			el.Fields = append(el.Fields, f)
		}
		for _, p := range mine {
			if p.Lang == lang {
				el.Problems = append(el.Problems, p)
			}
		}
		d.Langs = append(d.Langs, el)
	}
	for _, p := range mine {
		if p.Lang == "" || !slices.Contains(set.Langs, p.Lang) {
			d.Other = append(d.Other, p)
		}
	}
	for _, p := range set.problemViews(set.Problems) {
		if !p.Warning {
			d.Problems = append(d.Problems, p)
		}
	}
	if set.Content != nil {
		d.Used = usedBy(set.Content.Flow, id)
	}
	return d
}

// usedBy lists the nodes whose texts name message id.
func usedBy(f *content.Flow, id string) []usage {
	var out []usage
	for _, nid := range sortedNodes(f) {
		n := f.Nodes[nid]
		uses := slices.Contains([]string{n.Text, n.Retry, n.Item, n.Empty, n.Note}, id) ||
			(n.PerSite && n.Text != "" && strings.HasPrefix(id, n.Text+"_"))
		for _, o := range n.Options {
			uses = uses || o.Label == id
		}
		if uses {
			out = append(out, usage{Node: nid, Kind: n.Kind})
		}
	}
	return out
}

// contentEdit shows one message with a textarea per language (per plural
// form for a plural message), the live texts beside, and its problems.
func (c *Console) contentEdit(w http.ResponseWriter, r *http.Request) error {
	st, err := c.contentState(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if !st.Work.Has(id) {
		return errNotFound
	}
	c.render(w, r, http.StatusOK, "content-edit", c.newPage(r, "content_edit_title", c.editData(st, id, nil)))
	return nil
}

// errConflict means the message changed since the form was opened.
var errConflict = errors.New("console: the message changed since the form was opened")

// maxContentText bounds one text of the edit form. Validation refuses a
// message over content.MaxMessageChars (and says so); a text beyond this
// is refused before, and not saved.
const maxContentText = 4000

// contentSave saves one message's texts into the draft (started from the
// live version if there is none), then validates the whole draft as a
// publish would. A text left empty removes the message from that
// language. The draft is saved even with errors (it is work in progress:
// only a publish refuses them); the page then shows them next to the
// fields, with status 422.
func (c *Console) contentSave(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	st, err := c.contentState(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if !st.Work.Has(id) {
		return errNotFound
	}
	set := st.Work
	plural := set.Plural(id)
	values := map[string]string{}
	want := map[string]map[string]string{} // lang → forms
	var tooLong []string                   // languages with a text over maxContentText
	for _, lang := range set.Langs {
		forms := map[string]string{}
		for _, cat := range editCats(set, lang, id, plural) {
			name := fieldName(lang, cat)
			v := cleanText(r.PostForm.Get(name))
			if utf8.RuneCountInString(v) > maxContentText && !slices.Contains(tooLong, lang) {
				tooLong = append(tooLong, lang)
			}
			values[name] = v
			if v == "" {
				continue
			}
			if cat == "" {
				cat = "other"
			}
			forms[cat] = v
		}
		want[lang] = forms
	}
	if len(tooLong) > 0 {
		// Far beyond what validation allows: not even kept in the draft.
		p := c.newPage(r, "content_edit_title", nil)
		d := c.editData(st, id, values)
		for i, l := range d.Langs {
			if slices.Contains(tooLong, l.Lang) {
				d.Langs[i].Problems = append(d.Langs[i].Problems, problemView{Msg: p.T("content_too_long", "Max", maxContentText, "Limit", content.MaxMessageChars), Own: true})
			}
		}
		p.Data = d
		c.render(w, r, http.StatusUnprocessableEntity, "content-edit", p)
		return nil
	}
	who := signedIn(r).Name
	base := r.PostForm.Get("base")
	var changedBy string
	dr, changed, err := c.opts.Drafts.Update(r.Context(), who, id, func() (Draft, error) {
		return Draft{Files: st.Live.Files, Base: st.Live.Version}, nil
	}, func(dr Draft) (map[string]string, error) {
		now := newContentSet(dr.Files)
		if base != "" && now.messageHash(id) != base {
			changedBy = dr.ChangedBy
			return nil, errConflict
		}
		files := make(map[string]string, len(dr.Files))
		for k, v := range dr.Files {
			files[k] = v
		}
		for _, lang := range now.Langs {
			forms := want[lang]
			if forms == nil || sameForms(forms, now.forms(lang, id)) || (len(forms) == 0 && now.forms(lang, id) == nil) {
				continue
			}
			loc := now.Locales[lang]
			out, err := setMessage(loc.File, lang, []byte(dr.Files[loc.File]), id, forms, plural, now.before(id))
			if err != nil {
				return nil, err
			}
			files[loc.File] = string(out)
		}
		return files, nil
	})
	if errors.Is(err, errConflict) {
		st, err = c.contentState(r)
		if err != nil {
			return err
		}
		d := c.editData(st, id, values)
		d.Conflict = changedBy
		for i := range d.Langs {
			d.Langs[i].Now = formViews(st.Work.forms(d.Langs[i].Lang, id), plural)
		}
		c.render(w, r, http.StatusConflict, "content-edit", c.newPage(r, "content_edit_title", d))
		return nil
	}
	if err != nil {
		return err
	}
	if !changed {
		c.setFlash(r, "content_unchanged")
		http.Redirect(w, r, messagePath(id), http.StatusSeeOther)
		return nil
	}
	c.record(r, "content.draft.save", id)
	st.Draft, st.HasDraft, st.Work = dr, true, newContentSet(dr.Files)
	d := c.editData(st, id, nil)
	bad := false
	for _, p := range st.Work.byMessage()[id] {
		bad = bad || !p.Warning
	}
	if bad {
		d.Saved = true
		c.render(w, r, http.StatusUnprocessableEntity, "content-edit", c.newPage(r, "content_edit_title", d))
		return nil
	}
	c.setFlash(r, "content_saved", id)
	http.Redirect(w, r, messagePath(id), http.StatusSeeOther)
	return nil
}

// cleanText is a text as a form sent it, as the bot will send it: line
// breaks as \n, no control characters, no spaces around it.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.TrimSpace(dialog.Clean(s))
}

// contentMeter answers the SMS count of one text of the edit form, as it
// is typed (?field=text_ar).
func (c *Console) contentMeter(w http.ResponseWriter, r *http.Request) error {
	if err := c.contentOn(); err != nil {
		return err
	}
	if err := readForm(r); err != nil {
		return err
	}
	name := r.URL.Query().Get("field")
	if !strings.HasPrefix(name, "text_") {
		return &pageError{status: http.StatusBadRequest, message: "error_bad_form"}
	}
	f := editField{Name: name, Value: cleanText(r.PostForm.Get(name))}
	f.Meter = sms.Measure(f.Value)
	c.fragment(w, r, "content-edit", "content-meter", c.newPage(r, "content_edit_title", f))
	return nil
}

// ContentWith is the page with other data, for a block of the content
// pages that shows one part (a field's meter) both in the page and alone.
func (p *Page) ContentWith(data any) *Page {
	q := *p
	q.Data = data
	return &q
}
