package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/outreach-org/outreach/bot/content"
)

// list renders a list node: the upcoming distributions of the chosen site.
func (r *step) list(n *content.Node) string {
	site := r.st.Vars["site"]
	siteName := r.siteName(site)
	var upcoming []Distribution
	for _, d := range r.data.Distributions {
		if d.Site == site && !d.Cancelled && d.EndsAt.After(r.now) {
			upcoming = append(upcoming, d)
		}
	}
	if len(upcoming) == 0 {
		return r.c.Text(r.st.Lang, n.Empty, map[string]any{"Site": siteName})
	}
	slices.SortFunc(upcoming, func(a, b Distribution) int { return a.StartsAt.Compare(b.StartsAt) })
	parts := []string{r.c.Plural(r.st.Lang, n.Text, len(upcoming), map[string]any{"Site": siteName})}
	for _, d := range upcoming[:min(len(upcoming), maxListed)] {
		parts = append(parts, r.distribution(n.Item, d))
	}
	if n.Note != "" {
		parts = append(parts, r.text(n.Note))
	}
	return strings.Join(parts, "\n\n")
}

// distribution renders one distribution with the message item.
func (r *step) distribution(item string, d Distribution) string {
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
	text := r.c.Text(lang, item, map[string]any{
		"Date":  date,
		"Time":  hours,
		"Place": r.localized(d.Place),
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
// (content.NoticeNew …), the distribution, that aid is free and this the
// only official channel, and how to stop notices.
func Notice(c *content.Content, loc *time.Location, lang, kind string, d Distribution, sites []Site) string {
	if loc == nil {
		loc = time.UTC
	}
	r := &step{e: &Engine{Content: c, Location: loc}, c: c, st: State{Lang: lang}, data: Data{Sites: sites}}
	vars := map[string]any{"Site": r.siteName(d.Site), "Date": r.date(d.StartsAt.In(loc))}
	parts := []string{c.Text(lang, kind, vars)}
	if kind != content.NoticeCancelled {
		parts = append(parts, r.distribution(content.MsgDistItem, d))
	}
	parts = append(parts, c.Text(lang, content.MsgDistFree, nil), c.Text(lang, content.MsgNoticeFooter, nil))
	return strings.Join(parts, "\n\n")
}
