package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"

	"github.com/outreach-org/outreach/bot/access"
)

//go:embed templates assets messages
var files embed.FS

// Languages are the console's languages, the first the default.
var Languages = []string{"fr", "en", "ar"}

var matcher = language.NewMatcher([]language.Tag{language.French, language.English, language.Arabic})

// pages are the parsed templates (each page file with the layout and the
// partials) and the messages (messages/<area>.<lang>.yaml).
type pages struct {
	byName map[string]*template.Template
	bundle *i18n.Bundle
}

// parsePages parses the embedded templates and messages, once.
var parsePages = sync.OnceValues(func() (*pages, error) {
	bundle := i18n.NewBundle(language.French)
	bundle.RegisterUnmarshalFunc("yaml", yaml.Unmarshal)
	msgs, err := fs.Glob(files, "messages/*.yaml")
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		b, err := files.ReadFile(m)
		if err != nil {
			return nil, err
		}
		if _, err := bundle.ParseMessageFileBytes(b, m); err != nil {
			return nil, fmt.Errorf("console: %s: %w", m, err)
		}
	}
	names, err := fs.Glob(files, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}, bundle: bundle}
	for _, n := range names {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials/*.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: %s: %w", n, err)
		}
		p.byName[strings.TrimSuffix(path.Base(n), ".html")] = t
	}
	return p, nil
})

// funcs are the few functions templates need beyond Page's methods.
var funcs = template.FuncMap{
	// dir is the writing direction of a text in lang.
	"dir": func(lang string) string {
		if lang == "ar" {
			return "rtl"
		}
		return "ltr"
	},
	// pct is part of whole in percent, for bars; 0 when whole is 0.
	"pct": func(part, whole int64) int64 {
		if whole <= 0 {
			return 0
		}
		return part * 100 / whole
	},
	"add": func(a, b int) int { return a + b },
	// list makes a slice in a template.
	"list": func(v ...any) []any { return v },
	// has reports whether s holds v.
	"has": slices.Contains[[]string],
}

// Page is what every template gets: the person, the language and the
// page's own data, with methods for words, numbers and dates.
type Page struct {
	Lang, Dir string
	// Person is who is signed in; its Name is empty on public pages.
	Person access.Person
	Path   string
	// Title is a message id.
	Title string
	// Flash is a message id (with FlashArgs) shown once, after an action.
	Flash     string
	FlashArgs []any
	// Data is the page's own.
	Data any
	// Errors are the form's errors by field: message texts, translated.
	Errors map[string]string
	// Form holds the submitted values, kept when the form is shown again.
	Form map[string][]string

	loc *i18n.Localizer
	c   *Console
}

// T translates a message id; args are pairs of name and value for the
// message's {{.Name}} fields, and "Count" chooses the plural form.
func (p *Page) T(id string, args ...any) string {
	data := map[string]any{}
	var count any
	for i := 0; i+1 < len(args); i += 2 {
		k := fmt.Sprint(args[i])
		data[k] = args[i+1]
		if k == "Count" {
			count = args[i+1]
		}
	}
	s, err := p.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if err != nil || s == "" {
		return id
	}
	return s
}

// HTML is T for messages that hold markup of their own (links): their
// fields are escaped, the message itself is trusted (it is ours).
func (p *Page) HTML(id string, args ...any) template.HTML {
	for i := 1; i < len(args); i += 2 {
		args[i] = template.HTMLEscapeString(fmt.Sprint(args[i]))
	}
	return template.HTML(p.T(id, args...))
}

// Num writes n as the page's language writes numbers (Western digits).
func (p *Page) Num(n any) string {
	var v int64
	switch x := n.(type) {
	case int:
		v = int64(x)
	case int64:
		v = x
	case int32:
		v = int64(x)
	case uint64:
		v = int64(x)
	case float64:
		return p.decimal(x)
	default:
		return fmt.Sprint(n)
	}
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	sep := ","
	if p.Lang == "fr" {
		sep = "\u202f"
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func (p *Page) decimal(x float64) string {
	s := strconv.FormatFloat(x, 'f', 2, 64)
	whole, frac, _ := strings.Cut(s, ".")
	n, _ := strconv.ParseInt(whole, 10, 64)
	mark := "."
	if p.Lang == "fr" {
		mark = ","
	}
	return p.Num(n) + mark + frac
}

// Date writes a time in the configured zone, as the language writes dates.
func (p *Page) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(p.zone())
	if p.Lang == "en" {
		return t.Format("2 Jan 2006 15:04")
	}
	return t.Format("02/01/2006 15:04")
}

// Day writes a date without the time.
func (p *Page) Day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(p.zone())
	if p.Lang == "en" {
		return t.Format("2 Jan 2006")
	}
	return t.Format("02/01/2006")
}

// Input writes a time for an <input type="datetime-local"> in the zone.
func (p *Page) Input(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(p.zone()).Format("2006-01-02T15:04")
}

// Refresh is the seconds between two reloads of a page's live part
// (Options.Refresh), as its data-refresh attribute says them: "3", "0.2".
func (p *Page) Refresh() string {
	every := DefaultRefresh
	if p.c != nil {
		every = p.c.opts.Refresh
	}
	return strconv.FormatFloat(every.Seconds(), 'f', -1, 64)
}

func (p *Page) zone() *time.Location {
	if p.c != nil {
		return p.c.opts.Location
	}
	return time.UTC
}

// Can reports whether the person may act where one of roles is needed.
func (p *Page) Can(roles ...string) bool {
	if p.Person.Name == "" {
		return false
	}
	rs := make([]access.Role, len(roles))
	for i, r := range roles {
		rs[i] = access.Role(r)
	}
	return p.Person.Role.Allows(rs...)
}

// Value is the first submitted value of a form field.
func (p *Page) Value(field string) string {
	if v := p.Form[field]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// Languages are the console's languages, for the switcher.
func (p *Page) Languages() []string { return Languages }

// LanguageName is a language's name in itself.
func (p *Page) LanguageName(lang string) string {
	switch lang {
	case "fr":
		return "Français"
	case "en":
		return "English"
	case "ar":
		return "العربية"
	}
	return lang
}

// newPage starts a page for r in the person's language.
func (c *Console) newPage(r *http.Request, title string, data any) *Page {
	person := signedIn(r)
	lang := c.language(r, person)
	p := &Page{Lang: lang, Dir: "ltr", Person: person, Path: r.URL.Path, Title: title, Data: data,
		loc: i18n.NewLocalizer(c.pages.bundle, lang), c: c}
	if lang == "ar" {
		p.Dir = "rtl"
	}
	// A live fragment (console.js sends X-Fragment) must not take the
	// message meant for the next whole page.
	if r.Header.Get("X-Fragment") != "" {
		return p
	}
	if flash := c.sessions.PopString(r.Context(), "flash"); flash != "" {
		id, args, _ := strings.Cut(flash, "\x00")
		p.Flash = id
		if args != "" {
			for _, a := range strings.Split(args, "\x00") {
				p.FlashArgs = append(p.FlashArgs, a)
			}
		}
	}
	return p
}

// language is the page's language: ?lang=, then the person's choice, then
// the cookie of someone not signed in, then the browser's, then French.
func (c *Console) language(r *http.Request, person access.Person) string {
	if l := r.URL.Query().Get("lang"); known(l) {
		return l
	}
	if known(person.Lang) {
		return person.Lang
	}
	if ck, err := r.Cookie("lang"); err == nil && known(ck.Value) {
		return ck.Value
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if len(tags) > 0 {
		_, i, conf := matcher.Match(tags...)
		if conf != language.No {
			return Languages[i]
		}
	}
	return Languages[0]
}

func known(lang string) bool { return slices.Contains(Languages, lang) }

// setFlash keeps a message for the next page.
func (c *Console) setFlash(r *http.Request, id string, args ...string) {
	c.sessions.Put(r.Context(), "flash", strings.Join(append([]string{id}, args...), "\x00"))
}

// render writes a page: the whole template is run before anything is
// written, so that a failing template never leaves half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p *Page) {
	c.renderTemplate(w, r, status, name, "layout.html", p)
}

// fragment writes one named template of a page alone, for the live parts.
func (c *Console) fragment(w http.ResponseWriter, r *http.Request, name, block string, p *Page) {
	c.renderTemplate(w, r, http.StatusOK, name, block, p)
}

func (c *Console) renderTemplate(w http.ResponseWriter, r *http.Request, status int, name, block string, p *Page) {
	t := c.pages.byName[name]
	if t == nil {
		c.log.Error("no such console template", "template", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, block, p); err != nil {
		c.log.Error("a console template failed", "template", name, "block", block, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", p.Lang)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage is the page for an error: a status and a message id.
func (c *Console) errorPage(r *http.Request, status int, message string) *Page {
	p := c.newPage(r, "error_title", map[string]any{"Status": status, "Message": message})
	return p
}

// assets serves the embedded CSS and JavaScript, cached for a day.
func assets() http.Handler {
	sub, _ := fs.Sub(files, "assets")
	fileServer := http.StripPrefix("/assets/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fileServer.ServeHTTP(w, r)
	})
}

// FlashText is the flash message, its arguments as Arg, Arg2, Arg3.
func (p *Page) FlashText() string {
	var args []any
	for i, a := range p.FlashArgs {
		name := "Arg"
		if i > 0 {
			name = "Arg" + strconv.Itoa(i+1)
		}
		args = append(args, name, a)
	}
	return p.T(p.Flash, args...)
}

// In reports whether the page is section or one of its sub-pages, for the
// navigation.
func (p *Page) In(section string) bool {
	return p.Path == section || strings.HasPrefix(p.Path, section+"/")
}

// maxForm bounds a posted console form (the server bounds every body the
// same way): three texts of the longest message, and the rest.
const maxForm = 64 << 10

// readForm reads a posted form into r.PostForm: URL-encoded, as pages and
// console.js post it, or multipart. One that cannot be read is a 400 page.
func readForm(r *http.Request) error {
	r.Body = http.MaxBytesReader(nil, r.Body, maxForm)
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(maxForm)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		return &pageError{status: http.StatusBadRequest, message: "error_bad_form"}
	}
	return nil
}
