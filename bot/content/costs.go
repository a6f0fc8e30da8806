package content

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/outreach-org/outreach/bot/sms"
)

// Cost is what one message, or one node as the bot sends it, costs as SMS in
// one language.
type Cost struct {
	// Key is the message id, or the node id when Node is set.
	Key string
	// Node is true for a node's text as sent: a menu with its options, or a
	// message with the footer it gets when it rests at a menu.
	Node bool
	// Site is set for a per-site message node as sent for that site.
	Site string
	Lang string
	sms.Cost
	// Over, for a node as sent in two SMS or more, is how many characters
	// it goes past the last full SMS, when nearBoundary or fewer: cutting
	// that many saves one SMS. Zero otherwise.
	Over int
}

// nearBoundary is how close past an SMS boundary a text must be for
// validation to say it could be brought under it.
const nearBoundary = 10

// over returns how many trailing characters of text to cut to save one
// SMS, when nearBoundary or fewer do; else 0.
func over(text string, cost sms.Cost) int {
	if cost.Segments < 2 {
		return 0
	}
	runes := []rune(text)
	for k := 1; k <= nearBoundary && k < len(runes); k++ {
		if sms.Measure(string(runes[:len(runes)-k])).Segments < cost.Segments {
			return k
		}
	}
	return 0
}

// Costs returns the SMS cost of every message, then of every menu and
// message node as sent, in every language, each group sorted by key. A
// plural message is measured by its longest form.
func (c *Content) Costs() []Cost {
	var out []Cost
	var ids []string
	for _, loc := range c.locales {
		for id := range loc.Messages {
			if !SpokenOnly(id) && !strings.HasPrefix(id, PrefixPoster) { // said on calls, printed: not SMS
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		for _, lang := range c.Languages {
			loc := c.locales[lang]
			if loc == nil || loc.Messages[id] == nil {
				continue
			}
			out = append(out, Cost{Key: id, Lang: lang, Cost: sms.Measure(loc.Messages[id].Longest())})
		}
	}
	var nodes []string
	for id, n := range c.Flow.Nodes {
		if n.Kind == KindMenu || n.Kind == KindMessage || n.Kind == KindQuestion {
			nodes = append(nodes, id)
		}
	}
	slices.Sort(nodes)
	for _, id := range nodes {
		for _, lang := range c.Languages {
			text := c.SentText(lang, c.Flow.Nodes[id], c.sampleData(lang))
			cost := sms.Measure(text)
			out = append(out, Cost{Key: id, Node: true, Lang: lang, Cost: cost, Over: over(text, cost)})
		}
		n := c.Flow.Nodes[id]
		if !n.PerSite {
			continue
		}
		for _, site := range c.Flow.Sites {
			for _, lang := range c.Languages {
				if mid := c.SiteMessage(lang, n.Text, site); mid != n.Text {
					m := *n
					m.Text = mid
					text := c.SentText(lang, &m, c.sampleData(lang))
					cost := sms.Measure(text)
					out = append(out, Cost{Key: id, Node: true, Site: site, Lang: lang, Cost: cost, Over: over(text, cost)})
				}
			}
		}
	}
	return out
}

// sampleData fills messages for measuring: the longest site name, and who
// runs the service as the bot says it when no organisation is configured.
func (c *Content) sampleData(lang string) map[string]any {
	site := ""
	for _, id := range c.Flow.Sites {
		if name := c.Text(lang, PrefixSite+id, nil); len([]rune(name)) > len([]rune(site)) {
			site = name
		}
	}
	return map[string]any{"Site": site, "Count": 2, "Months": 6, "Org": c.Text(lang, MsgOrgDefault, nil)}
}

// SentText returns a node as the bot sends it in lang: a menu with its
// options; a message that rests at a menu with its footer; a question with
// the default sites or the languages to choose from.
func (c *Content) SentText(lang string, n *Node, data map[string]any) string {
	s := c.Flow.Settings
	switch {
	case n.Kind == KindMenu:
		return c.MenuText(lang, n, data)
	case n.Kind == KindMessage && n.Rest != "" && n.HasFooter():
		footer := s.FooterMenu
		if n.Rest == s.Main {
			footer = s.FooterMain
		}
		return c.Text(lang, n.Text, data) + "\n" + c.Text(lang, footer, data)
	case n.Kind == KindQuestion && n.Expect != ExpectText:
		lines := []string{c.Text(lang, n.Text, data)}
		if n.ID == s.ChooseLanguage {
			// Asked before the language is known: in every language.
			lines = lines[:0]
			for _, l := range c.Languages {
				lines = append(lines, c.Text(l, n.Text, data))
			}
		}
		choices := c.Flow.Sites
		prefix := PrefixSite
		if n.Expect == ExpectLanguage {
			choices, prefix = c.Languages, ""
		}
		for i, id := range choices {
			name := c.Text(lang, prefix+id, nil)
			if prefix == "" {
				name = c.Text(id, MsgLanguageName, nil)
			}
			lines = append(lines, fmt.Sprintf("%d %s", i+1, name))
		}
		if n.Back != "" {
			lines = append(lines, "0 "+c.Text(lang, s.BackLabel, data))
		}
		return strings.Join(lines, "\n")
	}
	return c.Text(lang, n.Text, data)
}

// gsmBreakers are characters that force UCS-2 for no good reason in French
// or English text, with the GSM-7 text to use instead.
var gsmBreakers = map[rune]string{
	'’': "'", '‘': "'", '«': "\"", '»': "\"", '“': "\"", '”': "\"",
	'\u00a0': " ", '\u202f': " ", '…': "...", '–': "-", '—': "-",
}

// checkGSM warns about characters that needlessly force UCS-2 in languages
// written in Latin script.
func (c *Content) checkGSM() Problems {
	var ps Problems
	for _, lang := range c.Languages {
		loc := c.locales[lang]
		if loc == nil || !c.latinScript(lang) {
			continue
		}
		for id, m := range loc.Messages {
			if SpokenOnly(id) || strings.HasPrefix(id, PrefixPoster) {
				continue // said on calls, printed: never an SMS
			}
			for _, text := range m.Forms {
				named := false
				for r, fix := range gsmBreakers {
					if strings.ContainsRune(text, r) {
						named = true
						ps.add(Problem{File: loc.File, Line: m.Line, Key: id, Warning: true,
							Msg: "character " + quoteRune(r) + " makes the SMS UCS-2 (70 characters a segment instead of 160): write \"" + fix + "\" instead"})
					}
				}
				// Any other character outside GSM-7 (a lower-case ç, â, ê, î,
				// ô, û, an emoji): named, as the one that forces UCS-2.
				// (Not a language's own name: it is shown beside the others,
				// Arabic among them, which is UCS-2 anyway.)
				if r, ok := sms.FirstNonGSM(text); ok && !named && id != MsgLanguageName {
					ps.add(Problem{File: loc.File, Line: m.Line, Key: id, Warning: true,
						Msg: "character " + quoteRune(r) + " is not in GSM-7: it makes the SMS UCS-2 (70 characters a segment instead of 160)" + gsmHint(r)})
				}
			}
		}
	}
	sortProblems(ps)
	return ps
}

// gsmHint suggests a GSM-7 spelling of r, when French has one.
func gsmHint(r rune) string {
	if fix, ok := map[rune]string{'ç': "c", 'â': "a", 'ê': "e", 'î': "i", 'ô': "o", 'û': "u", 'ë': "e", 'ï': "i", 'œ': "oe"}[r]; ok {
		return ": write \"" + fix + "\" (or reword)"
	}
	return ""
}

func quoteRune(r rune) string {
	switch r {
	case '\u00a0':
		return "U+00A0 (no-break space)"
	case '\u202f':
		return "U+202F (narrow no-break space)"
	}
	return "\"" + string(r) + "\""
}

// checkNodeCosts measures every node as sent once and warns about those
// that cost more SMS segments than the flow's budget, and about those that
// go a few characters past an SMS boundary: each person who gets them pays
// one SMS for those.
func (c *Content) checkNodeCosts() Problems {
	budget := c.Flow.Settings.SMSBudget
	var ps Problems
	for _, cost := range c.Costs() {
		if !cost.Node || (budget <= 0 || cost.Segments <= budget) && cost.Over == 0 {
			continue
		}
		n := c.Flow.Nodes[cost.Key]
		where := cost.Lang
		if cost.Site != "" {
			where += " for " + cost.Site
		}
		if budget > 0 && cost.Segments > budget {
			ps.add(Problem{File: n.File, Line: n.Line, Key: cost.Key, Warning: true,
				Msg: fmt.Sprintf("in %s it costs %d SMS (%d %s characters), over the budget of %d", where, cost.Segments, cost.Units, cost.Encoding, budget)})
		}
		if cost.Over > 0 {
			ps.add(Problem{File: n.File, Line: n.Line, Key: cost.Key, Warning: true,
				Msg: fmt.Sprintf("in %s it costs %d SMS, %d character(s) past %d full SMS: shorten it by %d to save one SMS", where, cost.Segments, cost.Over, cost.Segments-1, cost.Over)})
		}
	}
	return ps
}

// latinScript reports whether a language is written in Latin script, going
// by its own name: only there do GSM-7 savings apply.
func (c *Content) latinScript(lang string) bool {
	for _, r := range c.Text(lang, MsgLanguageName, nil) {
		if unicode.IsLetter(r) && !unicode.Is(unicode.Latin, r) {
			return false
		}
	}
	return true
}
