package content

import (
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/sms"
)

// TestValidateSaysWhenAFewCharactersCostAnSMS: a node that, as sent, goes
// a few characters past an SMS boundary is named, with how many to cut;
// one well past it is not (a budget decides those).
func TestValidateSaysWhenAFewCharactersCostAnSMS(t *testing.T) {
	shipped := mustLoad(t, Embedded())
	var before Cost
	for _, c := range shipped.Costs() {
		if c.Node && c.Key == "person_recorded" && c.Lang == "fr" && c.Site == "" {
			before = c
		}
	}
	if before.Encoding != sms.GSM7 || before.Segments != 2 {
		t.Fatalf("fr person_recorded as sent: %+v, want 2 GSM-7 SMS", before)
	}
	for _, tc := range []struct{ past, want int }{{3, 3}, {40, 0}} {
		files := shippedFiles(t)
		add := 2*153 - before.Units + tc.past // septets: 'x' is one
		edit(t, files, "locales/fr.yaml", "En attendant, le menu marche toujours.", "En attendant, le menu marche toujours."+strings.Repeat("x", add))
		_, problems := Check(files)
		var named []Problem
		for _, p := range problems {
			if p.Key == "person_recorded" && strings.Contains(p.Msg, "full SMS") {
				named = append(named, p)
			}
		}
		switch {
		case tc.want == 0 && len(named) > 0:
			t.Errorf("%d past the boundary: named %v, want nothing", tc.past, named)
		case tc.want > 0 && (len(named) != 1 || !named[0].Warning || !strings.Contains(named[0].Msg, "in fr it costs 3 SMS, 3 character(s) past 2 full SMS: shorten it by 3")):
			t.Errorf("%d past the boundary: %v, want one warning to shorten fr by 3", tc.past, named)
		}
	}
}
