// Package engine is the conversation engine. It is pure: given a contact's
// state, what they wrote, the content, the stored data and the time, it
// returns the replies and the new state. It does no I/O and reads no clock,
// so every conversation can be replayed and tested without Redis.
package engine

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/outreach-org/outreach/bot/content"
)

// State is what the bot remembers of one contact between two messages.
type State struct {
	// Lang is the person's language; empty until it is known.
	Lang string `json:"lang,omitempty"`
	// Node is the menu or question waiting for the person's answer.
	Node string `json:"node,omitempty"`
	// Tries counts wrong answers to the current question.
	Tries int `json:"tries,omitempty"`
	// Misses counts the answers in a row the bot did not understand, at
	// any menu or question; at missesBeforeOffer it offers a person.
	Misses int `json:"misses,omitempty"`
	// Vars holds saved answers, such as the chosen site.
	Vars map[string]string `json:"vars,omitempty"`
	// Sites are the sites whose notices the person chose to receive.
	Sites []string `json:"sites,omitempty"`
	// OptedOut is set by STOP: the person gets no notices until START.
	OptedOut bool `json:"opted_out,omitempty"`
	// Blocked is set while the person blocks the bot (Telegram): nothing
	// can reach them. Unblocking clears it, not an opt-out.
	Blocked bool `json:"blocked,omitempty"`
	// Request is the open request to talk to a person: while it is open the
	// bot stays quiet but for keywords and menu choices, and what else the
	// person writes goes to staff.
	Request string `json:"request,omitempty"`
	// StaffReplied is set when staff have replied to the open request: from
	// then on everything the person writes, numbers included, goes to staff,
	// until a keyword (MENU, STOP…) or the request's closing.
	StaffReplied bool `json:"staff_replied,omitempty"`
	// LastSeen is when the person last wrote; zero for a new contact.
	LastSeen time.Time `json:"last_seen,omitzero"`
}

func (s State) clone() State {
	c := s
	c.Vars = make(map[string]string, len(s.Vars))
	for k, v := range s.Vars {
		c.Vars[k] = v
	}
	c.Sites = slices.Clone(s.Sites)
	return c
}

// Input is one message from the person and the time it arrived.
type Input struct {
	Text string
	Now  time.Time
	// Lang is the language the channel says the person uses (Telegram's
	// language_code), tried when the first message does not tell.
	Lang string
	// Site is the site the person came for, as the channel tells it: the
	// payload of a Telegram link t.me/<bot>?start=<site>. A site's id
	// presets that site (Settings.SiteStart); anything else is ignored.
	Site string
	// Media is set when the message carried what the bot cannot read: a
	// photo, a voice note, a sticker, a file, a place it cannot read (one
	// it can is Location). With no Text, the person is told that only text
	// is read.
	Media bool
	// Voice is set on a phone call: the content's spoken view says the
	// replies (content.Spoken: spoken variants, options read as keys to
	// press), each reply comes in parts to say (Reply.Parts), * says
	// again what was said (KeyRepeat), # goes to the main menu (KeyMenu),
	// and a question for the person's own words asks staff to call back.
	Voice bool
	// Call is set when a call begins, and when a missed call asks for the
	// menu by SMS: the language choice for a person whose language is not
	// known, the main menu for the others.
	Call bool
	// Repeat says again what was said last, changing nothing: a call's
	// silence.
	Repeat bool
	// Withheld is set on a call from a withheld number: nobody can call
	// the person back or send them a notice, so neither is offered as done
	// (content.MsgVoiceWithheld says so instead).
	Withheld bool
	// Location is a place the person shared (a WhatsApp or Telegram
	// location): with no Text, it is answered with the nearest site. It is
	// never kept: only the site chosen from it is.
	Location *Point
}

// Data is the stored data the conversation shows, as a snapshot, and what
// the deployment says of itself.
type Data struct {
	Sites         []Site
	Distributions []Distribution
	// Org is the organisation that runs the service (OUTREACH_ORG_NAME), as
	// the privacy notice names it in every language: {{.Org}}. Empty, the
	// message org_default of the person's language says it instead.
	Org string
	// Months is how long a silent person's data is kept, in months, as the
	// privacy notice says it: {{.Months}}. Zero shows 6, the default.
	Months int
	// CallNumber is the number to call to hear the menus, when calls are
	// answered: a person who sent a voice note is told it ({{.Phone}}).
	CallNumber string
}

// Site is a place where aid is distributed and notices can be received.
type Site struct {
	ID string `json:"id"`
	// Names by language; a missing one falls back to the message "site_<id>".
	Names map[string]string `json:"names,omitempty"`
	// Retired sites are no longer offered; what refers to them still reads.
	Retired bool `json:"retired,omitempty"`
	// ExactPlace says who sees the exact place of the site's distributions
	// when they ask: ExactPlaceSubscribers (the default, when empty) or
	// ExactPlaceEveryone. Others see the Area and how to subscribe; notices
	// go to subscribers and always hold the exact place.
	ExactPlace string `json:"exact_place,omitempty"`
	// Area is the public area of the site's distributions, by language
	// ("Nador, quartier Lari Chikh"), shown instead of the exact place;
	// none shows the site's name.
	Area Localized `json:"area,omitempty"`
	// Coords is the site's centre, to answer a shared location with the
	// nearest site; none takes the content's (flows/sites.yaml) for its id.
	Coords *Point `json:"coords,omitempty"`
}

// Who sees a site's exact distribution places (Site.ExactPlace).
const (
	ExactPlaceSubscribers = "subscribers"
	ExactPlaceEveryone    = "everyone"
)

// Localized is a free text given per language. In JSON it is an object of
// language → text, or a plain string, taken as French.
type Localized map[string]string

// UnmarshalJSON accepts a string or an object; null leaves l as it is
// (as for a map), so that a change with "place": null changes nothing.
func (l *Localized) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = Localized{}
		if s != "" {
			(*l)["fr"] = s
		}
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return errors.New("want a text, or an object of language to text")
	}
	*l = m
	return nil
}

// activeSites returns the sites people can choose.
func (d Data) activeSites() []Site {
	out := make([]Site, 0, len(d.Sites))
	for _, s := range d.Sites {
		if !s.Retired {
			out = append(out, s)
		}
	}
	return out
}

// Distribution is one announced distribution of aid.
type Distribution struct {
	ID       string    `json:"id"`
	Site     string    `json:"site"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	// Place, Who and Bring are free texts by language.
	Place Localized `json:"place,omitempty"`
	Who   Localized `json:"who,omitempty"`
	Bring Localized `json:"bring,omitempty"`
	// Items are ids of the kit catalogue (messages "item_<id>").
	Items     []string `json:"items,omitempty"`
	Cancelled bool     `json:"cancelled,omitempty"`
	// Notify announces it to the site's subscribers; Told lists the
	// broadcasts that did, so that a change reaches the same people.
	Notify   bool     `json:"notify,omitempty"`
	Told     []string `json:"told,omitempty"`
	Reminder string   `json:"reminder,omitempty"`
}

// Reply is one message to send back.
type Reply struct {
	Text string
	// Choices are the answers the reply offers, for channels that show buttons.
	Choices []Choice
	// Parts are the reply as a call says it, each in its language (on a
	// call only, Input.Voice): the language choice offers each language
	// in itself.
	Parts []Part
}

// Choice is one answer a reply offers: what to send, and its label.
type Choice struct {
	Key   string
	Label string
}

// Effect kinds: what a step changed that others must know of.
const (
	EffectSubscribe   = "subscribe"
	EffectUnsubscribe = "unsubscribe"
	EffectHandover    = "handover"
	// EffectNote is a message written while a request to a person is open.
	EffectNote = "note"
	// EffectErase asks that everything about the person be deleted.
	EffectErase  = "erase"
	EffectOptOut = "opt_out"
	EffectOptIn  = "opt_in"
	// EffectUrgent is words of danger heard: for the metric, by category.
	EffectUrgent = "urgent"
)

// Effect is a change the step made beyond the contact's own state, for the
// caller to record: a subscription, a request to talk to a person.
type Effect struct {
	Kind string
	// Sites concerned (subscribe: one; unsubscribe: those left).
	Sites []string
	// Text the person wrote, for a handover.
	Text string
	// Lang is the person's language at the time.
	Lang string
	// Urgent flags a handover or a note as urgent: words of danger.
	Urgent bool
	// Category is the kind of danger heard (urgent effects and the
	// handovers they make), for metrics; never logged with the text.
	Category string
}

// Result is the outcome of one step.
type Result struct {
	Replies []Reply
	State   State
	Effects []Effect
	// Guarded is set when the loop guard stopped the step.
	Guarded bool
}

// Engine runs steps of the conversation over one version of the content.
type Engine struct {
	Content *content.Content
	// Location is where dates and times are shown (Africa/Casablanca).
	Location *time.Location
	// IdleAfter is how long a silence ends a conversation: the next message
	// gets a short welcome back and the main menu. Zero never ends one.
	IdleAfter time.Duration
	// MaxReplies bounds the messages one step may send (the loop guard).
	MaxReplies int
	// NearestSiteKm is how far a shared location's nearest site may be
	// (OUTREACH_NEAREST_SITE_KM); zero means DefaultNearestSiteKm.
	NearestSiteKm float64
}

// DefaultMaxReplies is the loop guard's bound when none is set.
const DefaultMaxReplies = 6

// missesBeforeOffer is how many answers in a row the bot may not understand
// before it offers a person.
const missesBeforeOffer = 3

// Step handles one message: it returns the replies, the contact's new state
// and the effects to record. It never fails: an answer it cannot use gets a
// way forward, never silence.
func (e *Engine) Step(st State, in Input, data Data) Result {
	r := &step{e: e, c: e.Content, s: e.Content.Flow.Settings, st: st.clone(), data: data, now: in.Now, raw: strings.TrimSpace(in.Text)}
	if in.Voice {
		r.c, r.voice = e.Content.Spoken(), true
	}
	r.withheld = in.Withheld
	text := content.Digits(r.raw)
	idle := !st.LastSeen.IsZero() && e.IdleAfter > 0 && in.Now.Sub(st.LastSeen) > e.IdleAfter
	r.firstMessage = st.LastSeen.IsZero()
	r.st.LastSeen = in.Now
	// Only a misunderstood answer counts on; anything else resets.
	r.misses = st.Misses
	if idle {
		r.misses = 0
	}
	r.st.Misses = 0
	// An offer of a person after words of danger holds only while the
	// person is still at it.
	if node, category, _ := strings.Cut(r.st.Vars[varUrgent], " "); node != "" && node == st.Node {
		r.pendingUrgent, r.pendingCategory = node, category
	}
	delete(r.st.Vars, varUrgent)
	// The next page of a list holds only for the answer right after it.
	r.listMore = r.st.Vars[varListMore]
	delete(r.st.Vars, varListMore)
	// A site link answered with the language question: the welcome after
	// the language goes on to the site.
	if r.st.Vars[varSiteStart] != "" && st.Node == r.s.ChooseLanguage {
		r.afterWelcome = r.s.SiteStart
	}
	delete(r.st.Vars, varSiteStart)
	delete(r.st.Vars, varSaid)

	switch {
	case in.Call:
		r.call()
		return r.result()
	case in.Repeat || r.voice && r.raw == KeyRepeat:
		r.repeat(st)
		return r.result()
	case r.voice && r.raw == KeyMenu && r.c.HasLanguage(r.st.Lang):
		r.st.Tries = 0
		r.run(r.s.Main)
		return r.result()
	}

	if r.raw == "" && in.Location != nil {
		r.located(*in.Location, in.Lang, idle)
		return r.result()
	}
	if r.raw == "" && in.Media {
		r.media(in.Lang, idle)
		return r.result()
	}
	if site, ok := r.siteByID(in.Site); ok {
		r.startAt(site, text, in.Lang, idle)
		return r.result()
	}

	if kw, ok := r.c.Keyword(text); ok {
		if r.st.Lang == "" {
			r.st.Lang = r.c.Languages[0]
			if lang, ok := r.c.DetectLanguage(text); ok {
				r.st.Lang = lang
			} else if hint := baseLanguage(in.Lang); r.c.HasLanguage(hint) {
				r.st.Lang = hint
			} else if lang, ok := r.c.KeywordLanguage(text); ok {
				r.st.Lang = lang
			}
		}
		r.st.Tries = 0
		r.afterWelcome = ""
		// A keyword leaves the conversation with staff: menu numbers work
		// again (what else the person writes still goes to staff).
		r.st.StaffReplied = false
		if st.LastSeen.IsZero() && kw.Goto == r.s.Main {
			// A first message of MENU still gets the welcome and its
			// privacy notice before the menu.
			r.run(r.s.Welcome)
		} else {
			r.run(kw.Goto)
		}
		return r.result()
	}
	if !bareNumber(text) {
		// Words of danger are heard at every step, before anything but a
		// keyword.
		if cat, lang, ok := r.c.UrgentMatch(r.raw); ok {
			r.urgent(cat, lang)
			return r.result()
		}
	}
	// A first message that is only a site's name: as a site link.
	if (st.LastSeen.IsZero() || idle && !r.awaitsText()) && r.st.Request == "" {
		if site, ok := r.siteNamed(text); ok {
			r.startAt(site, text, in.Lang, idle)
			return r.result()
		}
	}
	switch {
	case r.st.Request != "" && !r.voice && r.c.HasLanguage(r.st.Lang) && (r.st.StaffReplied || !r.navigates(text)):
		// A person from the staff answers: the bot stays quiet, and what
		// the person writes goes to them — once staff have replied, numbers
		// too, as answers to staff.
		r.effects = append(r.effects, Effect{Kind: EffectNote, Text: r.raw, Lang: r.st.Lang})
	case r.st.Lang == "" || !r.c.HasLanguage(r.st.Lang):
		r.st.Lang = ""
		if lang, ok := r.c.DetectLanguage(text); ok {
			r.st.Lang = lang
			r.run(r.s.Welcome)
		} else if hint := baseLanguage(in.Lang); r.st.Node != r.s.ChooseLanguage && r.c.HasLanguage(hint) {
			r.st.Lang = hint
			r.run(r.s.Welcome)
		} else if r.st.Node == r.s.ChooseLanguage {
			r.answer(text)
		} else {
			r.run(r.s.ChooseLanguage)
		}
	case idle && !r.awaitsText():
		r.st.Tries = 0
		if o, ok := r.mainOption(text); ok {
			// A main-menu number after a silence is answered: a short
			// welcome back, then that branch.
			r.run(o.Goto)
			if len(r.replies) > 0 && r.c.Has(r.st.Lang, content.MsgWelcomeBackShort) {
				r.replies[0].Text = r.text(content.MsgWelcomeBackShort) + "\n" + r.replies[0].Text
			}
		} else {
			r.run(r.s.WelcomeBack)
		}
	default:
		r.answer(text)
	}
	return r.result()
}

// varUrgent holds, while an offer of a person after words of danger waits,
// the node that offers it and the category of danger ("node category"): a
// "yes" there records an urgent request that names the category. It holds
// no word of what was written.
const varUrgent = "urgent"

// bareNumber reports whether an answer is only a number (a menu choice).
func bareNumber(text string) bool {
	folded := content.Fold(text)
	if folded == "" {
		return false
	}
	_, err := strconv.Atoi(folded)
	return err == nil
}

// urgent answers words of danger at once: the numbers that fit, then the
// request is recorded (the content says so for the category, or the person
// was writing to staff anyway) or a person is offered.
func (r *step) urgent(cat content.UrgentCategory, lang string) {
	if !r.c.HasLanguage(r.st.Lang) {
		r.st.Lang = lang
	}
	r.st.Tries = 0
	u := r.c.Flow.Urgent
	r.effects = append(r.effects, Effect{Kind: EffectUrgent, Category: cat.Name, Lang: r.st.Lang})
	r.say(r.text(cat.Text), nil)
	switch {
	case r.st.Request != "":
		// Staff already follow the person: it goes to them.
		r.effects = append(r.effects, Effect{Kind: EffectNote, Text: r.raw, Lang: r.st.Lang, Urgent: true, Category: cat.Name})
		r.run(u.Recorded)
	case cat.Record || r.awaitsText():
		delete(r.st.Vars, "request")
		r.effects = append(r.effects, Effect{Kind: EffectHandover, Text: limitText(r.raw), Sites: siteList(r.st.Vars["site"]), Lang: r.st.Lang, Urgent: true, Category: cat.Name})
		r.run(u.Recorded)
	default:
		r.run(u.Offer)
		if r.st.Node != "" && !r.guarded {
			if r.st.Vars == nil {
				r.st.Vars = map[string]string{}
			}
			r.st.Vars[varUrgent] = r.st.Node + " " + cat.Name
		}
	}
}

// UrgentRequestText is what staff see of a request recorded when a person
// answered yes to the offer of a person after words of danger of category.
func UrgentRequestText(category string) string {
	return "[urgent: " + category + "] words of danger were heard; the person asked to talk to a person"
}

// maxRequestText bounds what one request or note keeps of the person's words.
const maxRequestText = 1000

func limitText(text string) string {
	if runes := []rune(text); len(runes) > maxRequestText {
		return string(runes[:maxRequestText])
	}
	return text
}

// navigates reports whether an answer is a choice the waiting menu or
// question offers: while a request is open, such answers still work the
// menus, and anything else is for staff.
func (r *step) navigates(text string) bool {
	n := r.c.Flow.Nodes[r.st.Node]
	if n == nil {
		return false
	}
	folded := content.Fold(text)
	switch {
	case n.Kind == content.KindMenu:
		if _, _, ok := r.nextPage(n, folded); ok {
			return true
		}
		key, err := strconv.Atoi(folded)
		_, ok := n.Option(key)
		return err == nil && ok
	case n.Kind == content.KindQuestion && n.Expect != content.ExpectText:
		_, ok := r.check(n, text, folded)
		return ok || (n.Back != "" && folded == "0")
	}
	return false
}

// mainOption returns the main-menu option an answer chooses, if any.
func (r *step) mainOption(text string) (content.Option, bool) {
	main := r.c.Flow.Nodes[r.s.Main]
	if main == nil || main.Kind != content.KindMenu {
		return content.Option{}, false
	}
	key, err := strconv.Atoi(content.Fold(text))
	if err != nil {
		return content.Option{}, false
	}
	return main.Option(key)
}

// awaitsText reports whether the person was asked to write freely (a
// request to a person): such an answer is kept even after a long silence.
func (r *step) awaitsText() bool { return AwaitsText(r.c, r.st.Node) }

// AwaitsText reports whether a node waits for words of the person's own (a
// request to staff): such an answer is kept however long the silence.
func AwaitsText(c *content.Content, node string) bool {
	n := c.Flow.Nodes[node]
	return n != nil && n.Kind == content.KindQuestion && n.Expect == content.ExpectText
}

// baseLanguage returns the language of a tag such as "fr-FR" or "ar".
func baseLanguage(tag string) string {
	base, _, _ := strings.Cut(strings.ToLower(tag), "-")
	return base
}

// step is the working state of one Step.
type step struct {
	e       *Engine
	raw     string // the message as written, trimmed
	c       *content.Content
	s       content.Settings
	st      State
	data    Data
	now     time.Time
	replies []Reply
	effects []Effect
	guarded bool
	// misses is the count of misunderstood answers before this one.
	misses int
	// pendingUrgent is the node of an offer of a person made after words
	// of danger, when the person answers it: a handover then is urgent.
	pendingUrgent string
	// pendingCategory is the category of danger of that offer.
	pendingCategory string
	// listMore is the next page of a list the person was shown
	// (varListMore), and listOffset where the list about to be shown starts.
	listMore   string
	listOffset int
	// afterWelcome, when set, is where the welcome goes on to instead of
	// its own goto: the site start of a site link.
	afterWelcome string
	// afterWelcomeAt is the index of the first reply after the welcome,
	// once the welcome went on to afterWelcome.
	afterWelcomeAt int
	// firstMessage is set for a new contact's first message.
	firstMessage bool
	// voice is set on a call (Input.Voice); said is the node the answer
	// began at, once saidSet (see varSaid).
	voice   bool
	said    string
	saidSet bool
	// withheld: a call from a withheld number (Input.Withheld).
	withheld bool
}

func (r *step) result() Result {
	if r.pendingUrgent != "" && r.st.Node == r.pendingUrgent {
		// A wrong answer to the offer: it still holds.
		if r.st.Vars == nil {
			r.st.Vars = map[string]string{}
		}
		r.st.Vars[varUrgent] = r.pendingUrgent + " " + r.pendingCategory
	}
	if r.afterWelcome != "" && r.st.Node == r.s.ChooseLanguage {
		// The language is still asked: the site waits for the answer.
		if r.st.Vars == nil {
			r.st.Vars = map[string]string{}
		}
		r.st.Vars[varSiteStart] = r.st.Vars[content.VarSite]
	}
	r.spoken()
	return Result{Replies: r.replies, State: r.st, Effects: r.effects, Guarded: r.guarded}
}

func (r *step) say(text string, choices []Choice) {
	r.replies = append(r.replies, Reply{Text: text, Choices: choices})
}

func (r *step) text(id string) string {
	return r.c.Text(r.st.Lang, id, r.vars())
}

// vars is the data every message may use.
func (r *step) vars() map[string]any {
	months := r.data.Months
	if months <= 0 {
		months = 6
	}
	return map[string]any{"Site": r.siteName(r.st.Vars["site"]), "Org": r.org(), "Months": months, "Phone": r.data.CallNumber}
}

// org returns who runs the service, as {{.Org}} shows it.
func (r *step) org() string {
	if r.data.Org != "" {
		return r.data.Org
	}
	if r.c.Has(r.st.Lang, content.MsgOrgDefault) {
		return r.c.Text(r.st.Lang, content.MsgOrgDefault, nil)
	}
	return ""
}

// answer handles what the person wrote to the node waiting for it.
func (r *step) answer(text string) {
	n := r.c.Flow.Nodes[r.st.Node]
	if n == nil || !n.Waits() {
		// The content changed under the person: where they were is gone.
		if r.st.Node != "" && r.c.Has(r.st.Lang, content.MsgContentUpdated) {
			r.say(r.text(content.MsgContentUpdated), nil)
		}
		r.st.Tries = 0
		r.run(r.s.Main)
		return
	}
	folded := content.Fold(text)
	switch n.Kind {
	case content.KindMenu:
		if list, offset, ok := r.nextPage(n, folded); ok {
			r.st.Tries = 0
			r.listOffset = offset
			r.run(list)
			return
		}
		if key, err := strconv.Atoi(folded); err == nil {
			if o, ok := n.Option(key); ok {
				r.st.Tries = 0
				r.run(o.Goto)
				return
			}
		}
		if r.missed() {
			return
		}
		menu, choices := r.menu(n)
		r.say(r.text(r.s.Invalid)+"\n"+menu, choices)
	case content.KindQuestion:
		if n.Back != "" && folded == "0" {
			r.st.Tries = 0
			r.run(n.Back)
			return
		}
		if value, ok := r.check(n, text, folded); ok {
			if r.st.Vars == nil {
				r.st.Vars = map[string]string{}
			}
			r.st.Vars[n.Save] = value
			r.st.Tries = 0
			r.run(n.Goto)
			return
		}
		r.st.Tries++
		if r.missed() {
			return
		}
		if r.st.Tries >= r.maxTries() {
			r.st.Tries = 0
			back := n.Back
			if back == "" {
				back = r.s.Main
			}
			if r.st.Lang == "" {
				// Nobody can be shown a menu before a language is known:
				// fall back to the first language.
				r.st.Lang = r.c.Languages[0]
				back = r.s.Welcome
			}
			r.run(back)
			return
		}
		retry := ""
		if n.Retry != "" && r.st.Lang != "" {
			retry = r.text(n.Retry)
		}
		r.ask(n, retry)
	}
}

// missed counts an answer the bot did not understand. At the
// missesBeforeOffer-th in a row it offers a person, with the main menu (where
// 0 is a person), and reports that it did; the count starts again.
func (r *step) missed() bool {
	r.st.Misses = r.misses + 1
	main := r.c.Flow.Nodes[r.s.Main]
	if r.st.Misses < missesBeforeOffer || r.st.Lang == "" || r.st.Request != "" || main == nil || main.Kind != content.KindMenu || !r.c.Has(r.st.Lang, content.MsgOfferPerson) {
		return false
	}
	r.st.Misses, r.st.Tries = 0, 0
	menu, choices := r.menu(main)
	r.say(r.text(content.MsgOfferPerson)+"\n"+menu, choices)
	r.st.Node = r.s.Main
	return true
}

func (r *step) maxTries() int {
	if r.s.MaxTries > 0 {
		return r.s.MaxTries
	}
	return 3
}

// check validates an answer to a question and returns the value to save.
func (r *step) check(n *content.Node, text, folded string) (string, bool) {
	switch n.Expect {
	case content.ExpectSite:
		sites := r.data.activeSites()
		if i, err := strconv.Atoi(folded); err == nil && i >= 1 && i <= len(sites) {
			return sites[i-1].ID, true
		}
		for _, s := range sites {
			if folded == content.Fold(s.ID) || folded == content.Fold(r.siteName(s.ID)) {
				return s.ID, true
			}
			for _, name := range s.Names {
				if folded == content.Fold(name) {
					return s.ID, true
				}
			}
		}
	case content.ExpectLanguage:
		langs := r.c.Languages
		if i, err := strconv.Atoi(folded); err == nil && i >= 1 && i <= len(langs) {
			return langs[i-1], true
		}
		for _, lang := range langs {
			if folded == lang || folded == content.Fold(r.c.Text(lang, content.MsgLanguageName, nil)) {
				return lang, true
			}
		}
	case content.ExpectText:
		if utf8.RuneCountInString(folded) < 2 {
			// One letter, digit or sign is not a request: ask for words.
			return "", false
		}
		return limitText(r.raw), true // as written: digits and all
	}
	return "", false
}

// run goes to node id and on, sending what each node says, until a node
// waits for an answer.
func (r *step) run(id string) {
	maxReplies := r.e.MaxReplies
	if maxReplies <= 0 {
		maxReplies = DefaultMaxReplies
	}
	for visits := 0; ; visits++ {
		n := r.c.Flow.Nodes[id]
		if n == nil || visits > 4*maxReplies || (len(r.replies) >= maxReplies && n.Kind != content.KindAction && n.Kind != content.KindSwitch) {
			r.guard(maxReplies)
			return
		}
		r.entered(id, n)
		switch n.Kind {
		case content.KindMenu:
			text, choices := r.menu(n)
			r.say(text, choices)
			r.st.Node = id
			return
		case content.KindQuestion:
			if r.voice && n.Expect == content.ExpectText {
				if r.withheld {
					id = r.unreachable()
				} else {
					id = r.callback(n)
				}
				continue
			}
			r.ask(n, "")
			return
		case content.KindMessage:
			if n.PerSite {
				site := r.site()
				if site == "" && n.Ask != "" {
					// Where to go depends on the city: ask it first; the
					// question comes back here.
					id = n.Ask
					continue
				}
				m := *n
				m.Text = r.c.SiteMessage(r.st.Lang, n.Text, site)
				n = &m
			}
			text := r.c.SentText(r.st.Lang, n, r.vars())
			if n.Rest == "" {
				r.say(text, nil)
				next := n.Goto
				if id == r.s.Welcome && r.afterWelcome != "" {
					next, r.afterWelcome = r.afterWelcome, ""
					r.afterWelcomeAt = len(r.replies)
				}
				id = next
				continue
			}
			var choices []Choice
			if rest := r.c.Flow.Nodes[n.Rest]; rest != nil {
				_, choices = r.menu(rest)
			}
			r.say(text, choices)
			r.st.Node = n.Rest
			r.st.Tries = 0
			return
		case content.KindAction:
			if r.withheld && (n.Do == content.DoHandover || n.Do == content.DoSubscribe) {
				id = r.unreachable()
				continue
			}
			r.act(n)
			id = n.Goto
		case content.KindSwitch:
			if next, ok := n.Cases[r.st.Vars[n.Var]]; ok {
				id = next
			} else {
				id = n.Default
			}
		case content.KindList:
			r.say(r.list(n), nil)
			id = n.Goto
		default:
			r.guard(maxReplies)
			return
		}
	}
}

// guard stops a step that would not end: it keeps the replies so far, at
// most maxReplies, and leaves the person at the main menu, showing it when
// nothing was said, so that no message goes unanswered.
func (r *step) guard(maxReplies int) {
	r.guarded = true
	r.st.Node = r.s.Main
	if len(r.replies) > maxReplies {
		r.replies = r.replies[:maxReplies]
	}
	if len(r.replies) == 0 {
		if main := r.c.Flow.Nodes[r.s.Main]; main != nil {
			r.say(r.menu(main))
		}
	}
}

// menu renders a menu and the choices it offers.
func (r *step) menu(n *content.Node) (string, []Choice) {
	vars := r.vars()
	var choices []Choice
	for _, o := range content.SortedOptions(n.Options) {
		choices = append(choices, Choice{Key: strconv.Itoa(o.Key), Label: r.c.Text(r.st.Lang, o.Label, vars)})
	}
	return r.c.MenuText(r.st.Lang, n, vars), choices
}

// question renders a question with the answers it offers.
func (r *step) question(n *content.Node) (string, []Choice) {
	var lines []string
	var choices []Choice
	switch n.Expect {
	case content.ExpectLanguage:
		if r.st.Lang == "" {
			for _, lang := range r.c.Languages {
				lines = append(lines, r.c.Text(lang, n.Text, nil))
			}
		} else {
			lines = append(lines, r.text(n.Text))
		}
		for i, lang := range r.c.Languages {
			choices = append(choices, Choice{Key: strconv.Itoa(i + 1), Label: r.c.Text(lang, content.MsgLanguageName, nil)})
		}
	case content.ExpectSite:
		lines = append(lines, r.text(n.Text))
		for i, s := range r.data.activeSites() {
			choices = append(choices, Choice{Key: strconv.Itoa(i + 1), Label: r.siteName(s.ID)})
		}
	default:
		lines = append(lines, r.text(n.Text))
	}
	if n.Back != "" && r.st.Lang != "" && n.Expect != content.ExpectText {
		choices = append(choices, Choice{Key: "0", Label: r.text(r.s.BackLabel)})
	}
	if r.voice {
		lines = append(lines, r.voiceOptions(choices)...)
	} else {
		for _, ch := range choices {
			lines = append(lines, ch.Key+" "+ch.Label)
		}
	}
	return strings.Join(lines, "\n"), choices
}

// ask says question n, after retry when the last answer was wrong, and
// waits at it. On a call the language choice offers each language in
// itself, after the question in the person's language when it is known.
func (r *step) ask(n *content.Node, retry string) {
	q, choices := r.question(n)
	if retry != "" {
		q = retry + "\n" + q
	}
	if r.voice && n.Expect == content.ExpectLanguage {
		var parts []Part
		if r.st.Lang != "" {
			head := r.text(n.Text)
			if retry != "" {
				head = retry + "\n" + head
			}
			parts = append(parts, Part{Text: head, Lang: r.st.Lang})
		}
		parts = append(parts, r.languageParts(n)...)
		r.replies = append(r.replies, Reply{Text: joinParts(parts), Choices: choices, Parts: parts})
	} else {
		r.say(q, choices)
	}
	r.st.Node = n.ID
}

// act carries out an action node.
func (r *step) act(n *content.Node) {
	switch n.Do {
	case content.DoSetLanguage:
		v := varName(n, "lang")
		if lang := r.st.Vars[v]; r.c.HasLanguage(lang) {
			r.st.Lang = lang
		}
		delete(r.st.Vars, v)
	case content.DoSubscribe:
		site := r.st.Vars[varName(n, "site")]
		if site == "" {
			return
		}
		if !slices.Contains(r.st.Sites, site) {
			r.st.Sites = append(r.st.Sites, site)
		}
		r.st.OptedOut = false
		r.effects = append(r.effects, Effect{Kind: EffectSubscribe, Sites: []string{site}, Lang: r.st.Lang})
	case content.DoUnsubscribe:
		if len(r.st.Sites) > 0 {
			r.effects = append(r.effects, Effect{Kind: EffectUnsubscribe, Sites: r.st.Sites, Lang: r.st.Lang})
		}
		r.st.Sites = nil
	case content.DoHandover:
		v := varName(n, "request")
		text := r.st.Vars[v]
		if text == "" && r.pendingUrgent != "" {
			// The person's words of danger are not kept in the state:
			// staff are told what kind of danger was heard.
			text = UrgentRequestText(r.pendingCategory)
		}
		r.effects = append(r.effects, Effect{Kind: EffectHandover, Text: text, Sites: siteList(r.st.Vars["site"]), Lang: r.st.Lang,
			Urgent: r.pendingUrgent != "", Category: r.pendingCategory})
		delete(r.st.Vars, v)
	case content.DoOptOut:
		r.st.OptedOut = true
		r.effects = append(r.effects, Effect{Kind: EffectOptOut, Sites: r.st.Sites, Lang: r.st.Lang})
	case content.DoErase:
		r.effects = append(r.effects, Effect{Kind: EffectErase, Lang: r.st.Lang})
	case content.DoOptIn:
		r.st.OptedOut = false
		r.effects = append(r.effects, Effect{Kind: EffectOptIn, Sites: r.st.Sites, Lang: r.st.Lang})
	}
}

func varName(n *content.Node, def string) string {
	if n.Var != "" {
		return n.Var
	}
	return def
}

func siteList(site string) []string {
	if site == "" {
		return nil
	}
	return []string{site}
}

// site returns the person's site: the one last chosen (menu 1, or asked by
// a per-site message), else the first they get notices for; "" if none.
func (r *step) site() string {
	if site := r.st.Vars[content.VarSite]; site != "" {
		return site
	}
	if len(r.st.Sites) > 0 {
		return r.st.Sites[0]
	}
	return ""
}

// siteName returns a site's name in the person's language.
func (r *step) siteName(id string) string {
	return SiteName(r.c, r.data.Sites, r.st.Lang, id)
}

// SiteName returns the name of site id in lang, as the bot says it: the
// name staff gave it in that language, else the message "site_<id>", else
// the id itself.
func SiteName(c *content.Content, sites []Site, lang, id string) string {
	if id == "" {
		return ""
	}
	for _, s := range sites {
		if s.ID == id && s.Names[lang] != "" {
			return s.Names[lang]
		}
	}
	if c.Has(lang, content.PrefixSite+id) {
		return c.Text(lang, content.PrefixSite+id, nil)
	}
	return id
}
