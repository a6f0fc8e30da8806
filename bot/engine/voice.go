package engine

import (
	"strconv"
	"strings"

	"github.com/outreach-org/outreach/bot/content"
)

// Keys a call gives beyond the menu numbers.
const (
	// KeyRepeat (*) says again what was said last.
	KeyRepeat = "*"
	// KeyMenu (#) goes to the main menu, as MENU does.
	KeyMenu = "#"
)

// varSaid holds, on a call, the node the last answer began at (after any
// action it ran): * runs it again, which says the same without doing
// anything twice.
const varSaid = "said"

// Part is a piece of a reply as a call says it: a text, in a language.
type Part struct {
	Text string
	Lang string
}

// call answers a call's beginning: the language choice for a person whose
// language is not known (each language offered in itself on a call), the
// short welcome back and the main menu for the others. A missed call
// answered by SMS (not Voice) gets the same as an SMS of its own would.
func (r *step) call() {
	r.st.Tries = 0
	r.st.StaffReplied = false
	switch {
	case !r.c.HasLanguage(r.st.Lang):
		r.st.Lang = ""
		r.run(r.s.ChooseLanguage)
	case r.firstMessage:
		r.run(r.s.Welcome)
	default:
		r.run(r.s.WelcomeBack)
	}
}

// repeat says again what the last answer said, from the node it began at,
// or the node waiting for an answer; it changes nothing else.
func (r *step) repeat(prev State) {
	r.st.Misses = r.misses
	said := prev.Vars[varSaid]
	if n := r.c.Flow.Nodes[said]; n == nil || n.Kind == content.KindAction {
		said = prev.Node
	}
	if !r.c.HasLanguage(r.st.Lang) {
		said = r.s.ChooseLanguage
	}
	if r.c.Flow.Nodes[said] == nil {
		said = r.s.Main
	}
	tries := r.st.Tries
	r.run(said)
	r.st.Tries = tries
}

// entered notes, on a call, the node an answer begins at: the first node
// run, or the one after an action (which * must not do again).
func (r *step) entered(id string, n *content.Node) {
	if !r.voice {
		return
	}
	if n.Kind == content.KindAction {
		r.said, r.saidSet = n.Goto, true
		return
	}
	if !r.saidSet {
		r.said, r.saidSet = id, true
	}
}

// callback answers, on a call, a question for the person's own words (in
// the shipped flows, the request to a person): a caller cannot write, and
// no voice is recorded, so the request tells staff it came by phone. The
// flow goes on as if the person had written that. A request already open
// is not made again: the caller is told it is recorded.
func (r *step) callback(n *content.Node) string {
	if r.st.Request != "" && r.c.Has(r.st.Lang, content.MsgVoiceAlreadyAsked) {
		r.say(r.text(content.MsgVoiceAlreadyAsked), nil)
		return r.s.Main
	}
	if r.st.Vars == nil {
		r.st.Vars = map[string]string{}
	}
	// Staff read it: in the first language, theirs as a rule.
	lang := r.c.Languages[0]
	text := "call back"
	if r.c.Has(lang, content.MsgVoiceCallback) {
		text = r.c.Text(lang, content.MsgVoiceCallback, nil)
	}
	r.st.Vars[n.Save] = text
	r.st.Tries = 0
	return n.Goto
}

// unreachable tells a caller whose number is withheld that what they asked
// (a call back, notices by SMS) needs their number, and goes on to the
// main menu; nothing is recorded.
func (r *step) unreachable() string {
	if r.c.Has(r.st.Lang, content.MsgVoiceWithheld) {
		r.say(r.text(content.MsgVoiceWithheld), nil)
	}
	return r.s.Main
}

// languageParts offers, on a call, each language in itself: "Pour le
// français, tapez 1", "For English, press 2", then Arabic.
func (r *step) languageParts(n *content.Node) []Part {
	var parts []Part
	for i, lang := range r.c.Languages {
		parts = append(parts, Part{Text: r.c.VoiceLanguage(lang, strconv.Itoa(i+1)), Lang: lang})
	}
	return parts
}

// spoken fills, on a call, each reply's parts: the person's language
// unless a reply gave its own.
func (r *step) spoken() {
	if !r.voice {
		return
	}
	for i := range r.replies {
		if r.replies[i].Parts == nil {
			r.replies[i].Parts = []Part{{Text: r.replies[i].Text, Lang: r.st.Lang}}
		}
	}
	if r.saidSet {
		if r.st.Vars == nil {
			r.st.Vars = map[string]string{}
		}
		r.st.Vars[varSaid] = r.said
	}
}

// voiceOptions renders choices as keys to press, one line each.
func (r *step) voiceOptions(choices []Choice) []string {
	lines := make([]string, 0, len(choices))
	for _, ch := range choices {
		lines = append(lines, r.c.VoiceOption(r.st.Lang, ch.Key, ch.Label))
	}
	return lines
}

// joinParts is the text of parts, one a line.
func joinParts(parts []Part) string {
	texts := make([]string, len(parts))
	for i, p := range parts {
		texts[i] = p.Text
	}
	return strings.Join(texts, "\n")
}
