package engine

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/outreach-org/outreach/bot/content"
)

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

func shipped(t *testing.T) *content.Content {
	t.Helper()
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatalf("shipped content: %v", err)
	}
	return c
}

func newEngine(t *testing.T) *Engine {
	t.Helper()
	loc, err := time.LoadLocation("Africa/Casablanca")
	if err != nil {
		t.Fatal(err)
	}
	return &Engine{Content: shipped(t), Location: loc, IdleAfter: time.Hour}
}

func defaultData(c *content.Content) Data {
	var d Data
	for _, id := range c.Flow.Sites {
		d.Sites = append(d.Sites, Site{ID: id})
	}
	return d
}

// conversation feeds messages one minute apart and returns every step's result.
type conversation struct {
	t    *testing.T
	e    *Engine
	st   State
	now  time.Time
	data Data
}

func newConversation(t *testing.T, e *Engine) *conversation {
	return &conversation{t: t, e: e, now: t0, data: defaultData(e.Content)}
}

func (c *conversation) send(text string) Result {
	c.t.Helper()
	c.now = c.now.Add(time.Minute)
	res := c.e.Step(c.st, Input{Text: text, Now: c.now}, c.data)
	if len(res.Replies) == 0 {
		c.t.Fatalf("%q got no reply: a message must never go unanswered", text)
	}
	c.st = res.State
	return res
}

// text returns the message id in lang as the engine would say it without data.
func text(c *content.Content, lang, id string) string {
	return c.Text(lang, id, map[string]any{"Site": "", "Org": c.Text(lang, content.MsgOrgDefault, nil)})
}

func joined(res Result) string {
	var parts []string
	for _, r := range res.Replies {
		parts = append(parts, r.Text)
	}
	return strings.Join(parts, "\n---\n")
}

func mustContain(t *testing.T, res Result, want string) {
	t.Helper()
	if !strings.Contains(joined(res), want) {
		t.Errorf("replies do not contain %q:\n%s", want, joined(res))
	}
}

func TestFirstMessagePicksLanguage(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	tests := []struct {
		first string
		lang  string
	}{
		{"Bonjour", "fr"},
		{"salut !", "fr"},
		{"bonjour, j'ai une question", "fr"},
		{"Hello", "en"},
		{"hi", "en"},
		{"مرحبا", "ar"},
		{"السلام عليكم", "ar"},
		{"أريد مساعدة", "ar"},
		{"سلام", "ar"},
		{"Marhaba", "ar"},
	}
	for _, tt := range tests {
		t.Run(tt.first, func(t *testing.T) {
			conv := newConversation(t, e)
			res := conv.send(tt.first)
			if res.State.Lang != tt.lang {
				t.Fatalf("language = %q, want %q", res.State.Lang, tt.lang)
			}
			if len(res.Replies) != 2 {
				t.Fatalf("want welcome then main menu, got %d replies:\n%s", len(res.Replies), joined(res))
			}
			if got, want := res.Replies[0].Text, text(c, tt.lang, "welcome"); got != want {
				t.Errorf("first reply = %q, want the welcome %q", got, want)
			}
			mustContain(t, res, text(c, tt.lang, "main_title"))
			if res.State.Node != "main" {
				t.Errorf("node = %q, want main", res.State.Node)
			}
			// 1 distributions … 5 language, 6 protection and rights, 0 a person.
			if got := len(res.Replies[1].Choices); got != 7 {
				t.Errorf("main menu offers %d choices, want 7", got)
			}
		})
	}
}

func TestChannelLanguageHint(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	res := e.Step(State{}, Input{Text: "MENU", Now: t0, Lang: "ar-MA"}, defaultData(c))
	if res.State.Lang != "ar" {
		t.Errorf("MENU with hint ar-MA: language %q, want ar", res.State.Lang)
	}
	res = e.Step(State{}, Input{Text: "???", Now: t0, Lang: "en"}, defaultData(c))
	if res.State.Lang != "en" || res.Replies[0].Text != text(c, "en", "welcome") {
		t.Errorf("??? with hint en: language %q", res.State.Lang)
	}
	res = e.Step(State{}, Input{Text: "Bonjour", Now: t0, Lang: "en"}, defaultData(c))
	if res.State.Lang != "fr" {
		t.Errorf("Bonjour with hint en: language %q, want fr (the text tells)", res.State.Lang)
	}
	res = e.Step(State{}, Input{Text: "???", Now: t0, Lang: "de"}, defaultData(c))
	if res.State.Lang != "" || res.State.Node != "first_language" {
		t.Errorf("??? with hint de: state %+v, want the language question", res.State)
	}
}

func TestUnknownLanguageAsksFirst(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	conv := newConversation(t, e)
	res := conv.send("???")
	for _, lang := range []string{"fr", "en", "ar"} {
		mustContain(t, res, text(c, lang, "language_prompt"))
		mustContain(t, res, text(c, lang, "language_name"))
	}
	if res.State.Lang != "" || res.State.Node != "first_language" {
		t.Fatalf("state = %+v, want no language and waiting at first_language", res.State)
	}
	res = conv.send("٣") // Arabic-Indic three
	if res.State.Lang != "ar" {
		t.Fatalf("after ٣ language = %q, want ar", res.State.Lang)
	}
	mustContain(t, res, text(c, "ar", "welcome"))
	mustContain(t, res, text(c, "ar", "main_title"))
}

func TestLanguageChoiceGivesUpAfterMaxTries(t *testing.T) {
	e := newEngine(t)
	conv := newConversation(t, e)
	conv.send("???")
	conv.send("7")
	res := conv.send("x")
	if res.State.Node != "first_language" {
		t.Fatalf("after two wrong answers node = %q, want first_language", res.State.Node)
	}
	res = conv.send("y")
	if res.State.Lang != "fr" || res.State.Node != "main" {
		t.Fatalf("after three wrong answers state = %+v, want French at the main menu", res.State)
	}
}

func TestHealthBranch(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	conv := newConversation(t, e)
	conv.send("Bonjour")
	res := conv.send("2")
	mustContain(t, res, text(c, "fr", "health_title"))
	if res.State.Node != "health" {
		t.Fatalf("node = %q, want health", res.State.Node)
	}
	res = conv.send("3")
	mustContain(t, res, text(c, "fr", "health_emergency"))
	for _, number := range []string{"15", "19", "177", "141"} {
		mustContain(t, res, number)
	}
	mustContain(t, res, text(c, "fr", "footer_menu"))
	// Resting at the health menu: another number is another topic.
	res = conv.send("٤")
	mustContain(t, res, text(c, "fr", "health_vaccination"))
	res = conv.send("0")
	mustContain(t, res, text(c, "fr", "main_title"))
}

func TestEveryOptionLeadsBackToAMenu(t *testing.T) {
	// Walk every option of every menu in every language: each answer must get
	// a reply and leave the person waiting at a menu or a question.
	e := newEngine(t)
	c := e.Content
	for _, lang := range c.Languages {
		for id, n := range c.Flow.Nodes {
			if n.Kind != content.KindMenu {
				continue
			}
			for _, o := range n.Options {
				st := State{Lang: lang, Node: id, LastSeen: t0}
				res := e.Step(st, Input{Text: fmt.Sprint(o.Key), Now: t0.Add(time.Minute)}, defaultData(c))
				if len(res.Replies) == 0 {
					t.Errorf("%s: menu %s option %d: no reply", lang, id, o.Key)
				}
				if w := c.Flow.Nodes[res.State.Node]; w == nil || !w.Waits() {
					t.Errorf("%s: menu %s option %d: left at %q, not a menu or question", lang, id, o.Key, res.State.Node)
				}
				if res.Guarded {
					t.Errorf("%s: menu %s option %d: loop guard tripped", lang, id, o.Key)
				}
			}
		}
	}
}

func TestInvalidChoiceRepeatsMenu(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	conv := newConversation(t, e)
	conv.send("hello")
	res := conv.send("42")
	if len(res.Replies) != 1 {
		t.Fatalf("want one reply, got %d", len(res.Replies))
	}
	mustContain(t, res, text(c, "en", "invalid_choice"))
	mustContain(t, res, text(c, "en", "main_title"))
	if res.State.Node != "main" {
		t.Errorf("node = %q, want main", res.State.Node)
	}
}

func TestKeywordsWorkAtEveryStep(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	tests := []struct {
		word string
		want string // message id in the reply
		node string
	}{
		{"MENU", "main_title", "main"},
		{"menu", "main_title", "main"},
		{"القائمة", "main_title", "main"},
		{"AIDE", "help_title", "help"},
		{"help", "help_title", "help"},
		{"مساعدة", "help_title", "help"},
		{"LANGUE", "language_prompt", "language"},
		{"لغة", "language_prompt", "language"},
		{"Arrêt", "stop_ack", "main"},
		{"ARRET", "stop_ack", "main"},
		{"stop", "stop_ack", "main"},
		{"توقف", "stop_ack", "main"},
	}
	for _, tt := range tests {
		for _, at := range []string{"main", "health", "person", "notices_site", "language"} {
			t.Run(tt.word+"@"+at, func(t *testing.T) {
				st := State{Lang: "fr", Node: at, LastSeen: t0}
				res := e.Step(st, Input{Text: tt.word, Now: t0.Add(time.Minute)}, defaultData(c))
				mustContain(t, res, text(c, "fr", tt.want))
				if res.State.Node != tt.node {
					t.Errorf("node = %q, want %q", res.State.Node, tt.node)
				}
			})
		}
	}
}

func TestStopAcknowledgesInPersonsLanguage(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	for _, tt := range []struct{ first, lang string }{{"Bonjour", "fr"}, {"hello", "en"}, {"مرحبا", "ar"}} {
		conv := newConversation(t, e)
		conv.send(tt.first)
		res := conv.send("STOP")
		if got, want := res.Replies[0].Text, text(c, tt.lang, "stop_ack"); got != want {
			t.Errorf("%s: STOP got %q, want %q", tt.lang, got, want)
		}
		if !res.State.OptedOut {
			t.Errorf("%s: not opted out after STOP", tt.lang)
		}
		if len(res.Effects) != 1 || res.Effects[0].Kind != EffectOptOut {
			t.Errorf("%s: effects = %+v, want one opt_out", tt.lang, res.Effects)
		}
		res = conv.send("START")
		if res.State.OptedOut {
			t.Errorf("%s: still opted out after START", tt.lang)
		}
		mustContain(t, res, text(c, tt.lang, "start_ack"))
	}
	// A first message that is a keyword also tells the language.
	conv := newConversation(t, e)
	res := conv.send("HELP")
	if res.State.Lang != "en" {
		t.Errorf("first message HELP: language %q, want en", res.State.Lang)
	}
	// A first MENU gets the welcome, with its privacy notice, before the menu.
	conv = newConversation(t, e)
	res = conv.send("القائمة")
	if res.State.Lang != "ar" || len(res.Replies) != 2 || res.Replies[0].Text != text(c, "ar", "welcome") {
		t.Errorf("first message القائمة: language %q, replies:\n%s", res.State.Lang, joined(res))
	}
}

func TestSwitchLanguageAtAnyTime(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	conv := newConversation(t, e)
	conv.send("Bonjour")
	conv.send("3") // school
	res := conv.send("LANGUAGE")
	if res.State.Node != "language" {
		t.Fatalf("node = %q, want language", res.State.Node)
	}
	res = conv.send("2")
	if res.State.Lang != "en" {
		t.Fatalf("language = %q, want en", res.State.Lang)
	}
	mustContain(t, res, text(c, "en", "language_set"))
	mustContain(t, res, text(c, "en", "main_title"))
	res = conv.send("5") // menu 5, then Arabic by its name
	mustContain(t, res, text(c, "en", "language_prompt"))
	res = conv.send("العربية")
	if res.State.Lang != "ar" {
		t.Fatalf("language = %q, want ar", res.State.Lang)
	}
	if _, ok := res.State.Vars["lang"]; ok {
		t.Error("the language answer is left in the saved answers")
	}
}

func TestIdleConversationStartsAgain(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	conv := newConversation(t, e)
	conv.send("Bonjour")
	conv.send("2")
	conv.now = conv.now.Add(2 * time.Hour)
	res := conv.send("merci")
	if got, want := res.Replies[0].Text, text(c, "fr", "welcome_back"); got != want {
		t.Errorf("after a long silence first reply = %q, want %q", got, want)
	}
	if res.State.Node != "main" {
		t.Errorf("node = %q, want main", res.State.Node)
	}
	// Within the idle time the conversation goes on.
	conv.send("2")
	res = conv.send("3")
	mustContain(t, res, text(c, "fr", "health_emergency"))
}

func TestTalkToAPerson(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	conv := newConversation(t, e)
	conv.send("hello")
	res := conv.send("0")
	mustContain(t, res, text(c, "en", "person_ask"))
	res = conv.send("My child is sick and the centre refused us")
	mustContain(t, res, text(c, "en", "person_recorded"))
	if len(res.Effects) != 1 || res.Effects[0].Kind != EffectHandover || res.Effects[0].Text != "My child is sick and the centre refused us" || res.Effects[0].Lang != "en" {
		t.Fatalf("effects = %+v, want one handover with the text", res.Effects)
	}
	if _, ok := res.State.Vars["request"]; ok {
		t.Error("the request text stays in the dialog state")
	}
	if res.State.Node != "main" {
		t.Errorf("node = %q, want main", res.State.Node)
	}
	// 0 at the question goes back without recording anything.
	conv.send("0")
	res = conv.send("0")
	if len(res.Effects) != 0 || res.State.Node != "main" {
		t.Errorf("0 at the question: effects %+v node %q, want none and main", res.Effects, res.State.Node)
	}
}

func TestQuietWhileARequestIsOpen(t *testing.T) {
	e := newEngine(t)
	st := State{Lang: "fr", Node: "main", LastSeen: t0, Request: "r1"}
	res := e.Step(st, Input{Text: "Mon enfant est malade", Now: t0.Add(time.Minute)}, defaultData(e.Content))
	if len(res.Replies) != 0 || len(res.Effects) != 1 || res.Effects[0].Kind != EffectNote || res.Effects[0].Text != "Mon enfant est malade" {
		t.Errorf("replies %d, effects %+v: want silence and a note", len(res.Replies), res.Effects)
	}
	res = e.Step(st, Input{Text: "MENU", Now: t0.Add(time.Minute)}, defaultData(e.Content))
	if len(res.Replies) != 1 || res.State.Request != "r1" {
		t.Errorf("a keyword while a request is open: %d replies, request %q", len(res.Replies), res.State.Request)
	}
	// The menu still works: a bare option number navigates.
	res = e.Step(st, Input{Text: "2", Now: t0.Add(time.Minute)}, defaultData(e.Content))
	if len(res.Replies) != 1 || res.State.Node != "health" || len(res.Effects) != 0 {
		t.Errorf("2 at the main menu while a request is open: node %q, effects %+v", res.State.Node, res.Effects)
	}
}

func TestSubscribeToASite(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	conv := newConversation(t, e)
	conv.send("Bonjour")
	conv.send("4")
	res := conv.send("1")
	for _, site := range c.Flow.Sites {
		mustContain(t, res, text(c, "fr", "site_"+site))
	}
	res = conv.send("9") // no ninth site
	mustContain(t, res, text(c, "fr", "site_retry"))
	res = conv.send("oujda") // a name works as well as a number
	mustContain(t, res, "Oujda")
	if len(res.State.Sites) != 1 || res.State.Sites[0] != "oujda" {
		t.Fatalf("subscriptions = %v, want [oujda]", res.State.Sites)
	}
	if len(res.Effects) != 1 || res.Effects[0].Kind != EffectSubscribe {
		t.Fatalf("effects = %+v", res.Effects)
	}
	conv.send("4")
	res = conv.send("2")
	if len(res.State.Sites) != 0 || len(res.Effects) != 1 || res.Effects[0].Kind != EffectUnsubscribe {
		t.Fatalf("after unsubscribe: sites %v effects %+v", res.State.Sites, res.Effects)
	}
}

func TestDistributionsFromData(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	conv := newConversation(t, e)
	// Saturday 5 December 2026, 09:00-12:00 in Morocco (UTC+1).
	start := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	conv.data.Distributions = []Distribution{
		{ID: "d1", Site: "nador", StartsAt: start, EndsAt: start.Add(3 * time.Hour),
			Place: map[string]string{"fr": "Terrain de l'association", "ar": "ملعب الجمعية"},
			Items: []string{"rice", "oil", "blanket"}, Bring: map[string]string{"fr": "le ticket"}},
		{ID: "past", Site: "nador", StartsAt: t0.Add(-48 * time.Hour), EndsAt: t0.Add(-47 * time.Hour)},
		{ID: "other", Site: "rabat", StartsAt: start, EndsAt: start.Add(time.Hour)},
		{ID: "cancelled", Site: "nador", StartsAt: start, EndsAt: start.Add(time.Hour), Cancelled: true},
	}
	// This site shows its exact places to everyone.
	conv.data.Sites[0].ExactPlace = ExactPlaceEveryone
	conv.send("Bonjour")
	res := conv.send("1")
	if res.State.Node != "dist_site" {
		t.Fatalf("no site yet: node = %q, want dist_site", res.State.Node)
	}
	res = conv.send("1") // Nador
	for _, want := range []string{
		"samedi", "5", "décembre", "09:00", "12:00", "Terrain de l'association",
		text(c, "fr", "item_rice"), text(c, "fr", "item_oil"), text(c, "fr", "item_blanket"),
		"le ticket", text(c, "fr", "dist_free"),
		c.Plural("fr", "dist_header", 1, map[string]any{"Site": "Nador"}),
	} {
		mustContain(t, res, want)
	}
	if strings.Contains(joined(res), "Rabat") {
		t.Error("a distribution of another site is shown")
	}
	if res.State.Node != "dist_menu" {
		t.Errorf("node = %q, want dist_menu", res.State.Node)
	}
	// The site is remembered; Arabic shows Arabic place and month.
	conv.st.Lang = "ar"
	conv.send("MENU")
	res = conv.send("1")
	for _, want := range []string{"ملعب الجمعية", text(c, "ar", "month_12"), text(c, "ar", "weekday_6"), "le ticket"} {
		mustContain(t, res, want)
	}
	// Another site with nothing planned says so.
	res = conv.send("1")
	res = conv.send("2") // Oujda
	mustContain(t, res, c.Text("ar", "dist_none", map[string]any{"Site": text(c, "ar", "site_oujda")}))
}

func TestPluralForms(t *testing.T) {
	c := shipped(t)
	seen := map[string]bool{}
	for _, n := range []int{0, 1, 2, 3, 11, 100} {
		seen[c.Plural("ar", "dist_header", n, map[string]any{"Site": "x"})] = true
	}
	if len(seen) != 6 {
		t.Errorf("Arabic dist_header: %d different texts for 0, 1, 2, 3, 11, 100; want 6 (zero, one, two, few, many, other)", len(seen))
	}
	if c.Plural("en", "dist_header", 1, nil) == c.Plural("en", "dist_header", 2, nil) {
		t.Error("English dist_header: same text for 1 and 2")
	}
	if c.Plural("fr", "dist_header", 0, nil) != strings.Replace(c.Plural("fr", "dist_header", 1, nil), "1", "0", 1) {
		t.Error("French dist_header: 0 does not take the singular form")
	}
}

func TestLoopGuard(t *testing.T) {
	files := content.FromFiles(shipped(t).Files()).(fstest.MapFS)
	// A partner mistake: two messages that go to each other forever.
	files["flows/loop.yaml"] = &fstest.MapFile{Data: []byte(`
nodes:
  loop_a: {type: message, text: welcome_back, goto: loop_b}
  loop_b: {type: message, text: welcome_back, goto: loop_a}
`)}
	main := string(files["flows/main.yaml"].Data)
	main = strings.Replace(main, "goto: health_help}", "goto: loop_a}", 1)
	files["flows/main.yaml"].Data = []byte(main)
	c, problems := content.Check(files)
	if !strings.Contains(problems.Error(), "loop without a menu or question") {
		t.Fatalf("validation does not report the loop:\n%v", problems)
	}
	e := &Engine{Content: c, MaxReplies: 4}
	res := e.Step(State{Lang: "fr", Node: "health", LastSeen: t0}, Input{Text: "6", Now: t0}, defaultData(c))
	if !res.Guarded {
		t.Fatal("loop guard did not trip")
	}
	if len(res.Replies) != 4 {
		t.Errorf("%d replies, want the guard's bound of 4", len(res.Replies))
	}
	if res.State.Node != "main" {
		t.Errorf("node = %q, want main after the guard", res.State.Node)
	}
}

func TestLoopGuardBound(t *testing.T) {
	e := newEngine(t)
	e.MaxReplies = 1
	res := e.Step(State{}, Input{Text: "Bonjour", Now: t0}, defaultData(e.Content))
	if len(res.Replies) != 1 || !res.Guarded {
		t.Errorf("MaxReplies 1: %d replies, guarded %v; want 1 reply, guarded", len(res.Replies), res.Guarded)
	}
}

func TestLoopGuardNeverSilent(t *testing.T) {
	files := content.FromFiles(shipped(t).Files()).(fstest.MapFS)
	// Two actions that go to each other: nothing is ever said.
	files["flows/loop.yaml"] = &fstest.MapFile{Data: []byte(`
nodes:
  loop_a: {type: action, do: opt_in, goto: loop_b}
  loop_b: {type: action, do: opt_in, goto: loop_a}
`)}
	main := string(files["flows/main.yaml"].Data)
	files["flows/main.yaml"].Data = []byte(strings.Replace(main, "goto: health_help}", "goto: loop_a}", 1))
	c, _ := content.Check(files)
	e := &Engine{Content: c}
	res := e.Step(State{Lang: "en", Node: "health", LastSeen: t0}, Input{Text: "6", Now: t0}, defaultData(c))
	if !res.Guarded || len(res.Replies) != 1 || !strings.Contains(res.Replies[0].Text, text(c, "en", "main_title")) {
		t.Errorf("guarded %v, replies:\n%s\nwant the main menu", res.Guarded, joined(res))
	}
}

func TestRequestKeptAsWritten(t *testing.T) {
	e := newEngine(t)
	conv := newConversation(t, e)
	conv.send("مرحبا")
	conv.send("0")
	conv.now = conv.now.Add(3 * time.Hour) // a long silence before writing
	res := conv.send(" رقمي ٠٦١٢ ")
	if len(res.Effects) != 1 || res.Effects[0].Text != "رقمي ٠٦١٢" {
		t.Fatalf("effects = %+v, want the request as written, even after a silence", res.Effects)
	}
}

func TestStepIsPure(t *testing.T) {
	e := newEngine(t)
	st := State{Lang: "fr", Node: "notices_site", LastSeen: t0, Vars: map[string]string{"site": "nador"}, Sites: []string{"nador"}}
	before := fmt.Sprintf("%+v", st)
	a := e.Step(st, Input{Text: "2", Now: t0.Add(time.Minute)}, defaultData(e.Content))
	b := e.Step(st, Input{Text: "2", Now: t0.Add(time.Minute)}, defaultData(e.Content))
	if fmt.Sprintf("%+v", st) != before {
		t.Error("Step changed the state it was given")
	}
	if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
		t.Error("the same step twice gave different results")
	}
}

func TestUnknownNodeGoesToMainMenu(t *testing.T) {
	e := newEngine(t)
	res := e.Step(State{Lang: "en", Node: "removed_node", LastSeen: t0}, Input{Text: "1", Now: t0}, defaultData(e.Content))
	if len(res.Replies) != 2 || res.Replies[0].Text != text(e.Content, "en", "content_updated") {
		t.Errorf("a person whose step is gone: replies %q; want a short note, then the menu", joined(res))
	}
	mustContain(t, res, text(e.Content, "en", "main_title"))
}

// Arabic spelling variants and the letters of Persian and Urdu phone
// keyboards are the shipped keywords and site names, at any step.
func TestArabicSpellingVariants(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	tests := []struct {
		word string
		want string // message id in the reply
		node string
	}{
		{"القائمه", "main_title", "main"}, // ه for ة
		{"قائمه", "main_title", "main"},
		{"مساعده", "help_title", "help"},
		{"مُسَاعَدَه", "help_title", "help"}, // with harakat
		{"مسـاعـده", "help_title", "help"},   // with tatweel
		{"إحذف", "erase_confirm", "erase"},   // إ for ا
		{"ٱحذف", "erase_confirm", "erase"},   // alef wasla
		{"اللغه", "language_prompt", "language"},
		{"إبدأ", "start_ack", "main"},
	}
	for _, tt := range tests {
		for _, at := range []string{"main", "health", "notices_site"} {
			t.Run(tt.word+"@"+at, func(t *testing.T) {
				st := State{Lang: "ar", Node: at, LastSeen: t0}
				res := e.Step(st, Input{Text: tt.word, Now: t0.Add(time.Minute)}, defaultData(c))
				mustContain(t, res, text(c, "ar", tt.want))
				if res.State.Node != tt.node {
					t.Errorf("node = %q, want %q", res.State.Node, tt.node)
				}
			})
		}
	}
	// Site names: ه for ة, Persian ی for ي.
	for answer, site := range map[string]string{"وجده": "oujda", "طنجه": "tanger", "الدار البیضاء": "casablanca"} {
		t.Run(answer, func(t *testing.T) {
			st := State{Lang: "ar", Node: "notices_site", LastSeen: t0}
			res := e.Step(st, Input{Text: answer, Now: t0.Add(time.Minute)}, defaultData(c))
			if len(res.State.Sites) != 1 || res.State.Sites[0] != site {
				t.Fatalf("subscriptions = %v, want [%s]:\n%s", res.State.Sites, site, joined(res))
			}
		})
	}
}

// "salam" in Latin letters does not tell the language (francophone West
// Africans greet with it too): the bot asks. Arabic script still means Arabic.
func TestLatinSalamAsksTheLanguage(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	for _, first := range []string{"Salam", "salam !", "SALAAM", "slm", "Salam alaykoum", "salam alaikum", "Assalamu alaikum", "assalam aleikoum", "salam ça va"} {
		t.Run(first, func(t *testing.T) {
			res := newConversation(t, e).send(first)
			if res.State.Lang != "" || res.State.Node != c.Flow.Settings.ChooseLanguage {
				t.Fatalf("state = %+v, want no language and the language question", res.State)
			}
			for _, lang := range c.Languages {
				mustContain(t, res, text(c, lang, "language_prompt"))
			}
		})
	}
	// A channel's language (Telegram's) then decides, as for any other text.
	res := e.Step(State{}, Input{Text: "Salam", Now: t0, Lang: "fr"}, defaultData(c))
	if res.State.Lang != "fr" {
		t.Errorf("Salam with hint fr: language %q, want fr", res.State.Lang)
	}
	// Arabic script still means Arabic.
	for _, first := range []string{"سلام", "السلام عليكم"} {
		res := e.Step(State{}, Input{Text: first, Now: t0}, defaultData(c))
		if res.State.Lang != "ar" || res.State.Node != "main" {
			t.Errorf("%s: state %+v, want Arabic at main", first, res.State)
		}
	}
}

// Every footer says what to send, in every language: "Autre sujet : son
// numéro" told no one what to do.
func TestFootersSayWhatToSend(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	send := map[string]string{"fr": "envoyez", "en": "send", "ar": "أرسل"}
	for _, lang := range c.Languages {
		verb, ok := send[lang]
		if !ok {
			t.Fatalf("no send verb for %q", lang)
		}
		for _, id := range []string{c.Flow.Settings.FooterMain, c.Flow.Settings.FooterMenu, content.MsgNoticeFooter} {
			if f := text(c, lang, id); !strings.Contains(strings.ToLower(f), verb) {
				t.Errorf("%s %s = %q: does not say %q", lang, id, f, verb)
			}
		}
		// As sent: a health text rests at the health menu with its footer,
		// a subscription rests at the main menu with the other.
		for _, path := range []struct {
			sends  []string
			footer string
		}{
			{[]string{"2", "1"}, c.Flow.Settings.FooterMenu},
			{[]string{"4", "1", "1"}, c.Flow.Settings.FooterMain},
		} {
			st := State{Lang: lang, Node: "main", LastSeen: t0}
			var res Result
			for i, s := range path.sends {
				res = e.Step(st, Input{Text: s, Now: t0.Add(time.Duration(i+1) * time.Minute)}, defaultData(c))
				st = res.State
			}
			last := res.Replies[len(res.Replies)-1].Text
			if want := text(c, lang, path.footer); !strings.HasSuffix(last, "\n"+want) {
				t.Errorf("%s after %v: reply %q does not end with the footer %q", lang, path.sends, last, want)
			}
		}
	}
}

// AIDE, HELP and مساعدة say what the help branch holds (how the service works,
// your data, complaints): people expect aid from the word.
func TestHelpSaysWhatItHolds(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	for _, tt := range []struct {
		lang, word string
		holds      []string
	}{
		{"fr", "AIDE", []string{"mode d'emploi", "vos données", "plaintes"}},
		{"en", "HELP", []string{"how it works", "your data", "complaints"}},
		{"ar", "مساعدة", []string{"كيف تعمل الخدمة", "بياناتك", "الشكاوى"}},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			res := e.Step(State{Lang: tt.lang, Node: "main", LastSeen: t0}, Input{Text: tt.word, Now: t0.Add(time.Minute)}, defaultData(c))
			if res.State.Node != "help" || len(res.Replies) == 0 {
				t.Fatalf("%s: state %+v, want the help menu", tt.word, res.State)
			}
			title := strings.SplitN(res.Replies[0].Text, "\n", 2)[0]
			for _, h := range tt.holds {
				if !strings.Contains(title, h) {
					t.Errorf("%s: help title %q does not say %q", tt.word, title, h)
				}
			}
		})
	}
}

// TestSilenceThenAMenuNumber: after a silence, a main-menu number is
// answered — a short welcome back, then that branch — not dropped for the
// main menu; a number the main menu does not offer still gets the menu.
func TestSilenceThenAMenuNumber(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	for _, tt := range []struct {
		lang, hello, number, node, want string
	}{
		{"fr", "Bonjour", "3", "school", "school_title"},
		{"en", "hello", "1", "dist_site", "dist_which_site"},
		{"ar", "مرحبا", "٠", "person", "person_ask"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			conv := newConversation(t, e)
			conv.send(tt.hello)
			conv.send("2") // health: its own options, 1 to 6
			conv.now = conv.now.Add(2 * time.Hour)
			res := conv.send(tt.number)
			if len(res.Replies) != 1 || res.State.Node != tt.node {
				t.Fatalf("after a silence, %q: node %q, replies:\n%s\nwant one reply at %s", tt.number, res.State.Node, joined(res), tt.node)
			}
			if got := res.Replies[0].Text; !strings.HasPrefix(got, text(c, tt.lang, "welcome_back_short")+"\n") || !strings.Contains(got, text(c, tt.lang, tt.want)) {
				t.Errorf("reply %q: want the short welcome back, then %s", got, tt.want)
			}
		})
	}
	conv := newConversation(t, e)
	conv.send("Bonjour")
	conv.now = conv.now.Add(2 * time.Hour)
	res := conv.send("9") // not a main-menu option
	if got, want := res.Replies[0].Text, text(c, "fr", "welcome_back"); got != want || res.State.Node != "main" {
		t.Errorf("after a silence, 9: first reply %q at %q, want %q and the main menu", got, res.State.Node, want)
	}
}

// TestNumbersGoToStaffOnceTheyReplied: once staff have replied to the open
// request, what the person sends, numbers included, goes to staff in
// silence; a keyword leaves (the menu works again), the request stays open.
func TestNumbersGoToStaffOnceTheyReplied(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	data := defaultData(c)
	at := t0.Add(time.Minute)
	replied := State{Lang: "en", Node: "main", LastSeen: t0, Request: "r1", StaffReplied: true}
	for _, msg := range []string{"2", "٣", "0", "yes please", "1"} {
		res := e.Step(replied, Input{Text: msg, Now: at}, data)
		if len(res.Replies) != 0 || len(res.Effects) != 1 || res.Effects[0].Kind != EffectNote || res.Effects[0].Text != msg || res.State.Node != "main" {
			t.Errorf("%q after staff replied: replies %q, effects %+v, node %q; want silence and a note", msg, joined(res), res.Effects, res.State.Node)
		}
		if !res.State.StaffReplied || res.State.Request != "r1" {
			t.Errorf("%q after staff replied: the conversation with staff ended (%+v)", msg, res.State)
		}
	}
	// Even after a long silence, it is an answer to staff.
	res := e.Step(replied, Input{Text: "3", Now: t0.Add(5 * time.Hour)}, data)
	if len(res.Replies) != 0 || len(res.Effects) != 1 || res.Effects[0].Kind != EffectNote {
		t.Errorf("3 after a silence: replies %q, effects %+v; want a note", joined(res), res.Effects)
	}
	for _, kw := range []string{"MENU", "STOP", "HELP", "LANGUAGE", "DELETE"} {
		res := e.Step(replied, Input{Text: kw, Now: at}, data)
		if len(res.Replies) == 0 || res.State.StaffReplied || res.State.Request != "r1" {
			t.Errorf("%s after staff replied: %d replies, state %+v; want the keyword answered, the request kept", kw, len(res.Replies), res.State)
		}
		for _, ef := range res.Effects {
			if ef.Kind == EffectNote {
				t.Errorf("%s went to staff", kw)
			}
		}
	}
	left := e.Step(replied, Input{Text: "MENU", Now: at}, data).State
	res = e.Step(left, Input{Text: "2", Now: at.Add(time.Minute)}, data)
	if res.State.Node != "health" || len(res.Effects) != 0 {
		t.Errorf("2 after MENU: node %q, effects %+v; want the health menu", res.State.Node, res.Effects)
	}
	mustContain(t, res, text(c, "en", "health_title"))
}

// TestOneCharacterIsNotARequest: one letter, digit or sign where a request
// is asked is not recorded: the person is asked for a few words.
func TestOneCharacterIsNotARequest(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	for _, tt := range []struct{ lang, hello, short, ok string }{
		{"fr", "Bonjour", "a", "Ma fille est malade"},
		{"en", "hello", "1", "no food for 3 days"},
		{"ar", "مرحبا", "؟ب", "ابني مريض"},
	} {
		t.Run(tt.lang, func(t *testing.T) {
			conv := newConversation(t, e)
			conv.send(tt.hello)
			conv.send("0")
			res := conv.send(tt.short)
			if len(res.Effects) != 0 || res.State.Node != "person" {
				t.Fatalf("%q: effects %+v, node %q; want no request and the question again", tt.short, res.Effects, res.State.Node)
			}
			mustContain(t, res, text(c, tt.lang, "person_retry"))
			mustContain(t, res, text(c, tt.lang, "person_ask"))
			res = conv.send(tt.ok)
			if len(res.Effects) != 1 || res.Effects[0].Kind != EffectHandover || res.Effects[0].Text != tt.ok {
				t.Errorf("%q: effects %+v, want the request", tt.ok, res.Effects)
			}
		})
	}
}

// TestThreeMissesOfferAPerson: three answers in a row the bot does not
// understand, at any menu or question, offer a person with the main menu
// (where 0 is a person); an understood answer starts the count again.
func TestThreeMissesOfferAPerson(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	offered := func(res Result, lang string) bool {
		return len(res.Replies) == 1 && res.State.Node == "main" &&
			strings.HasPrefix(res.Replies[0].Text, text(c, lang, "offer_person")+"\n"+text(c, lang, "main_title"))
	}
	// At a question, and at a menu other than the main one.
	for _, path := range [][]string{{"4", "1", "Mars", "zz", "?"}, {"2", "9", "maybe", "77"}} {
		conv := newConversation(t, e)
		conv.send("hello")
		var res Result
		for i, msg := range path {
			res = conv.send(msg)
			if i < len(path)-1 && offered(res, "en") {
				t.Fatalf("%v: offered at %q already", path, msg)
			}
		}
		if !offered(res, "en") {
			t.Fatalf("%v: third miss in a row: node %q, replies:\n%s\nwant the offer of a person and the main menu", path, res.State.Node, joined(res))
		}
		if res = conv.send("0"); res.State.Node != "person" {
			t.Errorf("0 after the offer: node %q, want person", res.State.Node)
		}
	}
	var res Result
	// An understood answer resets the count; so does a keyword.
	conv := newConversation(t, e)
	conv.send("Bonjour")
	conv.send("9")
	conv.send("9")
	conv.send("2") // understood
	conv.send("9")
	conv.send("MENU")
	conv.send("9")
	if res = conv.send("9"); offered(res, "fr") {
		t.Errorf("offered after two misses in a row:\n%s", joined(res))
	}
	if res = conv.send("9"); !offered(res, "fr") {
		t.Errorf("third miss in a row at the main menu: replies:\n%s", joined(res))
	}
	if res = conv.send("9"); offered(res, "fr") {
		t.Errorf("offered again at the next miss: the count does not start again:\n%s", joined(res))
	}
	// In Arabic too.
	conv = newConversation(t, e)
	conv.send("مرحبا")
	conv.send("٩")
	conv.send("؟")
	if res = conv.send("كلام"); !offered(res, "ar") {
		t.Errorf("third miss in Arabic:\n%s", joined(res))
	}
}
