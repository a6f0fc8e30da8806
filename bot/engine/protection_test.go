package engine

import (
	"strings"
	"testing"
)

// TestProtectionBranch walks main-menu item 6 through the shipped content in
// every language: each sub-item answers with its own text, and 0 goes back.
func TestProtectionBranch(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	items := []string{"protection_asylum", "protection_legal", "protection_violence", "protection_return", "protection_family"}
	for _, lang := range c.Languages {
		t.Run(lang, func(t *testing.T) {
			conv := newConversation(t, e)
			conv.st = State{Lang: lang, Node: c.Flow.Settings.Main, LastSeen: conv.now}
			res := conv.send("6")
			mustContain(t, res, text(c, lang, "protection_title"))
			if res.State.Node != "protection" {
				t.Fatalf("main 6: node = %q, want protection", res.State.Node)
			}
			for i, id := range items {
				res = conv.send(string(rune('1' + i)))
				mustContain(t, res, text(c, lang, id))
				mustContain(t, res, text(c, lang, "footer_menu"))
				if res.State.Node != "protection" {
					t.Errorf("protection %d: rests at %q, want protection", i+1, res.State.Node)
				}
			}
			// Each answer says how to reach a person; legal aid names the
			// OMDH cities, the violence answer gives 15 and the 72 hours.
			for _, id := range items {
				if s := text(c, lang, id); !strings.Contains(s, " 0") {
					t.Errorf("%s %s does not say how to reach a person (MENU then 0): %q", lang, id, s)
				}
			}
			legal := text(c, lang, "protection_legal")
			for _, site := range []string{"oujda", "nador", "tanger", "rabat", "casablanca"} {
				if name := text(c, lang, "site_"+site); !strings.Contains(legal, name) {
					t.Errorf("%s protection_legal does not name %s (an OMDH office)", lang, name)
				}
			}
			violence := text(c, lang, "protection_violence")
			for _, want := range []string{"15", "72", "8350", "2511"} {
				if !strings.Contains(violence, want) {
					t.Errorf("%s protection_violence lacks %s", lang, want)
				}
			}
			res = conv.send("0")
			mustContain(t, res, text(c, lang, "main_title"))
			mustContain(t, res, text(c, lang, "main_opt_protection"))
			if res.State.Node != c.Flow.Settings.Main {
				t.Errorf("0: node = %q, want the main menu", res.State.Node)
			}
		})
	}
}
