package content

import (
	"fmt"
	"slices"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"go.yaml.in/yaml/v3"
)

// pluralCategories are the CLDR plural categories.
var pluralCategories = []string{"zero", "one", "two", "few", "many", "other"}

// neededCategories are the plural categories each language uses for
// cardinal numbers (CLDR, as go-i18n applies them). A language not listed
// needs "other" only.
var neededCategories = map[string][]string{
	"ar": {"zero", "one", "two", "few", "many", "other"},
	"fr": {"one", "many", "other"},
	"es": {"one", "many", "other"},
	"pt": {"one", "many", "other"},
	"it": {"one", "many", "other"},
	"en": {"one", "other"},
	"de": {"one", "other"},
	"nl": {"one", "other"},
	"ru": {"one", "few", "many", "other"},
	"uk": {"one", "few", "many", "other"},
	"pl": {"one", "few", "many", "other"},
	"ha": {"one", "other"},
	"wo": {"one", "other"},
	"ff": {"one", "other"},
	"bm": {"other"},
}

// Locale is one language's message file, kept for validation.
type Locale struct {
	Lang     string
	File     string
	Messages map[string]*Message
}

// Message is one message id in one language: a single text, or one text per
// plural category.
type Message struct {
	ID     string
	Line   int
	Plural bool
	// Forms maps plural category to text; a simple message has only "other".
	Forms map[string]string
	// lines maps plural category to the line of its text.
	lines map[string]int
}

// line returns the line of a form's text, else of the message.
func (m *Message) line(cat string) int {
	if l := m.lines[cat]; l > 0 {
		return l
	}
	return m.Line
}

// i18nMessages returns the locale's messages as go-i18n takes them.
func (l *Locale) i18nMessages() []*i18n.Message {
	out := make([]*i18n.Message, 0, len(l.Messages))
	for id, m := range l.Messages {
		out = append(out, &i18n.Message{ID: id, Zero: m.Forms["zero"], One: m.Forms["one"], Two: m.Forms["two"],
			Few: m.Forms["few"], Many: m.Forms["many"], Other: m.Forms["other"]})
	}
	return out
}

// Longest returns the longest form, the one that costs the most to send.
func (m *Message) Longest() string {
	var s string
	for _, f := range m.Forms {
		if len([]rune(f)) > len([]rune(s)) {
			s = f
		}
	}
	return s
}

func parseLocale(file, lang string, data []byte) (*Locale, Problems) {
	doc, problems := parseYAML(file, data)
	if doc == nil {
		return nil, problems
	}
	loc := &Locale{Lang: lang, File: file, Messages: map[string]*Message{}}
	if len(doc.Content) == 0 {
		return loc, problems
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		problems.add(Problem{File: file, Line: top.Line, Msg: "a message file is a mapping of message id to text"})
		return nil, problems
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		key, val := top.Content[i], top.Content[i+1]
		m := &Message{ID: key.Value, Line: key.Line, Forms: map[string]string{}, lines: map[string]int{}}
		if _, dup := loc.Messages[m.ID]; dup {
			problems.add(Problem{File: file, Line: key.Line, Key: m.ID, Msg: "message defined twice"})
			continue
		}
		switch val.Kind {
		case yaml.ScalarNode:
			m.Forms["other"] = val.Value
			m.lines["other"] = val.Line
		case yaml.MappingNode:
			ok := true
			for j := 0; j+1 < len(val.Content); j += 2 {
				cat, text := val.Content[j].Value, val.Content[j+1]
				if cat == "description" || cat == "hash" {
					continue // notes for translators; goi18n merge writes hash
				}
				if !slices.Contains(pluralCategories, cat) || text.Kind != yaml.ScalarNode {
					problems.add(Problem{File: file, Line: val.Content[j].Line, Key: m.ID,
						Msg: fmt.Sprintf("%q is not a plural category (zero, one, two, few, many, other), description or hash; ids are flat, not nested", cat)})
					ok = false
					continue
				}
				m.Forms[cat] = text.Value
				m.lines[cat] = text.Line
			}
			if !ok {
				continue
			}
			m.Plural = len(m.Forms) > 1 || m.Forms["other"] == ""
		default:
			problems.add(Problem{File: file, Line: val.Line, Key: m.ID, Msg: "a message is a text or a mapping of plural forms"})
			continue
		}
		loc.Messages[m.ID] = m
	}
	return loc, problems
}

// ParseLocale reads one message file (locales/<lang>.yaml) as Check reads
// it, alone: for tools that show or edit the messages of a content set
// whatever state the rest of it is in. Check stays the judge of the set.
func ParseLocale(file, lang string, data []byte) (*Locale, Problems) {
	return parseLocale(file, lang, data)
}

// PluralForms returns the plural categories a plural message needs in
// lang, in CLDR order ("other" alone for a language not known here).
func PluralForms(lang string) []string {
	return slices.Clone(needed(lang))
}
