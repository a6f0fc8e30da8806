package engine

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outreach-org/outreach/bot/content"
)

// listPerPage is how many distributions one page of a list shows: two
// fit an SMS or two, and more follow with 9.
const listPerPage = 2

// keyMore is the answer, at the menu after a list, that shows the next page.
const keyMore = 9

// varListMore holds, while the next page of a list waits, "node:offset":
// the list node and where its next page starts.
const varListMore = "list_more"

// list renders a list node: the upcoming distributions of the chosen site,
// one page of at most listPerPage from r.listOffset. The header counts all
// of them; a page that leaves some says how many and that 9 shows them.
func (r *step) list(n *content.Node) string {
	site := r.st.Vars["site"]
	siteName := r.siteName(site)
	offset := r.listOffset
	r.listOffset = 0
	var upcoming []Distribution
	for _, d := range r.data.Distributions {
		if d.Site == site && !d.Cancelled && d.EndsAt.After(r.now) {
			upcoming = append(upcoming, d)
		}
	}
	if len(upcoming) == 0 {
		return r.c.Text(r.st.Lang, n.Empty, map[string]any{"Site": siteName})
	}
	slices.SortFunc(upcoming, func(a, b Distribution) int {
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	if offset < 0 || offset >= len(upcoming) {
		offset = 0
	}
	var parts []string
	if offset == 0 {
		parts = append(parts, r.c.Plural(r.st.Lang, n.Text, len(upcoming), map[string]any{"Site": siteName}))
	}
	exact := r.seesExactPlace(site)
	end := min(len(upcoming), offset+listPerPage)
	for _, d := range upcoming[offset:end] {
		parts = append(parts, r.distribution(n.Item, d, exact))
	}
	if !exact && r.c.Has(r.st.Lang, content.MsgDistPlaceSubscribers) {
		parts = append(parts, r.text(content.MsgDistPlaceSubscribers))
	}
	if left := len(upcoming) - end; left > 0 {
		parts = append(parts, r.c.Plural(r.st.Lang, content.MsgDistMore, left, map[string]any{"Site": siteName}))
		if r.st.Vars == nil {
			r.st.Vars = map[string]string{}
		}
		r.st.Vars[varListMore] = n.ID + ":" + strconv.Itoa(end)
	}
	if n.Note != "" {
		parts = append(parts, r.text(n.Note))
	}
	return strings.Join(parts, "\n\n")
}

// nextPage reports whether an answer asks, at the menu a list rests at, for
// the list's next page; it returns the list node and where the page starts.
func (r *step) nextPage(n *content.Node, folded string) (string, int, bool) {
	if n == nil || n.Kind != content.KindMenu || folded != strconv.Itoa(keyMore) {
		return "", 0, false
	}
	if _, taken := n.Option(keyMore); taken {
		return "", 0, false
	}
	id, at, ok := strings.Cut(r.listMore, ":")
	list := r.c.Flow.Nodes[id]
	offset, err := strconv.Atoi(at)
	if !ok || err != nil || list == nil || list.Kind != content.KindList || list.Goto != n.ID {
		return "", 0, false
	}
	return id, offset, true
}

// seesExactPlace reports whether the person may see a site's exact places:
// the site shows them to everyone, or the person gets its notices.
func (r *step) seesExactPlace(site string) bool {
	for _, s := range r.data.Sites {
		if s.ID == site && s.ExactPlace == ExactPlaceEveryone {
			return true
		}
	}
	return !r.st.OptedOut && slices.Contains(r.st.Sites, site)
}

// area is what a person who may not see the exact place is told instead:
// the site's area in their language, else the site's name.
func (r *step) area(site string) string {
	for _, s := range r.data.Sites {
		if s.ID == site {
			if a := r.localized(s.Area); a != "" {
				return a
			}
		}
	}
	return r.siteName(site)
}

// distribution renders one distribution with the message item: its exact
// place when exact is set, else the site's area.
func (r *step) distribution(item string, d Distribution, exact bool) string {
	lang := r.st.Lang
	loc := r.e.Location
	if loc == nil {
		loc = time.UTC
	}
	start, end := d.StartsAt.In(loc), d.EndsAt.In(loc)
	date := r.date(start)
	hours := r.c.Text(lang, content.MsgTimeRange, map[string]any{
		"Start": start.Format("15:04"),
		"End":   end.Format("15:04"),
	})
	items := make([]string, 0, len(d.Items))
	for _, it := range d.Items {
		if r.c.Has(lang, content.PrefixItem+it) {
			items = append(items, r.c.Text(lang, content.PrefixItem+it, nil))
		} else {
			items = append(items, it)
		}
	}
	place := r.area(d.Site)
	if exact {
		place = r.localized(d.Place)
	}
	text := r.c.Text(lang, item, map[string]any{
		"Date":  date,
		"Time":  hours,
		"Place": place,
		"Items": strings.Join(items, r.c.Text(lang, content.MsgListSeparator, nil)),
	})
	if who := r.localized(d.Who); who != "" {
		text += "\n" + r.c.Text(lang, content.MsgDistWho, map[string]any{"Who": who})
	}
	if bring := r.localized(d.Bring); bring != "" {
		text += "\n" + r.c.Text(lang, content.MsgDistBring, map[string]any{"Bring": bring})
	}
	return text
}

// localized picks the person's language from a free text given per
// language, falling back to the first language, then to any.
func (r *step) localized(texts map[string]string) string {
	if t := texts[r.st.Lang]; t != "" {
		return t
	}
	if t := texts[r.c.Languages[0]]; t != "" {
		return t
	}
	keys := make([]string, 0, len(texts))
	for k := range texts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if texts[k] != "" {
			return texts[k]
		}
	}
	return ""
}

// date renders a day in the person's language: "samedi 5 décembre".
func (r *step) date(t time.Time) string {
	lang := r.st.Lang
	return r.c.Text(lang, content.MsgDateFormat, map[string]any{
		"Weekday": r.c.Text(lang, fmt.Sprintf("%s%d", content.PrefixWeekday, int(t.Weekday())), nil),
		"Day":     t.Day(),
		"Month":   r.c.Text(lang, fmt.Sprintf("%s%d", content.PrefixMonth, int(t.Month())), nil),
	})
}

// Notice renders a distribution notice in lang: the notice of that kind
// (content.NoticeNew …), the distribution with its exact place (notices go
// to subscribers), that aid is free and this the only official channel, a
// request not to forward it (but in a cancellation: forwarding that helps),
// and how to stop notices.
func Notice(c *content.Content, loc *time.Location, lang, kind string, d Distribution, sites []Site) string {
	if loc == nil {
		loc = time.UTC
	}
	r := &step{e: &Engine{Content: c, Location: loc}, c: c, st: State{Lang: lang}, data: Data{Sites: sites}}
	vars := map[string]any{"Site": r.siteName(d.Site), "Date": r.date(d.StartsAt.In(loc))}
	parts := []string{c.Text(lang, kind, vars)}
	if kind != content.NoticeCancelled {
		parts = append(parts, r.distribution(content.MsgDistItem, d, true))
	}
	parts = append(parts, c.Text(lang, content.MsgNoticeSafety, nil))
	if kind != content.NoticeCancelled {
		parts = append(parts, c.Text(lang, content.MsgNoticeNoForward, nil))
	}
	parts = append(parts, c.Text(lang, content.MsgNoticeFooter, nil))
	return strings.Join(parts, "\n")
}
