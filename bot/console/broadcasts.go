package console

import (
	"crypto/rand"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/sms"
	"github.com/outreach-org/outreach/bot/telegram"
	"github.com/outreach-org/outreach/bot/twilio"
)

// The broadcast pages: the list, the composer with its live counts, the
// confirmation, the progress of one broadcast and its cancellation. They
// call broadcast.Service as the API does (bot/server/staff.go): Validate,
// Create with an idempotency key, Get, ListFrom, Cancel, and Estimate and
// Message for what the API does not show before sending.

// bcastPerPage is how many broadcasts a page of the list shows.
const bcastPerPage = 50

// bcastEstimateTTL is how long a count of an audience is reused while staff
// type: counting reads every subscriber (most of a second for 100,000).
const bcastEstimateTTL = 30 * time.Second

// bcastReasons are the reasons a broadcast skips a person (the fan-out's and
// the outbox's), each with a message bcast_reason_<reason>.
var bcastReasons = []string{"no_contact", "unreadable", "no_address", "opted_out", "blocked", "undeliverable", "needs_template", "cancelled", "expired"}

// bcastKinds are the kinds of broadcast, each with a message bcast_kind_<kind>.
func bcastKinds() []string { return append([]string{broadcast.KindMessage}, content.NoticeKinds()...) }

// bcastEstimates keeps recent audience counts, by audience.
type bcastEstimates struct {
	mu   sync.Mutex
	byAu map[string]bcastCached
}

type bcastCached struct {
	est broadcast.Estimate
	at  time.Time
}

// estimate counts who a broadcast would reach; fresh skips the kept counts
// (the confirmation states numbers just counted).
func (c *Console) estimate(r *http.Request, b broadcast.Broadcast, fresh bool) (broadcast.Estimate, error) {
	a := b.Audience
	key := b.Kind + "|" + strings.Join(sortedCopy(a.Sites), ",") + "|" + strings.Join(sortedCopy(a.Languages), ",") + "|" + strings.Join(sortedCopy(a.Channels), ",")
	now := c.opts.Now()
	e := &c.bcast
	if !fresh {
		e.mu.Lock()
		got, ok := e.byAu[key]
		e.mu.Unlock()
		if ok && now.Sub(got.at) < bcastEstimateTTL {
			return got.est, nil
		}
	}
	est, err := c.opts.Broadcasts.Estimate(r.Context(), b)
	if err != nil {
		return est, err
	}
	e.mu.Lock()
	if e.byAu == nil || len(e.byAu) > 100 {
		e.byAu = map[string]bcastCached{}
	}
	e.byAu[key] = bcastCached{est: est, at: now}
	e.mu.Unlock()
	return est, nil
}

func sortedCopy(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// bcastOption is a checkbox or a choice of the composer.
type bcastOption struct {
	Value, Label string
	Checked      bool
}

// bcastSegments is one language's message as people get it, and its cost.
type bcastSegments struct {
	Lang string
	// Text is the message as received, footer included; empty when the
	// language has no text (nor a fallback).
	Text string
	// Fallback is the language whose text it is, when not Lang's own.
	Fallback string
	// Chars counts the characters staff wrote; Max is the most allowed.
	Chars, Max int
	// SMS is what the message costs as SMS.
	SMS sms.Cost
	// Forcing is the character that makes a Latin text UCS-2 (fewer
	// characters per SMS), if any.
	Forcing string
}

// bcastChannelLine is one channel and language of an estimate: how many
// people, how many units (SMS segments or messages) each, and their cost.
type bcastChannelLine struct {
	Channel, Lang string
	People        int64
	// Each is the units one person's message costs: SMS segments for
	// SMS, messages for WhatsApp and Telegram.
	Each  int
	Units int64
	// Priced is false when no price is set for the channel.
	Priced bool
	Cost   float64
}

// bcastEstimate is what the composer and the confirmation say a broadcast
// will do.
type bcastEstimate struct {
	People, Total int64
	Lines         []bcastChannelLine
	// SMS is the total of SMS segments.
	SMS int64
	// Cost is the estimated cost of the priced channels; Priced is false
	// when no channel with people has a price, Partly when some have none.
	Cost           float64
	Priced, Partly bool
	Unpriced       []string
	Currency       string
	Skipped        []bcastCount
	Templates      int64
	Quiet          bcastQuiet
	// Stated is set where the page says the number of people in words
	// (the confirmation): the block does not repeat it.
	Stated bool
}

// bcastCount is a number with its reason.
type bcastCount struct {
	Reason string
	N      int64
}

// bcastQuiet is the quiet-hours rule and what it does to this broadcast.
type bcastQuiet struct {
	From, To, Zone string
	// At is when the broadcast is set to leave (zero: now); Held is set
	// when that falls in the quiet hours, and Leaves is when it then
	// starts to leave.
	At     time.Time
	Held   bool
	Leaves time.Time
}

// bcastCompose is the composer's page.
type bcastCompose struct {
	Languages []string
	Sites     []bcastOption
	Langs     []bcastOption
	Channels  []bcastOption
	Fallbacks []bcastOption
	Max       int
	Now       bool // send now (else at SendAt)
	SendAt    time.Time
	MinAt     string
	Segments  map[string]bcastSegments
	Estimate  bcastEstimate
	// Key is the idempotency key of the confirmation's form.
	Key string
	// Texts are the messages as received, in the order of Languages (the
	// confirmation).
	Texts []bcastSegments
	// Chosen names the sites ticked, empty for every site.
	Chosen string
}

// BcastPart is the page with other data, for a block of the broadcast
// pages that the full page and its fragment both render.
func (p *Page) BcastPart(data any) *Page {
	q := *p
	q.Data = data
	return &q
}

// BcastWord is the message prefix+key (a channel, a reason, a status), or
// key itself when there is no such message.
func (p *Page) BcastWord(prefix, key string) string {
	id := prefix + key
	if s := p.T(id); s != id {
		return s
	}
	return key
}

// bcastForm reads the composer's form into a broadcast. Problems of the form
// itself (a time that cannot be read) are returned by field, as message ids.
func (c *Console) bcastForm(r *http.Request) (broadcast.Broadcast, map[string]string, error) {
	if err := readForm(r); err != nil {
		return broadcast.Broadcast{}, nil, err
	}
	f := r.PostForm
	b := broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{}, CreatedBy: signedIn(r).Name}
	for _, lang := range c.opts.Dialog.Content().Languages {
		// Browsers send a textarea's line breaks as CRLF; people get LF.
		if t := strings.ReplaceAll(f.Get("text."+lang), "\r\n", "\n"); t != "" {
			b.Text[lang] = t
		}
	}
	b.Fallback = f.Get("fallback")
	b.Audience = broadcast.Audience{Sites: nonEmpty(f["sites"]), Languages: nonEmpty(f["languages"]), Channels: nonEmpty(f["channels"])}
	bad := map[string]string{}
	if f.Get("when") == "at" {
		v := strings.TrimSpace(f.Get("send_at"))
		at, err := time.ParseInLocation("2006-01-02T15:04", v, c.opts.Location)
		if err != nil {
			bad["send_at"] = "bcast_err_send_at"
		} else {
			b.SendAt = at.UTC()
		}
	}
	return b, bad, nil
}

func nonEmpty(s []string) []string {
	var out []string
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// bcastErrors turns what the service refused, and the form's own problems,
// into messages by field, in the page's language.
func (c *Console) bcastErrors(p *Page, err error, bad map[string]string) map[string]string {
	out := map[string]string{}
	add := func(field, text string) {
		if out[field] != "" {
			out[field] += " "
		}
		out[field] += text
	}
	for field, id := range bad {
		add(field, p.T(id))
	}
	for _, pr := range broadcast.Problems(err) {
		field, lang, isText := pr.Field, "", false
		if l, ok := strings.CutPrefix(pr.Field, "text."); ok {
			lang, isText = l, true
		}
		switch {
		case isText && pr.Reason == broadcast.ReasonMissing:
			add(field, p.T("bcast_err_text_missing", "Lang", p.BcastWord("bcast_lang_", lang)))
		case isText && pr.Reason == broadcast.ReasonEmpty:
			add(field, p.T("bcast_err_text_empty"))
		case isText && pr.Reason == broadcast.ReasonTooLong:
			add(field, p.T("bcast_err_text_long", "N", pr.Value, "Max", p.Num(broadcast.MaxText)))
		case isText && pr.Reason == broadcast.ReasonBadChar:
			add(field, p.T("bcast_err_text_char", "Char", pr.Value))
		case field == "text":
			add("text", p.T("bcast_err_text_none"))
		case field == "fallback":
			add("fallback", p.T("bcast_err_fallback"))
		case field == "audience.sites":
			add("sites", p.T("bcast_err_site", "Site", pr.Value))
		case field == "audience.languages":
			add("languages", p.T("bcast_err_language", "Lang", pr.Value))
		case field == "audience.channels":
			add("channels", p.T("bcast_err_channel", "Channel", pr.Value))
		case field == "send_at" && pr.Reason == broadcast.ReasonPast:
			add("send_at", p.T("bcast_err_past"))
		default:
			add("form", p.T("bcast_err_other", "Detail", pr.Field+": "+pr.Message))
		}
	}
	return out
}

// bcastSegmentsFor is what one language's readers get, and its cost.
func (c *Console) bcastSegmentsFor(b broadcast.Broadcast, lang string) bcastSegments {
	s := bcastSegments{Lang: lang, Max: broadcast.MaxText, Text: c.opts.Broadcasts.Message(b, lang)}
	own := b.Text[lang]
	if own == "" && s.Text != "" {
		s.Fallback = b.Fallback
		own = b.Text[b.Fallback]
	}
	s.Chars = utf8.RuneCountInString(own)
	if s.Text == "" {
		return s
	}
	s.SMS = sms.Measure(s.Text)
	s.SMS.Segments = bcastUnits("sms", s.Text)
	if s.SMS.Encoding == sms.UCS2 && lang != "ar" {
		if r, ok := sms.FirstNonGSM(s.Text); ok {
			s.Forcing = string(r)
		}
	}
	return s
}

// bcastUnits is what one message costs on a channel, as the outbox sends
// it: cut at the channel's longest message (outbox.Split), each SMS part in
// its segments.
func bcastUnits(channel, text string) int {
	switch channel {
	case "sms":
		n := 0
		for _, part := range outbox.Split(text, twilio.MaxBody) {
			n += sms.Measure(part).Segments
		}
		return n
	case "whatsapp":
		return len(outbox.Split(text, twilio.MaxBody))
	case telegram.Channel:
		return len(outbox.SplitUnits(text, telegram.MaxText, (&telegram.Sender{}).Units))
	}
	return 1
}

// bcastEstimateOf builds what the estimate says from the counts and the
// texts.
func (c *Console) bcastEstimateOf(b broadcast.Broadcast, est broadcast.Estimate) bcastEstimate {
	out := bcastEstimate{People: est.People(), Total: est.Total, Currency: c.opts.Currency, Quiet: c.bcastQuiet(b.SendAt)}
	priced := 0
	for _, ch := range broadcast.Channels {
		byLang := est.Send[ch]
		if len(byLang) == 0 {
			continue
		}
		price, ok := c.opts.Prices[ch]
		if ok {
			priced++
		} else {
			out.Unpriced = append(out.Unpriced, ch)
		}
		langs := make([]string, 0, len(byLang))
		for l := range byLang {
			langs = append(langs, l)
		}
		slices.Sort(langs)
		for _, lang := range langs {
			n := byLang[lang]
			text := c.opts.Broadcasts.Message(b, lang)
			each := 0
			if text != "" {
				each = bcastUnits(ch, text)
			}
			if ch == "whatsapp" && est.Templates[lang] > 0 {
				// Outside the window a template goes instead: one message.
				each = max(each, 1)
			}
			line := bcastChannelLine{Channel: ch, Lang: lang, People: n, Each: each, Units: n * int64(each), Priced: ok}
			if ok {
				line.Cost = float64(line.Units) * price
				out.Cost += line.Cost
			}
			if ch == "sms" {
				out.SMS += line.Units
			}
			out.Lines = append(out.Lines, line)
		}
	}
	out.Priced = priced > 0
	out.Partly = priced > 0 && len(out.Unpriced) > 0
	for _, reason := range sortedReasons(est.Skipped) {
		out.Skipped = append(out.Skipped, bcastCount{Reason: reason, N: est.Skipped[reason]})
	}
	for _, n := range est.Templates {
		out.Templates += n
	}
	return out
}

func sortedReasons(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return int(m[b] - m[a])
		}
		return strings.Compare(a, b)
	})
	return keys
}

// bcastQuiet says what the quiet hours do to a broadcast that leaves at at
// (zero: now).
func (c *Console) bcastQuiet(at time.Time) bcastQuiet {
	q := bcastQuiet{At: at, Zone: c.opts.Location.String()}
	q.From, q.To = c.opts.Quiet.Span()
	if q.From == "" {
		return q
	}
	when := at
	if when.IsZero() {
		when = c.opts.Now()
	}
	if c.opts.Quiet.Location != nil && c.opts.Quiet.Quiet(when) {
		q.Held, q.Leaves = true, c.opts.Quiet.End(when)
	}
	return q
}

// bcastCompose fills the composer's page from a broadcast (the form's, or
// an empty one); fresh counts its audience anew.
func (c *Console) bcastCompose(r *http.Request, b broadcast.Broadcast, now, fresh bool) (*bcastCompose, error) {
	cont := c.opts.Dialog.Content()
	d := &bcastCompose{Languages: cont.Languages, Max: broadcast.MaxText, Now: now, SendAt: b.SendAt, Segments: map[string]bcastSegments{}}
	lang := c.language(r, signedIn(r))
	sites, err := c.opts.Broadcasts.Sites(r.Context())
	if err != nil {
		return nil, err
	}
	for _, s := range sites {
		if s.Retired && !slices.Contains(b.Audience.Sites, s.ID) {
			continue
		}
		d.Sites = append(d.Sites, bcastOption{Value: s.ID, Label: engine.SiteName(cont, sites, lang, s.ID), Checked: slices.Contains(b.Audience.Sites, s.ID)})
	}
	var chosen []string
	for _, o := range d.Sites {
		if o.Checked {
			chosen = append(chosen, o.Label)
		}
	}
	d.Chosen = strings.Join(chosen, ", ")
	for _, l := range cont.Languages {
		d.Langs = append(d.Langs, bcastOption{Value: l, Checked: slices.Contains(b.Audience.Languages, l)})
		d.Fallbacks = append(d.Fallbacks, bcastOption{Value: l, Checked: b.Fallback == l})
		d.Segments[l] = c.bcastSegmentsFor(b, l)
	}
	for _, ch := range broadcast.Channels {
		d.Channels = append(d.Channels, bcastOption{Value: ch, Checked: slices.Contains(b.Audience.Channels, ch)})
	}
	d.MinAt = c.opts.Now().In(c.opts.Location).Format("2006-01-02T15:04")
	est, err := c.estimate(r, b, fresh)
	if err != nil {
		return nil, err
	}
	d.Estimate = c.bcastEstimateOf(b, est)
	return d, nil
}

// bcastNew shows the composer: empty (GET), or with the values of a form
// sent back from the confirmation to change them (POST).
func (c *Console) bcastNew(w http.ResponseWriter, r *http.Request) error {
	b := broadcast.Broadcast{Kind: broadcast.KindMessage}
	now := true
	var form map[string][]string
	if r.Method == http.MethodPost {
		var err error
		if b, _, err = c.bcastForm(r); err != nil {
			return err
		}
		now = r.PostForm.Get("when") != "at"
		form = r.PostForm
	}
	d, err := c.bcastCompose(r, b, now, false)
	if err != nil {
		return err
	}
	p := c.newPage(r, "bcast_new_title", d)
	p.Form = form
	c.render(w, r, http.StatusOK, "broadcast-new", p)
	return nil
}

// bcastRefuse shows the composer again with what is wrong next to each
// field and the values kept (422).
func (c *Console) bcastRefuse(w http.ResponseWriter, r *http.Request, b broadcast.Broadcast, err error, bad map[string]string) error {
	d, cerr := c.bcastCompose(r, b, r.PostForm.Get("when") != "at", false)
	if cerr != nil {
		return cerr
	}
	p := c.newPage(r, "bcast_new_title", d)
	p.Form = r.PostForm
	p.Errors = c.bcastErrors(p, err, bad)
	c.render(w, r, http.StatusUnprocessableEntity, "broadcast-new", p)
	return nil
}

// bcastSegmentsPart is the live counter of one language (a fragment).
func (c *Console) bcastSegmentsPart(w http.ResponseWriter, r *http.Request) error {
	lang := r.PathValue("lang")
	if !c.opts.Dialog.Content().HasLanguage(lang) {
		return errNotFound
	}
	b, _, err := c.bcastForm(r)
	if err != nil {
		return err
	}
	p := c.newPage(r, "bcast_new_title", c.bcastSegmentsFor(b, lang))
	c.fragment(w, r, "broadcast-new", "broadcast-segments", p)
	return nil
}

// bcastEstimatePart is the live count of who will get it and its cost (a
// fragment).
func (c *Console) bcastEstimatePart(w http.ResponseWriter, r *http.Request) error {
	b, _, err := c.bcastForm(r)
	if err != nil {
		return err
	}
	est, err := c.estimate(r, b, false)
	if err != nil {
		return err
	}
	p := c.newPage(r, "bcast_new_title", c.bcastEstimateOf(b, est))
	c.fragment(w, r, "broadcast-new", "broadcast-estimate", p)
	return nil
}

// bcastConfirm checks the composer's form and states what sending it will
// do, in numbers, before anything is sent.
func (c *Console) bcastConfirm(w http.ResponseWriter, r *http.Request) error {
	b, bad, err := c.bcastForm(r)
	if err != nil {
		return err
	}
	verr := c.opts.Broadcasts.Validate(r.Context(), b)
	if len(bad) > 0 || errors.Is(verr, broadcast.ErrInvalid) {
		return c.bcastRefuse(w, r, b, verr, bad)
	} else if verr != nil {
		return verr
	}
	// The statement is of numbers counted now, not kept ones.
	d, err := c.bcastCompose(r, b, r.PostForm.Get("when") != "at", true)
	if err != nil {
		return err
	}
	d.Estimate.Stated = true
	d.Key = rand.Text()
	for _, l := range d.Languages {
		d.Texts = append(d.Texts, d.Segments[l])
	}
	p := c.newPage(r, "bcast_confirm_title", d)
	p.Form = r.PostForm
	c.render(w, r, http.StatusOK, "broadcast-confirm", p)
	return nil
}

// bcastCreate sends a confirmed broadcast. The confirmation's idempotency
// key makes a second submit of the same form find the first broadcast.
func (c *Console) bcastCreate(w http.ResponseWriter, r *http.Request) error {
	b, bad, err := c.bcastForm(r)
	if err != nil {
		return err
	}
	if len(bad) > 0 {
		return c.bcastRefuse(w, r, b, nil, bad)
	}
	key := r.PostForm.Get("key")
	if key == "" || len(key) > 200 {
		return &pageError{status: http.StatusBadRequest, message: "error_bad_form"}
	}
	id, existed, err := c.opts.Broadcasts.Create(r.Context(), b, "console:"+key)
	switch {
	case errors.Is(err, broadcast.ErrInvalid):
		return c.bcastRefuse(w, r, b, err, nil)
	case errors.Is(err, broadcast.ErrIdempotencyConflict):
		return &pageError{status: http.StatusConflict, message: "bcast_err_conflict"}
	case err != nil:
		return err
	}
	if !existed {
		c.record(r, "broadcast.create", id)
		c.setFlash(r, "bcast_sent_flash")
	}
	http.Redirect(w, r, "/broadcasts/"+id, http.StatusSeeOther)
	return nil
}

// bcastRow is one broadcast of the list.
type bcastRow struct {
	broadcast.Report
	Summary string
	Sites   []string
	Waiting int64
}

// bcastList is the list's page.
type bcastList struct {
	Rows       []bcastRow
	Page       int
	Prev, Next int
}

func (c *Console) bcastListPage(w http.ResponseWriter, r *http.Request) error {
	page := 1
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return errNotFound
		}
		page = n
	}
	reports, err := c.opts.Broadcasts.ListFrom(r.Context(), int64(page-1)*bcastPerPage, bcastPerPage+1)
	if err != nil {
		return err
	}
	d := bcastList{Page: page}
	if page > 1 {
		d.Prev = page - 1
	}
	if len(reports) > bcastPerPage {
		reports, d.Next = reports[:bcastPerPage], page+1
	}
	lang := c.language(r, signedIn(r))
	names, err := c.bcastSiteNames(r, lang)
	if err != nil {
		return err
	}
	for _, rep := range reports {
		d.Rows = append(d.Rows, bcastRow{Report: rep, Summary: bcastSummary(rep.Broadcast, lang), Sites: siteLabels(rep.Audience.Sites, names), Waiting: rep.Counts.Waiting()})
	}
	c.render(w, r, http.StatusOK, "broadcasts", c.newPage(r, "bcast_list_title", d))
	return nil
}

// bcastSummary is the beginning of a message's text, in lang if it has one.
func bcastSummary(b broadcast.Broadcast, lang string) string {
	t := b.Text[lang]
	if t == "" {
		t = b.Text[b.Fallback]
	}
	if t == "" {
		for _, l := range slices.Sorted(maps.Keys(b.Text)) {
			if t = b.Text[l]; t != "" {
				break
			}
		}
	}
	t = strings.Join(strings.Fields(t), " ")
	if utf8.RuneCountInString(t) > 80 {
		t = string([]rune(t)[:79]) + "…"
	}
	return t
}

// bcastSiteNames are the sites' names in lang, by id.
func (c *Console) bcastSiteNames(r *http.Request, lang string) (map[string]string, error) {
	sites, err := c.opts.Broadcasts.Sites(r.Context())
	if err != nil {
		return nil, err
	}
	cont := c.opts.Dialog.Content()
	out := map[string]string{}
	for _, s := range sites {
		out[s.ID] = engine.SiteName(cont, sites, lang, s.ID)
	}
	return out, nil
}

func siteLabels(ids []string, names map[string]string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id
		if n := names[id]; n != "" {
			out[i] = n
		}
	}
	return out
}

// bcastProgress is a broadcast's page, and its live part.
type bcastProgress struct {
	broadcast.Report
	Done      bool
	CanCancel bool
	Sites     []string
	Texts     []bcastSegments
	Skipped   []bcastCount
	Waiting   int64
	// Finished counts who has an outcome: sent, skipped or failed before
	// sending.
	Finished int64
	Quiet    bcastQuiet
}

func (c *Console) bcastProgressOf(r *http.Request) (*bcastProgress, error) {
	rep, err := c.opts.Broadcasts.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	d := &bcastProgress{Report: rep, Waiting: rep.Counts.Waiting()}
	d.Done = rep.Status == broadcast.Done || rep.Status == broadcast.Cancelled
	d.CanCancel = !d.Done
	d.Finished = rep.Counts.Finished()
	for _, reason := range sortedReasons(rep.Counts.SkippedBy) {
		d.Skipped = append(d.Skipped, bcastCount{Reason: reason, N: rep.Counts.SkippedBy[reason]})
	}
	if rep.Status == broadcast.Scheduled || rep.Status == broadcast.Sending {
		d.Quiet = c.bcastQuiet(rep.SendAt)
	}
	return d, nil
}

func (c *Console) bcastShow(w http.ResponseWriter, r *http.Request) error {
	d, err := c.bcastProgressOf(r)
	if err != nil {
		return err
	}
	lang := c.language(r, signedIn(r))
	names, err := c.bcastSiteNames(r, lang)
	if err != nil {
		return err
	}
	d.Sites = siteLabels(d.Audience.Sites, names)
	if d.Kind == broadcast.KindMessage {
		for _, l := range c.opts.Dialog.Content().Languages {
			if len(d.Audience.Languages) > 0 && !slices.Contains(d.Audience.Languages, l) {
				continue
			}
			d.Texts = append(d.Texts, c.bcastSegmentsFor(d.Broadcast, l))
		}
	}
	c.render(w, r, http.StatusOK, "broadcast", c.newPage(r, "bcast_show_title", d))
	return nil
}

// bcastProgressPart is the live counts of a broadcast (a fragment).
func (c *Console) bcastProgressPart(w http.ResponseWriter, r *http.Request) error {
	d, err := c.bcastProgressOf(r)
	if err != nil {
		return err
	}
	c.fragment(w, r, "broadcast", "broadcast-progress", c.newPage(r, "bcast_show_title", d))
	return nil
}

// bcastCancelPage asks before cancelling, with what it will stop.
func (c *Console) bcastCancelPage(w http.ResponseWriter, r *http.Request) error {
	d, err := c.bcastProgressOf(r)
	if err != nil {
		return err
	}
	c.render(w, r, http.StatusOK, "broadcast-cancel", c.newPage(r, "bcast_cancel_title", d))
	return nil
}

func (c *Console) bcastCancel(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	before, err := c.opts.Broadcasts.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if err := c.opts.Broadcasts.Cancel(r.Context(), id); err != nil {
		return err
	}
	if before.Status != broadcast.Done && before.Status != broadcast.Cancelled {
		c.record(r, "broadcast.cancel", id)
		c.setFlash(r, "bcast_cancelled", strconv.FormatInt(before.Counts.Sent, 10))
	}
	http.Redirect(w, r, "/broadcasts/"+id, http.StatusSeeOther)
	return nil
}
