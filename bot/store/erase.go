package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
)

// parts is how many "*" a family's pattern has.
func parts(f *keys.Family) int { return strings.Count(f.Pattern, "*") }

// Erase deletes everything kept about a contact, as the keyspace registry
// (bot/keys) says each family holding something about a person is erased:
// their own keys, what their indexes name (requests, with staff's replies
// and who took them), their place in every set, and every outbox entry,
// dead letter and delivery record that names them — but an entry that
// names no contact (the confirmation that everything was deleted, still
// to be sent) is spared. The store of simulations erases the simulated
// conversation only.
func (c Contacts) Erase(ctx context.Context, contact string) error {
	var fams []*keys.Family
	for _, f := range keys.Families() {
		sim := strings.HasPrefix(f.Pattern, keys.SimulationSpace)
		if f.Holds == keys.Contact && (!c.s.simulation || sim) {
			fams = append(fams, f)
		}
	}
	// What the indexes list, read before anything is deleted.
	indexed := map[*keys.Family][]string{}
	for _, f := range fams {
		if f.Index == nil {
			continue
		}
		if _, ok := indexed[f.Index]; ok {
			continue
		}
		ids, err := c.s.rdb.SMembers(ctx, c.s.base.Key(f.Index, contact)).Result()
		if err != nil {
			return fmt.Errorf("store: erase: %w", err)
		}
		indexed[f.Index] = ids
	}
	// Keys named by the person or their index are reached directly; the
	// others (sets they are a member of, entries naming them, keys with
	// more parts) in one scan of the keyspace, on every master.
	p := c.s.rdb.Pipeline()
	scan := map[*keys.Family]bool{}
	for _, f := range fams {
		direct, err := c.s.eraseDirect(ctx, p, f, contact, indexed[f.Index])
		if err != nil {
			return fmt.Errorf("store: erase: %s: %w", f.Name, err)
		}
		scan[f] = !direct
	}
	// What is named directly goes first, on its own: the person's own keys
	// and requests are gone even should the scan below not finish.
	if _, err := p.Exec(ctx); err != nil && err != redis.Nil {
		return fmt.Errorf("store: erase: %w", err)
	}
	mine := c.s.base.ShardOf(contact)
	err := keys.Scan(ctx, c.s.rdb, c.s.base.Prefix()+"*", func(k string) error {
		f := c.s.base.Family(k)
		if f == nil || !scan[f] {
			return nil
		}
		if f.Sharding == keys.Explicit && f.Erase != keys.RemoveIndexed && c.s.base.ShardOfKey(k) != mine {
			return nil // another shard's share holds none of the person
		}
		if err := c.s.eraseKey(ctx, p, f, k, contact, indexed[f.Index]); err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: erase: %w", err)
	}
	if _, err := p.Exec(ctx); err != nil && err != redis.Nil {
		return fmt.Errorf("store: erase: %w", err)
	}
	return nil
}

// eraseDirect queues on p what erasing contact does to the keys of f that
// can be named without a scan, and reports whether that is all of them;
// ids are what f's index lists for the person.
func (s *Store) eraseDirect(ctx context.Context, p redis.Pipeliner, f *keys.Family, contact string, ids []string) (bool, error) {
	switch {
	case f.Erase == keys.DeleteWithPerson && parts(f) == 1:
		p.Del(ctx, s.base.Key(f, contact))
	case f.Erase == keys.ThroughIndex && parts(f) == 1:
		for _, id := range ids {
			p.Del(ctx, s.base.Key(f, id))
		}
	case parts(f) == 0 && f.Sharding == keys.Explicit:
		// One key a shard: the person's entries and membership are in
		// their shard's; what their index lists, in the shards of the ids.
		shards := []int{s.base.ShardOf(contact)}
		if f.Erase == keys.RemoveIndexed {
			shards = shards[:0]
			for _, id := range ids {
				if i := s.base.ShardOf(id); !slices.Contains(shards, i) {
					shards = append(shards, i)
				}
			}
		}
		for _, i := range shards {
			if err := s.eraseKey(ctx, p, f, s.base.KeyIn(f, i), contact, ids); err != nil {
				return true, err
			}
		}
	case parts(f) == 0:
		return true, s.eraseKey(ctx, p, f, s.base.Key(f), contact, ids)
	default:
		return false, nil
	}
	return true, nil
}

// eraseKey queues on p what erasing contact does to key k of family f.
func (s *Store) eraseKey(ctx context.Context, p redis.Pipeliner, f *keys.Family, k, contact string, ids []string) error {
	remove := func(members ...string) {
		if len(members) == 0 {
			return
		}
		args := make([]any, len(members))
		for i, m := range members {
			args[i] = m
		}
		if f.Type == keys.ZSet {
			p.ZRem(ctx, k, args...)
		} else {
			p.SRem(ctx, k, args...)
		}
	}
	switch f.Erase {
	case keys.DeleteWithPerson:
		if ps := s.base.Parts(f, k); len(ps) > 0 && ps[0] == contact {
			p.Del(ctx, k)
		}
	case keys.ThroughIndex:
		if ps := s.base.Parts(f, k); len(ps) > 0 && slices.Contains(ids, ps[0]) {
			p.Del(ctx, k)
		}
	case keys.RemoveIndexed:
		remove(ids...)
	case keys.RemoveMember:
		remove(contact)
	case keys.RemoveEntries:
		return s.eraseEntries(ctx, p, f.Type, k, contact)
	default:
		return fmt.Errorf("no erase rule %q", f.Erase)
	}
	return nil
}

// eraseEntries queues the removal of the entries of key k that name the
// contact.
func (s *Store) eraseEntries(ctx context.Context, p redis.Pipeliner, t keys.Type, k, contact string) error {
	switch t {
	case keys.Stream:
		msgs, err := s.rdb.XRange(ctx, k, "-", "+").Result()
		if err != nil {
			return err
		}
		var ids []string
		for _, m := range msgs {
			for _, v := range m.Values {
				if raw, _ := v.(string); names(raw, contact) {
					ids = append(ids, m.ID)
					break
				}
			}
		}
		if len(ids) == 0 {
			return nil
		}
		groups, err := s.rdb.XInfoGroups(ctx, k).Result()
		if err != nil && !strings.Contains(err.Error(), "no such key") {
			return err
		}
		for _, g := range groups {
			p.XAck(ctx, k, g.Name, ids...)
		}
		p.XDel(ctx, k, ids...)
	case keys.ZSet:
		all, err := s.rdb.ZRange(ctx, k, 0, -1).Result()
		if err != nil {
			return err
		}
		for _, raw := range all {
			if names(raw, contact) {
				p.ZRem(ctx, k, raw)
			}
		}
	case keys.List:
		all, err := s.rdb.LRange(ctx, k, 0, -1).Result()
		if err != nil {
			return err
		}
		for _, raw := range all {
			if names(raw, contact) {
				p.LRem(ctx, k, 0, raw)
			}
		}
	case keys.Hash:
		ck, err := s.rdb.HGet(ctx, k, contactField).Result()
		if err != nil && err != redis.Nil {
			return err
		}
		if ck == contact {
			p.Del(ctx, k)
		}
	default:
		return fmt.Errorf("entries of a %s", t)
	}
	return nil
}

// contactField is the field naming the contact in every outbox entry,
// dead letter and delivery record.
const contactField = "ck"

// names reports whether raw, JSON, holds contactField set to contact, at
// any depth (a dead letter wraps its entry).
func names(raw, contact string) bool {
	var v any
	if json.Unmarshal([]byte(raw), &v) != nil {
		return false
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case map[string]any:
			if ck, _ := x[contactField].(string); ck == contact {
				return true
			}
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range x {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(v)
}

// Purge removes what outlived its contact, as the keyspace registry says:
// the members of sets whose key expired (contacts of the site subscriber
// sets whose state expired after the retention period, requests whose
// record expired). It returns how many it removed.
func (c Contacts) Purge(ctx context.Context) (int, error) {
	removed := 0
	scan := map[*keys.Family]bool{}
	for _, f := range keys.Families() {
		switch {
		case f.Purge != keys.MembersOutlive:
		case parts(f) == 0 && f.Sharding == keys.Explicit:
			for i := range c.s.base.Shards() {
				n, err := c.s.purgeKey(ctx, f, c.s.base.KeyIn(f, i))
				removed += n
				if err != nil {
					return removed, fmt.Errorf("store: purge: %s: %w", f.Name, err)
				}
			}
		case parts(f) == 0:
			n, err := c.s.purgeKey(ctx, f, c.s.base.Key(f))
			removed += n
			if err != nil {
				return removed, fmt.Errorf("store: purge: %s: %w", f.Name, err)
			}
		default:
			scan[f] = true
		}
	}
	if len(scan) == 0 {
		return removed, nil
	}
	err := keys.Scan(ctx, c.s.rdb, c.s.base.Prefix()+"*", func(k string) error {
		f := c.s.base.Family(k)
		if f == nil || !scan[f] {
			return nil
		}
		n, err := c.s.purgeKey(ctx, f, k)
		removed += n
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("store: purge: %w", err)
	}
	return removed, nil
}

// purgeKey removes the members of k whose key of family f.Of is gone.
func (s *Store) purgeKey(ctx context.Context, f *keys.Family, k string) (int, error) {
	removed := 0
	var cur uint64
	for {
		var members []string
		var next uint64
		var err error
		if f.Type == keys.ZSet {
			var pairs []string
			pairs, next, err = s.rdb.ZScan(ctx, k, cur, "", 500).Result()
			for i := 0; i < len(pairs); i += 2 {
				members = append(members, pairs[i])
			}
		} else {
			members, next, err = s.rdb.SScan(ctx, k, cur, "", 500).Result()
		}
		if err != nil {
			return removed, err
		}
		exists := make([]*redis.IntCmd, len(members))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, m := range members {
				exists[i] = p.Exists(ctx, s.base.Key(f.Of, m))
			}
			return nil
		}); err != nil {
			return removed, err
		}
		for i, m := range members {
			if exists[i].Val() != 0 {
				continue
			}
			if f.Type == keys.ZSet {
				err = s.rdb.ZRem(ctx, k, m).Err()
			} else {
				err = s.rdb.SRem(ctx, k, m).Err()
			}
			if err != nil {
				return removed, err
			}
			removed++
		}
		if next == 0 {
			return removed, nil
		}
		cur = next
	}
}
