package engine

import (
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/sms"
)

// realisticDistribution is a Nador distribution as a partner would announce
// it: a place, who should come, what to bring, and a kit of five items.
func realisticDistribution() Distribution {
	start := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	return Distribution{ID: "d1", Site: "nador", StartsAt: start, EndsAt: start.Add(3 * time.Hour),
		Place: Localized{"fr": "Salle paroissiale, rue 14, Lari Chikh", "en": "Parish hall, 14th street, Lari Chikh", "ar": "قاعة الكنيسة، الشارع 14، العري الشيخ"},
		Who:   Localized{"fr": "Familles avec enfants", "en": "Families with children", "ar": "العائلات مع الأطفال"},
		Bring: Localized{"fr": "un sac", "en": "a bag", "ar": "كيس"},
		Items: []string{"rice", "flour", "oil", "milk_powder", "blanket"}}
}

// TestNoticeCosts measures every notice kind in every language with a
// realistic kit: a new notice, a reminder and a change fit in 2 SMS in
// French and English, 4 in Arabic; a cancellation in half that, and it does
// not ask people not to forward it.
func TestNoticeCosts(t *testing.T) {
	c := shipped(t)
	loc, err := time.LoadLocation("Africa/Casablanca")
	if err != nil {
		t.Fatal(err)
	}
	limit := map[string]int{"fr": 2, "en": 2, "ar": 4}
	d := realisticDistribution()
	for _, kind := range content.NoticeKinds() {
		for _, lang := range c.Languages {
			text := Notice(c, loc, lang, kind, d, nil)
			cost := sms.Measure(text)
			t.Logf("%-16s %s: %d SMS (%d %s units)", kind, lang, cost.Segments, cost.Units, cost.Encoding)
			want := limit[lang]
			if kind == content.NoticeCancelled {
				want = limit[lang] / 2 // no kit, no place: half
			}
			if cost.Segments > want {
				t.Errorf("%s in %s costs %d SMS, want at most %d:\n%s", kind, lang, cost.Segments, want, text)
			}
			for _, forward := range []string{"transférez", "forward", "إرسالها", "لغيرك"} {
				if kind == content.NoticeCancelled && strings.Contains(text, forward) {
					t.Errorf("a cancellation in %s asks not to forward it (%q): forwarding it helps:\n%s", lang, forward, text)
				}
			}
		}
	}
}
