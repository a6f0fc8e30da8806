package content

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	i18ntemplate "github.com/nicksnyder/go-i18n/v2/i18n/template"
)

// A message's text may only fill the fields the bot declares, written
// {{.Name}} (spaces inside the braces allowed). That is the whole language:
// no actions, pipelines, functions, variables, comments or trim markers. The
// renderer below knows nothing else, so a published text cannot loop or
// allocate beyond its own length and its fields, whatever validation missed.

// MaxRender bounds what one message renders to at run time, fields filled: a
// last guard behind validation, which keeps messages far shorter
// (MaxMessageChars with sample data).
const MaxRender = 64 << 10

// errTooLong is returned when a message renders to more than MaxRender bytes.
var errTooLong = errors.New("the message renders to more than 64 KiB")

// segment is a piece of a message: literal text, or a field to fill.
type segment struct {
	text  string
	field string // set for a field; text is then empty
}

// fieldTemplate is a parsed message: its segments in order.
type fieldTemplate struct {
	segs []segment
	// strict makes a field missing from the data an error, for validation;
	// at run time a missing field is left empty.
	strict bool
}

// parseFields parses a message text into literal text and {{.Name}} fields.
// Anything else between {{ and }} is an error naming it; a lone }} is text.
func parseFields(src string) (*fieldTemplate, error) {
	t := &fieldTemplate{}
	rest := src
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.segs = append(t.segs, segment{text: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.segs = append(t.segs, segment{text: rest[:i]})
		}
		rest = rest[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return nil, fmt.Errorf("%s: unclosed {{ (a field is written {{.Site}})", shorten("{{"+rest))
		}
		inner := rest[:j]
		name, ok := fieldName(inner)
		if !ok {
			return nil, fmt.Errorf("%s: a message can only fill a field, written like {{.Site}}: no actions (range, if, with, template, define, block), functions (printf, index, …), pipelines, variables, comments or trim markers", shorten("{{"+inner+"}}"))
		}
		t.segs = append(t.segs, segment{field: name})
		rest = rest[j+2:]
	}
}

// fieldName returns Name when inner is ".Name" with optional spaces around,
// Name being a letter then letters, digits or underscores (ASCII).
func fieldName(inner string) (string, bool) {
	s := strings.Trim(inner, " ")
	name, ok := strings.CutPrefix(s, ".")
	if !ok || name == "" {
		return "", false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '_'):
		default:
			return "", false
		}
	}
	return name, true
}

// shorten keeps an error's quote of a text readable.
func shorten(s string) string {
	const max = 60
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}

// fields returns the names of the fields t fills, in order, with repeats.
func (t *fieldTemplate) fields() []string {
	var out []string
	for _, s := range t.segs {
		if s.field != "" {
			out = append(out, s.field)
		}
	}
	return out
}

// Execute fills the fields from data, a map[string]any as go-i18n passes
// it. Values are strings or integers; anything else is printed with %v.
func (t *fieldTemplate) Execute(data any) (string, error) {
	m, _ := data.(map[string]any)
	var b strings.Builder
	for _, s := range t.segs {
		if s.field == "" {
			b.WriteString(s.text)
		} else {
			v, ok := m[s.field]
			if !ok && t.strict {
				return "", fmt.Errorf("{{.%s}}: the bot fills no such field", s.field)
			}
			if ok {
				b.WriteString(fieldValue(v))
			}
		}
		if b.Len() > MaxRender {
			return "", errTooLong
		}
	}
	return b.String(), nil
}

func fieldValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// fieldParser is the go-i18n template parser of this package: every message
// is rendered by it, never by text/template.
type fieldParser struct{}

// Parse parses src. Custom delimiters are refused: the message files cannot
// set them (locale.go), so none should ever arrive.
func (fieldParser) Parse(src, leftDelim, rightDelim string) (i18ntemplate.ParsedTemplate, error) {
	if (leftDelim != "" && leftDelim != "{{") || (rightDelim != "" && rightDelim != "}}") {
		return nil, errors.New("messages use {{ and }} only")
	}
	return parseFields(src)
}

// Cacheable reports that a parsed message may be kept: parsing is pure.
func (fieldParser) Cacheable() bool { return true }
