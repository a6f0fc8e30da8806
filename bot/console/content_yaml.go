package console

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/outreach-org/outreach/bot/content"
)

// cldrOrder is the order plural forms are written and shown in.
var cldrOrder = []string{"zero", "one", "two", "few", "many", "other"}

// setMessage returns a message file (locales/<lang>.yaml) with message id
// set to forms (plural category → text; a message that is not plural has
// "other" only). No form at all removes the message from the file. A new
// message goes after the last of before (the ids that come before it)
// that the file holds, else at the end.
//
// Only the lines of that message change: the comments, the sections and
// every other message stay as they were, byte for byte. The result is
// read back (content.ParseLocale) and must hold exactly the change.
func setMessage(file, lang string, data []byte, id string, forms map[string]string, plural bool, before []string) ([]byte, error) {
	old, _ := content.ParseLocale(file, lang, data)
	if old == nil {
		return nil, fmt.Errorf("%s does not read as a message file", file)
	}
	out, err := spliceMessage(data, id, forms, plural, before)
	if err == nil {
		err = sameBut(file, lang, old, out, id, forms)
	}
	if err != nil {
		// A layout the splice does not know: the file is written again
		// whole (its comments kept, its layout the YAML encoder's).
		var err2 error
		out, err2 = reencodeMessage(data, id, forms, plural)
		if err2 == nil {
			err2 = sameBut(file, lang, old, out, id, forms)
		}
		if err2 != nil {
			return nil, fmt.Errorf("%s: message %s could not be written: %w", file, id, errors.Join(err, err2))
		}
	}
	return out, nil
}

// sameBut checks that data holds every message of old unchanged, but id,
// which has forms (or is gone when forms is empty).
func sameBut(file, lang string, old *content.Locale, data []byte, id string, forms map[string]string) error {
	loc, problems := content.ParseLocale(file, lang, data)
	if loc == nil || problems.HasErrors() {
		return fmt.Errorf("the file does not read back: %v", problems.Errors())
	}
	for mid, m := range old.Messages {
		if mid == id {
			continue
		}
		n, ok := loc.Messages[mid]
		if !ok || !maps.Equal(m.Forms, n.Forms) {
			return fmt.Errorf("message %s would change", mid)
		}
	}
	m, ok := loc.Messages[id]
	switch {
	case len(forms) == 0 && ok:
		return errors.New("the message is still there")
	case len(forms) == 0:
	case !ok:
		return errors.New("the message is not there")
	case !maps.Equal(m.Forms, forms):
		return errors.New("the message reads back otherwise")
	}
	if want := len(old.Messages) + newCount(old, id, forms); len(loc.Messages) != want {
		return fmt.Errorf("%d messages, want %d", len(loc.Messages), want)
	}
	return nil
}

func newCount(old *content.Locale, id string, forms map[string]string) int {
	_, had := old.Messages[id]
	switch {
	case had && len(forms) == 0:
		return -1
	case !had && len(forms) > 0:
		return 1
	}
	return 0
}

// spliceMessage replaces the lines of one top-level entry.
func spliceMessage(data []byte, id string, forms map[string]string, plural bool, before []string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var top *yaml.Node
	if len(doc.Content) > 0 {
		top = doc.Content[0]
		if top.Kind != yaml.MappingNode {
			return nil, errors.New("not a mapping")
		}
	}
	lines := splitLines(data)
	// span returns the lines (0-based, end exclusive) of entry i of top.
	span := func(i int) (int, int, error) {
		key := top.Content[i]
		if key.Column != 1 {
			return 0, 0, errors.New("an indented top-level key")
		}
		start, next := key.Line-1, len(lines)
		if i+2 < len(top.Content) {
			next = top.Content[i+2].Line - 1
		}
		end := start + 1
	scan:
		for l := start + 1; l < next; l++ {
			s := lines[l]
			switch {
			case strings.TrimSpace(s) == "":
			case s[0] == ' ' || s[0] == '\t':
				end = l + 1
			default:
				break scan // a comment of the next entry
			}
		}
		return start, end, nil
	}
	entry := []string(nil)
	if len(forms) > 0 {
		var kept []*yaml.Node // the notes of a plural message
		if top != nil {
			if i := entryIndex(top, id); i >= 0 && top.Content[i+1].Kind == yaml.MappingNode {
				v := top.Content[i+1]
				for j := 0; j+1 < len(v.Content); j += 2 {
					if k := v.Content[j].Value; k == "description" || k == "hash" {
						kept = append(kept, v.Content[j], v.Content[j+1])
					}
				}
			}
		}
		entry = renderEntry(id, forms, plural, kept)
	}
	i := -1
	if top != nil {
		i = entryIndex(top, id)
	}
	var out []string
	switch {
	case i >= 0:
		start, end, err := span(i)
		if err != nil {
			return nil, err
		}
		if len(entry) > 0 {
			if c := inlineComment(top.Content[i], top.Content[i+1]); c != "" && len(entry) == 1 {
				entry[0] = strings.TrimSuffix(entry[0], "\n") + " " + c + "\n"
			}
		}
		out = slices.Concat(lines[:start], entry, lines[end:])
	case len(entry) == 0:
		return data, nil // nothing to remove
	default:
		at := len(lines)
		for j := len(before) - 1; j >= 0 && top != nil; j-- {
			if k := entryIndex(top, before[j]); k >= 0 {
				_, end, err := span(k)
				if err != nil {
					return nil, err
				}
				at = end
				break
			}
		}
		if at == len(lines) && at > 0 && !strings.HasSuffix(lines[at-1], "\n") {
			lines[at-1] += "\n"
		}
		out = slices.Concat(lines[:at], entry, lines[at:])
	}
	return []byte(strings.Join(out, "")), nil
}

// entryIndex returns the index of id's key in a mapping, or -1.
func entryIndex(m *yaml.Node, id string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == id {
			return i
		}
	}
	return -1
}

// inlineComment is the comment at the end of a simple entry's line.
func inlineComment(key, val *yaml.Node) string {
	if val.Kind != yaml.ScalarNode {
		return ""
	}
	if val.LineComment != "" {
		return val.LineComment
	}
	return key.LineComment
}

// splitLines splits data into lines, each with its line break.
func splitLines(data []byte) []string {
	var out []string
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			out = append(out, string(data))
			break
		}
		out = append(out, string(data[:i+1]))
		data = data[i+1:]
	}
	return out
}

// renderEntry writes one message as lines of YAML: `id: "text"`, or the
// id and its plural forms (after the notes kept).
func renderEntry(id string, forms map[string]string, plural bool, kept []*yaml.Node) []string {
	key := id
	if !plainKey.MatchString(id) {
		key = quote(id)
	}
	if !plural && len(kept) == 0 && len(forms) == 1 {
		if text, ok := forms["other"]; ok {
			return []string{key + ": " + quote(text) + "\n"}
		}
	}
	out := []string{key + ":\n"}
	for j := 0; j+1 < len(kept); j += 2 {
		out = append(out, "  "+kept[j].Value+": "+quote(kept[j+1].Value)+"\n")
	}
	for _, cat := range cldrOrder {
		if text, ok := forms[cat]; ok {
			out = append(out, "  "+cat+": "+quote(text)+"\n")
		}
	}
	return out
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// quote writes s as a YAML double-quoted scalar.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\ufeff' || r == '\ufffe' || r == '\uffff':
			if r > 0xffff {
				fmt.Fprintf(&b, `\U%08x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// reencodeMessage sets the message in the YAML tree and writes the file
// again: the fallback for a layout spliceMessage does not handle.
func reencodeMessage(data []byte, id string, forms map[string]string, plural bool) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, errors.New("not a mapping")
	}
	str := func(s string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: yaml.DoubleQuotedStyle}
	}
	var val *yaml.Node
	if len(forms) > 0 {
		if text, ok := forms["other"]; ok && len(forms) == 1 && !plural {
			val = str(text)
		} else {
			val = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for _, cat := range cldrOrder {
				if text, ok := forms[cat]; ok {
					val.Content = append(val.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: cat}, str(text))
				}
			}
		}
	}
	i := entryIndex(top, id)
	switch {
	case i >= 0 && val == nil:
		top.Content = slices.Delete(top.Content, i, i+2)
	case i >= 0:
		top.Content[i+1] = val
	case val != nil:
		top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: id}, val)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
