package content

import (
	"slices"
	"strings"

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
	Lang string
	sms.Cost
}

// Costs returns the SMS cost of every message, then of every menu and
// message node as sent, in every language, each group sorted by key. A
// plural message is measured by its longest form.
func (c *Content) Costs() []Cost {
	var out []Cost
	var ids []string
	for _, loc := range c.locales {
		for id := range loc.Messages {
			ids = append(ids, id)
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
		if n.Kind == KindMenu || n.Kind == KindMessage {
			nodes = append(nodes, id)
		}
	}
	slices.Sort(nodes)
	for _, id := range nodes {
		for _, lang := range c.Languages {
			out = append(out, Cost{Key: id, Node: true, Lang: lang, Cost: sms.Measure(c.SentText(lang, c.Flow.Nodes[id], nil))})
		}
	}
	return out
}

// SentText returns a menu or a message as the bot sends it in lang: a menu
// with its options; a message that rests at a menu with its footer.
func (c *Content) SentText(lang string, n *Node, data map[string]any) string {
	switch {
	case n.Kind == KindMenu:
		return c.MenuText(lang, n, data)
	case n.Kind == KindMessage && n.Rest != "" && n.HasFooter():
		footer := c.Flow.Settings.FooterMenu
		if n.Rest == c.Flow.Settings.Main {
			footer = c.Flow.Settings.FooterMain
		}
		return c.Text(lang, n.Text, data) + "\n" + c.Text(lang, footer, data)
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
		if loc == nil || lang == "ar" {
			continue
		}
		for id, m := range loc.Messages {
			for _, text := range m.Forms {
				for r, fix := range gsmBreakers {
					if strings.ContainsRune(text, r) {
						ps.add(Problem{File: loc.File, Line: m.Line, Key: id, Warning: true,
							Msg: "character " + quoteRune(r) + " makes the SMS UCS-2 (70 characters a segment instead of 160): write " + quoteRune([]rune(fix)[0]) + " instead"})
					}
				}
			}
		}
	}
	sortProblems(ps)
	return ps
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
