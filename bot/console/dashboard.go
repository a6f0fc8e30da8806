package console

import (
	"context"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/sites"
	"github.com/outreach-org/outreach/bot/stats"
	"github.com/outreach-org/outreach/bot/store"
)

// Stats are the daily counts of messages, for the dashboard: nothing that
// identifies a person (stats.Stats).
type Stats interface {
	// Days returns, for each of the n days up to now, the oldest first, the
	// counts by name ("in.sms", "out.telegram", "delivered.sms"…).
	Days(ctx context.Context, n int, now time.Time) ([]Day, error)
}

// Day is one day's counts.
type Day = stats.Day

// SubscriberCounts counts the subscribers of each site (store.Store).
type SubscriberCounts interface {
	SubscriberCounts(ctx context.Context, sites []string) (map[string]int64, error)
}

// Census is the count of the people by site and language, made every
// hour by each instance (store.Contacts).
type Census interface {
	LastCensus(ctx context.Context) (store.Census, error)
}

// dashboardDays is how many days the dashboard counts.
const dashboardDays = 30

// dashboardBroadcasts is how many of the newest broadcasts the dashboard
// looks at for those in progress.
const dashboardBroadcasts = 20

// channelOrder is the order channels are shown in; others follow.
var channelOrder = []string{"sms", "whatsapp", "telegram"}

// dashboardData is what the dashboard shows: counts only, never who.
type dashboardData struct {
	Days int

	ContentVersion int
	HasRequests    bool
	OpenRequests   int
	UrgentRequests int

	HasOutbox bool
	Outbox    []queueCount

	HasStats bool
	// Charts are the messages in and out per day, by channel.
	Charts []*chart
	// Channels are the period's totals per channel.
	Channels []channelTotals
	// Langs are the people who first chose each language in the period.
	Langs []namedCount
	// Cities are the conversations in which people named each city.
	Cities []namedCount

	HasSubscribers bool
	Subscribers    []namedCount
	Subscribed     int64

	HasCensus bool
	// CensusAt is when the people were last counted; zero before the
	// first count.
	CensusAt time.Time
	// CensusLangs are the columns: the content's languages, then "" (not
	// chosen yet) when someone has none.
	CensusLangs []string
	// CensusRows are the sites known, in their order, then any other
	// counted, then "" (no city yet) when someone has none.
	CensusRows  []censusRow
	CensusTotal int64

	HasBroadcasts bool
	// Broadcasts are those sending or scheduled among the Looked newest.
	Broadcasts []broadcast.Report
	Looked     int
}

// censusRow is one site's people, by the census's languages, as shown:
// from 1 to 4 a count shows as "1–4", so that a rare language at a small
// site does not point at one person.
type censusRow struct {
	ID, Name string
	Retired  bool
	N        []int64
	Cells    []string
	Total    int64
	Shown    string
}

// fewPeople is the count below which the census shows a range.
const fewPeople = 5

// censusCell shows a census count (see censusRow).
func censusCell(p *Page, n int64) string {
	if n > 0 && n < fewPeople {
		return "1–4"
	}
	return p.Num(n)
}

// fillCensus lays out the last count of the people as a table of sites by
// languages.
func fillCensus(p *Page, d *dashboardData, views []sites.View, langs []string, census store.Census) {
	d.HasCensus, d.CensusAt, d.CensusTotal = true, census.At, census.Total
	cols := slices.Clone(langs)
	var others []string
	for _, byLang := range census.People {
		for l := range byLang {
			if !slices.Contains(cols, l) && !slices.Contains(others, l) && l != "" {
				others = append(others, l)
			}
		}
	}
	slices.Sort(others)
	cols = append(cols, others...)
	for _, byLang := range census.People {
		if byLang[""] > 0 {
			cols = append(cols, "")
			break
		}
	}
	d.CensusLangs = cols
	row := func(id, name string, retired bool) censusRow {
		r := censusRow{ID: id, Name: name, Retired: retired, N: make([]int64, len(cols)), Cells: make([]string, len(cols))}
		for i, l := range cols {
			r.N[i] = census.People[id][l]
			r.Cells[i] = censusCell(p, r.N[i])
			r.Total += r.N[i]
		}
		r.Shown = censusCell(p, r.Total)
		return r
	}
	seen := map[string]bool{}
	for _, v := range views {
		seen[v.ID] = true
		if r := row(v.ID, siteName(v, p.Lang), v.Retired); r.Total > 0 || !v.Retired {
			d.CensusRows = append(d.CensusRows, r)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(census.People)) {
		if !seen[id] && id != "" {
			d.CensusRows = append(d.CensusRows, row(id, id, false))
		}
	}
	if census.People[""] != nil {
		d.CensusRows = append(d.CensusRows, row("", "", false))
	}
}

// queueCount is one queue of the outbox.
type queueCount struct {
	Queue string
	N     int64
}

// namedCount is a count with what it counts, as shown.
type namedCount struct {
	ID, Name string
	Lang     string
	N        int64
	Retired  bool
}

// channelTotals are one channel's counts over the period.
type channelTotals struct {
	Channel, Name                string
	In, Out, Delivered, Failed   int64
	TodayIn, TodayOut, TodayFail int64
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := c.newPage(r, "dashboard_title", nil)
	d := &dashboardData{Days: dashboardDays}
	if c.opts.Dialog != nil {
		d.ContentVersion = c.opts.Dialog.Version()
	}
	if c.opts.Requests != nil {
		open, urgent, err := c.opts.Requests.Counts(ctx)
		if err != nil {
			return err
		}
		d.HasRequests, d.OpenRequests, d.UrgentRequests = true, int(open), int(urgent)
	}
	if c.opts.Outbox != nil {
		depth, err := c.opts.Outbox.Depth(ctx)
		if err != nil {
			return err
		}
		d.HasOutbox = true
		for _, q := range []string{"reply", "bulk", "delayed", "dead"} {
			d.Outbox = append(d.Outbox, queueCount{Queue: q, N: depth[q]})
		}
	}
	views, err := c.siteViews(ctx)
	if err != nil {
		return err
	}
	if c.opts.Stats != nil {
		days, err := c.opts.Stats.Days(ctx, dashboardDays, c.opts.Now())
		if err != nil {
			return err
		}
		d.HasStats = true
		c.fillStats(p, d, days, views)
	}
	if c.opts.Subscribers != nil && views != nil {
		ids := make([]string, len(views))
		for i, v := range views {
			ids[i] = v.ID
		}
		counts, err := c.opts.Subscribers.SubscriberCounts(ctx, ids)
		if err != nil {
			return err
		}
		d.HasSubscribers = true
		for _, v := range views {
			d.Subscribers = append(d.Subscribers, namedCount{ID: v.ID, Name: siteName(v, p.Lang), N: counts[v.ID], Retired: v.Retired})
			d.Subscribed += counts[v.ID]
		}
	}
	if c.opts.Census != nil {
		census, err := c.opts.Census.LastCensus(ctx)
		if err != nil {
			return err
		}
		var langs []string
		if c.opts.Dialog != nil {
			langs = c.opts.Dialog.Content().Languages
		}
		fillCensus(p, d, views, langs, census)
	}
	if c.opts.Broadcasts != nil {
		list, err := c.opts.Broadcasts.List(ctx, dashboardBroadcasts)
		if err != nil {
			return err
		}
		d.HasBroadcasts, d.Looked = true, dashboardBroadcasts
		for _, b := range list {
			if b.Status == broadcast.Sending || b.Status == broadcast.Scheduled {
				d.Broadcasts = append(d.Broadcasts, b)
			}
		}
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "dashboard", p)
	return nil
}

// siteViews are the sites with their names, or nil when the console has
// no sites.
func (c *Console) siteViews(ctx context.Context) ([]sites.View, error) {
	s := c.siteService()
	if s == nil {
		return nil, nil
	}
	views, _, err := s.Views(ctx)
	return views, err
}

// siteService is the service that changes sites, or nil when the console
// has not its parts.
func (c *Console) siteService() *sites.Service {
	if c.opts.Broadcasts == nil || c.opts.Sites == nil || c.opts.Dialog == nil {
		return nil
	}
	return sites.New(c.opts.Broadcasts.Sites, c.opts.Sites, c.opts.Dialog.Content, c.opts.Dialog.Refresh)
}

// siteName is a site's name in lang, else in any language, else its id.
func siteName(v sites.View, lang string) string {
	if n := v.Names[lang]; n != "" {
		return n
	}
	for _, l := range Languages {
		if n := v.Names[l]; n != "" {
			return n
		}
	}
	return v.ID
}

// channelName is how the page names a channel.
func channelName(p *Page, ch string) string {
	switch ch {
	case "sms":
		return p.T("dashboard_channel_sms")
	case "whatsapp":
		return p.T("dashboard_channel_whatsapp")
	case "telegram":
		return p.T("dashboard_channel_telegram")
	case stats.UnknownChannel:
		return p.T("dashboard_channel_unknown")
	}
	return ch
}

// fillStats turns the daily counts into the charts and tables.
func (c *Console) fillStats(p *Page, d *dashboardData, days []Day, views []sites.View) {
	seen := map[string]bool{}
	langs, cities := map[string]int64{}, map[string]int64{}
	totals := map[string]*channelTotals{}
	total := func(ch string) *channelTotals {
		if totals[ch] == nil {
			totals[ch] = &channelTotals{Channel: ch, Name: channelName(p, ch)}
		}
		return totals[ch]
	}
	for i, day := range days {
		today := i == len(days)-1
		for name, n := range day.Counts {
			kind, of, ok := strings.Cut(name, ".")
			if !ok {
				continue
			}
			switch kind {
			case stats.In:
				seen[of] = true
				total(of).In += n
				if today {
					total(of).TodayIn += n
				}
			case stats.Out:
				seen[of] = true
				total(of).Out += n
				if today {
					total(of).TodayOut += n
				}
			case stats.Delivered:
				seen[of] = true
				total(of).Delivered += n
			case stats.Failed:
				seen[of] = true
				total(of).Failed += n
				if today {
					total(of).TodayFail += n
				}
			case stats.Lang:
				langs[of] += n
			case stats.Site:
				cities[of] += n
			}
		}
	}
	channels := slices.Clone(channelOrder)
	for _, ch := range slices.Sorted(maps.Keys(seen)) {
		if !slices.Contains(channels, ch) {
			channels = append(channels, ch)
		}
	}
	for _, ch := range channels {
		d.Channels = append(d.Channels, *total(ch))
	}
	d.Charts = []*chart{
		newChart("in", p.T("dashboard_chart_in", "Days", len(days)), days, stats.In, channels, p.Lang),
		newChart("out", p.T("dashboard_chart_out", "Days", len(days)), days, stats.Out, channels, p.Lang),
	}
	for _, ch := range d.Charts {
		for i, s := range ch.Series {
			ch.Series[i].Name = channelName(p, s.Channel)
		}
		for i, b := range ch.Bars {
			ch.Bars[i].Name = channelName(p, b.Channel)
		}
	}
	langOrder := Languages
	if c.opts.Dialog != nil {
		langOrder = c.opts.Dialog.Content().Languages
	}
	for _, l := range langOrder {
		d.Langs = append(d.Langs, namedCount{ID: l, Name: p.LanguageName(l), Lang: l, N: langs[l]})
		delete(langs, l)
	}
	for _, l := range slices.Sorted(maps.Keys(langs)) {
		d.Langs = append(d.Langs, namedCount{ID: l, Name: l, N: langs[l]})
	}
	for _, v := range views {
		d.Cities = append(d.Cities, namedCount{ID: v.ID, Name: siteName(v, p.Lang), N: cities[v.ID], Retired: v.Retired})
		delete(cities, v.ID)
	}
	for _, id := range slices.Sorted(maps.Keys(cities)) {
		d.Cities = append(d.Cities, namedCount{ID: id, Name: id, N: cities[id], Retired: true})
	}
}

// chart is a bar chart of one kind of count per day, stacked by channel,
// drawn by the template as SVG from the numbers computed here.
type chart struct {
	ID, Title string
	// Width and Height are the SVG's viewBox; the plot is inside the
	// margins.
	Width, Height int
	Max           int64
	Total         int64
	Series        []series
	Bars          []bar
	// Ticks are the dates written under the plot.
	Ticks []tick
	// Rows are the numbers, for the table.
	Rows []chartRow
	// PlotX and PlotEnd bound the plot, TopY and BaseY are its top and
	// its base line; AxisX and Anchor place the vertical axis's labels
	// (left of the plot, or right of it right to left).
	PlotX, PlotEnd, TopY, BaseY float64
	AxisX                       float64
	Anchor                      string
}

// series is one channel of a chart, with its total.
type series struct {
	Channel, Name string
	Total         int64
}

// bar is one rectangle: one channel's count of one day.
type bar struct {
	X, Y, W, H    float64
	Channel, Name string
	Date          time.Time
	N             int64
}

// tick is a date under the plot, written short.
type tick struct {
	X      float64
	Anchor string
	Label  string
}

// chartRow is one day's numbers, in the channels' order.
type chartRow struct {
	Date  time.Time
	N     []int64
	Total int64
}

const (
	chartWidth, chartHeight = 420, 170
	chartMargin             = 34 // for the axis's labels
	chartTop, chartBottom   = 14, 26
)

// round1 rounds to a tenth, which is finer than a pixel of the chart and
// keeps the page short.
func round1(x float64) float64 { return math.Round(x*10) / 10 }

// shortDate is a date under a chart: the day and the month.
func shortDate(t time.Time, lang string) string {
	if lang == "en" {
		return t.Format("2 Jan")
	}
	return t.Format("02/01")
}

// newChart computes the bars of kind per day and channel. Right to left,
// the newest day is on the left, as the page reads.
func newChart(id, title string, days []Day, kind string, channels []string, lang string) *chart {
	rtl := lang == "ar"
	ch := &chart{ID: id, Title: title, Width: chartWidth, Height: chartHeight, Anchor: "end"}
	for _, c := range channels {
		ch.Series = append(ch.Series, series{Channel: c})
	}
	for _, day := range days {
		row := chartRow{Date: day.Date, N: make([]int64, len(channels))}
		for i, c := range channels {
			n := day.Counts[stats.Name(kind, c)]
			row.N[i] = n
			row.Total += n
			ch.Series[i].Total += n
		}
		ch.Max = max(ch.Max, row.Total)
		ch.Total += row.Total
		ch.Rows = append(ch.Rows, row)
	}
	plotW := float64(chartWidth - chartMargin - 4)
	plotH := float64(chartHeight - chartTop - chartBottom)
	ch.PlotX, ch.AxisX = chartMargin, chartMargin-4
	if rtl {
		ch.PlotX, ch.AxisX, ch.Anchor = 4, float64(chartWidth-chartMargin+4), "start"
	}
	ch.PlotEnd = ch.PlotX + plotW
	ch.TopY, ch.BaseY = chartTop, chartTop+plotH
	if len(days) == 0 {
		return ch
	}
	slot := plotW / float64(len(days))
	scale := 0.0
	if ch.Max > 0 {
		scale = plotH / float64(ch.Max)
	}
	for i, row := range ch.Rows {
		pos := i
		if rtl {
			pos = len(days) - 1 - i
		}
		x := ch.PlotX + float64(pos)*slot + slot*0.15
		y := ch.BaseY
		for j, n := range row.N {
			if n == 0 {
				continue
			}
			h := float64(n) * scale
			y -= h
			ch.Bars = append(ch.Bars, bar{X: round1(x), Y: round1(y), W: round1(slot * 0.7), H: round1(h), Channel: channels[j], Date: row.Date, N: n})
		}
		if i == 0 || i == len(days)-1 || i == len(days)/2 {
			// The dates at the ends keep inside the plot.
			t := tick{X: round1(x + slot*0.35), Anchor: "middle", Label: shortDate(row.Date, lang)}
			switch {
			case pos == 0 && len(days) > 1:
				t.X, t.Anchor = round1(ch.PlotX), "start"
			case pos == len(days)-1 && len(days) > 1:
				t.X, t.Anchor = round1(ch.PlotEnd), "end"
			}
			ch.Ticks = append(ch.Ticks, t)
		}
	}
	return ch
}
