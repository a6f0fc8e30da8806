package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/sms"
	"github.com/outreach-org/outreach/bot/store"
)

// requestsPerPage is how many requests one page of the inbox lists.
const requestsPerPage = 50

// requestRow is a request as the inbox lists it: who asked is a
// pseudonym, never an address; what they wrote is only in the thread.
type requestRow struct {
	ID        string
	Pseudonym string
	Lang      string
	Channel   string
	Site      string
	Urgent    bool
	Open      bool
	Created   time.Time
	Assignee  string
	Replies   int
}

// option is one choice of a filter.
type option struct {
	Value, Label string
}

// requestsData is the inbox page.
type requestsData struct {
	Rows []requestRow
	// Site, Lang and Channel are the filters ("" for all).
	Site, Lang, Channel    string
	Sites, Langs, Channels []option
	// Open and Urgent count the open requests the filters keep.
	Open, Urgent int
	// All counts every open request, filters aside.
	All        int
	Page       int
	Pages      int
	From, To   int
	Prev, Next string
}

// threadData is one request's page.
type threadData struct {
	Row      requestRow
	Messages []store.Message
	// Mine is set when the request is assigned to whoever reads it.
	Mine     bool
	Segments segmentsData
}

// segmentsData is what a reply costs on the person's channel.
type segmentsData struct {
	// SMS is set when the person is reached by SMS, where segments count.
	SMS      bool
	Channel  string
	Chars    int
	Max      int
	TooLong  bool
	Segments int
	Encoding sms.Encoding
	// Costly is the character that makes a French or English text go as
	// UCS-2 (fewer characters in each SMS), if any.
	Costly string
}

// closeData is the confirmation before closing a request.
type closeData struct {
	Row requestRow
	// Notice is what the person is told, in their language; empty when
	// they are not told (no such message in the content).
	Notice         string
	NoticeLang     string
	NoticeSegments segmentsData
}

// requestsReady answers 404 when the console has no requests to show.
func (c *Console) requestsReady() error {
	if c.opts.Requests == nil || c.opts.Dialog == nil {
		return errNotFound
	}
	return nil
}

// pseudonym names a person in the console without saying who they are: the
// start of their contact key, itself a keyed hash of channel and address.
func pseudonym(contact string) string {
	if len(contact) > 8 {
		contact = contact[:8]
	}
	return "#" + contact
}

// row makes a request's row.
func row(q store.Request, assignee string) requestRow {
	return requestRow{ID: q.ID, Pseudonym: pseudonym(q.Contact), Lang: q.Lang, Channel: q.Channel, Site: q.Site,
		Urgent: q.Urgent, Open: q.Open, Created: q.CreatedAt, Assignee: assignee, Replies: q.Replies}
}

// Waited says how long ago t was, in minutes, hours or days.
func (p *Page) Waited(t time.Time) string {
	now := time.Now()
	if p.c != nil {
		now = p.c.opts.Now()
	}
	waited := max(now.Sub(t), 0)
	switch {
	case waited < time.Hour:
		return p.T("req_age_minutes", "Count", int(waited/time.Minute))
	case waited < 48*time.Hour:
		return p.T("req_age_hours", "Count", int(waited/time.Hour))
	}
	return p.T("req_age_days", "Count", int(waited/(24*time.Hour)))
}

// ChannelName is a channel's name in the page's language.
func (p *Page) ChannelName(ch string) string {
	switch ch {
	case "sms":
		return p.T("req_channel_sms")
	case "whatsapp":
		return p.T("req_channel_whatsapp")
	case "telegram":
		return p.T("req_channel_telegram")
	}
	return ch
}

// SiteName is a site's name as the content writes it in the page's
// language, else its id.
func (p *Page) SiteName(site string) string {
	if site == "" || p.c == nil || p.c.opts.Dialog == nil {
		return site
	}
	ct := p.c.opts.Dialog.Content()
	for _, lang := range []string{p.Lang, ct.Languages[0]} {
		if ct.Has(lang, content.PrefixSite+site) {
			return ct.Text(lang, content.PrefixSite+site, nil)
		}
	}
	return site
}

// requests is the inbox: the open requests, urgent ones first, then the
// one waiting longest, filtered by site, language and channel, 50 a page.
func (c *Console) requests(w http.ResponseWriter, r *http.Request) error {
	if err := c.requestsReady(); err != nil {
		return err
	}
	reqs, err := c.opts.Requests.List(r.Context())
	if err != nil {
		return err
	}
	store.StaffOrder(reqs)
	q := r.URL.Query()
	d := requestsData{Site: q.Get("site"), Lang: q.Get("language"), Channel: q.Get("channel"), All: len(reqs)}
	var sites, langs, channels []string
	var kept []store.Request
	for _, req := range reqs {
		sites, langs, channels = append(sites, req.Site), append(langs, req.Lang), append(channels, req.Channel)
		if (d.Site == "" || req.Site == d.Site) && (d.Lang == "" || req.Lang == d.Lang) && (d.Channel == "" || req.Channel == d.Channel) {
			kept = append(kept, req)
			if req.Urgent {
				d.Urgent++
			}
		}
	}
	d.Open = len(kept)
	p := c.newPage(r, "req_title", nil)
	choices := func(have []string, chosen string, label func(string) string) []option {
		have = append(have, chosen)
		slices.Sort(have)
		have = slices.Compact(have)
		var out []option
		for _, v := range have {
			if v != "" {
				out = append(out, option{Value: v, Label: label(v)})
			}
		}
		return out
	}
	d.Sites = choices(sites, d.Site, p.SiteName)
	d.Langs = choices(langs, d.Lang, p.LanguageName)
	d.Channels = choices(channels, d.Channel, p.ChannelName)

	d.Pages = max(1, (len(kept)+requestsPerPage-1)/requestsPerPage)
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = min(max(d.Page, 1), d.Pages)
	from := (d.Page - 1) * requestsPerPage
	to := min(from+requestsPerPage, len(kept))
	shown := kept[from:to]
	if len(shown) > 0 {
		d.From, d.To = from+1, to
	}
	ids := make([]string, len(shown))
	for i, req := range shown {
		ids[i] = req.ID
	}
	assignees, err := c.opts.Requests.Assignees(r.Context(), ids...)
	if err != nil {
		return err
	}
	for i, req := range shown {
		d.Rows = append(d.Rows, row(req, assignees[i]))
	}
	pageURL := func(n int) string {
		v := url.Values{}
		for k, val := range map[string]string{"site": d.Site, "language": d.Lang, "channel": d.Channel} {
			if val != "" {
				v.Set(k, val)
			}
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		if len(v) == 0 {
			return "/requests"
		}
		return "/requests?" + v.Encode()
	}
	if d.Page > 1 {
		d.Prev = pageURL(d.Page - 1)
	}
	if d.Page < d.Pages {
		d.Next = pageURL(d.Page + 1)
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "requests", p)
	return nil
}

// thread reads one request: its row, and its messages opened.
func (c *Console) thread(r *http.Request, id string) (threadData, error) {
	req, notes, err := c.opts.Requests.Get(r.Context(), id)
	if err != nil {
		return threadData{}, err
	}
	replies, err := c.opts.Requests.Replies(r.Context(), id)
	if err != nil {
		return threadData{}, err
	}
	assignee, err := c.opts.Requests.Assignees(r.Context(), id)
	if err != nil {
		return threadData{}, err
	}
	th := store.OpenThread(c.opts.Requests.Unseal, req, notes, replies)
	d := threadData{Row: row(req, assignee[0]), Messages: th.Messages}
	d.Mine = d.Row.Assignee != "" && d.Row.Assignee == signedIn(r).Name
	return d, nil
}

// requestPage shows one request's thread with its reply box.
func (c *Console) requestPage(w http.ResponseWriter, r *http.Request) error {
	if err := c.requestsReady(); err != nil {
		return err
	}
	d, err := c.thread(r, r.PathValue("id"))
	if err != nil {
		return err
	}
	d.Segments = measure(d.Row.Channel, "")
	c.render(w, r, http.StatusOK, "request", c.newPage(r, "req_thread_title", d))
	return nil
}

// measure says what text costs on channel, with the function the senders
// use to count SMS segments.
func measure(channel, text string) segmentsData {
	s := segmentsData{SMS: channel == "sms", Channel: channel, Chars: utf8.RuneCountInString(text), Max: dialog.MaxReply}
	s.TooLong = s.Chars > s.Max
	cost := sms.Measure(text)
	s.Segments, s.Encoding = cost.Segments, cost.Encoding
	if cost.Encoding == sms.UCS2 {
		if ch, ok := sms.FirstNonGSM(text); ok {
			s.Costly = string(ch)
		}
	}
	return s
}

// requestSegments is the live counter of the reply box: what the text
// typed so far costs on the person's channel.
func (c *Console) requestSegments(w http.ResponseWriter, r *http.Request) error {
	if err := c.requestsReady(); err != nil {
		return err
	}
	if err := readForm(r); err != nil {
		return err
	}
	req, _, err := c.opts.Requests.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	d := threadData{Row: requestRow{ID: req.ID, Lang: req.Lang, Channel: req.Channel},
		Segments: measure(req.Channel, r.PostForm.Get("text"))}
	c.fragment(w, r, "request", "req-segments", c.newPage(r, "req_thread_title", d))
	return nil
}

// replyRequest sends staff's reply to the person, through the same service
// as the API, and comes back to the thread.
func (c *Console) replyRequest(w http.ResponseWriter, r *http.Request) error {
	if err := c.requestsReady(); err != nil {
		return err
	}
	if err := readForm(r); err != nil {
		return err
	}
	id, text := r.PathValue("id"), r.PostForm.Get("text")
	req, _, err := c.opts.Requests.Get(r.Context(), id)
	if err != nil {
		return err
	}
	var bad *dialog.BadCharError
	var status int
	var problem string
	switch err := c.opts.Dialog.Requests().Reply(r.Context(), id, signedIn(r).Name, text); {
	case err == nil:
		c.record(r, "request.reply", id)
		c.setFlash(r, "req_reply_sent", pseudonym(req.Contact))
		http.Redirect(w, r, "/requests/"+url.PathEscape(id), http.StatusSeeOther)
		return nil
	case errors.Is(err, dialog.ErrReplyEmpty):
		status, problem = http.StatusUnprocessableEntity, "req_reply_empty"
	case errors.Is(err, dialog.ErrReplyTooLong):
		status, problem = http.StatusUnprocessableEntity, "req_reply_too_long"
	case errors.As(err, &bad):
		status, problem = http.StatusUnprocessableEntity, "req_reply_bad_char"
	case errors.Is(err, dialog.ErrRequestClosed):
		status, problem = http.StatusConflict, "req_reply_closed"
	case errors.Is(err, dialog.ErrUnreachable):
		status, problem = http.StatusConflict, "req_reply_unreachable"
	default:
		return err
	}
	d, err := c.thread(r, id)
	if err != nil {
		return err
	}
	d.Segments = measure(d.Row.Channel, text)
	p := c.newPage(r, "req_thread_title", d)
	p.Form = r.PostForm
	char := ""
	if bad != nil {
		char = fmt.Sprintf("%U", bad.Char)
	}
	p.Errors = map[string]string{"text": p.T(problem, "Max", dialog.MaxReply, "Char", char)}
	c.render(w, r, status, "request", p)
	return nil
}

// assignRequest notes that whoever is signed in takes care of a request.
func (c *Console) assignRequest(w http.ResponseWriter, r *http.Request) error {
	if err := c.requestsReady(); err != nil {
		return err
	}
	id := r.PathValue("id")
	req, _, err := c.opts.Requests.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if !req.Open {
		return &pageError{status: http.StatusConflict, message: "req_reply_closed"}
	}
	if err := c.opts.Requests.Assign(r.Context(), id, signedIn(r).Name); err != nil {
		return err
	}
	c.record(r, "request.assign", id)
	c.setFlash(r, "req_assigned", pseudonym(req.Contact))
	http.Redirect(w, r, "/requests/"+url.PathEscape(id), http.StatusSeeOther)
	return nil
}

// closePage asks before closing a request, saying what the person will be
// told.
func (c *Console) closePage(w http.ResponseWriter, r *http.Request) error {
	if err := c.requestsReady(); err != nil {
		return err
	}
	req, _, err := c.opts.Requests.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	d := closeData{Row: row(req, "")}
	if d.Notice, d.NoticeLang, err = c.opts.Dialog.Requests().ClosingNotice(r.Context(), req.ID); err != nil {
		return err
	}
	d.NoticeSegments = measure(req.Channel, d.Notice)
	c.render(w, r, http.StatusOK, "request-close", c.newPage(r, "req_close_title", d))
	return nil
}

// closeRequest closes a request through the same service as the API: the
// person is told, and the bot answers them again.
func (c *Console) closeRequest(w http.ResponseWriter, r *http.Request) error {
	if err := c.requestsReady(); err != nil {
		return err
	}
	id := r.PathValue("id")
	req, _, err := c.opts.Requests.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if err := c.opts.Dialog.Requests().Close(r.Context(), id); err != nil {
		return err
	}
	c.record(r, "request.close", id)
	c.setFlash(r, "req_closed", pseudonym(req.Contact))
	http.Redirect(w, r, "/requests", http.StatusSeeOther)
	return nil
}
