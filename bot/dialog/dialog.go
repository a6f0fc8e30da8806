// Package dialog runs one conversation turn against the store: it loads the
// contact's state, runs the engine, and saves the new state atomically, so
// that two messages from one person are handled one after the other.
// Every channel calls it.
package dialog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/stats"
	"github.com/outreach-org/outreach/bot/store"
)

// The channels of simulations: a message on one of them (or with its own
// Content) is a simulation. It runs the same engine and content as a real
// one, but its conversation is kept apart, in the store's simulation space
// (see store.Simulation), and expires; it sends nothing, records no
// request for staff and no subscription, and erases nothing real.
const (
	// ChannelSimulate is POST /api/v1/simulate with the content in use.
	ChannelSimulate = "simulate"
	// ChannelPreview is POST /api/v1/simulate of a version or a draft.
	ChannelPreview = "preview"
	// ChannelChat is outreach chat, in a terminal.
	ChannelChat = "chat"
)

// ChannelVoice is a phone call (Twilio Voice). The caller is the person
// who sends SMS from that number: one language, site and subscriptions.
// The replies are said on the call (Outcome.Replies), never sent; what
// reaches the person later (notices, staff's replies) goes by SMS.
const ChannelVoice = "voice"

// identity returns the channel a message's person is known on: a call's
// caller is the SMS sender with that number.
func identity(channel string) string {
	if channel == ChannelVoice {
		return "sms"
	}
	return channel
}

// Simulated reports whether a message is a simulation: it came on a
// simulation channel, or it previews content of its own. A call from a
// withheld number is kept as one: nothing can reach the caller again, so
// nothing is recorded for them, and their conversation expires.
func Simulated(msg Message) bool {
	switch msg.Channel {
	case ChannelSimulate, ChannelPreview, ChannelChat:
		return true
	}
	return msg.Content != nil || msg.Withheld
}

// Message is one message from a person on a channel.
type Message struct {
	// Channel is where it came from: "sms", "whatsapp", "telegram", or a
	// simulation channel (ChannelSimulate, ChannelPreview, ChannelChat).
	Channel string
	// Address is the person's address on the channel: phone number, chat id.
	// It is kept only sealed (encrypted), never logged.
	Address string
	Text    string
	// ProviderID is the provider's id of the message (MessageSid, update_id):
	// a message seen before is not handled again. Empty: no deduplication.
	ProviderID string
	// LangHint is the language the channel reports for the person, if any.
	LangHint string
	// Site is the site the person came for, as the channel tells it (the
	// payload of a Telegram link t.me/<bot>?start=<site>); see engine.Input.
	Site string
	// Media is set when the message carried a photo, a voice note, a
	// sticker, a file or a place that cannot be read (else Location).
	// Only that it did is passed on: nothing
	// of the media is read, kept or logged.
	Media bool
	// Location is a place the person shared: answered with the nearest
	// site, and never kept, logged or passed on (see engine.Input).
	Location *engine.Point
	// Callback is a Telegram callback query to answer with the replies.
	Callback string
	// Voice is set for a simulation of a call (ChannelVoice is one): the
	// replies are as a call says them.
	Voice bool
	// Withheld is set for a call from a withheld number: Address is then
	// the call's id, and the engine offers nothing that needs the number.
	Withheld bool
	// Call, Repeat: a call begins, or asks to hear the last answer again
	// (see engine.Input). A missed call answered by SMS is a Call on the
	// SMS channel.
	Call, Repeat bool
	// Content, when set, is used instead of the content in use: a preview
	// of a version or a draft. Such a message is a simulation.
	Content *content.Content
}

// Outcome is what handling a message gave.
type Outcome struct {
	Replies []engine.Reply
	// Duplicate is set when the provider id was handled before: nothing
	// was done this time.
	Duplicate bool
	// Effects are what the step did beyond the conversation: a request to
	// a person, a subscription, an erasure. In a simulation they are only
	// reported here: nothing of them was recorded.
	Effects []engine.Effect
	// Simulated is set when the message was a simulation (see Simulated).
	Simulated bool
}

// Options tunes the service.
type Options struct {
	// Location is where dates and times are shown.
	Location *time.Location
	// IdleAfter ends a conversation after this long a silence.
	IdleAfter time.Duration
	// MaxReplies bounds the replies of one step.
	MaxReplies int
	// NearestSiteKm is how far a shared location's nearest site may be;
	// zero means engine.DefaultNearestSiteKm.
	NearestSiteKm float64
	// DataMaxAge is how old the snapshot of sites and distributions may get
	// before it is read again.
	DataMaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// FloodPerMinute bounds the messages one person may send in a minute;
	// beyond it they get one polite slow-down, then silence, and cost no
	// provider send (a phone stuck in a loop, two bots talking). Zero: none.
	FloodPerMinute int
	// Outbox receives the replies on the channels listed in Deliver; the
	// replies of other channels (simulate, chat) are only returned.
	Outbox  *outbox.Outbox
	Deliver []string
	// SimulationTTL is how long a simulated conversation is kept after its
	// last message; zero means an hour.
	SimulationTTL time.Duration
	// CallNumber is the number to call to hear the menus, when calls are
	// answered (OUTREACH_VOICE=ivr): the note to a voice message says it.
	CallNumber string
	// Org is the organisation that runs the service (OUTREACH_ORG_NAME),
	// which the welcome and the privacy notice name; empty, the content
	// names it in neutral words.
	Org string
	// Retention is how long a silent person's data is kept
	// (OUTREACH_RETENTION): the privacy notice says it in months,
	// {{.Months}}. Zero means the default, 180 days.
	Retention time.Duration
	// Stats count, for the dashboard, the messages people send on the
	// channels listed in Deliver and the people who first choose a
	// language or name a city; nil counts nothing.
	Stats *stats.Stats
}

// confirm returns once a message handled before is on enough replicas.
func (s *Service) confirm(ctx context.Context, st *store.Store, contact string) error {
	err := st.Confirm(ctx, contact)
	if errors.Is(err, store.ErrNotReplicated) {
		s.metrics.Errors.WithLabelValues("replication").Inc()
	}
	return err
}

// Service handles messages for every channel: the conversation's turn
// (Handle). Its other jobs are types of their own that share its store,
// content and locks: People (opt-outs, blocks, provider flags,
// suppression, erasure and the retention purge; people.go) and Requests
// (staff's replies and the closing of requests; requests.go).
type Service struct {
	store *store.Store
	// sim is the store of simulations: their own key space, expiring.
	sim     *store.Store
	content atomic.Pointer[content.Content]
	opts    Options
	log     *slog.Logger
	metrics *metrics.Metrics
	// stripes serialise the messages of one contact within this process, in
	// arrival order; the compare-and-set serialises them across processes.
	stripes [256]sync.Mutex

	dataMu sync.Mutex
	data   atomic.Pointer[snapshot]

	versionMu sync.Mutex
	version   int64
}

type snapshot struct {
	data engine.Data
	at   time.Time
}

// New returns a Service over a store and a content version.
func New(st *store.Store, c *content.Content, m *metrics.Metrics, log *slog.Logger, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.DataMaxAge <= 0 {
		opts.DataMaxAge = 2 * time.Second
	}
	if opts.SimulationTTL <= 0 {
		opts.SimulationTTL = time.Hour
	}
	s := &Service{store: st, sim: st.Simulation(opts.SimulationTTL), opts: opts, log: log.With("component", "dialog"), metrics: m}
	s.content.Store(c)
	return s
}

// Content returns the content in use.
func (s *Service) Content() *content.Content { return s.content.Load() }

// UseVersion swaps in content version n, unless a newer one is in use;
// it reports whether it did.
func (s *Service) UseVersion(n int, c *content.Content) bool {
	s.versionMu.Lock()
	defer s.versionMu.Unlock()
	if int64(n) < s.version {
		return false
	}
	s.version = int64(n)
	s.content.Store(c)
	s.Refresh()
	return true
}

// Version returns the number of the content version in use (0 before any).
func (s *Service) Version() int {
	s.versionMu.Lock()
	defer s.versionMu.Unlock()
	return int(s.version)
}

// ContactKey returns the key of the person at address on channel.
func (s *Service) ContactKey(channel, address string) string {
	return s.store.ContactKey(channel, address)
}

// Clean makes a text that came from outside safe to handle: valid UTF-8,
// no control characters but line breaks and tabs. Channels apply it to what
// people write.
func Clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
}

// maxAttempts bounds the retries of one message when the same contact writes
// many times at once; each round lets at least one of them through.
const maxAttempts = 64

func (s *Service) lock(contact string) func() {
	h := fnv.New32a()
	h.Write([]byte(contact))
	m := &s.stripes[h.Sum32()%uint32(len(s.stripes))]
	m.Lock()
	return m.Unlock
}

// reachesCaller reports whether a call's person can be reached by SMS
// afterwards: the number is known (not withheld) and SMS is on.
func (s *Service) reachesCaller(msg Message) bool {
	return msg.Channel == ChannelVoice && !Simulated(msg) && strings.HasPrefix(msg.Address, "+") && slices.Contains(s.opts.Deliver, identity(msg.Channel))
}

func (s *Service) delivers(msg Message) bool {
	return s.opts.Outbox != nil && !Simulated(msg) && slices.Contains(s.opts.Deliver, msg.Channel)
}

// storeFor returns where a message's conversation is kept: the store of
// simulations for a simulation.
func (s *Service) storeFor(msg Message) *store.Store {
	if Simulated(msg) {
		return s.sim
	}
	return s.store
}

// Handle handles one message: it runs the engine and, in one atomic write,
// saves the new state, marks the provider id as seen and puts the replies in
// the outbox. On error nothing was written, and the provider may retry.
func (s *Service) Handle(ctx context.Context, msg Message) (Outcome, error) {
	began := time.Now()
	defer func() { s.metrics.Step.Observe(time.Since(began).Seconds()) }()

	simulated := Simulated(msg)
	st := s.storeFor(msg)
	contact := st.ContactKey(identity(msg.Channel), msg.Address)
	defer s.lock(contact)()
	data, err := s.snapshot(ctx)
	if err != nil {
		s.metrics.Errors.WithLabelValues("data").Inc()
		return Outcome{}, err
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		var stored store.State
		var count int64
		// A call's keys are not counted: Twilio paces them, and a call cut
		// short by the flood limit would end in silence.
		if attempt == 0 && s.opts.FloodPerMinute > 0 && msg.Channel != ChannelVoice {
			stored, count, err = st.LoadStateCounting(ctx, contact, msg.ProviderID, s.opts.Now())
		} else {
			stored, err = st.LoadState(ctx, contact, msg.ProviderID)
		}
		if err != nil {
			s.metrics.Errors.WithLabelValues("load").Inc()
			return Outcome{}, err
		}
		if stored.Seen {
			s.metrics.Duplicates.WithLabelValues(msg.Channel).Inc()
			// A retry of a message whose turn was written but perhaps
			// not yet copied to a replica: it is accepted once it is.
			if err := s.confirm(ctx, st, contact); err != nil {
				return Outcome{}, err
			}
			return Outcome{Duplicate: true}, nil
		}
		if count > int64(s.opts.FloodPerMinute) && s.opts.FloodPerMinute > 0 {
			return s.flooded(ctx, contact, msg, stored, count)
		}
		state := s.decode(contact, stored)
		c := msg.Content
		if c == nil {
			c = s.Content()
		}
		eng := engine.Engine{Content: c, Location: s.opts.Location, IdleAfter: s.opts.IdleAfter, MaxReplies: s.opts.MaxReplies, NearestSiteKm: s.opts.NearestSiteKm}
		res := eng.Step(state, engine.Input{Text: msg.Text, Now: s.opts.Now(), Lang: msg.LangHint, Site: msg.Site, Media: msg.Media, Location: msg.Location,
			Voice: msg.Channel == ChannelVoice || msg.Voice, Call: msg.Call, Repeat: msg.Repeat, Withheld: msg.Withheld}, data)
		if res.Guarded {
			s.metrics.Guarded.Inc()
			s.log.Warn("loop guard stopped a step", "contact", contact, "node", state.Node)
		}
		turn, err := s.turn(contact, msg, stored.Version, &res)
		if err != nil {
			return Outcome{}, err
		}
		turn.Durable = true
		err = st.Commit(ctx, turn)
		// Written, not yet on enough replicas: the effects are carried out
		// (an erasure asked for must not wait for a retry, which finds the
		// message handled), then the sender is asked to send again.
		var notReplicated error
		if errors.Is(err, store.ErrNotReplicated) {
			s.metrics.Errors.WithLabelValues("replication").Inc()
			notReplicated, err = err, nil
		}
		switch {
		case errors.Is(err, store.ErrConflict):
			s.metrics.Conflicts.Inc()
			if err := sleep(ctx, time.Duration(rand.IntN(1+attempt*500))*time.Microsecond); err != nil {
				return Outcome{}, err
			}
			continue
		case errors.Is(err, store.ErrDuplicate):
			s.metrics.Duplicates.WithLabelValues(msg.Channel).Inc()
			if err := s.confirm(ctx, st, contact); err != nil {
				return Outcome{}, err
			}
			return Outcome{Duplicate: true}, nil
		case err != nil:
			s.metrics.Errors.WithLabelValues("save").Inc()
			return Outcome{}, err
		}
		for _, e := range res.Effects {
			switch {
			case simulated && e.Kind == engine.EffectErase:
				// The simulated conversation only: nothing real is named.
				if err := s.sim.Contacts().Erase(ctx, contact); err != nil {
					s.metrics.Errors.WithLabelValues("erase").Inc()
					return Outcome{}, err
				}
			case simulated:
			case e.Kind == engine.EffectUrgent:
				// Counted by category only: the text is never logged.
				s.metrics.Urgent.WithLabelValues(e.Category).Inc()
			case e.Kind == engine.EffectNote && e.Urgent && res.State.Request != "":
				// Danger written into an open request: staff see it first.
				// The note is saved; a failure here is counted, not fatal.
				if _, err := s.store.Requests().MarkUrgent(ctx, res.State.Request); err != nil {
					s.metrics.Errors.WithLabelValues("mark_urgent").Inc()
					s.log.Error("an open request was not flagged urgent", "err", err)
				}
			case e.Kind == engine.EffectHandover:
				s.log.Info("request to talk to a person recorded", "contact", contact, "channel", msg.Channel)
			case e.Kind == engine.EffectErase:
				if err := s.erase(ctx, contact); err != nil {
					s.metrics.Errors.WithLabelValues("erase").Inc()
					return Outcome{}, err
				}
				s.log.Info("a person's data erased at their request", "contact", contact)
			}
		}
		s.metrics.Inbound.WithLabelValues(msg.Channel).Inc()
		if s.delivers(msg) || msg.Channel == ChannelVoice && !simulated {
			s.count(msg.Channel, state, res.State)
		}
		s.metrics.Replies.WithLabelValues(msg.Channel).Add(float64(len(res.Replies)))
		if notReplicated != nil {
			return Outcome{}, notReplicated
		}
		return Outcome{Replies: res.Replies, Effects: res.Effects, Simulated: simulated}, nil
	}
	s.metrics.Errors.WithLabelValues("contention").Inc()
	return Outcome{}, fmt.Errorf("%w: gave up after %d attempts", ErrBusy, maxAttempts)
}

// count counts a message a person sent, in memory (stats.Stats writes
// it later): the message, and the language or city the step made known.
// The language is kept with the person, so it counts once a person; the
// city is part of the conversation, so it counts once a conversation.
func (s *Service) count(channel string, before, after engine.State) {
	s.opts.Stats.Add(stats.Name(stats.In, channel), 1)
	if before.Lang == "" && after.Lang != "" {
		s.opts.Stats.Add(stats.Name(stats.Lang, after.Lang), 1)
	}
	if site := after.Vars["site"]; site != "" && site != before.Vars["site"] {
		s.opts.Stats.Add(stats.Name(stats.Site, site), 1)
	}
}

// decode reads a stored state: what is kept of the person, and where the
// conversation stands (gone after the idle period). One that cannot be read
// is started afresh rather than leaving the person without an answer.
func (s *Service) decode(contact string, stored store.State) engine.State {
	var st engine.State
	if len(stored.Data) > 0 {
		if err := json.Unmarshal(stored.Data, &st); err != nil {
			s.log.Error("unreadable contact state, starting afresh", "contact", contact, "err", err)
			return engine.State{}
		}
	}
	if len(stored.Dialog) > 0 {
		var d conversation
		if err := json.Unmarshal(stored.Dialog, &d); err != nil {
			s.log.Error("unreadable conversation state, starting at the menu", "contact", contact, "err", err)
			return st
		}
		st.Node, st.Tries, st.Misses, st.Vars = d.Node, d.Tries, d.Misses, d.Vars
	}
	return st
}

// conversation is the part of a state that ends with the conversation:
// it is stored apart and expires after the idle period.
type conversation struct {
	Node  string `json:"node,omitempty"`
	Tries int    `json:"tries,omitempty"`
	// Misses counts the answers in a row the bot did not understand.
	Misses int               `json:"misses,omitempty"`
	Vars   map[string]string `json:"vars,omitempty"`
}

// encode splits a state into what is kept of the person and where the
// conversation stands, with how long the latter is kept: until the idle
// period after the person's last message — but for as long as the person
// is kept while a request to staff is open or the bot waits for the
// person's own words, which a long silence must not lose.
func (s *Service) encode(c *content.Content, st engine.State) (data, dialog []byte, ttl time.Duration, err error) {
	d := conversation{Node: st.Node, Tries: st.Tries, Misses: st.Misses, Vars: st.Vars}
	lasting := st.Request != "" || engine.AwaitsText(c, st.Node)
	st.Node, st.Tries, st.Misses, st.Vars = "", 0, 0, nil
	if data, err = json.Marshal(st); err != nil {
		return nil, nil, 0, err
	}
	if s.opts.IdleAfter > 0 && !st.LastSeen.IsZero() && !lasting {
		if ttl = s.opts.IdleAfter - s.opts.Now().Sub(st.LastSeen); ttl <= 0 {
			return data, nil, 0, nil // the conversation is over
		}
	}
	if d.Node == "" && d.Tries == 0 && d.Misses == 0 && len(d.Vars) == 0 {
		return data, nil, 0, nil
	}
	dialog, err = json.Marshal(d)
	return data, dialog, ttl, err
}

// turn builds the atomic write of one handled message. A simulation's
// writes its own state only.
func (s *Service) turn(contact string, msg Message, version int64, res *engine.Result) (store.Turn, error) {
	var t store.Turn
	if Simulated(msg) {
		simulateEffects(res)
	} else {
		s.effects(&t, contact, msg.Channel, res)
	}
	c := msg.Content
	if c == nil {
		c = s.Content()
	}
	data, dialog, ttl, err := s.encode(c, res.State)
	if err != nil {
		return store.Turn{}, err
	}
	t.Contact, t.Version, t.Data, t.Dialog, t.DialogTTL, t.SeenID = contact, version, data, dialog, ttl, msg.ProviderID
	if s.delivers(msg) {
		t.Address, t.Channel = s.store.Seal(msg.Address), msg.Channel
		t.Outbox = s.opts.Outbox.Keys().StreamFor(outbox.Reply, t.Contact)
		ck := contact
		if erases(*res) {
			ck = "" // the confirmation must survive the erasure it confirms
		}
		e := outbox.NewEntry(msg.Channel, t.Address, ck, outbox.Reply)
		e.Callback = msg.Callback
		for _, r := range res.Replies {
			m := outbox.Text{Text: r.Text}
			for _, c := range r.Choices {
				m.Choices = append(m.Choices, outbox.Choice{Key: c.Key, Label: c.Label})
			}
			e.Messages = append(e.Messages, m)
		}
		if e.Callback != "" || len(e.Messages) > 0 {
			t.Entries = []string{e.Encode()}
		}
	} else if s.reachesCaller(msg) {
		// A caller is reached later by SMS: notices, staff's replies.
		t.Address, t.Channel = s.store.Seal(msg.Address), identity(msg.Channel)
	}
	return t, nil
}

// simulateEffects notes in a simulated state what a real one would note of
// the step's effects, without recording any: a request to a person leaves
// the simulated person waiting for staff, as a real one would.
func simulateEffects(res *engine.Result) {
	for _, e := range res.Effects {
		if e.Kind == engine.EffectHandover {
			res.State.Request = "simulated-" + outbox.NewID()
		}
	}
}

// effects puts a step's effects into the turn that records it, as the
// store's typed parts: sites subscribed to or left, a new request to a
// person (noted in the new state, so that the bot stays quiet until staff
// close it), a note into the open request.
func (s *Service) effects(t *store.Turn, contact, channel string, res *engine.Result) {
	for _, e := range res.Effects {
		switch e.Kind {
		// STOP and START leave the subscriber sets alone: a broadcast counts
		// an opted-out subscriber as skipped, and START restores everything.
		case engine.EffectSubscribe:
			t.Subscribe = append(t.Subscribe, e.Sites...)
		case engine.EffectUnsubscribe:
			t.Unsubscribe = append(t.Unsubscribe, e.Sites...)
		case engine.EffectHandover:
			site := ""
			if len(e.Sites) > 0 {
				site = e.Sites[0]
			}
			id := s.store.NewRequestID(contact)
			t.Request = &store.Request{
				ID: id, Contact: contact, Channel: channel, Lang: e.Lang, Site: site,
				Text: s.store.Seal(e.Text), CreatedAt: s.opts.Now().UTC(), Open: true,
				Urgent: e.Urgent || s.Content().Urgent(e.Text),
			}
			res.State.Request, res.State.StaffReplied = id, false
		case engine.EffectNote:
			if res.State.Request != "" && e.Text != "" {
				t.Note = &store.Note{Request: res.State.Request, Sealed: s.store.Seal(e.Text)}
			}
		}
	}
}

// snapshot returns the sites and distributions, read again when older than
// DataMaxAge; if reading fails, a stale snapshot is used.
func (s *Service) snapshot(ctx context.Context) (engine.Data, error) {
	now := time.Now()
	if snap := s.data.Load(); snap != nil && now.Sub(snap.at) < s.opts.DataMaxAge {
		return snap.data, nil
	}
	s.dataMu.Lock()
	defer s.dataMu.Unlock()
	if snap := s.data.Load(); snap != nil && now.Sub(snap.at) < s.opts.DataMaxAge {
		return snap.data, nil
	}
	data, err := s.readData(ctx)
	if err != nil {
		if snap := s.data.Load(); snap != nil {
			s.log.Warn("reading sites and distributions failed; using the previous snapshot", "err", err)
			return snap.data, nil
		}
		return engine.Data{}, err
	}
	s.data.Store(&snapshot{data: data, at: now})
	return data, nil
}

// Refresh forgets the snapshot of sites and distributions, so that the next
// message reads them again.
func (s *Service) Refresh() { s.data.Store(nil) }

func (s *Service) readData(ctx context.Context) (engine.Data, error) {
	sites, err := s.store.Sites(ctx)
	if err != nil {
		return engine.Data{}, err
	}
	if sites == nil {
		for _, id := range s.Content().Flow.Sites {
			sites = append(sites, engine.Site{ID: id})
		}
	}
	dists, err := s.store.Distributions(ctx)
	if err != nil {
		return engine.Data{}, err
	}
	return engine.Data{Sites: sites, Distributions: dists, Org: s.opts.Org, Months: months(s.opts.Retention), CallNumber: s.opts.CallNumber}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ErrUnreachable means the person cannot be written to: their data was
// deleted, or their channel is off.
var ErrUnreachable = errors.New("dialog: the person can no longer be reached (data deleted, or their channel is off)")

// ErrRequestClosed means a request is closed: it takes no reply.
var ErrRequestClosed = errors.New("dialog: the request is closed")

// ErrBusy means the person's state kept changing under other turns: the
// message was not handled, and may be sent again in a moment.
var ErrBusy = errors.New("dialog: this person's conversation kept changing meanwhile; send again in a moment")

// MaxReply bounds staff's reply to a request, in characters: what one
// message may hold at the providers.
const MaxReply = 1600

// Why CheckReply refuses a reply.
var (
	ErrReplyEmpty   = errors.New("dialog: the reply is empty")
	ErrReplyTooLong = fmt.Errorf("dialog: the reply is longer than %d characters", MaxReply)
)

// BadCharError means a reply holds a character that must not reach a
// phone (content.BadChar).
type BadCharError struct{ Char rune }

func (e *BadCharError) Error() string {
	return fmt.Sprintf("dialog: the reply holds the character %U, which cannot be sent", e.Char)
}

// CheckReply says whether staff's text can be sent as a reply:
// ErrReplyEmpty, ErrReplyTooLong, a *BadCharError, or nil.
func CheckReply(text string) error {
	if text == "" {
		return ErrReplyEmpty
	}
	if utf8.RuneCountInString(text) > MaxReply {
		return ErrReplyTooLong
	}
	if c, bad := content.BadChar(text); bad {
		return &BadCharError{Char: c}
	}
	return nil
}

func erases(res engine.Result) bool {
	for _, e := range res.Effects {
		if e.Kind == engine.EffectErase {
			return true
		}
	}
	return false
}

// eraseTimeout bounds one erasure, which scans the keyspace.
const eraseTimeout = 2 * time.Minute

// flooded answers a person over the flood limit: the first message over it
// gets a short slow-down, the others nothing; none runs the conversation.
func (s *Service) flooded(ctx context.Context, contact string, msg Message, stored store.State, count int64) (Outcome, error) {
	s.metrics.Skipped.WithLabelValues(msg.Channel, "flood").Inc()
	if s.delivers(msg) {
		s.opts.Stats.Add(stats.Name(stats.In, msg.Channel), 1)
	}
	if count != int64(s.opts.FloodPerMinute)+1 {
		return Outcome{}, nil
	}
	lang := s.decode(contact, stored).Lang
	c := s.Content()
	if !c.HasLanguage(lang) {
		lang = c.Languages[0]
	}
	reply := engine.Reply{Text: c.Text(lang, content.MsgSlowDown, nil)}
	s.log.Warn("a person is over the flood limit", "contact", contact, "channel", msg.Channel)
	if s.delivers(msg) {
		e := outbox.NewEntry(msg.Channel, s.store.Seal(msg.Address), contact, outbox.Reply)
		e.Messages = []outbox.Text{{Text: reply.Text}}
		if err := s.opts.Outbox.Enqueue(ctx, e); err != nil {
			return Outcome{}, err
		}
	}
	return Outcome{Replies: []engine.Reply{reply}}, nil
}

// months is a retention in whole months (30 days, rounded, at least 1), as
// the privacy notice says it; zero means the default of 180 days.
func months(retention time.Duration) int {
	if retention <= 0 {
		retention = 180 * 24 * time.Hour
	}
	return max(1, int((retention+15*24*time.Hour)/(30*24*time.Hour)))
}
