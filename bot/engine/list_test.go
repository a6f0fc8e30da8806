package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/sms"
)

// fiveDistributions are five upcoming distributions at Nador, a day apart,
// each at its own place "Place N".
func fiveDistributions() []Distribution {
	var ds []Distribution
	for i := 5; i >= 1; i-- { // stored out of order
		start := time.Date(2026, 12, i, 8, 0, 0, 0, time.UTC)
		ds = append(ds, Distribution{ID: fmt.Sprintf("d%d", i), Site: "nador", StartsAt: start, EndsAt: start.Add(3 * time.Hour),
			Place: Localized{"fr": fmt.Sprintf("Place %d", i)}, Items: []string{"rice", "flour", "oil", "milk_powder", "blanket"}})
	}
	return ds
}

// places returns the "Place N" a reply shows, in order.
func places(text string) []int {
	var out []int
	for i := 1; i <= 5; i++ {
		if strings.Contains(text, fmt.Sprintf("Place %d", i)) {
			out = append(out, i)
		}
	}
	return out
}

func TestListPagesOfTwo(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"fr", "en", "ar"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t)
			c := e.Content
			conv := newConversation(t, e)
			conv.data.Sites[0].ExactPlace = ExactPlaceEveryone
			conv.data.Distributions = fiveDistributions()
			conv.st = State{Lang: lang, Node: "main", LastSeen: t0, Vars: map[string]string{"site": "nador"}}
			res := conv.send("1")
			page := res.Replies[0].Text
			header := c.Plural(lang, "dist_header", 5, map[string]any{"Site": text(c, lang, "site_nador")})
			if !strings.HasPrefix(page, header) {
				t.Fatalf("page 1 does not start with the header for 5 %q:\n%s", header, page)
			}
			var seen []int
			for n := 1; ; n++ {
				got := places(page)
				if len(got) == 0 || len(got) > 2 {
					t.Fatalf("page %d shows %d distributions %v, want 1 or 2:\n%s", n, len(got), got, page)
				}
				seen = append(seen, got...)
				cost := sms.Measure(page)
				t.Logf("page %d in %s: %d distributions, %d SMS", n, lang, len(got), cost.Segments)
				left := 5 - len(seen)
				more := c.Plural(lang, "dist_more", left, nil)
				if left == 0 {
					for k := 1; k <= 5; k++ {
						if strings.Contains(page, c.Plural(lang, "dist_more", k, nil)) {
							t.Fatalf("the last page offers more:\n%s", page)
						}
					}
					break
				}
				if !strings.Contains(page, more) || !strings.Contains(more, "9") {
					t.Fatalf("page %d with %d left does not say %q:\n%s", n, left, more, page)
				}
				if res.State.Node != "dist_menu" {
					t.Fatalf("page %d rests at %q, want dist_menu", n, res.State.Node)
				}
				res = conv.send("9")
				page = res.Replies[0].Text
				if strings.Contains(page, header) {
					t.Errorf("page %d repeats the header:\n%s", n+1, page)
				}
			}
			if fmt.Sprint(seen) != "[1 2 3 4 5]" {
				t.Errorf("pages showed %v, want the 5 the header counts, in date order", seen)
			}
			// Past the last page, 9 is not a choice of the menu.
			res = conv.send("9")
			mustContain(t, res, text(c, lang, c.Flow.Settings.Invalid))
		})
	}
}

func TestListNextPageOnlyRightAfterIt(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	conv := newConversation(t, e)
	conv.data.Sites[0].ExactPlace = ExactPlaceEveryone
	conv.data.Distributions = fiveDistributions()
	conv.st = State{Lang: "fr", Node: "main", LastSeen: t0, Vars: map[string]string{"site": "nador"}}
	conv.send("1")
	conv.send("x") // not understood: the menu again
	res := conv.send("9")
	if got := places(joined(res)); len(got) != 0 {
		t.Errorf("9 after another answer showed distributions %v", got)
	}
	mustContain(t, res, text(e.Content, "fr", e.Content.Flow.Settings.Invalid))
}

func TestExactPlaceForSubscribersByDefault(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	c := e.Content
	conv := newConversation(t, e)
	conv.data.Sites[0].Area = Localized{"fr": "Nador, quartier Lari Chikh", "en": "Nador, Lari Chikh area"}
	conv.data.Distributions = fiveDistributions()[4:] // Place 1
	conv.st = State{Lang: "fr", Node: "main", LastSeen: t0, Vars: map[string]string{"site": "nador"}}
	res := conv.send("1")
	if strings.Contains(joined(res), "Place 1") {
		t.Fatalf("a person without notices sees the exact place:\n%s", joined(res))
	}
	mustContain(t, res, "Nador, quartier Lari Chikh")
	mustContain(t, res, text(c, "fr", content.MsgDistPlaceSubscribers))
	// Subscribing (2 at the list's menu) shows the exact place.
	conv.send("2")
	conv.send("MENU")
	res = conv.send("1")
	mustContain(t, res, "Place 1")
	if strings.Contains(joined(res), text(c, "fr", content.MsgDistPlaceSubscribers)) {
		t.Errorf("a subscriber is told how to subscribe:\n%s", joined(res))
	}
	// After STOP the person gets no notices: the area again.
	conv.send("STOP")
	conv.send("MENU")
	res = conv.send("1")
	if strings.Contains(joined(res), "Place 1") {
		t.Errorf("an opted-out person sees the exact place:\n%s", joined(res))
	}
	// A site with no area given shows its name.
	conv.st = State{Lang: "en", Node: "main", LastSeen: conv.now, Vars: map[string]string{"site": "nador"}}
	conv.data.Sites[0].Area = nil
	res = conv.send("1")
	mustContain(t, res, text(c, "en", "site_nador"))
	if strings.Contains(joined(res), "Place 1") {
		t.Errorf("exact place shown without an area:\n%s", joined(res))
	}
	// Notices go to subscribers: they hold the exact place.
	if n := Notice(c, nil, "fr", content.NoticeNew, conv.data.Distributions[0], conv.data.Sites); !strings.Contains(n, "Place 1") {
		t.Errorf("a notice lacks the exact place:\n%s", n)
	}
}

func TestExactPlaceForEveryone(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	c := e.Content
	conv := newConversation(t, e)
	conv.data.Sites[0].ExactPlace = ExactPlaceEveryone
	conv.data.Sites[0].Area = Localized{"fr": "Nador, quartier Lari Chikh"}
	conv.data.Distributions = fiveDistributions()[4:]
	conv.st = State{Lang: "fr", Node: "main", LastSeen: t0, Vars: map[string]string{"site": "nador"}}
	res := conv.send("1")
	mustContain(t, res, "Place 1")
	for _, not := range []string{"Lari Chikh", text(c, "fr", content.MsgDistPlaceSubscribers)} {
		if strings.Contains(joined(res), not) {
			t.Errorf("site open to everyone shows %q:\n%s", not, joined(res))
		}
	}
}

func TestArabicMonthsUnderstoodEverywhere(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	moroccan := []string{"ماي", "يوليوز", "غشت", "شتنبر", "نونبر", "دجنبر"}
	for m := time.January; m <= time.December; m++ {
		start := time.Date(2027, m, 10, 9, 0, 0, 0, time.UTC)
		d := Distribution{ID: "d", Site: "nador", StartsAt: start, EndsAt: start.Add(time.Hour), Place: Localized{"ar": "ملعب"}}
		for _, kind := range []string{content.NoticeNew, content.NoticeCancelled} {
			n := Notice(c, time.UTC, "ar", kind, d, nil)
			month := text(c, "ar", fmt.Sprintf("month_%d", m))
			if !strings.Contains(n, month) {
				t.Fatalf("%s notice in month %d lacks %q:\n%s", kind, m, month, n)
			}
			for _, word := range strings.FieldsFunc(n, func(r rune) bool { return !unicode.IsLetter(r) }) {
				for _, bad := range moroccan {
					if word == bad {
						t.Errorf("month %d: Moroccan-only month name %q (Sudanese, Syrian, Yemeni readers do not know it):\n%s", m, bad, n)
					}
				}
			}
		}
	}
}
