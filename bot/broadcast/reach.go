package broadcast

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/outbox"
)

// notice is a distribution notice of kind in lang, as the fan-out sends it.
func (s *Service) notice(c *content.Content, kind string, d engine.Distribution, sites []engine.Site, lang string) string {
	return engine.Notice(c, s.opts.Location, lang, kind, d, sites)
}

// NoticeTexts returns a distribution notice of a kind (content.NoticeNew …)
// in every language of the content, exactly as the fan-out will send it as
// text, for d as given (stored or not): what staff confirm before it goes.
// (People on WhatsApp outside its 24-hour window get the kind's template.)
func (s *Service) NoticeTexts(ctx context.Context, kind string, d engine.Distribution) (map[string]string, error) {
	c := s.content()
	if !slices.Contains(content.NoticeKinds(), kind) {
		return nil, fmt.Errorf("%w: kind %q is not a notice", ErrInvalid, kind)
	}
	sites, err := s.Sites(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(c.Languages))
	for _, lang := range c.Languages {
		out[lang] = s.notice(c, kind, d, sites, lang)
	}
	return out, nil
}

// Reach is how many people a broadcast would reach, and how they split.
type Reach struct {
	// People is how many the audience names: the subscribers of its sites,
	// or the people its earlier broadcasts reached. It is the broadcast's
	// Total once fanned out; with several sites, someone subscribed to two
	// counts twice here, once there.
	People int64 `json:"people"`
	// Read is how many of them were read to split them: all when they are
	// at most the sample asked for, else a random sample of that size, and
	// the split is an estimate.
	Read int `json:"read"`
	// Sent counts the people read who would be sent the broadcast, by
	// language then channel ("fr" → "sms" → 12).
	Sent map[string]map[string]int64 `json:"sent"`
	// Skipped counts the people read who would be skipped, by reason
	// ("opted_out"…), as the broadcast's counts will.
	Skipped map[string]int64 `json:"skipped,omitempty"`
	// Outside counts the people read whom the audience's languages or
	// channels leave out.
	Outside int64 `json:"outside,omitempty"`
}

// Reach says how many people b would reach if it were fanned out now: how
// many its audience names, and — from at most sample of them, read at
// random — how they split by language and channel, and how many would be
// skipped and why, decided as the fan-out decides. It reads a sample, not
// everyone, so that it stays cheap with 100,000 subscribers.
func (s *Service) Reach(ctx context.Context, b Broadcast, sample int) (Reach, error) {
	out := Reach{Sent: map[string]map[string]int64{}}
	sources, err := s.sources(ctx, b)
	if err != nil {
		return out, err
	}
	if len(sources) > 1 && len(b.Audience.RecipientsOf) > 0 {
		// Those told by several broadcasts are mostly the same people:
		// count them once, in a union kept for a moment (the sets share
		// the {o} slot).
		union := s.space.BroadcastReach(outbox.NewID())
		_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.SUnionStore(ctx, union, sources...)
			p.PExpire(ctx, union, 30*time.Second)
			return nil
		})
		if err != nil {
			return out, err
		}
		defer s.rdb.Del(context.WithoutCancel(ctx), union)
		sources = []string{union}
	}
	cards := make([]*redis.IntCmd, len(sources))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, src := range sources {
			cards[i] = p.SCard(ctx, src)
		}
		return nil
	}); err != nil {
		return out, err
	}
	for _, c := range cards {
		out.People += c.Val()
	}
	if out.People == 0 || sample <= 0 {
		return out, nil
	}
	// Each source gives its share of the sample.
	var contacts []string
	for i, src := range sources {
		n := cards[i].Val()
		if n == 0 {
			continue
		}
		take := n
		if out.People > int64(sample) {
			take = max(1, n*int64(sample)/out.People)
		}
		members, err := s.rdb.SRandMemberN(ctx, src, take).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return out, err
		}
		contacts = append(contacts, members...)
	}
	now := s.opts.Now()
	c := s.content()
	for start := 0; start < len(contacts); start += batch {
		part := contacts[start:min(start+batch, len(contacts))]
		reaches, err := s.store.Contacts().ReachMany(ctx, part)
		if err != nil {
			return out, err
		}
		for _, r := range reaches {
			out.Read++
			d := s.decide(b, r, now)
			switch d.outcome {
			case outOfAudience:
				out.Outside++
			case skip, skipGone:
				if out.Skipped == nil {
					out.Skipped = map[string]int64{}
				}
				out.Skipped[d.reason]++
			default:
				lang := d.lang
				if !c.HasLanguage(lang) {
					lang = c.Languages[0]
				}
				if out.Sent[lang] == nil {
					out.Sent[lang] = map[string]int64{}
				}
				out.Sent[lang][strings.ToLower(r.Channel)]++
			}
		}
	}
	return out, nil
}

// Estimate scales a count among the people read to all the people named:
// n itself when everyone was read.
func (r Reach) Estimate(n int64) int64 {
	if r.Read == 0 || int64(r.Read) >= r.People {
		return n
	}
	return (n*r.People + int64(r.Read)/2) / int64(r.Read)
}
