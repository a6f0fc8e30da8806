package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Contacts is what is kept about the people themselves, apart from their
// conversation: how to reach them, what the providers said of their
// addresses, which sites they follow, and their erasure and the retention
// purge.
type Contacts struct{ s *Store }

// Contacts returns the people of the store.
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

// Subscribers returns the contact keys subscribed to a site.
func (c Contacts) Subscribers(ctx context.Context, site string) ([]string, error) {
	return c.s.rdb.SMembers(ctx, c.s.subscribersKey(site)).Result()
}

// SubscriberCounts returns how many people are subscribed to each site's
// notices (those who said STOP included: they get none until START), in
// one round trip of SCARD, whatever the number of subscribers.
func (c Contacts) SubscriberCounts(ctx context.Context, sites []string) (map[string]int64, error) {
	cmds := make([]*redis.IntCmd, len(sites))
	if len(sites) > 0 {
		if _, err := c.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, site := range sites {
				cmds[i] = p.SCard(ctx, c.s.subscribersKey(site))
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("store: subscriber counts: %w", err)
		}
	}
	out := make(map[string]int64, len(sites))
	for i, site := range sites {
		out[site] = cmds[i].Val()
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

// SubscribersKey is the key of the set of contacts subscribed to a site.
func (s *Store) SubscribersKey(site string) string {
	return s.subscribersKey(site)
}

func (s *Store) subscribersKey(site string) string {
	return s.keys.Subscribers(site)
}
