package content

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Digits turns Arabic-Indic (٠١٢…) and Eastern Arabic-Indic (۰۱۲…) digits into
// ASCII digits, so that every answer that takes a number takes them too.
func Digits(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '٠' && r <= '٩':
			return '0' + (r - '٠')
		case r >= '۰' && r <= '۹':
			return '0' + (r - '۰')
		}
		return r
	}, s)
}

// Fold reduces a word or a short answer to a form for comparison: digits
// made ASCII, lower case, accents and Arabic vowel marks dropped, punctuation
// dropped, spaces collapsed. "Arrêt !" and "ARRET" fold the same.
func Fold(s string) string {
	s = Digits(s)
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	if out, _, err := transform.String(t, s); err == nil {
		s = out
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case r == 'ـ': // tatweel, the Arabic stretching stroke
			return -1
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			return unicode.ToLower(r)
		}
		return ' '
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// HasArabicScript reports whether the text has a letter in Arabic script.
func HasArabicScript(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Arabic, r) && unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// Keyword returns the keyword the text is, if it is one.
func (c *Content) Keyword(text string) (Keyword, bool) {
	folded := Fold(text)
	if folded == "" {
		return Keyword{}, false
	}
	for _, kw := range c.Flow.Keywords {
		for _, words := range kw.Words {
			for _, w := range words {
				if Fold(w) == folded {
					return kw, true
				}
			}
		}
	}
	return Keyword{}, false
}

// DetectLanguage tells the language of a first message when it can: Arabic
// script, or a greeting.
func (c *Content) DetectLanguage(text string) (string, bool) {
	if HasArabicScript(text) && c.HasLanguage("ar") {
		return "ar", true
	}
	folded := Fold(text)
	if folded == "" {
		return "", false
	}
	for _, lang := range c.Languages {
		for _, g := range c.Flow.Greetings[lang] {
			fg := Fold(g)
			if folded == fg || strings.HasPrefix(folded, fg+" ") {
				return lang, true
			}
		}
	}
	return "", false
}

// KeywordLanguage returns the first language that lists text as a keyword:
// a weak hint, since many keywords (MENU, STOP) are shared.
func (c *Content) KeywordLanguage(text string) (string, bool) {
	folded := Fold(text)
	for _, lang := range c.Languages {
		for _, kw := range c.Flow.Keywords {
			for _, w := range kw.Words[lang] {
				if Fold(w) == folded {
					return lang, true
				}
			}
		}
	}
	return "", false
}

// MenuText renders a menu in lang: its header, then one line an option,
// "1 Label", with 0 last.
func (c *Content) MenuText(lang string, n *Node, data map[string]any) string {
	lines := []string{c.Text(lang, n.Text, data)}
	for _, o := range SortedOptions(n.Options) {
		lines = append(lines, fmt.Sprintf("%d %s", o.Key, c.Text(lang, o.Label, data)))
	}
	return strings.Join(lines, "\n")
}

// SortedOptions returns the options in display order: 1, 2, …, then 0.
func SortedOptions(opts []Option) []Option {
	out := slices.Clone(opts)
	slices.SortFunc(out, func(a, b Option) int {
		ka, kb := a.Key, b.Key
		if ka == 0 {
			ka = 10
		}
		if kb == 0 {
			kb = 10
		}
		return ka - kb
	})
	return out
}

// Urgent reports whether a text holds a word that flags a request to a
// person as urgent, in any language.
func (c *Content) Urgent(text string) bool {
	folded := " " + Fold(text) + " "
	for _, words := range c.Flow.Urgent {
		for _, w := range words {
			fw := Fold(w)
			switch {
			case fw == "":
			case HasArabicScript(fw):
				// Arabic attaches its prefixes (ال، ب، و، ل) to the word: match inside.
				if strings.Contains(folded, fw) {
					return true
				}
			case strings.Contains(folded, " "+fw):
				return true
			}
		}
	}
	return false
}
