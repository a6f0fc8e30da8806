package console

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/versions"
)

// contentSet is one content set (the live version or the draft) as the
// content pages show it: its messages by language, their order and
// sections, and every problem validation finds in it.
type contentSet struct {
	Files map[string]string
	// Content is the set loaded; nil when it is too broken to run.
	Content  *content.Content
	Problems content.Problems
	// Langs are the languages of its message files, in the content's order.
	Langs   []string
	Locales map[string]*content.Locale
	// Order is every message id: those of the first language in its
	// file's order, then any other.
	Order []string
	// Section is the section of each id, from the comment lines
	// "# ---- name" of the first language's file.
	Section  map[string]string
	Sections []string
}

// checked is what validating one content set gave.
type checked struct {
	content  *content.Content
	problems content.Problems
}

// checks keeps the last content sets validated, by their hash: the page
// shown after a save validates the same set again, and a content set is
// immutable once loaded.
var checks = struct {
	sync.Mutex
	m map[string]checked
}{m: map[string]checked{}}

// check validates files as a publish does (versions.Check).
func check(files map[string]string) (*content.Content, content.Problems) {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		h.Write([]byte(name))
		h.Write([]byte{0})
		h.Write([]byte(files[name]))
		h.Write([]byte{0})
	}
	key := hex.EncodeToString(h.Sum(nil))
	checks.Lock()
	got, ok := checks.m[key]
	checks.Unlock()
	if ok {
		return got.content, got.problems
	}
	c, problems := versions.Check(files)
	checks.Lock()
	if len(checks.m) >= 8 {
		clear(checks.m)
	}
	checks.m[key] = checked{c, problems}
	checks.Unlock()
	return c, problems
}

var sectionLine = regexp.MustCompile(`^#\s*-{3,}\s*(.+?)\s*$`)

// newContentSet reads a content set.
func newContentSet(files map[string]string) *contentSet {
	s := &contentSet{Files: files, Locales: map[string]*content.Locale{}, Section: map[string]string{}}
	s.Content, s.Problems = check(files)
	var langs []string
	for name, data := range files {
		dir, file := path.Split(name)
		lang, ok := strings.CutSuffix(file, ".yaml")
		if dir != "locales/" || !ok {
			continue
		}
		if loc, _ := content.ParseLocale(name, lang, []byte(data)); loc != nil {
			s.Locales[lang] = loc
			langs = append(langs, lang)
		}
	}
	slices.Sort(langs)
	if s.Content != nil {
		// The content's order (settings.languages) first.
		ordered := slices.Clone(s.Content.Languages)
		ordered = slices.DeleteFunc(ordered, func(l string) bool { return s.Locales[l] == nil })
		for _, l := range langs {
			if !slices.Contains(ordered, l) {
				ordered = append(ordered, l)
			}
		}
		langs = ordered
	}
	s.Langs = langs
	seen := map[string]bool{}
	if len(langs) > 0 {
		ref := s.Locales[langs[0]]
		ids := slices.Collect(maps.Keys(ref.Messages))
		slices.SortFunc(ids, func(a, b string) int { return ref.Messages[a].Line - ref.Messages[b].Line })
		// Sections: the header comment lines, by line.
		type header struct {
			line  int
			title string
		}
		var headers []header
		for i, l := range strings.Split(files[ref.File], "\n") {
			if m := sectionLine.FindStringSubmatch(l); m != nil {
				headers = append(headers, header{i + 1, m[1]})
			}
		}
		for _, id := range ids {
			sec := ""
			for _, h := range headers {
				if h.line < ref.Messages[id].Line {
					sec = h.title
				}
			}
			s.Section[id] = sec
			if sec != "" && !slices.Contains(s.Sections, sec) {
				s.Sections = append(s.Sections, sec)
			}
			s.Order = append(s.Order, id)
			seen[id] = true
		}
	}
	var rest []string
	for _, loc := range s.Locales {
		for id := range loc.Messages {
			if !seen[id] {
				seen[id] = true
				rest = append(rest, id)
			}
		}
	}
	slices.Sort(rest)
	s.Order = append(s.Order, rest...)
	return s
}

// Has reports whether the set holds message id in some language.
func (s *contentSet) Has(id string) bool {
	for _, loc := range s.Locales {
		if _, ok := loc.Messages[id]; ok {
			return true
		}
	}
	return false
}

// Plural reports whether message id is plural in some language.
func (s *contentSet) Plural(id string) bool {
	for _, loc := range s.Locales {
		if m, ok := loc.Messages[id]; ok && m.Plural {
			return true
		}
	}
	return false
}

// forms returns the texts of id in lang (nil when missing).
func (s *contentSet) forms(lang, id string) map[string]string {
	if loc := s.Locales[lang]; loc != nil {
		if m, ok := loc.Messages[id]; ok {
			return m.Forms
		}
	}
	return nil
}

// before returns the ids that come before id in the set's order.
func (s *contentSet) before(id string) []string {
	i := slices.Index(s.Order, id)
	if i < 0 {
		return nil
	}
	return s.Order[:i]
}

// messageHash identifies the texts of one message in every language, to
// tell whether someone changed it since a form was opened.
func (s *contentSet) messageHash(id string) string {
	h := sha256.New()
	for _, lang := range s.Langs {
		forms := s.forms(lang, id)
		h.Write([]byte(lang + "\x00"))
		for _, cat := range slices.Sorted(maps.Keys(forms)) {
			h.Write([]byte(cat + "\x00" + forms[cat] + "\x00"))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// formView is one text of a message: Cat is its plural category, empty
// for a message that is not plural.
type formView struct {
	Cat  string
	Text string
}

// formViews lists forms in CLDR order.
func formViews(forms map[string]string, plural bool) []formView {
	var out []formView
	for _, cat := range cldrOrder {
		if text, ok := forms[cat]; ok {
			label := cat
			if !plural && cat == "other" {
				label = ""
			}
			out = append(out, formView{Cat: label, Text: text})
		}
	}
	return out
}

// problemView is one validation problem as the pages show it, linked to
// where it can be fixed.
type problemView struct {
	Msg     string
	Warning bool
	File    string
	Line    int
	Key     string
	// Lang is the language of a message file's problem.
	Lang string
	// Message is set when Key is a message id: the problem links to its
	// edit page.
	Message bool
	// Link is where to fix it: a message's edit page, a node of the flow.
	Link string
	// Own is set for a problem the console finds itself, its Msg in the
	// page's language (validation's are in English).
	Own bool
}

// problemViews places each problem of the set.
func (s *contentSet) problemViews(ps content.Problems) []problemView {
	out := make([]problemView, 0, len(ps))
	for _, p := range ps {
		v := problemView{Msg: p.Msg, Warning: p.Warning, File: p.File, Line: p.Line, Key: p.Key}
		if dir, file := path.Split(p.File); dir == "locales/" {
			v.Lang, _ = strings.CutSuffix(file, ".yaml")
		}
		switch {
		case p.Key != "" && s.Has(p.Key):
			v.Message = true
			v.Link = messagePath(p.Key)
			if v.Lang != "" {
				v.Link += "#lang-" + v.Lang
			}
		case p.Key != "" && s.Content != nil && s.Content.Flow.Nodes[p.Key] != nil:
			v.Link = "/content/flow#node-" + p.Key
		}
		out = append(out, v)
	}
	// Errors first, then by message, then by language.
	slices.SortStableFunc(out, func(a, b problemView) int {
		if a.Warning != b.Warning {
			if a.Warning {
				return 1
			}
			return -1
		}
		return 0
	})
	return out
}

// byMessage groups the problems of the set by message id.
func (s *contentSet) byMessage() map[string][]problemView {
	out := map[string][]problemView{}
	for _, v := range s.problemViews(s.Problems) {
		if v.Message {
			out[v.Key] = append(out[v.Key], v)
		}
	}
	return out
}

// messagePath is the edit page of a message.
func messagePath(id string) string { return "/content/messages/" + pathEscape(id) }

// pathEscape escapes a message id for a path (ids are [a-z0-9_] in
// practice; anything else is escaped).
func pathEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

// langDiff is the change of one message in one language.
type langDiff struct {
	Lang     string
	Old, New []formView
	// Added and Removed: the message is new, or gone, in this language.
	Added, Removed bool
}

// messageDiff is one message that changes.
type messageDiff struct {
	ID    string
	Langs []langDiff
}

// contentDiff is what changes from one content set to another.
type contentDiff struct {
	Messages []messageDiff
	// Shown are the messages the page shows (the first maxDiffShown).
	Shown []messageDiff
	// ByLang counts the changed messages of each language.
	ByLang map[string]int
	Langs  []string
	// Files are the other files that change (flows, notes), and message
	// files whose messages are the same but their comments or layout.
	Files []string
}

// maxDiffShown bounds the messages a diff page shows, for its weight.
const maxDiffShown = 60

// More is how many changed messages the page does not show.
func (d contentDiff) More() int { return len(d.Messages) - len(d.Shown) }

// diffSets lists what changes from one set to another, message by message.
func diffSets(from, to *contentSet) contentDiff {
	d := contentDiff{ByLang: map[string]int{}}
	langs := slices.Clone(to.Langs)
	for _, l := range from.Langs {
		if !slices.Contains(langs, l) {
			langs = append(langs, l)
		}
	}
	d.Langs = langs
	ids := slices.Clone(to.Order)
	for _, id := range from.Order {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	changedFile := map[string]bool{}
	for _, id := range ids {
		var md messageDiff
		plural := from.Plural(id) || to.Plural(id)
		for _, lang := range langs {
			o, n := from.forms(lang, id), to.forms(lang, id)
			if maps.Equal(o, n) && (o == nil) == (n == nil) {
				continue
			}
			md.Langs = append(md.Langs, langDiff{Lang: lang, Old: formViews(o, plural), New: formViews(n, plural), Added: o == nil, Removed: n == nil})
			d.ByLang[lang]++
			changedFile["locales/"+lang+".yaml"] = true
		}
		if len(md.Langs) > 0 {
			md.ID = id
			d.Messages = append(d.Messages, md)
		}
	}
	names := slices.Collect(maps.Keys(to.Files))
	for name := range from.Files {
		if _, ok := to.Files[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		o, inOld := from.Files[name]
		n, inNew := to.Files[name]
		if (o != n || inOld != inNew) && !changedFile[name] {
			d.Files = append(d.Files, name)
		}
	}
	d.Shown = d.Messages[:min(len(d.Messages), maxDiffShown)]
	return d
}
