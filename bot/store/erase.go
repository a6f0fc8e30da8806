package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
)

// requestsOfKey is the set of a contact's requests to a person, so that
// erasure finds them.
func (s *Store) requestsOfKey(contact string) string { return s.keys.RequestsOf(contact) }

// RequestIndexWrites return the writes that list a request under its
// contact. The list expires with the requests it names: the retention
// period after the last one.
func (s *Store) RequestIndexWrites(contact, id string) []Write {
	k := s.requestsOfKey(contact)
	return []Write{
		{Cmd: "SADD", Key: k, Args: []any{id}},
		{Cmd: "PEXPIRE", Key: k, Args: []any{s.retention.Milliseconds()}},
	}
}

// Erase deletes everything kept about a contact, as the keyspace registry
// (bot/keys) says each family holding something about a person is erased:
// their own keys, what their indexes name (requests, with staff's replies
// and who took them), their place in every set, and every outbox entry,
// dead letter and delivery record that names them — but an entry that
// names no contact (the confirmation that everything was deleted, still
// to be sent) is spared. The store of simulations erases the simulated
// conversation only.
func (s *Store) Erase(ctx context.Context, contact string) error {
	var fams []*keys.Family
	for _, f := range keys.Families() {
		sim := strings.HasPrefix(f.Pattern, keys.SimulationSpace)
		if f.Holds == keys.Contact && (!s.simulation || sim) {
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
		ids, err := s.rdb.SMembers(ctx, s.base.Key(f.Index, contact)).Result()
		if err != nil {
			return fmt.Errorf("store: erase: %w", err)
		}
		indexed[f.Index] = ids
	}
	p := s.rdb.Pipeline()
	for _, f := range fams {
		if err := s.eraseFamily(ctx, p, f, contact, indexed[f.Index]); err != nil {
			return fmt.Errorf("store: erase: %s: %w", f.Name, err)
		}
	}
	if _, err := p.Exec(ctx); err != nil && err != redis.Nil {
		return fmt.Errorf("store: erase: %w", err)
	}
	return nil
}

// eraseFamily queues on p what erasing contact does to the keys of f; ids
// are what f's index lists for the person.
func (s *Store) eraseFamily(ctx context.Context, p redis.Pipeliner, f *keys.Family, contact string, ids []string) error {
	sp := s.base
	// every calls fn with each key of f whose first parts are given.
	every := func(fn func(k string) error, first ...string) error {
		if len(first) == strings.Count(f.Pattern, "*") {
			return fn(sp.Key(f, first...))
		}
		return keys.Scan(ctx, s.rdb, sp.Glob(f, first...), func(k string) error {
			if sp.Family(k) != f {
				return nil
			}
			return fn(k)
		})
	}
	remove := func(k string, members ...string) {
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
		return every(func(k string) error { return p.Del(ctx, k).Err() }, contact)
	case keys.ThroughIndex:
		for _, id := range ids {
			p.Del(ctx, sp.Key(f, id))
		}
		return nil
	case keys.RemoveIndexed:
		return every(func(k string) error { remove(k, ids...); return nil })
	case keys.RemoveMember:
		return every(func(k string) error { remove(k, contact); return nil })
	case keys.RemoveEntries:
		return every(func(k string) error { return s.eraseEntries(ctx, p, f.Type, k, contact) })
	}
	return fmt.Errorf("no erase rule %q", f.Erase)
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
func (s *Store) Purge(ctx context.Context) (int, error) {
	removed := 0
	for _, f := range keys.Families() {
		if f.Purge != keys.MembersOutlive {
			continue
		}
		err := keys.Scan(ctx, s.rdb, s.base.Glob(f), func(k string) error {
			if s.base.Family(k) != f {
				return nil
			}
			n, err := s.purgeKey(ctx, f, k)
			removed += n
			return err
		})
		if err != nil {
			return removed, fmt.Errorf("store: purge: %s: %w", f.Name, err)
		}
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
