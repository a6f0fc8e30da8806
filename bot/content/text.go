package content

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

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
// made ASCII, lower case, accents and Arabic vowel marks (harakat) and the
// tatweel dropped, punctuation dropped, spaces collapsed. "Arrêt !" and
// "ARRET" fold the same. Arabic spelling variants fold together (see
// foldArabic): "القائمه" is "القائمة", "إحذف" is "احذف", and the Persian and
// Urdu letters of phone keyboards (ک، ی، ہ) are their Arabic ones.
func Fold(s string) string {
	if !isASCII(s) {
		s = Digits(s)
		if out, _, err := transform.String(stripMarks(), s); err == nil {
			s = out
		}
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case r == 'ـ': // tatweel, the Arabic stretching stroke
			return -1
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			return unicode.ToLower(foldArabic(r))
		}
		return ' '
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// foldArabic maps an Arabic-script letter to the one it is commonly written
// as: people write without hamza or dots, and phones with a Persian or Urdu
// keyboard type their own forms of kaf, ya and ha.
func foldArabic(r rune) rune {
	switch r {
	case 'أ', 'إ', 'آ', 'ٱ': // alef with hamza or madda, alef wasla
		return 'ا'
	case 'ة', 'ۃ', 'ہ', 'ھ': // ta marbuta (Arabic, Urdu), Urdu heh goal, heh doachashmee
		return 'ه'
	case 'ى', 'ی': // alef maqsura, Persian ya
		return 'ي'
	case 'ک': // Persian keheh
		return 'ك'
	}
	return r
}

// stripMarks decomposes, drops the combining marks (accents, Arabic vowel
// marks) and recomposes. A transformer holds state: one per use.
func stripMarks() transform.Transformer {
	return transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// folded is the content's keywords and greetings, folded once at load.
type folded struct {
	// keywords maps a folded word to the first keyword (in flow order)
	// that has it, in any language.
	keywords map[string]int
	// keywordLang maps a folded word to the first language (in the
	// content's order) that has it as a keyword.
	keywordLang map[string]string
	// greetings are each language's greetings, folded.
	greetings map[string][]string
	// urgent holds, by category (in flow order) and language, the danger
	// phrases folded.
	urgent []map[string][]phrase
}

func foldWords(f *Flow, languages []string) folded {
	out := folded{keywords: map[string]int{}, keywordLang: map[string]string{}, greetings: map[string][]string{}}
	for i, kw := range f.Keywords {
		for _, words := range kw.Words {
			for _, w := range words {
				if fw := Fold(w); fw != "" {
					if _, ok := out.keywords[fw]; !ok {
						out.keywords[fw] = i
					}
				}
			}
		}
	}
	for _, lang := range languages {
		for _, kw := range f.Keywords {
			for _, w := range kw.Words[lang] {
				if _, ok := out.keywordLang[Fold(w)]; !ok {
					out.keywordLang[Fold(w)] = lang
				}
			}
		}
		for _, g := range f.Greetings[lang] {
			out.greetings[lang] = append(out.greetings[lang], Fold(g))
		}
	}
	for _, cat := range f.Urgent.Categories {
		m := map[string][]phrase{}
		for lang, words := range cat.Words {
			for _, w := range words {
				if p := foldPhrase(w); p != nil {
					m[lang] = append(m[lang], p)
				}
			}
		}
		out.urgent = append(out.urgent, m)
	}
	return out
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
	if i, ok := c.folded.keywords[folded]; ok {
		return c.Flow.Keywords[i], true
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
		for _, fg := range c.folded.greetings[lang] {
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
	lang, ok := c.folded.keywordLang[Fold(text)]
	return lang, ok
}

// MenuText renders a menu in lang: its header, then one line an option,
// "1 Label", with 0 last; in the spoken view, "Label: press 1".
func (c *Content) MenuText(lang string, n *Node, data map[string]any) string {
	lines := []string{c.Text(lang, n.Text, data)}
	for _, o := range SortedOptions(n.Options) {
		if c.voice {
			lines = append(lines, c.VoiceOption(lang, strconv.Itoa(o.Key), c.Text(lang, o.Label, data)))
			continue
		}
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

// Urgent reports whether a text holds words of danger, in any language.
func (c *Content) Urgent(text string) bool {
	_, _, ok := c.UrgentMatch(text)
	return ok
}

// UrgentMatch returns the first category (in flow order) whose words the
// text holds, and the language of the words that matched (the first in the
// content's order when several do).
func (c *Content) UrgentMatch(text string) (UrgentCategory, string, bool) {
	words := strings.Fields(Fold(text))
	if len(words) == 0 {
		return UrgentCategory{}, "", false
	}
	forms := make([][]string, len(words))
	for i, w := range words {
		forms[i] = wordForms(w)
	}
	for i, cat := range c.Flow.Urgent.Categories {
		for _, lang := range c.Languages {
			for _, p := range c.folded.urgent[i][lang] {
				if p.matches(forms) {
					return cat, lang, true
				}
			}
		}
	}
	return UrgentCategory{}, "", false
}

// stem is one word of a danger phrase, folded: whole, or a prefix.
type stem struct {
	word   string
	prefix bool
}

// phrase is a danger word or phrase, folded into its stems.
type phrase []stem

// foldPhrase folds a danger phrase; a word ending in "*" is a prefix stem.
// It returns nil when nothing is left.
func foldPhrase(s string) phrase {
	var p phrase
	for _, field := range strings.Fields(s) {
		prefix := strings.HasSuffix(field, "*")
		parts := strings.Fields(Fold(strings.TrimRight(field, "*")))
		for j, w := range parts {
			p = append(p, stem{word: w, prefix: prefix && j == len(parts)-1})
		}
	}
	return p
}

// matches reports whether the phrase's stems match consecutive words.
func (p phrase) matches(forms [][]string) bool {
	if len(p) == 0 {
		return false
	}
	for i := 0; i+len(p) <= len(forms); i++ {
		ok := true
		for j, st := range p {
			if !st.matchesWord(forms[i+j]) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (st stem) matchesWord(forms []string) bool {
	for _, f := range forms {
		if f == st.word || (st.prefix && strings.HasPrefix(f, st.word)) {
			return true
		}
	}
	return false
}

// arabicClitics are the prefixes Arabic attaches to a word (and, so, with,
// for, like, the), longest first.
var arabicClitics = []string{"وبال", "وال", "فال", "بال", "كال", "ولل", "فلل", "لل", "ال", "وب", "ول", "فب", "فل", "و", "ف", "ب", "ل", "ك"}

// wordForms returns a folded word and, for an Arabic word, the word without
// each clitic prefix it may carry (at least two letters left).
func wordForms(w string) []string {
	forms := []string{w}
	if !HasArabicScript(w) {
		return forms
	}
	for _, p := range arabicClitics {
		if rest, ok := strings.CutPrefix(w, p); ok && utf8.RuneCountInString(rest) >= 2 {
			forms = append(forms, rest)
		}
	}
	return forms
}

// BadChar returns the first character of a staff's or partner's text that
// must not reach a phone: a control character other than a line break
// (LF or CR) or a tab, or U+FFFD, which stands for bytes that were not UTF-8.
func BadChar(s string) (rune, bool) {
	for _, r := range s {
		if r == utf8.RuneError || (unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t') {
			return r, true
		}
	}
	return 0, false
}
