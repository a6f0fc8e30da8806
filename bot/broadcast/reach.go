package broadcast

import (
	"cmp"
	"context"
	_ "embed"
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
	// or the people its earlier broadcasts reached, each once. It is the
	// broadcast's Total once fanned out.
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
	aud, err := s.sources(ctx, b)
	if err != nil {
		return out, err
	}
	sets, cards, err := s.shares(ctx, aud)
	if err != nil {
		return out, err
	}
	for _, n := range cards {
		out.People += n
	}
	if len(aud.names) > 1 { // the unions, made for this call
		defer func() {
			ctx := context.WithoutCancel(ctx)
			s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range sets {
					p.Del(ctx, k)
				}
				return nil
			})
		}()
	}
	if out.People == 0 || sample <= 0 {
		return out, nil
	}
	// Each shard gives its share of the sample, in proportion to its
	// people.
	takes := apportion(cards, int64(sample), out.People)
	rands := make([]*redis.StringSliceCmd, len(sets))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, set := range sets {
			if takes[i] > 0 {
				rands[i] = p.SRandMemberN(ctx, set, takes[i])
			}
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return out, err
	}
	var contacts []string
	for _, r := range rands {
		if r != nil {
			contacts = append(contacts, r.Val()...)
		}
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

// unionTTL is how long the union of an audience's sets is kept while
// Reach reads it.
const unionTTL = 30 * time.Second

//go:embed union.lua
var unionSrc string

var unionScript = redis.NewScript(unionSrc)

// shares returns, for each shard, the set that holds its share of the
// audience, and how many it holds: the one share of the audience's one
// set, or the union of the shard's shares of its sets (each person once),
// kept for unionTTL — the caller deletes them. All in one pipeline.
func (s *Service) shares(ctx context.Context, aud sets) ([]string, []int64, error) {
	if len(aud.names) == 0 {
		return nil, nil, nil
	}
	n := s.space.Shards()
	out := make([]string, n)
	cmds := make([]redis.Cmder, n)
	union := outbox.NewID()
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			shares := aud.shard(s.space, i)
			if len(shares) == 1 {
				out[i] = shares[0]
				cmds[i] = p.SCard(ctx, out[i])
				continue
			}
			// EVAL, not EVALSHA: a pipeline does not load a script missing
			// on a master, and this one is short.
			out[i] = s.space.BroadcastReach(union, i)
			cmds[i] = unionScript.Eval(ctx, p, append([]string{out[i]}, shares...), unionTTL.Milliseconds())
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	cards := make([]int64, n)
	for i, c := range cmds {
		switch c := c.(type) {
		case *redis.IntCmd:
			cards[i] = c.Val()
		case *redis.Cmd:
			cards[i], _ = c.Int64()
		}
	}
	return out, cards, nil
}

// apportion splits take among parts in proportion to their sizes (of
// total), each at most its size, the parts adding up to take when it is
// less than total (largest remainders get the rest); all of each when not.
func apportion(sizes []int64, take, total int64) []int64 {
	out := slices.Clone(sizes)
	if take >= total {
		return out
	}
	rest := make([]int, 0, len(sizes))
	given := int64(0)
	for i, n := range sizes {
		out[i] = n * take / total
		given += out[i]
		rest = append(rest, i)
	}
	// The remainders, largest first (ties by shard, for a stable split).
	slices.SortStableFunc(rest, func(a, b int) int {
		return cmp.Compare(sizes[b]*take%total, sizes[a]*take%total)
	})
	for _, i := range rest[:take-given] {
		out[i]++
	}
	return out
}
