package content

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Message ids the engine uses by itself, beyond those a flow names.
const (
	MsgLanguageName  = "language_name"
	MsgDateFormat    = "date_format"
	MsgTimeRange     = "time_range"
	MsgListSeparator = "list_separator"
	MsgDistWho       = "dist_who"
	MsgDistBring     = "dist_bring"
	MsgDistItem      = "dist_item"
	MsgDistFree      = "dist_free"
	MsgNoticeFooter  = "notice_footer"
	// MsgContentUpdated is said to a person whose step no longer exists
	// after new content was published, before the main menu.
	MsgContentUpdated = "content_updated"
	// MsgSlowDown is said once to a person who sends too many messages.
	MsgSlowDown = "slow_down"
)

// Distribution notices: each kind is a message of that id.
const (
	NoticeNew       = "notice_new"
	NoticeReminder  = "notice_reminder"
	NoticeChanged   = "notice_changed"
	NoticeCancelled = "notice_cancelled"
)

// NoticeKinds returns the kinds of distribution notice.
func NoticeKinds() []string {
	return []string{NoticeNew, NoticeReminder, NoticeChanged, NoticeCancelled}
}

// TemplateFields are the fields the bot fills in messages: {{.Site}} and
// {{.Hours}} (when staff answer, the content's MsgStaffHours) in every
// message; {{.Org}} (the organisation that runs the service) in the
// messages of the conversation's nodes, such as the welcome and the
// privacy notice; {{.Count}} in plural messages; the others in the messages
// that show a distribution.
var TemplateFields = []string{"Bring", "Count", "Date", "Day", "End", "Hours", "Items", "Key", "Label", "Month", "Months", "Org", "Phone", "Place", "Site", "Start", "Time", "Weekday", "Who"}

// Prefixes of message ids that name data: kit items ("item_rice"), sites
// ("site_nador"), weekdays ("weekday_0" = Sunday) and months ("month_1").
const (
	PrefixItem    = "item_"
	PrefixSite    = "site_"
	PrefixWeekday = "weekday_"
	PrefixMonth   = "month_"
)

// PrefixPoster starts the ids of the printed poster's messages
// ("poster_title", package poster): print, not SMS, they are used by no
// flow, may hold any character and cost no SMS.
const PrefixPoster = "poster_"

// validate checks the loaded flow and messages together.
func (c *Content) validate() Problems {
	var ps Problems
	f := c.Flow
	used := map[string][]usage{} // message id → where a flow uses it

	use := func(id, file string, line int, key string) {
		if id != "" {
			used[id] = append(used[id], usage{file, line, key})
		}
	}
	node := func(id, file string, line int, key, field string) {
		if id == "" {
			ps.add(Problem{File: file, Line: line, Key: key, Msg: field + " is missing"})
			return
		}
		if _, ok := f.Nodes[id]; !ok {
			ps.add(Problem{File: file, Line: line, Key: key, Msg: fmt.Sprintf("%s %q: no such node", field, id)})
		}
	}

	// Settings.
	s := f.Settings
	sf := f.settingsFile
	if sf == "" {
		sf = "flows"
		ps.add(Problem{File: sf, Key: "settings", Msg: "no settings section in any flow file"})
	}
	node(s.Main, sf, 0, "settings.main", "main")
	node(s.Welcome, sf, 0, "settings.welcome", "welcome")
	node(s.ChooseLanguage, sf, 0, "settings.choose_language", "choose_language")
	node(s.WelcomeBack, sf, 0, "settings.welcome_back", "welcome_back")
	if s.SiteStart != "" {
		node(s.SiteStart, sf, 0, "settings.site_start", "site_start")
	}
	if m := f.Nodes[s.Main]; m != nil && m.Kind != KindMenu {
		ps.add(Problem{File: sf, Key: "settings.main", Msg: fmt.Sprintf("%q is a %s, not a menu", s.Main, m.Kind)})
	}
	for _, id := range []struct{ id, key string }{
		{s.Invalid, "settings.invalid"}, {s.FooterMain, "settings.footer_main"},
		{s.FooterMenu, "settings.footer_menu"}, {s.BackLabel, "settings.back_label"},
	} {
		if id.id == "" {
			ps.add(Problem{File: sf, Key: id.key, Msg: "missing message id"})
		}
		use(id.id, sf, 0, id.key)
	}
	for _, lang := range s.Languages {
		if c.locales[lang] == nil {
			ps.add(Problem{File: sf, Key: "settings.languages", Msg: fmt.Sprintf("no message file locales/%s.yaml", lang)})
		}
	}
	for lang := range c.locales {
		if len(s.Languages) > 0 && !slices.Contains(s.Languages, lang) {
			ps.add(Problem{File: c.locales[lang].File, Msg: fmt.Sprintf("language %q is not in settings.languages, so nobody can choose it", lang), Warning: true})
		}
	}
	use(MsgLanguageName, sf, 0, "languages")
	use(MsgContentUpdated, sf, 0, "content updates")
	use(MsgSlowDown, sf, 0, "flood limit")

	// Keywords and greetings.
	seenWord := map[string]string{}
	for _, kw := range f.Keywords {
		node(kw.Goto, kw.File, kw.Line, "keywords", "goto")
		if len(kw.Words) == 0 {
			ps.add(Problem{File: kw.File, Line: kw.Line, Key: "keywords", Msg: "a keyword needs words"})
		}
		for lang, words := range kw.Words {
			if c.locales[lang] == nil {
				ps.add(Problem{File: kw.File, Line: kw.Line, Key: "keywords", Msg: fmt.Sprintf("words for %q, which has no message file", lang)})
			}
			for _, w := range words {
				fw := Fold(w)
				if prev, ok := seenWord[fw]; ok && prev != kw.Goto {
					ps.add(Problem{File: kw.File, Line: kw.Line, Key: "keywords", Msg: fmt.Sprintf("%q goes both to %q and to %q", w, prev, kw.Goto)})
				}
				seenWord[fw] = kw.Goto
			}
		}
	}
	for lang := range f.Greetings {
		if c.locales[lang] == nil {
			ps.add(Problem{File: sf, Key: "greetings", Msg: fmt.Sprintf("greetings for %q, which has no message file", lang)})
		}
	}

	// Words of danger, heard at every step.
	ps = append(ps, c.checkUrgent(use, node)...)

	// Notices, sent to subscribers with a distribution.
	for _, id := range append([]string{MsgDistItem, MsgDistFree, MsgNoticeFooter, MsgDateFormat, MsgTimeRange, MsgListSeparator, MsgDistWho, MsgDistBring}, NoticeKinds()...) {
		use(id, sf, 0, "notices")
	}

	// Sites.
	for _, site := range f.Sites {
		use(PrefixSite+site, f.sitesFile, f.sitesLine, "sites")
	}

	// Nodes.
	ids := slices.Sorted(maps.Keys(f.Nodes))
	for _, id := range ids {
		n := f.Nodes[id]
		at := func(msg string, args ...any) {
			ps.add(Problem{File: n.File, Line: n.Line, Key: id, Msg: fmt.Sprintf(msg, args...)})
		}
		msg := func(mid, field string) {
			if mid == "" {
				at("%s is missing", field)
				return
			}
			use(mid, n.File, n.Line, id)
		}
		next := func(target, field string) { node(target, n.File, n.Line, id, field) }
		if n.Kind != KindMessage && (n.PerSite || n.Ask != "") {
			at("per_site and ask are for a message, not a %s", n.Kind)
		}
		switch n.Kind {
		case KindMenu:
			msg(n.Text, "text")
			if len(n.Options) == 0 {
				at("a menu needs options")
			}
			keys := map[int]bool{}
			for _, o := range n.Options {
				if keys[o.Key] {
					ps.add(Problem{File: n.File, Line: o.Line, Key: id, Msg: fmt.Sprintf("option %d appears twice", o.Key)})
				}
				keys[o.Key] = true
				if o.Key < 0 || o.Key > 9 {
					ps.add(Problem{File: n.File, Line: o.Line, Key: id, Msg: fmt.Sprintf("option %d: options are numbered 1 to 9, and 0 for the way back", o.Key)})
				}
				if o.Label == "" {
					ps.add(Problem{File: n.File, Line: o.Line, Key: id, Msg: fmt.Sprintf("option %d has no label", o.Key)})
				}
				use(o.Label, n.File, o.Line, id)
				node(o.Goto, n.File, o.Line, id, fmt.Sprintf("option %d goto", o.Key))
			}
			for k := 1; k <= len(keys); k++ {
				if !keys[k] && hasKeyAbove(keys, k) {
					at("options skip number %d: number them 1, 2, 3 … without gaps", k)
					break
				}
			}
			if id != s.Main && !keys[0] {
				at("a menu other than the main menu needs option 0 as a way back")
			}
		case KindMessage:
			msg(n.Text, "text")
			switch {
			case n.Goto != "" && n.Rest != "":
				at("a message has either goto or rest, not both")
			case n.Goto != "":
				next(n.Goto, "goto")
			case n.Rest != "":
				next(n.Rest, "rest")
				if r := f.Nodes[n.Rest]; r != nil && r.Kind != KindMenu {
					at("rest %q is a %s: a message can only rest at a menu", n.Rest, r.Kind)
				}
			default:
				at("a message needs goto or rest, so that the conversation goes on")
			}
			c.checkPerSite(n, at, next, use)
		case KindQuestion:
			msg(n.Text, "text")
			if n.Retry != "" {
				use(n.Retry, n.File, n.Line, id)
			}
			if !slices.Contains([]string{ExpectSite, ExpectLanguage, ExpectText}, n.Expect) {
				at("expect %q: want site, language or text", n.Expect)
			}
			if n.Save == "" {
				at("save is missing: name the answer")
			}
			next(n.Goto, "goto")
			if n.Back != "" {
				next(n.Back, "back")
			}
		case KindAction:
			if !slices.Contains([]string{DoSetLanguage, DoSubscribe, DoUnsubscribe, DoHandover, DoOptOut, DoOptIn, DoErase}, n.Do) {
				at("do %q: want set_language, subscribe, unsubscribe, handover, opt_out, opt_in or erase", n.Do)
			}
			next(n.Goto, "goto")
		case KindSwitch:
			if n.Var == "" {
				at("var is missing")
			}
			for _, target := range n.Cases {
				next(target, "case")
			}
			next(n.Default, "default")
		case KindList:
			if n.Source != SourceDistributions {
				at("source %q: want distributions", n.Source)
			}
			msg(n.Text, "text")
			msg(n.Item, "item")
			msg(n.Empty, "empty")
			if n.Note != "" {
				use(n.Note, n.File, n.Line, id)
			}
			next(n.Goto, "goto")
			for _, m := range []string{MsgDateFormat, MsgTimeRange, MsgListSeparator, MsgDistWho, MsgDistBring} {
				use(m, n.File, n.Line, id)
			}
			for d := 0; d < 7; d++ {
				use(fmt.Sprintf("%s%d", PrefixWeekday, d), n.File, n.Line, id)
			}
			for m := 1; m <= 12; m++ {
				use(fmt.Sprintf("%s%d", PrefixMonth, m), n.File, n.Line, id)
			}
		default:
			at("type %q: want menu, message, question, action, switch or list", n.Kind)
		}
	}

	ps = append(ps, c.checkReachable()...)
	ps = append(ps, c.checkLoops()...)
	ps = append(ps, c.checkRender()...)
	for _, id := range conversationMessages {
		use(id, sf, 0, "conversation")
	}
	for _, id := range distributionMessages {
		use(id, sf, 0, "distributions")
	}
	for _, id := range append(slices.Clone(voiceMessages), MsgMediaOnlyCall) {
		if c.anyHas(id) { // a content set from before calls may lack them
			use(id, sf, 0, "calls")
		}
	}
	for id := range used {
		if c.anyHas(id + VoiceSuffix) {
			use(id+VoiceSuffix, sf, 0, "calls: the spoken variant of "+id)
		}
	}
	ps = append(ps, c.checkVoice(used)...)
	ps = append(ps, c.checkAudio()...)
	for _, id := range locationMessages {
		if c.anyHas(id) { // a content set from before locations may lack them
			use(id, sf, 0, "locations")
		}
	}
	use(MsgOrgDefault, sf, 0, "privacy notice")
	use(MsgStaffHours, sf, 0, "requests to a person")
	ps = append(ps, c.checkStaffHours()...)
	ps = append(ps, c.checkMessages(used)...)
	ps = append(ps, c.checkGSM()...)
	ps = append(ps, c.checkNodeCosts()...)
	return ps
}

func hasKeyAbove(keys map[int]bool, k int) bool {
	for key := range keys {
		if key > k {
			return true
		}
	}
	return false
}

type usage struct {
	file string
	line int
	key  string
}

// edges returns the nodes a node can lead to.
func (n *Node) edges() []string {
	var out []string
	for _, o := range n.Options {
		out = append(out, o.Goto)
	}
	for _, t := range n.Cases {
		out = append(out, t)
	}
	for _, t := range []string{n.Goto, n.Rest, n.Back, n.Default, n.Ask} {
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

// autoEdges returns the nodes a node goes on to without waiting for an answer.
func (n *Node) autoEdges() []string {
	if n.Waits() {
		return nil
	}
	var out []string
	for _, t := range n.Cases {
		out = append(out, t)
	}
	for _, t := range []string{n.Goto, n.Default, n.Ask} {
		if t != "" {
			out = append(out, t)
		}
	}
	return out
}

func (c *Content) checkReachable() Problems {
	f := c.Flow
	seen := map[string]bool{}
	var queue []string
	push := func(id string) {
		if _, ok := f.Nodes[id]; ok && !seen[id] {
			seen[id] = true
			queue = append(queue, id)
		}
	}
	s := f.Settings
	for _, id := range []string{s.Main, s.Welcome, s.ChooseLanguage, s.WelcomeBack} {
		push(id)
	}
	for _, kw := range f.Keywords {
		push(kw.Goto)
	}
	push(f.Urgent.Offer)
	push(f.Urgent.Recorded)
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, next := range f.Nodes[id].edges() {
			push(next)
		}
	}
	var ps Problems
	for id, n := range f.Nodes {
		if !seen[id] {
			ps.add(Problem{File: n.File, Line: n.Line, Key: id, Msg: "unreachable: no menu, goto or keyword leads here"})
		}
	}
	sortProblems(ps)
	return ps
}

// checkLoops finds nodes that go on to each other forever without waiting for
// an answer: the conversation would never stop sending.
func (c *Content) checkLoops() Problems {
	f := c.Flow
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var ps Problems
	var visit func(id string, path []string)
	visit = func(id string, path []string) {
		n := f.Nodes[id]
		if n == nil || state[id] == done {
			return
		}
		if state[id] == visiting {
			n := f.Nodes[path[0]]
			ps.add(Problem{File: n.File, Line: n.Line, Key: path[0], Msg: "loop without a menu or question: " + strings.Join(append(path, id), " → ")})
			return
		}
		state[id] = visiting
		for _, next := range n.autoEdges() {
			visit(next, append(path, id))
		}
		state[id] = done
	}
	ids := slices.Sorted(maps.Keys(f.Nodes))
	for _, id := range ids {
		visit(id, nil)
	}
	return ps
}

// checkMessages checks that every message used exists in every language with
// the same template fields and the plural forms each language needs.
func (c *Content) checkMessages(used map[string][]usage) Problems {
	var ps Problems
	langs := c.Languages
	all := map[string]bool{}
	for _, loc := range c.locales {
		for id := range loc.Messages {
			all[id] = true
		}
	}
	for id, uses := range used {
		for _, lang := range langs {
			loc := c.locales[lang]
			if loc == nil {
				continue
			}
			if _, ok := loc.Messages[id]; !ok && !all[id] {
				u := uses[0]
				ps.add(Problem{File: u.file, Line: u.line, Key: u.key, Msg: fmt.Sprintf("message %q does not exist in any language", id)})
				break
			}
		}
	}
	ids := slices.Sorted(maps.Keys(all))
	ref := ""
	if len(langs) > 0 {
		ref = langs[0]
	}
	for _, id := range ids {
		var refVars []string
		var refLang string
		for _, lang := range langs {
			loc := c.locales[lang]
			if loc == nil {
				continue
			}
			m, ok := loc.Messages[id]
			if !ok {
				where := ""
				if u, ok := used[id]; ok {
					where = fmt.Sprintf(" (used at %s:%d)", u[0].file, u[0].line)
				}
				if strings.HasSuffix(id, VoiceSuffix) {
					// A call in lang reads the written text instead.
					ps.add(Problem{File: loc.File, Key: id, Warning: true, Msg: fmt.Sprintf("spoken variant missing in %s: a call in %s says the written text", lang, lang)})
					continue
				}
				ps.add(Problem{File: loc.File, Key: id, Msg: fmt.Sprintf("missing in %s%s", lang, where)})
				continue
			}
			vars, err := messageVars(m)
			if err != nil {
				continue // checkRender tells what is wrong
			}
			if refLang == "" {
				refVars, refLang = vars, lang
			} else if !slices.Equal(vars, refVars) {
				ps.add(Problem{File: loc.File, Line: m.Line, Key: id, Msg: fmt.Sprintf("uses {{%s}} but %s uses {{%s}}: the languages must use the same fields",
					strings.Join(dotted(vars), "}} {{"), refLang, strings.Join(dotted(refVars), "}} {{"))})
			}
			if m.Plural {
				for _, cat := range needed(lang) {
					if _, ok := m.Forms[cat]; !ok {
						ps.add(Problem{File: loc.File, Line: m.Line, Key: id, Msg: fmt.Sprintf("plural form %q missing: %s needs %s", cat, lang, strings.Join(needed(lang), ", "))})
					}
				}
			}
		}
		if _, ok := used[id]; !ok && !dataMessage(id) && ref != "" {
			if m := c.locales[ref].Messages[id]; m != nil {
				ps.add(Problem{File: c.locales[ref].File, Line: m.Line, Key: id, Msg: "not used by any flow", Warning: true})
			}
		}
	}
	return ps
}

func needed(lang string) []string {
	if cats, ok := neededCategories[lang]; ok {
		return cats
	}
	return []string{"other"}
}

func dataMessage(id string) bool {
	for _, p := range []string{PrefixItem, PrefixSite, PrefixWeekday, PrefixMonth, PrefixPoster} {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

func messageVars(m *Message) ([]string, error) {
	var all []string
	for _, text := range m.Forms {
		vars, err := templateVars(text)
		if err != nil {
			return nil, err
		}
		all = append(all, vars...)
	}
	if m.Plural {
		all = append(all, "Count")
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

func dotted(vars []string) []string {
	out := make([]string, len(vars))
	for i, v := range vars {
		out[i] = "." + v
	}
	if len(out) == 0 {
		return []string{" "}
	}
	return out
}

func sortProblems(ps Problems) {
	slices.SortFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		return a.Line - b.Line
	})
}

// sampleFields fills every field the bot declares, for checkRender: values
// as long as the bot's usual ones.
var sampleFields = map[string]any{
	"Bring": "une pièce d'identité", "Count": 2, "Date": "samedi 14 juin", "Day": "14",
	"End": "12:00", "Hours": "du lundi au vendredi, de 9 h à 17 h", "Items": "riz, huile, savon", "Key": "2", "Label": "Santé", "Month": "juin", "Months": 6, "Phone": "+212522000000", "Org": "Association d'aide aux migrants",
	"Place": "Salle municipale, rue 12", "Site": "Casablanca", "Start": "09:00",
	"Time": "09:00 - 12:00", "Weekday": "samedi", "Who": "familles avec enfants",
}

// checkRender renders every form of every message of every message file
// (a language not offered too) with sampleFields, by the renderer the bot
// uses. It refuses a text that is more than {{.Field}} substitutions, a
// field the bot does not fill, and a text over MaxMessageChars.
func (c *Content) checkRender() Problems {
	var ps Problems
	langs := slices.Sorted(maps.Keys(c.locales))
	for _, lang := range langs {
		loc := c.locales[lang]
		ids := slices.Sorted(maps.Keys(loc.Messages))
		for _, id := range ids {
			m := loc.Messages[id]
			for _, cat := range pluralCategories {
				text, ok := m.Forms[cat]
				if !ok {
					continue
				}
				at := func(msg string) {
					if m.Plural {
						msg = cat + ": " + msg
					}
					ps.add(Problem{File: loc.File, Line: m.line(cat), Key: id, Msg: msg})
				}
				t, err := parseFields(text)
				if err != nil {
					at(err.Error())
					continue
				}
				t.strict = true
				out, err := t.Execute(sampleFields)
				if err != nil {
					at(fmt.Sprintf("%v (it fills %s)", err, strings.Join(dotted(TemplateFields), " ")))
					continue
				}
				if n := utf8.RuneCountInString(out); n > MaxMessageChars {
					at(fmt.Sprintf("%d characters with its fields filled: a message has at most %d (the longest text one SMS can carry)", n, MaxMessageChars))
				}
			}
		}
	}
	return ps
}

// checkUrgent checks the danger section: where it leads, and that every
// category has a text and words that fold to something in every language.
func (c *Content) checkUrgent(use func(id, file string, line int, key string), node func(id, file string, line int, key, field string)) Problems {
	var ps Problems
	u := c.Flow.Urgent
	if u.File == "" {
		// No danger section: nothing is heard, which validate says.
		ps.add(Problem{File: "flows", Key: "urgent", Msg: "no urgent section: words of danger are not heard", Warning: true})
		return ps
	}
	node(u.Offer, u.File, u.Line, "urgent.offer", "offer")
	node(u.Recorded, u.File, u.Line, "urgent.recorded", "recorded")
	if n := c.Flow.Nodes[u.Offer]; n != nil && !n.Waits() {
		ps.add(Problem{File: u.File, Line: u.Line, Key: "urgent.offer", Msg: fmt.Sprintf("%q is a %s: the offer of a person must wait for an answer (a menu or a question)", u.Offer, n.Kind)})
	}
	if len(u.Categories) == 0 {
		ps.add(Problem{File: u.File, Line: u.Line, Key: "urgent", Msg: "urgent has no categories"})
	}
	names := map[string]bool{}
	for _, cat := range u.Categories {
		key := "urgent." + cat.Name
		switch {
		case cat.Name == "":
			ps.add(Problem{File: u.File, Line: cat.Line, Key: "urgent", Msg: "a category needs a name"})
		case names[cat.Name]:
			ps.add(Problem{File: u.File, Line: cat.Line, Key: key, Msg: "category defined twice"})
		}
		names[cat.Name] = true
		if cat.Text == "" {
			ps.add(Problem{File: u.File, Line: cat.Line, Key: key, Msg: "text is missing"})
		}
		use(cat.Text, u.File, cat.Line, key)
		for lang := range cat.Words {
			if c.locales[lang] == nil {
				ps.add(Problem{File: u.File, Line: cat.Line, Key: key, Msg: fmt.Sprintf("words for %q, which has no message file", lang)})
			}
		}
		for _, lang := range c.Flow.Settings.Languages {
			if len(cat.Words[lang]) == 0 {
				ps.add(Problem{File: u.File, Line: cat.Line, Key: key, Msg: fmt.Sprintf("no words for %q: danger written in it would not be heard", lang)})
			}
			for _, w := range cat.Words[lang] {
				if foldPhrase(w) == nil {
					ps.add(Problem{File: u.File, Line: cat.Line, Key: key, Msg: fmt.Sprintf("%s word %q folds to nothing: it can never match", lang, w)})
				}
			}
		}
	}
	return ps
}

// checkPerSite checks a per-site message: it asks the site first with a
// question that comes back to it, and its per-site texts ("<text>_<site>",
// for the default sites) count as used. Every language has the generic
// text (checked as for any message); a per-site text, optional, must then
// exist in every language too (checkMessages: a message in one language
// is missing in the others).
func (c *Content) checkPerSite(n *Node, at func(string, ...any), next func(string, string), use func(id, file string, line int, key string)) {
	if !n.PerSite {
		if n.Ask != "" {
			at("ask is only for a per_site message")
		}
		return
	}
	if n.Ask == "" {
		at("a per_site message needs ask: the question that asks the site when it is not known")
		return
	}
	next(n.Ask, "ask")
	if q := c.Flow.Nodes[n.Ask]; q != nil {
		switch {
		case q.Kind != KindQuestion || q.Expect != ExpectSite:
			at("ask %q is not a question with expect: site", n.Ask)
		case q.Save != VarSite:
			at("ask %q saves %q: it must save %q, the site a per-site message reads", n.Ask, q.Save, VarSite)
		case q.Goto != n.ID:
			at("ask %q goes to %q, not back to %q: the person would never get this text", n.Ask, q.Goto, n.ID)
		}
	}
	for _, site := range c.Flow.Sites {
		id := SiteMessageID(n.Text, site)
		for _, loc := range c.locales {
			if _, ok := loc.Messages[id]; ok {
				use(id, n.File, n.Line, n.ID)
				break
			}
		}
	}
}

// maxStaffHours bounds MsgStaffHours: it is said inside the replies to a
// request to talk to a person, which must stay short (they are SMS).
const maxStaffHours = 80

// checkStaffHours refuses, in each language, staff hours with fields or
// longer than maxStaffHours.
func (c *Content) checkStaffHours() Problems {
	var ps Problems
	for _, lang := range slices.Sorted(maps.Keys(c.locales)) {
		loc := c.locales[lang]
		m, ok := loc.Messages[MsgStaffHours]
		if !ok {
			continue
		}
		text := m.Forms["other"]
		switch n := len([]rune(text)); {
		case strings.Contains(text, "{{"):
			ps.add(Problem{File: loc.File, Line: m.Line, Key: MsgStaffHours, Msg: "when staff answer is said in words only: no {{.Field}}"})
		case n > maxStaffHours:
			ps.add(Problem{File: loc.File, Line: m.Line, Key: MsgStaffHours, Msg: fmt.Sprintf("%d characters, at most %d: it is said inside the replies to a request, which are SMS", n, maxStaffHours)})
		}
	}
	return ps
}
