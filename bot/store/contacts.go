package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/redis/go-redis/v9"
)

// Contacts is what is kept about the people themselves, apart from their
// conversation: how to reach them, what the providers said of their
// addresses, which sites they follow, and their erasure and the retention
// purge.
type Contacts struct{ s *Store }

// Contacts returns the store's records of the people themselves.
func (s *Store) Contacts() Contacts { return Contacts{s} }

// Reach reads how to reach a contact; ok is false when nothing is stored.
func (c Contacts) Reach(ctx context.Context, contact string) (r Reach, ok bool, err error) {
	vals, err := c.s.rdb.HMGet(ctx, c.s.stateKey(contact), "a", "ch", "s", "x").Result()
	if err != nil {
		return Reach{}, false, fmt.Errorf("store: reach: %w", err)
	}
	r.Address, _ = vals[0].(string)
	r.Channel, _ = vals[1].(string)
	if d, ok := vals[2].(string); ok {
		r.Data = []byte(d)
	}
	x, _ := vals[3].(string)
	r.Undeliverable = x == "undeliverable"
	return r, vals[2] != nil, nil
}

// ReachMany reads how to reach many contacts in one round trip.
func (c Contacts) ReachMany(ctx context.Context, contacts []string) ([]Reach, error) {
	cmds := make([]*redis.SliceCmd, len(contacts))
	_, err := c.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, ck := range contacts {
			cmds[i] = p.HMGet(ctx, c.s.stateKey(ck), "a", "ch", "s", "x")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: reach: %w", err)
	}
	out := make([]Reach, len(contacts))
	for i, cmd := range cmds {
		vals := cmd.Val()
		out[i].Address, _ = vals[0].(string)
		out[i].Channel, _ = vals[1].(string)
		if d, ok := vals[2].(string); ok {
			out[i].Data = []byte(d)
		}
		x, _ := vals[3].(string)
		out[i].Undeliverable = x == "undeliverable"
	}
	return out, nil
}

// MarkUndeliverable records that a contact's address cannot receive
// messages; the next message from the person clears it.
func (c Contacts) MarkUndeliverable(ctx context.Context, contact string) error {
	return setIfKept.Run(ctx, c.s.rdb, []string{c.s.stateKey(contact)}, "x", "undeliverable").Err()
}

// MarkNeedsTemplate records that WhatsApp refused free text to a contact
// (outside the 24-hour window): notices to them need a template.
func (c Contacts) MarkNeedsTemplate(ctx context.Context, contact string, at time.Time) error {
	return setIfKept.Run(ctx, c.s.rdb, []string{c.s.stateKey(contact)}, "tpl", at.UnixMilli()).Err()
}

// Subscribers returns the contact keys subscribed to a site, from every
// shard's share of the set.
func (c Contacts) Subscribers(ctx context.Context, site string) ([]string, error) {
	cmds := make([]*redis.StringSliceCmd, c.s.keys.Shards())
	if _, err := c.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range cmds {
			cmds[i] = p.SMembers(ctx, c.s.keys.Subscribers(site, i))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: subscribers: %w", err)
	}
	var out []string
	for _, cmd := range cmds {
		out = append(out, cmd.Val()...)
	}
	return out, nil
}

// SubscriberCounts returns how many people are subscribed to each site's
// notices (those who said STOP included: they get none until START), in
// one round trip of SCARD, whatever the number of subscribers.
func (c Contacts) SubscriberCounts(ctx context.Context, sites []string) (map[string]int64, error) {
	n := c.s.keys.Shards()
	cmds := make([]*redis.IntCmd, len(sites)*n)
	if len(sites) > 0 {
		if _, err := c.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, site := range sites {
				for j := range n {
					cmds[i*n+j] = p.SCard(ctx, c.s.keys.Subscribers(site, j))
				}
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("store: subscriber counts: %w", err)
		}
	}
	out := make(map[string]int64, len(sites))
	for i, site := range sites {
		for j := range n {
			out[site] += cmds[i*n+j].Val()
		}
	}
	return out, nil
}

// Reach is what the service keeps to reach a contact.
type Reach struct {
	// Address is sealed; Channel is where it is.
	Address string
	Channel string
	// Data is the dialog state.
	Data []byte
	// Undeliverable is set when the provider said the address cannot receive.
	Undeliverable bool
}

// SubscribersKey is the key of shard i's share of the set of contacts
// subscribed to a site.
func (s *Store) SubscribersKey(site string, i int) string {
	return s.keys.Subscribers(site, i)
}

// Census is how many people the service keeps, by site and language, as
// counted at At. A person's site is the first whose notices they follow,
// else the city of the conversation under way (chosen in menu 1; it is
// forgotten with the conversation), else "" (none known); their language
// is the one they chose, "" before they did. Counts only: nothing in it
// names a person.
type Census struct {
	At time.Time
	// People is site → language → people.
	People map[string]map[string]int64
	// Total is everyone counted.
	Total int64
}

// censusTTL is how long a count is kept: the dashboard shows none rather
// than one older than a day.
const censusTTL = 24 * time.Hour

// CountPeople counts every person kept, by site and language, and keeps
// the count (LastCensus) for the dashboard, unless one younger than fresh
// is kept already (another instance made it): then it returns that one.
// It reads each person's state and conversation once, a thousand at a
// time, on every master of a Cluster.
func (c Contacts) CountPeople(ctx context.Context, now time.Time, fresh time.Duration) (Census, error) {
	if last, err := c.LastCensus(ctx); err != nil {
		return Census{}, err
	} else if !last.At.IsZero() && now.Sub(last.At) < fresh {
		return last, nil
	}
	out := Census{At: now, People: map[string]map[string]int64{}}
	var batch []string
	count := func() error {
		if len(batch) == 0 {
			return nil
		}
		states := make([]*redis.StringCmd, len(batch))
		dialogs := make([]*redis.StringCmd, len(batch))
		_, err := c.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, contact := range batch {
				states[i] = p.HGet(ctx, c.s.stateKey(contact), "s")
				dialogs[i] = p.Get(ctx, c.s.dialogKey(contact))
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		for i := range batch {
			raw, err := states[i].Bytes()
			if err != nil {
				continue // expired meanwhile
			}
			var st struct {
				Lang  string   `json:"lang"`
				Sites []string `json:"sites"`
			}
			if json.Unmarshal(raw, &st) != nil {
				continue
			}
			site := ""
			if len(st.Sites) > 0 {
				site = st.Sites[0]
			} else if d, err := dialogs[i].Bytes(); err == nil {
				var conv struct {
					Vars map[string]string `json:"vars"`
				}
				if json.Unmarshal(d, &conv) == nil {
					site = conv.Vars["site"]
				}
			}
			if out.People[site] == nil {
				out.People[site] = map[string]int64{}
			}
			out.People[site][st.Lang]++
			out.Total++
		}
		batch = batch[:0]
		return nil
	}
	err := keys.Scan(ctx, c.s.rdb, c.s.keys.Glob(keys.ContactStateF), func(k string) error {
		if c.s.keys.Family(k) != keys.ContactStateF {
			return nil
		}
		batch = append(batch, c.s.keys.Parts(keys.ContactStateF, k)[0])
		if len(batch) == 1000 {
			return count()
		}
		return nil
	})
	if err == nil {
		err = count()
	}
	if err != nil {
		return Census{}, fmt.Errorf("store: count people: %w", err)
	}
	fields := []any{"at", now.UnixMilli()}
	for site, langs := range out.People {
		for lang, n := range langs {
			fields = append(fields, site+"|"+lang, n)
		}
	}
	k := c.s.keys.Census()
	_, err = c.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, k)
		p.HSet(ctx, k, fields...)
		p.PExpire(ctx, k, censusTTL)
		return nil
	})
	if err != nil {
		return Census{}, fmt.Errorf("store: keep the census: %w", err)
	}
	return out, nil
}

// LastCensus returns the count CountPeople kept last; its At is zero when
// there is none (never counted, or more than a day ago).
func (c Contacts) LastCensus(ctx context.Context) (Census, error) {
	h, err := c.s.rdb.HGetAll(ctx, c.s.keys.Census()).Result()
	if err != nil {
		return Census{}, fmt.Errorf("store: census: %w", err)
	}
	out := Census{People: map[string]map[string]int64{}}
	for f, v := range h {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		if f == "at" {
			out.At = time.UnixMilli(n)
			continue
		}
		site, lang, ok := strings.Cut(f, "|")
		if !ok {
			continue
		}
		if out.People[site] == nil {
			out.People[site] = map[string]int64{}
		}
		out.People[site][lang] += n
		out.Total += n
	}
	return out, nil
}
