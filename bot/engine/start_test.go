package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/sms"
)

// nadorList is how menu 1 answers for Nador with no distribution: the
// list's empty text, with the offer to subscribe (send 2).
func nadorList(c *content.Content, lang string) string {
	return c.Text(lang, "dist_none", map[string]any{"Site": c.Text(lang, "site_nador", nil)})
}

// A site link (/start nador) presets the site, as menu 1 does, and answers
// as menu 1 answers for it: after the welcome for a new contact, in the
// language Telegram tells, else after the language question.
func TestSiteLink(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	data := defaultData(c)

	res := e.Step(State{}, Input{Text: "MENU", Site: "nador", Lang: "en", Now: t0}, data)
	if got := res.State.Vars["site"]; got != "nador" || res.State.Lang != "en" {
		t.Fatalf("site %q, lang %q; want nador, en", got, res.State.Lang)
	}
	mustContain(t, res, text(c, "en", "welcome"))
	mustContain(t, res, nadorList(c, "en"))
	if res.State.Node != "dist_menu" || !hasChoice(res, "2") {
		t.Errorf("at %q, want dist_menu with 2 (subscribe):\n%s", res.State.Node, joined(res))
	}
	// 2 subscribes to Nador.
	res = e.Step(res.State, Input{Text: "2", Now: t0.Add(time.Minute)}, data)
	if len(res.Effects) != 1 || res.Effects[0].Kind != EffectSubscribe || res.Effects[0].Sites[0] != "nador" {
		t.Errorf("2 after a site link: effects %+v, want a subscription to nador", res.Effects)
	}

	// No language to be told: the language question first, then the site.
	res = e.Step(State{}, Input{Text: "MENU", Site: "nador", Now: t0}, data)
	if res.State.Node != e.Content.Flow.Settings.ChooseLanguage || res.State.Vars["site"] != "nador" {
		t.Fatalf("no language: at %q, site %q; want the language question, nador", res.State.Node, res.State.Vars["site"])
	}
	res = e.Step(res.State, Input{Text: "1", Now: t0.Add(time.Minute)}, data)
	mustContain(t, res, text(c, "fr", "welcome"))
	mustContain(t, res, nadorList(c, "fr"))
	if res.State.Vars[varSiteStart] != "" {
		t.Errorf("the site start outlives the language: %v", res.State.Vars)
	}
	// A wrong answer to the language question keeps the site link.
	res = e.Step(State{}, Input{Text: "MENU", Site: "nador", Now: t0}, data)
	res = e.Step(res.State, Input{Text: "x", Now: t0.Add(time.Minute)}, data)
	res = e.Step(res.State, Input{Text: "3", Now: t0.Add(2 * time.Minute)}, data)
	mustContain(t, res, nadorList(c, "ar"))

	// An unknown site: the normal welcome and the main menu.
	res = e.Step(State{}, Input{Text: "MENU", Site: "atlantis", Lang: "fr", Now: t0}, data)
	mustContain(t, res, text(c, "fr", "welcome"))
	if res.State.Node != "main" || res.State.Vars["site"] != "" {
		t.Errorf("unknown site: at %q, site %q; want main, none", res.State.Node, res.State.Vars["site"])
	}

	// A known person mid-conversation: straight to the site.
	st := State{Lang: "fr", Node: "health", LastSeen: t0}
	res = e.Step(st, Input{Text: "MENU", Site: "oujda", Now: t0.Add(time.Minute)}, data)
	if !strings.HasPrefix(joined(res), c.Text("fr", "dist_none", map[string]any{"Site": c.Text("fr", "site_oujda", nil)})) || res.State.Vars["site"] != "oujda" {
		t.Errorf("site link mid-conversation:\n%s", joined(res))
	}
	// Retired sites are not offered.
	retired := Data{Sites: []Site{{ID: "nador", Retired: true}, {ID: "oujda"}}}
	res = e.Step(State{}, Input{Text: "MENU", Site: "nador", Lang: "fr", Now: t0}, retired)
	if res.State.Vars["site"] != "" {
		t.Errorf("a retired site was preset")
	}
}

func hasChoice(res Result, key string) bool {
	last := res.Replies[len(res.Replies)-1]
	for _, ch := range last.Choices {
		if ch.Key == key {
			return true
		}
	}
	return false
}

// A first message that is only a site's name does what a site link does;
// keywords and words of danger come first, and later it is an answer as
// any other.
func TestSiteKeyword(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	data := defaultData(c)
	for _, first := range []string{"NADOR", "Nador", "nador", "  nádor ", "الناظور"} {
		res := e.Step(State{}, Input{Text: first, Now: t0}, data)
		if res.State.Vars["site"] != "nador" {
			t.Errorf("%q: site %q, want nador", first, res.State.Vars["site"])
			continue
		}
		if res.State.Lang == "" {
			// Latin letters do not tell the language: it is asked.
			if res.State.Node != c.Flow.Settings.ChooseLanguage {
				t.Errorf("%q: at %q, want the language question", first, res.State.Node)
			}
			res = e.Step(res.State, Input{Text: "2", Now: t0.Add(time.Minute)}, data)
		}
		mustContain(t, res, nadorList(c, res.State.Lang))
	}
	// With the language told by the channel: welcome then the site.
	res := e.Step(State{}, Input{Text: "Nador", Lang: "fr", Now: t0}, data)
	mustContain(t, res, text(c, "fr", "welcome"))
	mustContain(t, res, nadorList(c, "fr"))

	// After a silence: a short welcome back, then the site.
	st := State{Lang: "en", Node: "main", LastSeen: t0}
	res = e.Step(st, Input{Text: "nador", Now: t0.Add(2 * time.Hour)}, data)
	if !strings.HasPrefix(joined(res), text(c, "en", "welcome_back_short")+"\n") {
		t.Errorf("after a silence:\n%s", joined(res))
	}
	mustContain(t, res, nadorList(c, "en"))

	// Mid-conversation a site's name is an answer like any other.
	res = e.Step(st, Input{Text: "nador", Now: t0.Add(time.Minute)}, data)
	if res.State.Vars["site"] != "" {
		t.Errorf("a site's name at the main menu preset the site: %s", joined(res))
	}
	// Keywords and words of danger first.
	res = e.Step(State{}, Input{Text: "STOP", Now: t0}, data)
	if !res.State.OptedOut {
		t.Error("STOP first no longer opts out")
	}
	res = e.Step(State{}, Input{Text: "on m'a violée à nador", Now: t0}, data)
	if len(res.Effects) == 0 || res.Effects[0].Kind != EffectUrgent {
		t.Errorf("danger words first: effects %+v", res.Effects)
	}
	// A site's number is not its name.
	res = e.Step(State{}, Input{Text: "1", Now: t0}, data)
	if res.State.Vars["site"] != "" {
		t.Error("a number first preset a site")
	}
	// A site staff named is found by that name.
	named := Data{Sites: []Site{{ID: "ttz", Names: map[string]string{"fr": "Tétouan"}}}}
	res = e.Step(State{}, Input{Text: "TETOUAN", Lang: "fr", Now: t0}, named)
	if res.State.Vars["site"] != "ttz" {
		t.Errorf("staff's name of a site: site %q, want ttz", res.State.Vars["site"])
	}
}

// A message with no text but media is told that only text is read, in the
// person's language; where the person stands does not change, and nothing
// of the media is kept.
func TestMedia(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	data := defaultData(c)
	for _, lang := range c.Languages {
		m := c.Text(lang, content.MsgMediaOnly, nil)
		if cost := sms.Measure(m); cost.Segments != 1 {
			t.Errorf("%s media_only is %d SMS, want 1", lang, cost.Segments)
		}
		st := State{Lang: lang, Node: "health", LastSeen: t0, Vars: map[string]string{"site": "nador"}}
		res := e.Step(st, Input{Media: true, Now: t0.Add(time.Minute)}, data)
		if len(res.Replies) != 1 || res.Replies[0].Text != m {
			t.Errorf("%s: replies\n%s\nwant only %q", lang, joined(res), m)
		}
		if res.State.Node != "health" || res.State.Vars["site"] != "nador" || len(res.Effects) != 0 {
			t.Errorf("%s: state %+v, effects %+v; want unchanged, none", lang, res.State, res.Effects)
		}
	}
	// A new contact, language told: the note, then the welcome and menu.
	res := e.Step(State{}, Input{Media: true, Lang: "en", Now: t0}, data)
	if len(res.Replies) < 3 || res.Replies[0].Text != c.Text("en", content.MsgMediaOnly, nil) {
		t.Errorf("new contact:\n%s", joined(res))
	}
	mustContain(t, res, text(c, "en", "welcome"))
	// Not told: the language question, as for any first message.
	res = e.Step(State{}, Input{Media: true, Now: t0}, data)
	if res.State.Node != c.Flow.Settings.ChooseLanguage {
		t.Errorf("new contact, no language: at %q", res.State.Node)
	}
	// A request open: the person is told; staff get no empty note.
	st := State{Lang: "fr", Node: "main", LastSeen: t0, Request: "r1"}
	res = e.Step(st, Input{Media: true, Now: t0.Add(time.Minute)}, data)
	if len(res.Effects) != 0 || len(res.Replies) != 1 {
		t.Errorf("request open: effects %+v, replies %d", res.Effects, len(res.Replies))
	}
	// Media with a caption is the caption's text.
	res = e.Step(State{Lang: "fr", Node: "main", LastSeen: t0}, Input{Text: "2", Media: true, Now: t0.Add(time.Minute)}, data)
	if res.State.Node != "health" {
		t.Errorf("a caption is not read: at %q", res.State.Node)
	}
}
