package distribution

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/sms"
)

// Preview is what creating, changing or cancelling a distribution will do,
// before it is done: the distribution as it will be stored, the notice it
// sends now (if any) in every language exactly as people will get it with
// its SMS cost, who will get it, and when the reminder will go.
type Preview struct {
	// Distribution is as it will be stored (a new one has no id yet).
	Distribution engine.Distribution
	// Kind is the notice sent now: content.NoticeNew, NoticeChanged or
	// NoticeCancelled; empty when nothing is sent.
	Kind string
	// Notices are that notice in each language of the content, in order.
	Notices []Notice
	// Reach is who the notice goes to (zero when none is sent).
	Reach broadcast.Reach
	// Reminder is when the reminder will go to the site's subscribers;
	// zero when none will (not announced, or too late for one).
	Reminder time.Time
	// Base is the Fingerprint of the stored distribution a change or a
	// cancellation starts from; empty for a new one.
	Base string
}

// Notice is a notice in one language, and what it costs as SMS.
type Notice struct {
	Lang string
	Text string
	SMS  sms.Cost
}

// PreviewCreate is what Create would do with d: it checks d as Create does
// (the error is an *InvalidError) and stores nothing. sample bounds how
// many subscribers are read to split them by language and channel.
func (s *Service) PreviewCreate(ctx context.Context, d engine.Distribution, sample int) (Preview, error) {
	d, err := s.checkNew(ctx, d)
	if err != nil {
		return Preview{Distribution: d}, err
	}
	pv := Preview{Distribution: d}
	if !d.Notify {
		return pv, nil
	}
	pv.Reminder = s.reminderAt(d)
	return pv, s.previewNotice(ctx, &pv, content.NoticeNew, broadcast.Audience{Sites: []string{d.Site}}, sample)
}

// PreviewUpdate is what Update would do with p: it checks the change as
// Update does and stores nothing.
func (s *Service) PreviewUpdate(ctx context.Context, id string, p Patch, sample int) (Preview, error) {
	stored, err := s.Get(ctx, id)
	if err != nil {
		return Preview{}, err
	}
	d, moved, err := s.apply(ctx, stored, p)
	pv := Preview{Distribution: d, Base: Fingerprint(stored)}
	if err != nil {
		return pv, err
	}
	if !moved || !d.Notify {
		pv.Reminder = s.pendingReminder(ctx, stored)
		return pv, nil
	}
	pv.Reminder = s.reminderAt(d)
	if len(d.Told) == 0 {
		return pv, nil
	}
	return pv, s.previewNotice(ctx, &pv, content.NoticeChanged, broadcast.Audience{RecipientsOf: d.Told}, sample)
}

// PreviewCancel is what Cancel would do: the cancellation sent to everyone
// who was told, if anyone was.
func (s *Service) PreviewCancel(ctx context.Context, id string, sample int) (Preview, error) {
	d, err := s.Get(ctx, id)
	if err != nil {
		return Preview{}, err
	}
	pv := Preview{Base: Fingerprint(d)}
	if d.Cancelled || len(d.Told) == 0 {
		d.Cancelled = true
		pv.Distribution = d
		return pv, nil
	}
	d.Cancelled = true
	pv.Distribution = d
	return pv, s.previewNotice(ctx, &pv, content.NoticeCancelled, broadcast.Audience{RecipientsOf: d.Told}, sample)
}

// previewNotice fills in the notice of kind to aud: its texts, their cost
// and its reach.
func (s *Service) previewNotice(ctx context.Context, pv *Preview, kind string, aud broadcast.Audience, sample int) error {
	texts, err := s.broadcasts.NoticeTexts(ctx, kind, pv.Distribution)
	if err != nil {
		return err
	}
	pv.Kind = kind
	for _, lang := range s.content().Languages {
		pv.Notices = append(pv.Notices, Notice{Lang: lang, Text: texts[lang], SMS: sms.Measure(texts[lang])})
	}
	pv.Reach, err = s.broadcasts.Reach(ctx, broadcast.Broadcast{Kind: kind, Distribution: pv.Distribution.ID, Audience: aud}, sample)
	return err
}

// reminderAt is when scheduleReminder would schedule d's reminder; zero
// when it would not.
func (s *Service) reminderAt(d engine.Distribution) time.Time {
	at := d.StartsAt.Add(-s.remindBefore)
	if s.remindBefore <= 0 || !at.After(s.now()) {
		return time.Time{}
	}
	return at
}

// pendingReminder is when d's scheduled reminder goes, if it is still to go.
func (s *Service) pendingReminder(ctx context.Context, d engine.Distribution) time.Time {
	if d.Reminder == "" || d.Cancelled {
		return time.Time{}
	}
	r, err := s.broadcasts.Get(ctx, d.Reminder)
	if err != nil || r.Status != broadcast.Scheduled {
		return time.Time{}
	}
	return r.SendAt
}

// Fingerprint names a distribution's stored state: it changes with any
// change of it, so that a change confirmed on what one saw can tell that
// someone else changed it meanwhile.
func Fingerprint(d engine.Distribution) string {
	b, _ := json.Marshal(d)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// onceTTL is how long CreateOnce remembers a key.
const onceTTL = 24 * time.Hour

// CreateOnce is Create made safe to repeat: the same key from the same
// person again within a day (a double click, a form sent twice) creates
// nothing and returns the distribution made the first time, with existed
// true. A key whose Create failed may be used again.
func (s *Service) CreateOnce(ctx context.Context, d engine.Distribution, by, key string) (out engine.Distribution, existed bool, err error) {
	if key == "" {
		out, err = s.Create(ctx, d, by)
		return out, false, err
	}
	sum := sha256.Sum256([]byte(by + "\x00" + key))
	k := s.store.Keys().DistributionOnce(hex.EncodeToString(sum[:]))
	rdb := s.store.Client()
	ok, err := rdb.SetNX(ctx, k, "", onceTTL).Result()
	if err != nil {
		return out, false, err
	}
	if !ok {
		id, err := rdb.Get(ctx, k).Result()
		switch {
		case errors.Is(err, redis.Nil):
			return s.CreateOnce(ctx, d, by, key) // it lapsed meanwhile
		case err != nil:
			return out, false, err
		case id == "":
			return out, false, ErrBusy // the first is still being made
		}
		out, err = s.Get(ctx, id)
		return out, err == nil, err
	}
	out, err = s.Create(ctx, d, by)
	bg := context.WithoutCancel(ctx)
	if err != nil {
		rdb.Del(bg, k)
		return out, false, err
	}
	if err := rdb.Set(bg, k, out.ID, onceTTL).Err(); err != nil {
		s.log.Warn("remembering a distribution's creation failed", "err", err)
	}
	return out, false, nil
}
