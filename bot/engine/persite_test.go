package engine

import (
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/content"
)

// sent is a message node's text as the engine sends it for id, with the
// footer of a message that rests at a menu other than the main one.
func sent(c *content.Content, lang, id string) string {
	return text(c, lang, id) + "\n" + text(c, lang, c.Flow.Settings.FooterMenu)
}

// perSitePaths are the per-site messages of the shipped content and the
// menu numbers that reach them from the main menu.
var perSitePaths = []struct{ menu, option, id string }{
	{"2", "2", "health_where"},
	{"2", "6", "health_help"},
	{"3", "5", "school_help"},
}

// TestPerSiteHelpForTheChosenCity: a person who chose Oujda in menu 1 gets
// Oujda's lines for where to go and who helps, not Nador's; so does one who
// only gets Oujda's notices.
func TestPerSiteHelpForTheChosenCity(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	c := e.Content
	for _, how := range []string{"menu 1", "subscription"} {
		for _, lang := range c.Languages {
			for _, p := range perSitePaths {
				conv := newConversation(t, e)
				if how == "menu 1" {
					conv.st = State{Lang: lang, Node: "dist_site", LastSeen: t0}
					conv.send("2") // Oujda, the second default site
				} else {
					conv.st = State{Lang: lang, Node: "main", LastSeen: t0, Sites: []string{"oujda"}}
				}
				conv.send("MENU")
				conv.send(p.menu)
				res := conv.send(p.option)
				if got, want := joined(res), sent(c, lang, p.id+"_oujda"); got != want {
					t.Errorf("%s, %s, %s: got\n%q\nwant Oujda's\n%q", how, lang, p.id, got, want)
				}
				if strings.Contains(joined(res), text(c, lang, "site_nador")) {
					t.Errorf("%s, %s, %s: a person in Oujda is sent to Nador: %q", how, lang, p.id, joined(res))
				}
				if res.State.Node != c.Flow.Nodes[p.id].Rest {
					t.Errorf("%s, %s: rests at %q, want %q", p.id, lang, res.State.Node, c.Flow.Nodes[p.id].Rest)
				}
			}
		}
	}
}

// TestPerSiteHelpAsksTheCityFirst: with no site known, the bot asks the
// city as menu 1 does, then shows that city's lines, and remembers it.
func TestPerSiteHelpAsksTheCityFirst(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	c := e.Content
	for i, site := range c.Flow.Sites {
		for _, p := range perSitePaths {
			conv := newConversation(t, e)
			conv.send("Bonjour")
			conv.send(p.menu)
			res := conv.send(p.option)
			// The question of menu 1: its text and every default site.
			mustContain(t, res, text(c, "fr", "dist_which_site"))
			for _, s := range c.Flow.Sites {
				mustContain(t, res, text(c, "fr", "site_"+s))
			}
			if q := c.Flow.Nodes[res.State.Node]; q == nil || q.Kind != content.KindQuestion || q.Expect != content.ExpectSite {
				t.Fatalf("%s: no site known: waits at %q, want a site question", p.id, res.State.Node)
			}
			res = conv.send(string(rune('1' + i)))
			if got, want := joined(res), sent(c, "fr", p.id+"_"+site); got != want {
				t.Errorf("%s for %s: got\n%q\nwant\n%q", p.id, site, got, want)
			}
			if res.State.Vars["site"] != site {
				t.Errorf("%s: the chosen site is not kept: vars %v", p.id, res.State.Vars)
			}
			// Asked once: the next per-site message does not ask again.
			conv.send("MENU")
			conv.send("2")
			res = conv.send("2")
			if got, want := joined(res), sent(c, "fr", "health_where_"+site); got != want {
				t.Errorf("after choosing %s, health 2: got\n%q\nwant\n%q", site, got, want)
			}
		}
	}
	// 0 at the question goes back to the menu it came from.
	conv := newConversation(t, e)
	conv.send("Bonjour")
	conv.send("3")
	conv.send("5")
	if res := conv.send("0"); res.State.Node != "school" {
		t.Errorf("0 at the city question: node %q, want school", res.State.Node)
	}
}

// TestPerSiteHelpForASiteStaffAdded: a site staff added, with no text of
// its own, gets the generic text, which says how to reach a person.
func TestPerSiteHelpForASiteStaffAdded(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	c := e.Content
	names := map[string]string{"fr": "Berkane", "en": "Berkane", "ar": "بركان"}
	person := map[string]string{"fr": "MENU puis 0", "en": "MENU then 0", "ar": "القائمة ثم 0"}
	for _, lang := range c.Languages {
		for _, p := range perSitePaths {
			conv := newConversation(t, e)
			conv.data.Sites = append(conv.data.Sites, Site{ID: "berkane", Names: names})
			conv.st = State{Lang: lang, Node: "main", LastSeen: t0}
			conv.send(p.menu)
			res := conv.send(p.option)
			mustContain(t, res, "6 "+names[lang]) // offered after the five default sites
			res = conv.send("6")
			if got, want := joined(res), sent(c, lang, p.id); got != want {
				t.Errorf("%s, %s for berkane: got\n%q\nwant the generic\n%q", lang, p.id, got, want)
			}
			for _, site := range c.Flow.Sites {
				if strings.Contains(joined(res), text(c, lang, "site_"+site)) {
					t.Errorf("%s, %s: the generic text names %s: %q", lang, p.id, site, joined(res))
				}
			}
			if !strings.Contains(joined(res), person[lang]) {
				t.Errorf("%s, %s: the generic text does not say how to reach a person: %q", lang, p.id, joined(res))
			}
		}
	}
}
