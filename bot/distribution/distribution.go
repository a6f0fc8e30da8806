// Package distribution keeps the distributions staff announce, and tells
// the people concerned: a notice when one is announced, a reminder the day
// before, a correction when its time or place changes, or when it is
// cancelled — each to everyone who was told.
package distribution

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/store"
	"github.com/redis/go-redis/v9"
)

// Service keeps distributions.
type Service struct {
	store      *store.Store
	broadcasts *broadcast.Service
	content    func() *content.Content
	// remindBefore is how long before the start the reminder goes.
	remindBefore time.Duration
	now          func() time.Time
	// changed is called after a change, so that the bot shows it at once.
	changed func()
	log     *slog.Logger
}

// New returns the service. changed, if not nil, is called after each change.
func New(st *store.Store, bc *broadcast.Service, content func() *content.Content, remindBefore time.Duration, now func() time.Time, changed func(), log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	if changed == nil {
		changed = func() {}
	}
	return &Service{store: st, broadcasts: bc, content: content, remindBefore: remindBefore, now: now, changed: changed, log: log}
}

// ErrInvalid wraps what is wrong with a distribution.
var ErrInvalid = errors.New("invalid distribution")

// ErrNotFound means no distribution has that id.
var ErrNotFound = errors.New("no such distribution")

// ErrBusy means another change of the same distribution is under way.
var ErrBusy = errors.New("another change of this distribution is under way; try again in a moment")

// hold keeps other changes of one distribution out while one runs (two
// staff editing at once would each tell people a different story): on
// every instance, through a lock in Redis that lapses if its holder dies.
func (s *Service) hold(ctx context.Context, id string) (release func(), err error) {
	key := s.store.Keys().DistributionLock(id)
	token := outbox.NewID()
	ok, err := s.store.Client().SetNX(ctx, key, token, 30*time.Second).Result()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrBusy
	}
	return func() {
		if err := releaseLock.Run(context.WithoutCancel(ctx), s.store.Client(), []string{key}, token).Err(); err != nil {
			// Not fatal: the lock lapses by itself within 30 s.
			s.log.Warn("releasing a distribution's lock failed", "err", err)
		}
	}, nil
}

var releaseLock = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`)

// maxText bounds a distribution's free texts, in characters.
const maxText = 300

// validate checks a distribution before it is stored: a site that exists
// and is not retired, a time, a place (one text, or one per language) and
// a kit of at least one item of the catalogue, so that no notice shows an
// empty line. The error is an *InvalidError, which wraps ErrInvalid and
// names each field that is wrong ("place.fr: empty").
func (s *Service) validate(ctx context.Context, d engine.Distribution) error {
	c := s.content()
	var p problems
	if d.Site == "" {
		p.add("site", CodeSiteMissing, nil, "missing — the id of a site (see GET /api/v1/sites)")
	} else {
		sites, err := s.broadcasts.Sites(ctx)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(sites, func(x engine.Site) bool { return x.ID == d.Site })
		switch {
		case i < 0:
			p.add("site", CodeSiteUnknown, map[string]any{"Site": d.Site}, "no site %q (see GET /api/v1/sites)", d.Site)
		case sites[i].Retired:
			p.add("site", CodeSiteRetired, map[string]any{"Site": d.Site}, "site %q is retired", d.Site)
		}
	}
	switch {
	case d.StartsAt.IsZero() || d.EndsAt.IsZero():
		p.add("starts_at", CodeTimesMissing, nil, "\"starts_at\" and \"ends_at\" are both needed (RFC 3339)")
	case !d.EndsAt.After(d.StartsAt):
		p.add("ends_at", CodeEndsBeforeStart, nil, "must come after \"starts_at\"")
	case d.EndsAt.Sub(d.StartsAt) > 24*time.Hour:
		p.add("ends_at", CodeLongerThanADay, nil, "a distribution lasts at most a day")
	}
	if len(d.Place) == 0 {
		p.add("place", CodePlaceMissing, nil, "missing — where it is: one text, or one per language")
	}
	for _, f := range []struct {
		name string
		text engine.Localized
	}{{"place", d.Place}, {"who", d.Who}, {"bring", d.Bring}} {
		langs := make([]string, 0, len(f.text))
		for lang := range f.text {
			langs = append(langs, lang)
		}
		slices.Sort(langs)
		for _, lang := range langs {
			text, field := f.text[lang], f.name+"."+lang
			n := utf8.RuneCountInString(text)
			switch {
			case !c.HasLanguage(lang):
				p.add(field, CodeLanguageUnknown, map[string]any{"Lang": lang}, "%q is not a language the bot speaks (%s)", lang, strings.Join(c.Languages, ", "))
			case strings.TrimSpace(text) == "":
				p.add(field, CodeTextEmpty, nil, "empty — give the text, or leave the language out")
			case n > maxText:
				p.add(field, CodeTextTooLong, map[string]any{"Chars": n, "Max": maxText}, "%d characters, longer than %d", n, maxText)
			default:
				if r, bad := content.BadChar(text); bad {
					p.add(field, CodeTextBadChar, map[string]any{"Char": fmt.Sprintf("%U", r)}, "holds the character %U, which cannot be sent", r)
				}
			}
		}
	}
	catalogue := c.Items()
	if len(d.Items) == 0 {
		p.add("items", CodeItemsMissing, nil, "missing — the kit: at least one item of the catalogue (%s)", strings.Join(catalogue, ", "))
	}
	for i, it := range d.Items {
		switch {
		case !slices.Contains(catalogue, it):
			p.add("items", CodeItemUnknown, map[string]any{"Item": it}, "%q is not in the catalogue (%s)", it, strings.Join(catalogue, ", "))
		case slices.Index(d.Items, it) < i:
			p.add("items", CodeItemTwice, map[string]any{"Item": it}, "%q is named twice", it)
		}
	}
	return p.err()
}

// Create stores a distribution and, when it asks to notify, announces it
// to the site's subscribers and schedules the reminder.
func (s *Service) Create(ctx context.Context, d engine.Distribution, by string) (engine.Distribution, error) {
	d, err := s.checkNew(ctx, d)
	if err != nil {
		return d, err
	}
	d.ID = outbox.NewID()
	if d.Notify {
		if err := s.store.PutDistribution(ctx, d); err != nil {
			return d, err
		}
		if err := s.announce(ctx, &d, content.NoticeNew, broadcast.Audience{Sites: []string{d.Site}}, by); err != nil {
			return d, err
		}
		if err := s.scheduleReminder(ctx, &d, by); err != nil {
			return d, err
		}
	}
	if err := s.store.PutDistribution(ctx, d); err != nil {
		return d, err
	}
	s.changed()
	return d, nil
}

// checkNew readies a distribution to be created, and checks it: what it
// is when stored (but its id), or why it is refused.
func (s *Service) checkNew(ctx context.Context, d engine.Distribution) (engine.Distribution, error) {
	d.StartsAt, d.EndsAt = d.StartsAt.UTC(), d.EndsAt.UTC()
	d.Told, d.Reminder, d.Cancelled = nil, "", false
	if err := s.validate(ctx, d); err != nil {
		return d, err
	}
	if d.EndsAt.Before(s.now()) {
		var p problems
		p.add("ends_at", CodeOver, nil, "%s is past: the distribution is already over", d.EndsAt.Format(time.RFC3339))
		return d, p.err()
	}
	return d, nil
}

// Patch is a change to a distribution; nil fields stay as they are.
type Patch struct {
	StartsAt *time.Time       `json:"starts_at"`
	EndsAt   *time.Time       `json:"ends_at"`
	Place    engine.Localized `json:"place"`
	Who      engine.Localized `json:"who"`
	Bring    engine.Localized `json:"bring"`
	Items    []string         `json:"items"`
}

// Update changes a distribution. A change of time or place is sent as a
// correction to everyone who was told, and the reminder follows the new time.
func (s *Service) Update(ctx context.Context, id string, p Patch, by string) (engine.Distribution, error) {
	release, err := s.hold(ctx, id)
	if err != nil {
		return engine.Distribution{}, err
	}
	defer release()
	d, ok, err := s.store.Distribution(ctx, id)
	if err != nil {
		return d, err
	}
	if !ok {
		return d, ErrNotFound
	}
	d, moved, err := s.apply(ctx, d, p)
	if err != nil {
		return d, err
	}
	if moved && d.Notify && len(d.Told) > 0 {
		if err := s.store.PutDistribution(ctx, d); err != nil {
			return d, err
		}
		if err := s.announce(ctx, &d, content.NoticeChanged, broadcast.Audience{RecipientsOf: d.Told}, by); err != nil {
			return d, err
		}
	}
	if moved && d.Notify {
		if d.Reminder != "" {
			if err := s.broadcasts.Cancel(ctx, d.Reminder); err != nil {
				return d, err
			}
			d.Reminder = ""
		}
		if err := s.scheduleReminder(ctx, &d, by); err != nil {
			return d, err
		}
	}
	if err := s.store.PutDistribution(ctx, d); err != nil {
		return d, err
	}
	s.changed()
	return d, nil
}

// apply changes the stored distribution d by p and checks the result; moved
// says whether its time or place changed, which people who were told must
// hear of.
func (s *Service) apply(ctx context.Context, d engine.Distribution, p Patch) (engine.Distribution, bool, error) {
	if d.Cancelled {
		var ps problems
		ps.add("", CodeCancelled, nil, "it was cancelled")
		return d, false, ps.err()
	}
	before := d
	if p.StartsAt != nil {
		d.StartsAt = p.StartsAt.UTC()
	}
	if p.EndsAt != nil {
		d.EndsAt = p.EndsAt.UTC()
	}
	if p.Place != nil {
		d.Place = p.Place
	}
	if p.Who != nil {
		d.Who = p.Who
	}
	if p.Bring != nil {
		d.Bring = p.Bring
	}
	if p.Items != nil {
		d.Items = p.Items
	}
	if err := s.validate(ctx, d); err != nil {
		return d, false, err
	}
	moved := !d.StartsAt.Equal(before.StartsAt) || !d.EndsAt.Equal(before.EndsAt) || !sameText(d.Place, before.Place)
	return d, moved, nil
}

// Cancel cancels a distribution: the reminder is called off and everyone
// who was told hears of it. The record stays, marked cancelled.
func (s *Service) Cancel(ctx context.Context, id, by string) error {
	release, err := s.hold(ctx, id)
	if err != nil {
		return err
	}
	defer release()
	d, ok, err := s.store.Distribution(ctx, id)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	if d.Cancelled {
		return nil
	}
	d.Cancelled = true
	// What has not left about it will not: the reminder, and what is left
	// of an announcement or correction still going out.
	for _, id := range d.Told {
		if err := s.broadcasts.CancelUnsent(ctx, id); err != nil {
			return err
		}
	}
	if err := s.store.PutDistribution(ctx, d); err != nil {
		return err
	}
	if len(d.Told) > 0 {
		if err := s.announce(ctx, &d, content.NoticeCancelled, broadcast.Audience{RecipientsOf: d.Told}, by); err != nil {
			return err
		}
		if err := s.store.PutDistribution(ctx, d); err != nil {
			return err
		}
	}
	s.changed()
	return nil
}

// Get returns one distribution.
func (s *Service) Get(ctx context.Context, id string) (engine.Distribution, error) {
	d, ok, err := s.store.Distribution(ctx, id)
	if err == nil && !ok {
		err = ErrNotFound
	}
	return d, err
}

// List returns every distribution, soonest first.
func (s *Service) List(ctx context.Context) ([]engine.Distribution, error) {
	all, err := s.store.Distributions(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(all, func(a, b engine.Distribution) int { return a.StartsAt.Compare(b.StartsAt) })
	return all, nil
}

// announce sends a notice now and notes it among those who were told.
func (s *Service) announce(ctx context.Context, d *engine.Distribution, kind string, aud broadcast.Audience, by string) error {
	id, _, err := s.broadcasts.Create(ctx, broadcast.Broadcast{Kind: kind, Distribution: d.ID, Audience: aud, CreatedBy: by}, "")
	if err != nil {
		return err
	}
	d.Told = append(d.Told, id)
	return nil
}

// scheduleReminder schedules the reminder, when its time is still to come.
func (s *Service) scheduleReminder(ctx context.Context, d *engine.Distribution, by string) error {
	at := d.StartsAt.Add(-s.remindBefore)
	if s.remindBefore <= 0 || !at.After(s.now()) {
		return nil
	}
	id, _, err := s.broadcasts.Create(ctx, broadcast.Broadcast{
		Kind: content.NoticeReminder, Distribution: d.ID, Audience: broadcast.Audience{Sites: []string{d.Site}}, SendAt: at, CreatedBy: by,
	}, "")
	if err != nil {
		return err
	}
	d.Reminder = id
	d.Told = append(d.Told, id)
	return nil
}

func sameText(a, b engine.Localized) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
