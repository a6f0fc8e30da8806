package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// requestsOfKey is the set of a contact's requests to a person, so that
// erasure finds them.
func (s *Store) requestsOfKey(contact string) string {
	return s.prefix + "{c:" + contact + "}:requests"
}

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

// Erase deletes everything kept about a contact: their state and seen
// markers, their requests to a person (with staff's replies and who took
// them), their place in every subscriber set, and every outbox entry,
// retry, dead letter and delivery record that names them — but an entry
// that names no contact (the confirmation that everything was deleted,
// still to be sent) is spared. outboxPrefix is the outbox keys' prefix
// with its hash tag ("…{o}:"); empty: no outbox.
func (s *Store) Erase(ctx context.Context, contact string, sites []string, outboxPrefix string) error {
	// The contact's own keys: state, seen markers, request index.
	ids, err := s.rdb.SMembers(ctx, s.requestsOfKey(contact)).Result()
	if err != nil {
		return err
	}
	var keys []string
	iter := s.rdb.Scan(ctx, 0, s.prefix+"{c:"+contact+"}:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Del(ctx, k)
		}
		for _, id := range ids {
			p.Del(ctx, s.requestKey(id), s.notesKey(id))
			p.Del(ctx, s.repliesKey(id))
			p.Del(ctx, s.assigneeKey(id))
			p.ZRem(ctx, s.prefix+"requests:open", id)
			p.ZRem(ctx, s.prefix+"requests:closed", id)
		}
		for _, site := range sites {
			p.SRem(ctx, s.subscribersKey(site), contact)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: erase: %w", err)
	}
	if outboxPrefix == "" {
		return nil
	}
	return s.eraseFromOutbox(ctx, contact, outboxPrefix)
}

// eraseFromOutbox removes what the outbox keeps about a contact. It reads
// every entry: erasure is rare, and must be complete.
func (s *Store) eraseFromOutbox(ctx context.Context, contact, o string) error {
	names := func(raw string) bool {
		var e struct {
			Contact string `json:"ck"`
		}
		return json.Unmarshal([]byte(raw), &e) == nil && e.Contact == contact
	}
	for _, stream := range []string{o + "reply", o + "bulk"} {
		msgs, err := s.rdb.XRange(ctx, stream, "-", "+").Result()
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if raw, _ := m.Values["e"].(string); names(raw) {
				s.rdb.XAck(ctx, stream, "senders", m.ID)
				if err := s.rdb.XDel(ctx, stream, m.ID).Err(); err != nil {
					return err
				}
			}
		}
	}
	delayed, err := s.rdb.ZRange(ctx, o+"delayed", 0, -1).Result()
	if err != nil {
		return err
	}
	for _, raw := range delayed {
		if names(raw) {
			s.rdb.ZRem(ctx, o+"delayed", raw)
		}
	}
	dead, err := s.rdb.LRange(ctx, o+"dead", 0, -1).Result()
	if err != nil {
		return err
	}
	for _, raw := range dead {
		var d struct {
			Entry json.RawMessage `json:"entry"`
		}
		if json.Unmarshal([]byte(raw), &d) == nil && names(string(d.Entry)) {
			s.rdb.LRem(ctx, o+"dead", 0, raw)
		}
	}
	// Delivery records and broadcast recipient sets.
	iter := s.rdb.Scan(ctx, 0, o+"*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		switch {
		case strings.HasPrefix(k, o+"msg:"):
			if ck, _ := s.rdb.HGet(ctx, k, "ck").Result(); ck == contact {
				s.rdb.Del(ctx, k)
			}
		case strings.HasSuffix(k, ":rcpt") || strings.HasSuffix(k, ":told"):
			s.rdb.SRem(ctx, k, contact)
		}
	}
	return iter.Err()
}

// Purge removes what outlived its contact: members of the site subscriber
// sets whose state expired after the retention period, and requests whose
// record expired. It returns how many it removed.
func (s *Store) Purge(ctx context.Context, sites []string) (int, error) {
	removed := 0
	for _, site := range sites {
		key := s.subscribersKey(site)
		var cur uint64
		for {
			members, next, err := s.rdb.SScan(ctx, key, cur, "", 500).Result()
			if err != nil {
				return removed, err
			}
			exists := make([]*redis.IntCmd, len(members))
			if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, ck := range members {
					exists[i] = p.Exists(ctx, s.stateKey(ck))
				}
				return nil
			}); err != nil {
				return removed, err
			}
			for i, ck := range members {
				if exists[i].Val() == 0 {
					s.rdb.SRem(ctx, key, ck)
					removed++
				}
			}
			if next == 0 {
				break
			}
			cur = next
		}
	}
	for _, list := range []string{s.prefix + "requests:open", s.prefix + "requests:closed"} {
		ids, err := s.rdb.ZRange(ctx, list, 0, -1).Result()
		if err != nil {
			return removed, err
		}
		for _, id := range ids {
			if n, err := s.rdb.Exists(ctx, s.requestKey(id)).Result(); err == nil && n == 0 {
				s.rdb.ZRem(ctx, list, id)
				removed++
			}
		}
	}
	return removed, nil
}
