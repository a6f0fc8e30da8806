// Package broadcast sends one message to many: staff broadcasts and the
// notices of distributions. A broadcast is stored, waits for its time, then
// fans out into the outbox at bulk priority, each person in their language
// on their channel, each at most once, and keeps its counts.
package broadcast

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/store"
	"github.com/outreach-org/outreach/bot/tally"
)

// KindMessage is a broadcast of staff's own text; the other kinds are the
// distribution notices (content.NoticeNew …).
const KindMessage = "message"

// Statuses of a broadcast.
const (
	Scheduled = "scheduled"
	Sending   = "sending"
	Done      = "done"
	Cancelled = "cancelled"
)

// Broadcast is one message to many.
type Broadcast struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Text is staff's message by language (kind "message"): one for every
	// language of the audience, unless Fallback is given.
	Text map[string]string `json:"text,omitempty"`
	// Fallback, for kind "message", names the language whose text goes to
	// people whose language has none. Without it, every language of the
	// audience needs a text: a message is never sent in another language
	// than the one its reader chose unless staff said so.
	Fallback string `json:"fallback,omitempty"`
	// Distribution is the distribution a notice is about.
	Distribution string    `json:"distribution,omitempty"`
	Audience     Audience  `json:"audience"`
	SendAt       time.Time `json:"send_at"`
	CreatedBy    string    `json:"created_by,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
}

// Audience says who a broadcast reaches: the subscribers of Sites (all
// sites when empty), narrowed to Languages and Channels when given — or,
// with RecipientsOf, the people earlier broadcasts reached: those whose
// message the provider accepted (a correction).
type Audience struct {
	Sites        []string `json:"sites,omitempty"`
	Languages    []string `json:"languages,omitempty"`
	Channels     []string `json:"channels,omitempty"`
	RecipientsOf []string `json:"recipients_of,omitempty"`
}

// Counts are a broadcast's numbers, as package tally, which writes them
// from delivery events, reads them.
type Counts = tally.Counts

// Report is a broadcast with its status and counts.
type Report struct {
	Broadcast
	Status string `json:"status"`
	Counts Counts `json:"counts"`
}

// Options configures the service.
type Options struct {
	// Location is where notice dates are shown.
	Location *time.Location
	// Templates are WhatsApp content templates (ContentSid) by kind, for
	// people outside WhatsApp's 24-hour window; without one they are skipped.
	Templates map[string]string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service keeps and sends broadcasts.
type Service struct {
	rdb     redis.UniversalClient
	space   keys.Space
	counts  tally.Counter
	store   *store.Store
	content func() *content.Content
	opts    Options
	log     *slog.Logger
	// queued, when set (by a test), is called after each batch a fan-out
	// queued, before its mark is recorded.
	queued func(shard int)
}

// New returns the service, in the key space of st (its prefix and shards).
// content returns the content in use.
func New(rdb redis.UniversalClient, st *store.Store, content func() *content.Content, log *slog.Logger, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	space := st.Keys()
	return &Service{rdb: rdb, space: space, counts: tally.New(space), store: st, content: content, opts: opts, log: log.With("component", "broadcast")}
}

func (s *Service) due() string { return s.space.BroadcastsDue() }
func (s *Service) all() string { return s.space.Broadcasts() }

// forgotten lists the broadcasts whose recipients were forgotten, by
// creation time.
func (s *Service) forgotten() string        { return s.space.BroadcastsForgotten() }
func (s *Service) hash(id string) string    { return s.space.Broadcast(id) }
func (s *Service) lockKey(id string) string { return s.space.BroadcastLock(id) }
func (s *Service) idem(key string) string {
	sum := sha256.Sum256([]byte(key))
	return s.space.BroadcastIdempotency(hex.EncodeToString(sum[:16]))
}

// ErrInvalid wraps what is wrong with a broadcast.
var ErrInvalid = errors.New("invalid broadcast")

// ErrNotFound means no broadcast has that id.
var ErrNotFound = errors.New("no such broadcast")

// ErrIdempotencyConflict means an Idempotency-Key was used before for a
// different request: the broadcast made then is not this one.
var ErrIdempotencyConflict = errors.New("this Idempotency-Key was used for a different broadcast")

// ErrIdempotencyBusy means a request with the same Idempotency-Key was
// under way and gave up meanwhile: send again.
var ErrIdempotencyBusy = errors.New("a request with this Idempotency-Key was under way and did not finish; send again in a moment")

// Channels are the channels an audience may name.
var Channels = []string{"sms", "whatsapp", "telegram"}

// SendAtSlack is how far in the past a send_at may be, for the clocks of
// staff's machines and of the service that differ a little.
const SendAtSlack = 30 * time.Second

// MaxText bounds a message's text, in characters (the footer aside).
const MaxText = 1600

// Reasons a Problem gives: why a field is refused.
const (
	ReasonMissing    = "missing"     // a field that is needed is not given
	ReasonEmpty      = "empty"       // given, but blank
	ReasonTooLong    = "too_long"    // Value is the length in characters
	ReasonBadChar    = "bad_char"    // Value is the character, as U+XXXX
	ReasonSpaces     = "spaces"      // spaces at one end
	ReasonUnknown    = "unknown"     // Value names what does not exist (a language, a site, a channel…)
	ReasonRetired    = "retired"     // Value is the retired site
	ReasonPast       = "past"        // a time in the past
	ReasonNoText     = "no_text"     // the fallback language (Value) has no text
	ReasonInvalid    = "invalid"     // Value is not one of the allowed values
	ReasonNotAllowed = "not_allowed" // given where it cannot be
)

// Problem is one thing wrong with a broadcast or a site, so that a form
// can show each next to its field, in its reader's language.
type Problem struct {
	// Field names what is wrong: "text.ar", "audience.sites", "send_at".
	Field string
	// Reason is one of the Reason constants.
	Reason string
	// Value is what the problem is about, when there is one to show: the
	// language, the site, the character, the length.
	Value string
	// Message says it in English, as the API answers it.
	Message string
}

// Problems returns, field by field, what an error of Validate, Create or
// CheckSite says is wrong; nil when err is not such a refusal.
func Problems(err error) []Problem {
	var e *invalid
	if !errors.As(err, &e) {
		return nil
	}
	return slices.Clone(e.problems)
}

// problems collects what is wrong with a request, each naming its field
// ("text.ar: missing …"), so that staff see every mistake at once.
type problems []Problem

func (p *problems) add(field, reason, value, format string, args ...any) {
	*p = append(*p, Problem{Field: field, Reason: reason, Value: value, Message: fmt.Sprintf(format, args...)})
}

// err returns the problems as one error wrapping ErrInvalid, or nil. what
// names what is invalid ("broadcast", "site").
func (p problems) err(what string) error {
	if len(p) == 0 {
		return nil
	}
	parts := make([]string, len(p))
	for i, x := range p {
		parts[i] = x.Field + ": " + x.Message
	}
	return &invalid{msg: "invalid " + what + ": " + strings.Join(parts, "; "), problems: p}
}

// invalid is a refused request: it is ErrInvalid, with its own message.
type invalid struct {
	msg      string
	problems problems
}

func (e *invalid) Error() string { return e.msg }
func (e *invalid) Unwrap() error { return ErrInvalid }

// MaxSiteName bounds a site's name, in characters.
const MaxSiteName = 60

// MaxSiteArea bounds a site's public area, in characters.
const MaxSiteArea = 100

var siteID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)

// CheckSite checks a site staff add or change, before it is stored: its id
// (lower-case letters, digits, - and _, at most 40); each of its names and
// areas — in one of languages (the bot's), not blank, at most MaxSiteName
// (names) or MaxSiteArea (areas) characters, without spaces at either end,
// line breaks, control characters or bidirectional overrides (they are
// shown inside the bot's messages); who sees exact places: empty,
// engine.ExactPlaceSubscribers or engine.ExactPlaceEveryone; and its
// centre, if given, a place (checkCoords). The error
// wraps ErrInvalid and names each field that is wrong ("names.ar: …").
func CheckSite(site engine.Site, languages []string) error {
	var p problems
	if !siteID.MatchString(site.ID) {
		p.add("id", ReasonInvalid, site.ID, "%q: want 1 to 40 lower-case letters, digits, - and _, starting with a letter or digit", site.ID)
	}
	for _, f := range []struct {
		name  string
		texts map[string]string
		max   int
	}{{"names", site.Names, MaxSiteName}, {"area", site.Area, MaxSiteArea}} {
		for _, lang := range slices.Sorted(maps.Keys(f.texts)) {
			text, field := f.texts[lang], f.name+"."+lang
			n := utf8.RuneCountInString(text)
			switch {
			case !slices.Contains(languages, lang):
				p.add(field, ReasonUnknown, lang, "%q is not a language the bot speaks (%s)", lang, strings.Join(languages, ", "))
			case strings.TrimSpace(text) == "":
				p.add(field, ReasonEmpty, "", "empty")
			case n > f.max:
				p.add(field, ReasonTooLong, strconv.Itoa(n), "%d characters, longer than %d", n, f.max)
			case strings.TrimSpace(text) != text:
				p.add(field, ReasonSpaces, "", "%q has spaces at one end", text)
			default:
				if r, bad := badNameChar(text); bad {
					p.add(field, ReasonBadChar, fmt.Sprintf("%U", r), "holds the character %U, which it cannot hold", r)
				}
			}
		}
	}
	switch site.ExactPlace {
	case "", engine.ExactPlaceSubscribers, engine.ExactPlaceEveryone:
	default:
		p.add("exact_place", ReasonInvalid, site.ExactPlace, "%q: want %q (the exact place only to subscribers, the default) or %q", site.ExactPlace, engine.ExactPlaceSubscribers, engine.ExactPlaceEveryone)
	}
	checkCoords(&p, site.Coords)
	return p.err("site")
}

// badNameChar returns the first character a name cannot hold: what
// content.BadChar refuses, any line break or tab, and the bidirectional
// embeddings, overrides and isolates (which could turn the text around
// them).
func badNameChar(s string) (rune, bool) {
	if r, bad := content.BadChar(s); bad {
		return r, true
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return r, true
		}
	}
	return 0, false
}

// Validate checks a broadcast before it is stored: its kind, its texts (one
// for every language of the audience, unless a fallback is named), its
// audience (sites that exist and are not retired, languages the bot speaks,
// channels it knows, broadcasts that exist) and its time (not in the past,
// beyond SendAtSlack). The error wraps ErrInvalid and names each field
// that is wrong.
func (s *Service) Validate(ctx context.Context, b Broadcast) error {
	c := s.content()
	var p problems
	switch {
	case b.Kind == KindMessage:
		checkText(c, b, &p)
	case slices.Contains(content.NoticeKinds(), b.Kind):
		if b.Distribution == "" {
			p.add("distribution", ReasonMissing, "", "missing — a notice (kind %s) needs the id of its distribution", b.Kind)
		}
		if len(b.Text) > 0 {
			p.add("text", ReasonNotAllowed, "", "a notice (kind %s) is written by the content, not given: leave \"text\" out", b.Kind)
		}
		if b.Fallback != "" {
			p.add("fallback", ReasonNotAllowed, "", "only for kind message: a notice exists in every language")
		}
	default:
		p.add("kind", ReasonInvalid, b.Kind, "%q is not message or one of %s", b.Kind, strings.Join(content.NoticeKinds(), ", "))
	}
	if err := s.checkAudience(ctx, c, b.Audience, &p); err != nil {
		return err
	}
	if !b.SendAt.IsZero() {
		if now := s.opts.Now(); b.SendAt.Before(now.Add(-SendAtSlack)) {
			p.add("send_at", ReasonPast, "", "%s is in the past (it is %s); leave it out to send now", b.SendAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	return p.err("broadcast")
}

// checkText checks a message's texts, and that every language of its
// audience has one or falls back to one.
func checkText(c *content.Content, b Broadcast, p *problems) {
	if len(b.Text) == 0 {
		p.add("text", ReasonMissing, "", "missing — a message needs a text in at least one language (%s)", strings.Join(c.Languages, ", "))
		return
	}
	for _, lang := range slices.Sorted(maps.Keys(b.Text)) {
		t := b.Text[lang]
		field := "text." + lang
		switch {
		case !c.HasLanguage(lang):
			p.add(field, ReasonUnknown, lang, "%q is not a language the bot speaks (%s)", lang, strings.Join(c.Languages, ", "))
		case strings.TrimSpace(t) == "":
			p.add(field, ReasonEmpty, "", "empty")
		case utf8.RuneCountInString(t) > MaxText:
			p.add(field, ReasonTooLong, strconv.Itoa(utf8.RuneCountInString(t)), "%d characters, longer than %d", utf8.RuneCountInString(t), MaxText)
		default:
			if r, bad := content.BadChar(t); bad {
				p.add(field, ReasonBadChar, fmt.Sprintf("%U", r), "holds the character %U, which cannot be sent", r)
			}
		}
	}
	if b.Fallback != "" {
		switch {
		case !c.HasLanguage(b.Fallback):
			p.add("fallback", ReasonUnknown, b.Fallback, "%q is not a language the bot speaks (%s)", b.Fallback, strings.Join(c.Languages, ", "))
		case b.Text[b.Fallback] == "":
			p.add("fallback", ReasonNoText, b.Fallback, "%q has no text: give \"text\".%s, or name a language that has one", b.Fallback, b.Fallback)
		}
		return // every language has its text, or the fallback's
	}
	wanted := b.Audience.Languages
	if len(wanted) == 0 {
		wanted = c.Languages
	}
	for _, lang := range wanted {
		if _, ok := b.Text[lang]; ok || !c.HasLanguage(lang) {
			continue // checked above, or refused with the audience
		}
		name := lang
		if c.Has(lang, "language_name") {
			name = fmt.Sprintf("%s (%s)", lang, c.Text(lang, "language_name", nil))
		}
		p.add("text."+lang, ReasonMissing, lang, "missing — the audience includes people who read %s; give a text in %s or name a \"fallback\" language", name, lang)
	}
}

// checkAudience checks that an audience names only what exists.
func (s *Service) checkAudience(ctx context.Context, c *content.Content, a Audience, p *problems) error {
	if len(a.Sites) > 0 {
		if len(a.RecipientsOf) > 0 {
			p.add("audience", ReasonNotAllowed, "", "\"sites\" and \"recipients_of\" cannot be combined: recipients_of reaches the people those broadcasts reached, whatever their site")
		}
		sites, err := s.Sites(ctx)
		if err != nil {
			return err
		}
		for _, id := range a.Sites {
			i := slices.IndexFunc(sites, func(x engine.Site) bool { return x.ID == id })
			switch {
			case i < 0:
				p.add("audience.sites", ReasonUnknown, id, "no site %q (see GET /api/v1/sites)", id)
			case sites[i].Retired:
				p.add("audience.sites", ReasonRetired, id, "site %q is retired", id)
			}
		}
	}
	for _, lang := range a.Languages {
		if !c.HasLanguage(lang) {
			p.add("audience.languages", ReasonUnknown, lang, "%q is not a language the bot speaks (%s)", lang, strings.Join(c.Languages, ", "))
		}
	}
	for _, ch := range a.Channels {
		if !slices.Contains(Channels, ch) {
			p.add("audience.channels", ReasonUnknown, ch, "%q is not one of %s", ch, strings.Join(Channels, ", "))
		}
	}
	if len(a.RecipientsOf) > 0 {
		var exists []*redis.IntCmd
		if _, err := s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for _, id := range a.RecipientsOf {
				exists = append(exists, pl.Exists(ctx, s.hash(id)))
			}
			return nil
		}); err != nil {
			return err
		}
		for i, id := range a.RecipientsOf {
			if exists[i].Val() == 0 {
				p.add("audience.recipients_of", ReasonUnknown, id, "no broadcast %q", id)
			}
		}
	}
	return nil
}

// fingerprint is a hash of what a broadcast request asks, kept with its
// Idempotency-Key: the same key with another request is a conflict, not a
// repeat. Lists count as sets (their order does not matter).
func fingerprint(b Broadcast) string {
	a := b.Audience
	set := func(l []string) []string {
		l = slices.Clone(l)
		slices.Sort(l)
		return slices.Compact(l)
	}
	canon, _ := json.Marshal(struct {
		Kind         string            `json:"kind"`
		Text         map[string]string `json:"text"`
		Fallback     string            `json:"fallback"`
		Distribution string            `json:"distribution"`
		Sites        []string          `json:"sites"`
		Languages    []string          `json:"languages"`
		Channels     []string          `json:"channels"`
		RecipientsOf []string          `json:"recipients_of"`
		SendAt       int64             `json:"send_at"`
	}{b.Kind, b.Text, b.Fallback, b.Distribution, set(a.Sites), set(a.Languages), set(a.Channels), set(a.RecipientsOf), sendAtMillis(b.SendAt)})
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}

func sendAtMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Create stores a broadcast, to fan out at its SendAt (now when zero). With
// an idempotency key already used for the same request, it returns the
// broadcast made then, and existed true — even if the request would no
// longer be valid (its time passed): it is a repeat. The same key with a
// different request is ErrIdempotencyConflict.
func (s *Service) Create(ctx context.Context, b Broadcast, idempotencyKey string) (id string, existed bool, err error) {
	// The key is scoped to who sends it; it names the broadcast made the
	// first time and the fingerprint of its request, and is let go if that
	// broadcast cannot be stored.
	var key, print string
	if idempotencyKey != "" {
		key, print = s.idem(b.CreatedBy+"\x00"+idempotencyKey), fingerprint(b)
		if id, found, err := s.repeat(ctx, key, print); found || err != nil {
			return id, found, err
		}
	}
	if err := s.Validate(ctx, b); err != nil {
		return "", false, err
	}
	b.ID = outbox.NewID()
	b.CreatedAt = s.opts.Now().UTC()
	if b.SendAt.IsZero() {
		b.SendAt = b.CreatedAt
	}
	if key != "" {
		ok, setErr := s.rdb.SetNX(ctx, key, b.ID+" "+print, 24*time.Hour).Result()
		if setErr != nil {
			return "", false, setErr
		}
		if !ok { // the same key, at the same moment
			id, found, err := s.repeat(ctx, key, print)
			if err == nil && !found {
				err = ErrIdempotencyBusy
			}
			return id, found, err
		}
		defer func() {
			if err == nil {
				return
			}
			// Let the key go only if the broadcast is surely not stored: a
			// write whose answer was lost (a timeout) may have been made,
			// and a retry with the key must then find it, not make a second.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if n, existsErr := s.rdb.Exists(ctx, s.hash(b.ID)).Result(); existsErr == nil && n == 0 {
				s.rdb.Del(ctx, key)
			}
		}()
	}
	def, _ := json.Marshal(b)
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.hash(b.ID), "def", def, "status", Scheduled)
		p.ZAdd(ctx, s.due(), redis.Z{Score: float64(b.SendAt.UnixMilli()), Member: b.ID})
		p.ZAdd(ctx, s.all(), redis.Z{Score: float64(b.CreatedAt.UnixMilli()), Member: b.ID})
		return nil
	})
	if err != nil {
		return "", false, err
	}
	return b.ID, false, nil
}

// repeat looks up an idempotency key: the broadcast it names when it was
// used for the same request, ErrIdempotencyConflict when for another.
func (s *Service) repeat(ctx context.Context, key, print string) (id string, found bool, err error) {
	v, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	// A key stored before fingerprints were kept holds only the id.
	id, was, printed := strings.Cut(v, " ")
	if printed && was != print {
		return "", false, ErrIdempotencyConflict
	}
	return id, true, nil
}

// Get returns a broadcast with its status and counts.
func (s *Service) Get(ctx context.Context, id string) (Report, error) {
	got, err := s.load(ctx, id)
	if err != nil {
		return Report{}, err
	}
	if got[0].err != nil {
		return Report{}, got[0].err
	}
	return got[0].report, nil
}

// loaded is a broadcast as read: its report, its hash's fields, or why it
// could not be read (ErrNotFound…).
type loaded struct {
	report Report
	fields map[string]string
	err    error
}

// load reads broadcasts with their counts (the shares of every shard,
// summed), all in one pipeline.
func (s *Service) load(ctx context.Context, ids ...string) ([]loaded, error) {
	hashes := make([]*redis.MapStringStringCmd, len(ids))
	counts := make([]func() (Counts, error), len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			hashes[i] = p.HGetAll(ctx, s.hash(id))
			counts[i] = s.counts.Queue(ctx, p, id)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]loaded, len(ids))
	for i := range ids {
		out[i] = s.parse(hashes[i].Val(), counts[i])
	}
	return out, nil
}

// parse reads a broadcast from its hash and its counts. The counts of a
// broadcast forgotten (Forget) are those it folded into its hash.
func (s *Service) parse(fields map[string]string, counts func() (Counts, error)) loaded {
	if fields["def"] == "" {
		return loaded{err: ErrNotFound}
	}
	var r Report
	if err := json.Unmarshal([]byte(fields["def"]), &r.Broadcast); err != nil {
		return loaded{err: err}
	}
	if folded := fields[foldedCounts]; folded != "" {
		if err := json.Unmarshal([]byte(folded), &r.Counts); err != nil {
			return loaded{err: err}
		}
	} else {
		c, err := counts()
		if err != nil {
			return loaded{err: err}
		}
		r.Counts = c
	}
	r.Status = fields["status"]
	if r.Status == Sending && fields["fanned"] == "1" && r.Counts.Finished() >= r.Counts.Total {
		r.Status = Done
	}
	return loaded{report: r, fields: fields}
}

// List returns the newest broadcasts first, at most n.
func (s *Service) List(ctx context.Context, n int64) ([]Report, error) {
	return s.ListFrom(ctx, 0, n)
}

// ListFrom returns at most n broadcasts, newest first, skipping the offset
// newest: a page of the list.
func (s *Service) ListFrom(ctx context.Context, offset, n int64) ([]Report, error) {
	if n <= 0 {
		return nil, nil
	}
	ids, err := s.rdb.ZRevRange(ctx, s.all(), max(0, offset), max(0, offset)+n-1).Result()
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return []Report{}, nil
	}
	got, err := s.load(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]Report, 0, len(ids))
	for _, g := range got {
		if errors.Is(g.err, ErrNotFound) {
			continue
		} else if g.err != nil {
			return nil, g.err
		}
		out = append(out, g.report)
	}
	return out, nil
}

// Cancel stops a broadcast: what has not left yet will not.
func (s *Service) Cancel(ctx context.Context, id string) error {
	r, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if r.Status == Done || r.Status == Cancelled {
		return nil
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.hash(id), "status", Cancelled)
		p.ZRem(ctx, s.due(), id)
		return nil
	})
	return err
}

// CancelUnsent cancels what has not left of a broadcast not yet done (a
// distribution called off); a done one is left as it is.
func (s *Service) CancelUnsent(ctx context.Context, id string) error {
	r, err := s.Get(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && r.Status == Done) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.hash(id), "status", Cancelled)
		p.ZRem(ctx, s.due(), id)
		return nil
	})
	return err
}

// Run fans out the broadcasts whose time has come, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids, err := s.rdb.ZRangeByScore(ctx, s.due(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(s.opts.Now().UnixMilli(), 10), Count: 10}).Result()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("reading due broadcasts failed", "err", err)
			}
			continue
		}
		for _, id := range ids {
			if err := s.fanOut(ctx, id); err != nil && ctx.Err() == nil {
				s.log.Warn("fanning out a broadcast failed; it will be resumed", "broadcast", id, "err", err)
			}
		}
	}
}

// lockTTL bounds how long one fan-out holds a broadcast; it is renewed
// after each batch, and another instance resumes when it lapses.
const lockTTL = 30 * time.Second

// batch is how many people one step of a fan-out reads.
const batch = 500

// parallel is how many shards a fan-out (or an estimate) walks at once:
// on a Cluster they are on several masters, and on one node the round
// trips of one shard overlap with the work of another. It stays small so
// that a fan-out leaves room on the server for the replies of turns.
const parallel = 4

// setStatus moves a broadcast to a status unless it is cancelled: a cancel
// is never overwritten.
var setStatus = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'status') == 'cancelled' then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
return 1`)

// unlock releases a lock only if this holder still has it.
var unlock = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

//go:embed enqueue.lua
var enqueueSrc string

var enqueueScript = redis.NewScript(enqueueSrc)

//go:embed progress.lua
var progressSrc string

// progressScript records how far a fan-out read a set, if it still holds
// the broadcast and the broadcast is not cancelled, and renews its lock.
var progressScript = redis.NewScript(progressSrc)

// What progressScript answers.
const (
	progressCancelled = -1
	progressLost      = 0
	progressKept      = 1
)

// reached is what a person queued adds to the counts, as enqueue.lua
// takes it: the script counts a recipient in the same step as it records
// them, so that a fan-out resumed after a crash counts each person once.
var reached = tally.ScriptArgs(tally.Reached)

// errCancelled stops a fan-out whose broadcast was cancelled.
var errCancelled = errors.New("broadcast: cancelled")

// errLost stops a fan-out that lost its lock: another may hold it.
var errLost = errors.New("broadcast: lost the fan-out lock")

// markField is the field of a broadcast's hash that says how far its
// fan-out read one set (a share of a shard's): the SSCAN cursor to resume
// at, or "done". The set's key names its shard: each shard's share has
// its own mark.
func markField(set string) string { return "cur:" + set }

// markDone marks a set read to its end.
const markDone = "done"

// fanOut puts a broadcast's entries in the outbox, resuming where a crashed
// fan-out stopped. Each shard's share of the audience is read, decided and
// queued in that shard (one script on its slot: its recipients, counts,
// bulk stream and the set read), several shards at once; each person is
// queued once, whatever crashes, since the recipients set of their shard
// says who was queued.
func (s *Service) fanOut(ctx context.Context, id string) error {
	holder := outbox.NewID()
	ok, err := s.rdb.SetNX(ctx, s.lockKey(id), holder, lockTTL).Result()
	if err != nil || !ok {
		return err
	}
	defer unlock.Run(context.WithoutCancel(ctx), s.rdb, []string{s.lockKey(id)}, holder)

	fields, err := s.rdb.HGetAll(ctx, s.hash(id)).Result()
	if err != nil {
		return err
	}
	if fields["status"] == Cancelled || fields["def"] == "" {
		return s.rdb.ZRem(ctx, s.due(), id).Err()
	}
	var b Broadcast
	if err := json.Unmarshal([]byte(fields["def"]), &b); err != nil {
		return err
	}
	moved, err := setStatus.Run(ctx, s.rdb, []string{s.hash(id)}, Sending).Int()
	if err != nil {
		return err
	}
	if moved == 0 { // cancelled meanwhile
		return s.rdb.ZRem(ctx, s.due(), id).Err()
	}
	render, expires, err := s.renderer(ctx, b)
	if err != nil {
		return err
	}
	aud, err := s.sources(ctx, b)
	if err != nil {
		return err
	}
	f := fan{s: s, b: b, holder: holder, render: render, expires: expires}
	err = s.eachShard(ctx, func(ctx context.Context, i int) error {
		for _, set := range aud.shard(s.space, i) {
			if err := f.read(ctx, i, set, fields[markField(set)]); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errCancelled):
		return s.rdb.ZRem(ctx, s.due(), id).Err()
	case errors.Is(err, errLost):
		return fmt.Errorf("lost the fan-out lock of broadcast %s", id)
	case err != nil:
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.hash(id), "fanned", "1")
		p.ZRem(ctx, s.due(), id)
		return nil
	})
	return err
}

// eachShard calls fn for every shard, up to parallel at once, and returns
// the first error; the calls under way then see their ctx cancelled, and
// no more start.
func (s *Service) eachShard(ctx context.Context, fn func(ctx context.Context, shard int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(parallel, s.space.Shards()) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range s.space.Shards() {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}

// fan is one fan-out of a broadcast by a holder of its lock.
type fan struct {
	s       *Service
	b       Broadcast
	holder  string
	render  render
	expires int64
}

// read walks one set of shard i from its mark (an SSCAN cursor, or done),
// queueing a batch at a time, each followed by its mark. A batch whose
// mark was lost to a crash is queued again when the fan-out resumes: its
// people are then found among the recipients, and left.
func (f fan) read(ctx context.Context, shard int, set, mark string) error {
	if mark == markDone {
		return nil
	}
	s := f.s
	cur, _ := strconv.ParseUint(mark, 10, 64)
	for {
		members, next, err := s.rdb.SScan(ctx, set, cur, "", batch).Result()
		if err != nil {
			return err
		}
		if err := s.enqueue(ctx, f.b, shard, set, members, f.render, f.expires); err != nil {
			return err
		}
		if s.queued != nil {
			s.queued(shard)
		}
		mark := strconv.FormatUint(next, 10)
		if next == 0 {
			mark = markDone
		}
		kept, err := progressScript.Run(ctx, s.rdb, []string{s.hash(f.b.ID), s.lockKey(f.b.ID)},
			f.holder, lockTTL.Milliseconds(), markField(set), mark).Int()
		switch {
		case err != nil:
			return err
		case kept == progressCancelled:
			return errCancelled
		case kept == progressLost:
			return errLost
		}
		if next == 0 {
			return nil
		}
		cur = next
	}
}

// sets names the sets of contact keys a broadcast reaches, each split in
// one share a shard.
type sets struct {
	// told: the sets of the people earlier broadcasts reached; else the
	// subscribers of sites.
	told bool
	// names are those broadcasts' ids, or the sites.
	names []string
}

// shard returns the shares of shard i of the sets, one a name.
func (a sets) shard(space keys.Space, i int) []string {
	out := make([]string, len(a.names))
	for j, name := range a.names {
		if a.told {
			out[j] = space.BroadcastTold(name, i)
		} else {
			out[j] = space.Subscribers(name, i)
		}
	}
	return out
}

// sources returns the sets of contact keys a broadcast reaches.
func (s *Service) sources(ctx context.Context, b Broadcast) (sets, error) {
	if len(b.Audience.RecipientsOf) > 0 {
		return sets{told: true, names: b.Audience.RecipientsOf}, nil
	}
	sites := b.Audience.Sites
	if len(sites) == 0 {
		all, err := s.Sites(ctx)
		if err != nil {
			return sets{}, err
		}
		for _, site := range all {
			sites = append(sites, site.ID)
		}
	}
	return sets{names: sites}, nil
}

// Sites returns the sites: those staff stored, else the content's defaults.
func (s *Service) Sites(ctx context.Context) ([]engine.Site, error) {
	sites, err := s.store.Sites(ctx)
	if err != nil || sites != nil {
		return sites, err
	}
	for _, id := range s.content().Flow.Sites {
		sites = append(sites, engine.Site{ID: id})
	}
	return sites, nil
}

// render returns a broadcast's text in a language, and its WhatsApp template
// variables.
type render func(lang string) (text string, vars map[string]string)

// renderer returns how to render a broadcast, and when its messages expire
// (Unix ms; 0 never): a notice is not worth sending after its distribution.
func (s *Service) renderer(ctx context.Context, b Broadcast) (render, int64, error) {
	c := s.content()
	if b.Kind == KindMessage {
		return func(lang string) (string, map[string]string) {
			t := textFor(b, lang)
			if t == "" { // stored before every language needed a text
				t = b.Text[c.Languages[0]]
			}
			if t == "" {
				for _, l := range c.Languages {
					if t = b.Text[l]; t != "" {
						break
					}
				}
			}
			return withFooter(c, t, lang), map[string]string{"1": t}
		}, 0, nil
	}
	d, ok, err := s.store.Distribution(ctx, b.Distribution)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, fmt.Errorf("distribution %s is gone", b.Distribution)
	}
	sites, err := s.Sites(ctx)
	if err != nil {
		return nil, 0, err
	}
	return func(lang string) (string, map[string]string) {
		text := s.notice(c, b.Kind, d, sites, lang)
		start := d.StartsAt.In(s.opts.Location)
		place := d.Place[lang]
		for _, l := range append([]string{c.Languages[0]}, slices.Sorted(maps.Keys(d.Place))...) {
			if place != "" {
				break
			}
			place = d.Place[l]
		}
		return text, map[string]string{
			"1": d.Site, "2": start.Format("2006-01-02"), "3": start.Format("15:04") + "-" + d.EndsAt.In(s.opts.Location).Format("15:04"),
			"4": place,
		}
	}, d.EndsAt.UnixMilli(), nil
}

// textFor is staff's text for people who read lang: theirs, else the
// fallback's; empty when neither is given.
func textFor(b Broadcast, lang string) string {
	if t := b.Text[lang]; t != "" {
		return t
	}
	return b.Text[b.Fallback]
}

// withFooter is a message as sent to people who read lang: staff's text,
// then the footer that says how to stop the notices.
func withFooter(c *content.Content, text, lang string) string {
	return text + "\n\n" + c.Text(lang, content.MsgNoticeFooter, nil)
}

// Message returns the text a message broadcast (kind message) sends to
// people who read lang, exactly as they get it: the text in lang, else the
// fallback language's, followed by the footer in lang. It is empty when
// neither text is given (Validate refuses such a broadcast). Its SMS
// segments are what each of them costs.
func (s *Service) Message(b Broadcast, lang string) string {
	t := textFor(b, lang)
	if t == "" {
		return ""
	}
	return withFooter(s.content(), t, lang)
}

// whatsAppWindow is how long after a person's last message WhatsApp takes
// free text.
const whatsAppWindow = 24 * time.Hour

// Outcomes of decide for one contact.
const (
	outOfAudience = ""  // not in the audience: not counted
	skipGone      = "n" // skipped, and gone: removed from the set it was read from
	skip          = "s" // skipped, for a reason
	send          = "e" // sent (as free text, or as a WhatsApp template)
)

// decision is what a broadcast does for one contact.
type decision struct {
	outcome string
	reason  string // why it is skipped
	lang    string // the person's language, when sent
	// template is set when the person gets the kind's WhatsApp template
	// (outside WhatsApp's 24-hour window) instead of the text.
	template string
}

// decide says, for one contact, whether a broadcast reaches them, and how:
// the one place of the rules of who gets a broadcast, for the fan-out and
// for Estimate.
func (s *Service) decide(b Broadcast, r store.Reach, now time.Time) decision {
	if r.Data == nil {
		// Purged after the retention period: forget the subscription too.
		return decision{outcome: skipGone, reason: "no_contact"}
	}
	var st engine.State
	if err := json.Unmarshal(r.Data, &st); err != nil {
		return decision{outcome: skip, reason: "unreadable"}
	}
	if len(b.Audience.Channels) > 0 && !slices.Contains(b.Audience.Channels, r.Channel) {
		return decision{outcome: outOfAudience}
	}
	if len(b.Audience.Languages) > 0 && !slices.Contains(b.Audience.Languages, st.Lang) {
		return decision{outcome: outOfAudience}
	}
	switch {
	case r.Address == "":
		return decision{outcome: skip, reason: "no_address"}
	case st.OptedOut:
		return decision{outcome: skip, reason: "opted_out"}
	case st.Blocked:
		return decision{outcome: skip, reason: "blocked"}
	case r.Undeliverable:
		return decision{outcome: skip, reason: "undeliverable"}
	}
	d := decision{outcome: send, lang: st.Lang}
	if r.Channel == "whatsapp" && now.Sub(st.LastSeen) > whatsAppWindow {
		if d.template = s.opts.Templates[b.Kind]; d.template == "" {
			return decision{outcome: skip, reason: "needs_template"}
		}
	}
	return d
}

// enqueue decides, for one batch of contacts of a shard read from one of
// its sets (source), who gets what, and enqueues it in that shard.
func (s *Service) enqueue(ctx context.Context, b Broadcast, shard int, source string, contacts []string, render render, expires int64) error {
	if len(contacts) == 0 {
		return nil
	}
	reaches, err := s.store.Contacts().ReachMany(ctx, contacts)
	if err != nil {
		return err
	}
	now := s.opts.Now()
	var args []any
	for i, ck := range contacts {
		r := reaches[i]
		d := s.decide(b, r, now)
		switch d.outcome {
		case outOfAudience:
			continue
		case skipGone, skip:
			args = append(append(args, ck, d.outcome, ""), tally.ScriptArgs(tally.Reached, tally.Skipped(d.reason))...)
			continue
		}
		text, vars := render(d.lang)
		e := outbox.NewEntry(r.Channel, r.Address, ck, outbox.Bulk)
		e.Broadcast = b.ID
		e.Expires = expires
		if d.template != "" {
			e.Template, e.TemplateVars = d.template, vars
		} else {
			e.Messages = []outbox.Text{{Text: text}}
		}
		args = append(append(args, ck, send, e.Encode()), reached...)
	}
	if len(args) == 0 {
		return nil
	}
	return enqueueScript.Run(ctx, s.rdb, s.enqueueKeys(b.ID, shard, source), args...).Err()
}

// enqueueKeys are the keys of enqueue.lua for shard i of broadcast id, all
// in the shard's slot: its recipients, its share of the counts, its bulk
// stream, and the share of a set its contacts were read from.
func (s *Service) enqueueKeys(id string, i int, source string) []string {
	return []string{s.space.BroadcastRecipients(id, i), s.counts.Key(id, i), s.space.BulkStream(i), source}
}

// Estimate is who a broadcast would reach if it left now.
type Estimate struct {
	// Total counts the people its audience names, each once, as
	// Counts.Total will.
	Total int64
	// Send counts who would get it, by channel, then by language.
	Send map[string]map[string]int64
	// Templates counts, among Send's WhatsApp people, those who would get
	// the WhatsApp template instead of the text (outside the 24-hour
	// window), by language.
	Templates map[string]int64
	// Skipped counts who would not get it, by reason, as Counts.SkippedBy
	// will.
	Skipped map[string]int64
}

// People is how many people would get the broadcast.
func (e Estimate) People() int64 {
	var n int64
	for _, byLang := range e.Send {
		for _, x := range byLang {
			n += x
		}
	}
	return n
}

// Estimate counts who a broadcast would reach if it left now, by the same
// rules as its fan-out (the audience's sites, languages and channels; who
// opted out, blocked the bot, cannot be reached or is outside WhatsApp's
// window without a template), each person once. It changes nothing. It
// reads every contact of the audience: a few hundred milliseconds for
// 100,000.
func (s *Service) Estimate(ctx context.Context, b Broadcast) (Estimate, error) {
	est := newEstimate()
	aud, err := s.sources(ctx, b)
	if err != nil {
		return est, err
	}
	now := s.opts.Now()
	var mu sync.Mutex
	err = s.eachShard(ctx, func(ctx context.Context, i int) error {
		part, err := s.estimateShard(ctx, b, aud.shard(s.space, i), now)
		if err != nil {
			return err
		}
		mu.Lock()
		est.add(part)
		mu.Unlock()
		return nil
	})
	return est, err
}

func newEstimate() Estimate {
	return Estimate{Send: map[string]map[string]int64{}, Templates: map[string]int64{}, Skipped: map[string]int64{}}
}

// add adds the counts of o to e.
func (e *Estimate) add(o Estimate) {
	e.Total += o.Total
	for ch, byLang := range o.Send {
		if e.Send[ch] == nil {
			e.Send[ch] = map[string]int64{}
		}
		for lang, n := range byLang {
			e.Send[ch][lang] += n
		}
	}
	for lang, n := range o.Templates {
		e.Templates[lang] += n
	}
	for reason, n := range o.Skipped {
		e.Skipped[reason] += n
	}
}

// estimateShard is Estimate within one shard, whose shares of the sets
// are given: a person is in one shard, so counting each once needs only
// the shard's.
func (s *Service) estimateShard(ctx context.Context, b Broadcast, sources []string, now time.Time) (Estimate, error) {
	est := newEstimate()
	seen := map[string]bool{}
	for _, src := range sources {
		var cur uint64
		for {
			members, next, err := s.rdb.SScan(ctx, src, cur, "", batch).Result()
			if err != nil {
				return est, err
			}
			fresh := members[:0]
			for _, ck := range members {
				if !seen[ck] { // SSCAN may return a member twice; sites share people
					fresh = append(fresh, ck)
				}
			}
			var reaches []store.Reach
			if len(fresh) > 0 {
				if reaches, err = s.store.Contacts().ReachMany(ctx, fresh); err != nil {
					return est, err
				}
			}
			for i, ck := range fresh {
				d := s.decide(b, reaches[i], now)
				if d.outcome == outOfAudience {
					continue
				}
				seen[ck] = true
				est.Total++
				switch d.outcome {
				case skipGone, skip:
					est.Skipped[d.reason]++
				case send:
					ch := reaches[i].Channel
					if est.Send[ch] == nil {
						est.Send[ch] = map[string]int64{}
					}
					est.Send[ch][d.lang]++
					if d.template != "" {
						est.Templates[d.lang]++
					}
				}
			}
			if next == 0 {
				break
			}
			cur = next
		}
	}
	return est, nil
}

// foldedCounts is the field of a forgotten broadcast's hash that holds its
// counts (JSON), summed from its shards' shares when they were deleted.
const foldedCounts = "counts"

// Forget removes who a broadcast reached (each shard's recipients and who
// was told) once it is over and was created before a time: those sets
// name contacts. Its text, status and counts stay, for the record: the
// counts, summed from the shards, move into its hash, and the shards'
// shares go. It returns how many broadcasts it forgot.
func (s *Service) Forget(ctx context.Context, before time.Time) (int, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, s.all(), &redis.ZRangeBy{Min: "-inf", Max: "(" + strconv.FormatInt(before.UnixMilli(), 10)}).Result()
	if err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	done, err := s.rdb.ZMScore(ctx, s.forgotten(), ids...).Result()
	if err != nil {
		return 0, err
	}
	n := 0
	for i, id := range ids {
		if done[i] != 0 {
			continue // forgotten before
		}
		got, err := s.load(ctx, id)
		if err != nil {
			return n, err
		}
		r := got[0].report
		if errors.Is(got[0].err, ErrNotFound) {
			continue
		}
		if got[0].err != nil {
			return n, got[0].err
		}
		if r.Status != Done && r.Status != Cancelled {
			continue
		}
		if err := s.forget(ctx, id, r, got[0].fields[foldedCounts] != ""); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// forget forgets one broadcast, in steps that a crash between them leaves
// to be finished by the next Forget: the counts folded into the hash
// first (unless folded already: the shares may be partly gone), then
// every shard's keys deleted (one DEL a shard, its three keys on its
// slot), then the broadcast listed as forgotten.
func (s *Service) forget(ctx context.Context, id string, r Report, folded bool) error {
	if !folded {
		c, _ := json.Marshal(r.Counts)
		if err := s.rdb.HSetNX(ctx, s.hash(id), foldedCounts, c).Err(); err != nil {
			return err
		}
	}
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range s.space.Shards() {
			p.Del(ctx, s.space.BroadcastRecipients(id, i), s.space.BroadcastTold(id, i), s.counts.Key(id, i))
		}
		return nil
	}); err != nil {
		return err
	}
	return s.rdb.ZAdd(ctx, s.forgotten(), redis.Z{Score: float64(r.CreatedAt.UnixMilli()), Member: id}).Err()
}

// Fields returns the fields an error of Validate or CheckSite names, in
// order ("id", "names.ar"), so that a form can show each problem next to
// its field; nil for any other error.
func Fields(err error) []string {
	var e *invalid
	if !errors.As(err, &e) {
		return nil
	}
	out := make([]string, 0, len(e.problems))
	for _, p := range e.problems {
		out = append(out, p.Field)
	}
	return out
}
