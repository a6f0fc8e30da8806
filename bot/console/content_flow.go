package console

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/outreach-org/outreach/bot/content"
)

// flowNode is one node of the flow tree: its text in the language shown,
// its options (a menu's, a switch's cases) and where it goes next. A node
// is drawn whole the first time the tree reaches it; after that it is a
// link to there.
type flowNode struct {
	ID   string
	Kind string
	// Ref is set when the node is drawn elsewhere in the tree.
	Ref bool
	// Unknown is set for a node the flow names but does not hold.
	Unknown bool
	Text    flowText
	// Detail is a message id saying what the node does (Arg fills it).
	Detail, Arg string
	PerSite     bool
	Options     []flowOption
	// Next is where the node goes on; NextHow says how (a message id).
	Next    *flowNode
	NextHow string
}

// flowText is a message of the flow in the language shown.
type flowText struct {
	ID      string
	Text    string
	Missing bool
}

// flowOption is an option of a menu (Key 1, 2 … 0) or a case of a switch
// (Case: the value Key, empty for none; Default: any other), or the
// question a message per city asks first (Ask).
type flowOption struct {
	Key                string
	Case, Default, Ask bool
	Label              flowText
	Child              *flowNode
}

// flowEntry is a way into the flow beside the main menu: the welcome, a
// keyword.
type flowEntry struct {
	How   string // message id
	Words string
	Node  *flowNode
}

// contentFlowData is the flow page.
type contentFlowData struct {
	Draft   draftInfo
	Show    string
	Langs   []string
	Of      string
	Main    *flowNode
	Entries []flowEntry
	Problem []problemView
}

type flowBuilder struct {
	f    *content.Flow
	set  *contentSet
	lang string
	seen map[string]bool
}

func (b *flowBuilder) text(id string) flowText {
	t := flowText{ID: id}
	if id == "" {
		return t
	}
	forms := b.set.forms(b.lang, id)
	switch {
	case forms == nil:
		t.Missing = true
	case forms["other"] != "":
		t.Text = forms["other"]
	default:
		for _, cat := range cldrOrder {
			if forms[cat] != "" {
				t.Text = forms[cat]
				break
			}
		}
	}
	return t
}

func (b *flowBuilder) node(id string) *flowNode {
	n := b.f.Nodes[id]
	if n == nil {
		return &flowNode{ID: id, Unknown: true}
	}
	fn := &flowNode{ID: id, Kind: n.Kind, Text: b.text(n.Text), PerSite: n.PerSite}
	if b.seen[id] {
		fn.Ref = true
		return fn
	}
	b.seen[id] = true
	next := func(target, how string) {
		if target != "" {
			fn.Next, fn.NextHow = b.node(target), how
		}
	}
	switch n.Kind {
	case content.KindMenu:
		for _, o := range content.SortedOptions(n.Options) {
			fn.Options = append(fn.Options, flowOption{Key: strconv.Itoa(o.Key), Label: b.text(o.Label), Child: b.node(o.Goto)})
		}
	case content.KindMessage:
		if n.Ask != "" {
			fn.Options = append(fn.Options, flowOption{Ask: true, Child: b.node(n.Ask)})
		}
		next(n.Goto, "content_flow_then")
		next(n.Rest, "content_flow_rests")
	case content.KindQuestion:
		fn.Detail, fn.Arg = "content_flow_expects_"+n.Expect, n.Save
		next(n.Goto, "content_flow_then")
	case content.KindAction:
		fn.Detail = "content_flow_do_" + n.Do
		next(n.Goto, "content_flow_then")
	case content.KindSwitch:
		fn.Detail, fn.Arg = "content_flow_switch", n.Var
		for _, v := range slices.Sorted(maps.Keys(n.Cases)) {
			fn.Options = append(fn.Options, flowOption{Key: v, Case: true, Child: b.node(n.Cases[v])})
		}
		if n.Default != "" {
			fn.Options = append(fn.Options, flowOption{Default: true, Child: b.node(n.Default)})
		}
	case content.KindList:
		fn.Detail = "content_flow_list"
		next(n.Goto, "content_flow_then")
	}
	return fn
}

// sortedNodes are the ids of a flow's nodes, sorted.
func sortedNodes(f *content.Flow) []string {
	return slices.Sorted(maps.Keys(f.Nodes))
}

// contentFlow shows the flow as a tree of menus and options, from the main
// menu, in one language (?show=), of the draft or the live version
// (?of=live).
func (c *Console) contentFlow(w http.ResponseWriter, r *http.Request) error {
	st, err := c.contentState(r)
	if err != nil {
		return err
	}
	set, of := st.Work, ""
	if r.URL.Query().Get("of") == "live" && st.HasDraft {
		set, of = st.LiveSet, "live"
	}
	lang := simLang(r, set, c.language(r, signedIn(r)))
	d := contentFlowData{Draft: st.info(), Show: lang, Langs: set.Langs, Of: of}
	if set.Content == nil {
		for _, v := range set.problemViews(set.Problems) {
			if !v.Warning {
				d.Problem = append(d.Problem, v)
			}
		}
		c.render(w, r, http.StatusOK, "content-flow", c.newPage(r, "content_flow_title", d))
		return nil
	}
	f := set.Content.Flow
	b := &flowBuilder{f: f, set: set, lang: lang, seen: map[string]bool{}}
	d.Main = b.node(f.Settings.Main)
	for _, e := range []struct{ how, node string }{
		{"content_flow_entry_welcome", f.Settings.Welcome},
		{"content_flow_entry_choose", f.Settings.ChooseLanguage},
		{"content_flow_entry_back", f.Settings.WelcomeBack},
	} {
		if e.node != "" {
			d.Entries = append(d.Entries, flowEntry{How: e.how, Node: b.node(e.node)})
		}
	}
	for _, kw := range f.Keywords {
		d.Entries = append(d.Entries, flowEntry{How: "content_flow_entry_keyword", Words: strings.Join(kw.Words[lang], ", "), Node: b.node(kw.Goto)})
	}
	for _, e := range []struct{ how, node string }{
		{"content_flow_entry_urgent", f.Urgent.Offer},
		{"content_flow_entry_recorded", f.Urgent.Recorded},
	} {
		if e.node != "" {
			d.Entries = append(d.Entries, flowEntry{How: e.how, Node: b.node(e.node)})
		}
	}
	for _, id := range sortedNodes(f) {
		if !b.seen[id] {
			d.Entries = append(d.Entries, flowEntry{How: "content_flow_entry_none", Node: b.node(id)})
		}
	}
	c.render(w, r, http.StatusOK, "content-flow", c.newPage(r, "content_flow_title", d))
	return nil
}
