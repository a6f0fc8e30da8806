package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/content"
)

// A call begins with each language offered in itself, in parts that carry
// their language; a known caller gets the welcome back and the main menu,
// its options read as keys to press.
func TestCallBegins(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	data := defaultData(c)
	res := e.Step(State{}, Input{Voice: true, Call: true, Now: t0}, data)
	if len(res.Replies) != 1 || len(res.Replies[0].Parts) != 3 {
		t.Fatalf("replies %+v, want one with a part a language", res.Replies)
	}
	for i, lang := range c.Languages {
		p := res.Replies[0].Parts[i]
		if p.Lang != lang || p.Text != c.VoiceLanguage(lang, string(rune('1'+i))) {
			t.Errorf("part %d: %+v, want %s offered in itself", i, p, lang)
		}
	}
	res = e.Step(res.State, Input{Voice: true, Text: "2", Now: t0.Add(time.Second)}, data)
	if res.State.Lang != "en" {
		t.Fatalf("2 chose %q, want en", res.State.Lang)
	}
	all := joined(res)
	for _, want := range []string{text(c.Spoken(), "en", "welcome"), "Main menu.", "Health care: press 2.", "Talk to a person: press 0."} {
		if !strings.Contains(all, want) {
			t.Errorf("the call does not say %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "reply with a number") || strings.Contains(all, "\n2 Health care") {
		t.Errorf("the call reads the written menu:\n%s", all)
	}
	for _, r := range res.Replies {
		if len(r.Parts) == 0 || r.Parts[0].Lang != "en" {
			t.Errorf("reply %q has parts %+v, want English", r.Text, r.Parts)
		}
	}
	// The same person calls again an hour later: no language question.
	res = e.Step(res.State, Input{Voice: true, Call: true, Now: t0.Add(2 * time.Hour)}, data)
	if !strings.HasPrefix(joined(res), text(c, "en", "welcome_back")) || res.State.Node != c.Flow.Settings.Main {
		t.Errorf("a known caller: at %q:\n%s", res.State.Node, joined(res))
	}
}

// A request to a person on a call asks staff to call back: a caller
// cannot write, and no voice is kept.
func TestCallRequestIsACallBack(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	data := defaultData(c)
	st := State{Lang: "ar", LastSeen: t0, Node: c.Flow.Settings.Main}
	res := e.Step(st, Input{Voice: true, Text: "0", Now: t0.Add(time.Minute)}, data)
	if len(res.Effects) != 1 || res.Effects[0].Kind != EffectHandover || res.Effects[0].Text != c.Text("fr", content.MsgVoiceCallback, nil) || res.Effects[0].Lang != "ar" {
		t.Fatalf("effects %+v, want a handover asking staff (in French) to call back", res.Effects)
	}
	if !strings.Contains(joined(res), text(c.Spoken(), "ar", "person_recorded")[:20]) {
		t.Errorf("the caller hears:\n%s", joined(res))
	}
	// While the request is open, keys still navigate: nothing is a note.
	st = res.State
	st.Request, st.StaffReplied = "r1", true
	res = e.Step(st, Input{Voice: true, Text: "2", Now: t0.Add(2 * time.Minute)}, data)
	if len(res.Effects) != 0 || res.State.Node != "health" {
		t.Errorf("a key with a request open: effects %+v, at %q; want the health menu", res.Effects, res.State.Node)
	}
}

// * says again what the last answer said, without doing again what it
// did; # is the main menu.
func TestCallRepeat(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	data := defaultData(c)
	st := State{Lang: "fr", LastSeen: t0, Node: c.Flow.Settings.Main}
	res := e.Step(st, Input{Voice: true, Text: "4", Now: t0.Add(time.Minute)}, data) // notices
	res = e.Step(res.State, Input{Voice: true, Text: "1", Now: t0.Add(2 * time.Minute)}, data)
	res = e.Step(res.State, Input{Voice: true, Text: "1", Now: t0.Add(3 * time.Minute)}, data) // Nador: subscribed
	if len(res.Effects) != 1 || res.Effects[0].Kind != EffectSubscribe {
		t.Fatalf("effects %+v, want a subscription", res.Effects)
	}
	said := joined(res)
	again := e.Step(res.State, Input{Voice: true, Text: KeyRepeat, Now: t0.Add(4 * time.Minute)}, data)
	if len(again.Effects) != 0 || joined(again) != said {
		t.Errorf("* did %+v and said\n%s\nwant nothing done and\n%s", again.Effects, joined(again), said)
	}
	if again.State.Node != res.State.Node {
		t.Errorf("* moved the caller from %q to %q", res.State.Node, again.State.Node)
	}
	silence := e.Step(again.State, Input{Voice: true, Repeat: true, Now: t0.Add(5 * time.Minute)}, data)
	if joined(silence) != said {
		t.Errorf("a silence said\n%s", joined(silence))
	}
	menu := e.Step(silence.State, Input{Voice: true, Text: KeyMenu, Now: t0.Add(6 * time.Minute)}, data)
	if menu.State.Node != c.Flow.Settings.Main || !strings.HasPrefix(joined(menu), "Menu principal.") {
		t.Errorf("# at %q:\n%s", menu.State.Node, joined(menu))
	}
}

// A missed call answered by SMS (Call, not Voice) gets what a first SMS
// gets: the language question in every language, written.
func TestMissedCallBySMS(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	res := e.Step(State{}, Input{Call: true, Now: t0}, defaultData(c))
	if res.State.Node != c.Flow.Settings.ChooseLanguage || !strings.Contains(joined(res), "1 Français") || res.Replies[0].Parts != nil {
		t.Errorf("at %q:\n%s", res.State.Node, joined(res))
	}
}

// Where calls are answered, a voice note or a photo is told the number to
// call to hear the menus; elsewhere only that text is read.
func TestMediaToldTheCallNumber(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	data := defaultData(c)
	st := State{Lang: "fr", LastSeen: t0, Node: c.Flow.Settings.Main}
	res := e.Step(st, Input{Media: true, Now: t0.Add(time.Minute)}, data)
	if joined(res) != text(c, "fr", content.MsgMediaOnly) {
		t.Errorf("without calls: %q", joined(res))
	}
	data.CallNumber = "+212522000000"
	res = e.Step(st, Input{Media: true, Now: t0.Add(time.Minute)}, data)
	if !strings.Contains(joined(res), "appelez le +212522000000 pour l'écouter") {
		t.Errorf("with calls: %q", joined(res))
	}
}
