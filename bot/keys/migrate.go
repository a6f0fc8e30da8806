package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// How a key of a former layout reaches this one.
type formerRule int

const (
	// moveKey: the key moves whole to one new name (DUMP, RESTORE, DEL).
	moveKey formerRule = iota
	// splitSet, splitZSet: the members go, one by one, to the key of the
	// shard of each member (zsets keep their scores).
	splitSet
	splitZSet
	// splitStream: the entries go, one by one, to the stream of the shard
	// of their person (the "ck" of the entry's field "e").
	splitStream
	// drop: transient (rates, an audience counted once): deleted.
	drop
)

// A former is a family of keys of a former layout: its name after the
// prefix ("*" one part without ':', as in Family.Pattern) and where its
// keys go.
type former struct {
	pattern string
	rule    formerRule
	// to names the new key of a key moved whole, from the old one's parts.
	to func(s Space, p []string) string
	// into names the key of shard i that a split key's members go to.
	into func(s Space, p []string, i int) string
	// byEntry: the shard of a member is that of the "ck" of its JSON
	// (outbox entries), not that of the member itself.
	byEntry bool
}

// formers are the layouts before this one:
//
//   - v1, the names before requests, API tokens and content versions had
//     hash tags: request:<id>…, requests:open, requests:closed,
//     token:<hash>, tokens, content:…;
//   - v2, before shards: a person's keys under the tag {c:<contact>}
//     ("{c:<ck>}:state", and the same under "sim:"), requests under {r},
//     the outbox and broadcasts under {o} and subscriber sets untagged
//     (site:<site>:subscribers).
var formers = []former{
	// v2: the keys of a person, and of a simulated one.
	{pattern: "{c:*}:state", to: func(s Space, p []string) string { return s.ContactState(p[0]) }},
	{pattern: "{c:*}:dialog", to: func(s Space, p []string) string { return s.Dialog(p[0]) }},
	{pattern: "{c:*}:seen", to: func(s Space, p []string) string { return s.Seen(p[0]) }},
	{pattern: "{c:*}:n:*", to: func(s Space, p []string) string { return s.MinuteCount(p[0], p[1]) }},
	{pattern: "{c:*}:requests", to: func(s Space, p []string) string { return s.RequestsOf(p[0]) }},
	{pattern: SimulationSpace + "{c:*}:state", to: func(s Space, p []string) string { return s.Simulation().ContactState(p[0]) }},
	{pattern: SimulationSpace + "{c:*}:dialog", to: func(s Space, p []string) string { return s.Simulation().Dialog(p[0]) }},
	{pattern: SimulationSpace + "{c:*}:seen", to: func(s Space, p []string) string { return s.Simulation().Seen(p[0]) }},
	{pattern: SimulationSpace + "{c:*}:n:*", to: func(s Space, p []string) string { return s.Simulation().MinuteCount(p[0], p[1]) }},

	// v2 and v1: requests, in the shard of their id.
	{pattern: "{r}:request:*", to: func(s Space, p []string) string { return s.Request(p[0]) }},
	{pattern: "{r}:request:*:notes", to: func(s Space, p []string) string { return s.RequestNotes(p[0]) }},
	{pattern: "{r}:request:*:replies", to: func(s Space, p []string) string { return s.RequestReplies(p[0]) }},
	{pattern: "{r}:request:*:assignee", to: func(s Space, p []string) string { return s.RequestAssignee(p[0]) }},
	{pattern: "request:*", to: func(s Space, p []string) string { return s.Request(p[0]) }},
	{pattern: "request:*:notes", to: func(s Space, p []string) string { return s.RequestNotes(p[0]) }},
	{pattern: "request:*:replies", to: func(s Space, p []string) string { return s.RequestReplies(p[0]) }},
	{pattern: "request:*:assignee", to: func(s Space, p []string) string { return s.RequestAssignee(p[0]) }},
	{pattern: "{r}:requests:open", rule: splitZSet, into: func(s Space, _ []string, i int) string { return s.OpenRequests(i) }},
	{pattern: "{r}:requests:closed", rule: splitZSet, into: func(s Space, _ []string, i int) string { return s.ClosedRequests(i) }},
	{pattern: "{r}:requests:urgent", rule: splitSet, into: func(s Space, _ []string, i int) string { return s.UrgentRequests(i) }},
	{pattern: "requests:open", rule: splitZSet, into: func(s Space, _ []string, i int) string { return s.OpenRequests(i) }},
	{pattern: "requests:closed", rule: splitZSet, into: func(s Space, _ []string, i int) string { return s.ClosedRequests(i) }},

	// v2: subscribers.
	{pattern: "site:*:subscribers", rule: splitSet, into: func(s Space, p []string, i int) string { return s.Subscribers(p[0], i) }},

	// v2: the outbox.
	{pattern: "{o}:reply", rule: splitStream, into: func(s Space, _ []string, i int) string { return s.ReplyStream(i) }},
	{pattern: "{o}:bulk", rule: splitStream, into: func(s Space, _ []string, i int) string { return s.BulkStream(i) }},
	{pattern: "{o}:delayed", rule: splitZSet, byEntry: true, into: func(s Space, _ []string, i int) string { return s.Delayed(i) }},
	{pattern: "{o}:msg:*", to: func(s Space, p []string) string { return s.Delivery(p[0]) }},
	{pattern: "{o}:done:*", to: func(s Space, p []string) string { return s.SentParts(p[0]) }},
	{pattern: "{o}:try:*", to: func(s Space, p []string) string { return s.Attempt(p[0]) }},
	{pattern: "{o}:rate:*", rule: drop},
	{pattern: "{o}:rate:*:pause-until", rule: drop},

	// v2: broadcasts ({o}:bc:<id>, {o}:bc:due… keep their names). The
	// audience counted once goes first: "{o}:bc:reach:n" is one.
	{pattern: "{o}:bc:reach:*", rule: drop},
	{pattern: "{o}:bc:*:n", to: func(s Space, p []string) string { return s.BroadcastCounts(p[0], 0) }},
	{pattern: "{o}:bc:*:rcpt", rule: splitSet, into: func(s Space, p []string, i int) string { return s.BroadcastRecipients(p[0], i) }},
	{pattern: "{o}:bc:*:told", rule: splitSet, into: func(s Space, p []string, i int) string { return s.BroadcastTold(p[0], i) }},

	// v1: API tokens and content versions.
	{pattern: "token:*", to: func(s Space, p []string) string { return s.APIToken(p[0]) }},
	{pattern: "tokens", to: func(s Space, _ []string) string { return s.APITokenNames() }},
	{pattern: "content:current", to: func(s Space, _ []string) string { return s.ContentCurrent() }},
	{pattern: "content:seq", to: func(s Space, _ []string) string { return s.ContentSeq() }},
	{pattern: "content:versions", to: func(s Space, _ []string) string { return s.ContentVersions() }},
	{pattern: "content:v:*", to: func(s Space, p []string) string { return s.ContentVersion(p[0]) }},
}

// Migrate moves the keys of the former layouts (v1: before requests, API
// tokens and content versions had hash tags; v2: before the keys about
// people were spread over shards) to their place in this one, and returns
// how many old keys it moved or split. It is called at startup, before
// the service uses Redis, and walks the keys under the prefix once (on
// every master).
//
//   - A person's keys ({c:<ck>}:state, dialog, seen, n:<minute>, requests,
//     and the same under "sim:") move to their shard, keeping their
//     expiry.
//   - A request's keys move to the shard of its id. Requests made before
//     shards keep their ids, so they may sit in another shard than their
//     person's (a new request's id is drawn in its person's shard): their
//     person's set of request ids still finds them.
//   - The request indexes, subscriber sets and a broadcast's sets of
//     recipients and of people reached are split member by member into
//     the share of the shard of each member (a request id, a contact key),
//     keeping scores; the delayed outbox entries into the shard of their
//     person ("ck"), keeping their due times.
//   - The outbox streams are split entry by entry into the streams of the
//     shard of each entry's person, keeping the entries' ids (hence their
//     order and age) and fields; their consumer groups are not moved: the
//     outbox's Setup creates those of the new streams, reading from the
//     start, so every entry left (none is left acknowledged: the outbox
//     acknowledges and deletes at once) is delivered.
//   - Delivery states, sent parts and attempts move to the shard of their
//     id, keeping their expiry; a broadcast's counts become the share of
//     shard 0 (the shares are summed when read).
//   - Shared rates and a broadcast's audiences counted once, transient,
//     are deleted (not counted).
//
// Before it writes the first key of a sharded family, it records the
// shard count (ShardCount, in decimal, unless recorded already) and
// refuses to go on when another count is recorded: the data would be
// spread over two layouts. When it finds no key of a former layout, it
// writes nothing.
//
// It copies (DUMP, RESTORE) and deletes rather than RENAME, and adds
// members or entries one key at a time: every command names one key, as a
// Cluster requires across slots. A key moved whole is not copied when its
// new name exists already: the new one is kept and the old one deleted.
// A split key is added into its new keys (a member or entry already there
// is kept), then deleted. Running it again, after an interruption or on
// two instances at once, does no harm and finds what is left; stop the
// instances of the former version first, or what they write after is
// lost. A key whose name fits a former family but whose type does not is
// left alone, as are the keys of this layout and any other.
//
// A complete run records the layout (Layout): the next starts find it and
// return at once, without scanning the keyspace again — unless one of the
// fixed-name keys every instance of the former version writes (its outbox
// streams, its open requests) is there again: an instance of that version
// ran meanwhile, and everything is looked for again. Serve also runs it
// with the hourly retention purge, so that what such an instance wrote
// after the start is moved too.
func Migrate(ctx context.Context, rdb redis.UniversalClient, s Space) (int, error) {
	if v, err := rdb.Get(ctx, s.Layout()).Result(); err != nil && !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("keys: migrate: %w", err)
	} else if v == CurrentLayout {
		// Unless an instance of the former version wrote since (a rolling
		// upgrade): its streams and indexes have fixed names.
		left, err := formerLeft(ctx, rdb, s)
		if err != nil || !left {
			return 0, err
		}
	}
	m := &migration{rdb: rdb, s: s}
	err := Scan(ctx, rdb, globEscape(s.prefix)+"*", func(key string) error {
		rest := strings.TrimPrefix(key, s.prefix)
		for i := range formers {
			if p := capture(formers[i].pattern, rest); p != nil {
				return m.migrate(ctx, key, &formers[i], p)
			}
		}
		return nil
	})
	if err != nil {
		return m.moved, fmt.Errorf("keys: migrate: %w", err)
	}
	if err := rdb.Set(ctx, s.Layout(), CurrentLayout, 0).Err(); err != nil {
		return m.moved, fmt.Errorf("keys: migrate: %w", err)
	}
	return m.moved, nil
}

// formerFixed are the keys of the former layout with fixed names that any
// instance of it writes: the outbox streams and the open requests.
var formerFixed = []string{"{o}:reply", "{o}:bulk", "{o}:delayed", "{r}:requests:open", "requests:open"}

// formerLeft reports whether a key of formerFixed exists: one EXISTS a key,
// each in its own slot.
func formerLeft(ctx context.Context, rdb redis.UniversalClient, s Space) (bool, error) {
	cmds := make([]*redis.IntCmd, len(formerFixed))
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range formerFixed {
			cmds[i] = p.Exists(ctx, s.prefix+k)
		}
		return nil
	}); err != nil {
		return false, fmt.Errorf("keys: migrate: %w", err)
	}
	for _, c := range cmds {
		if c.Val() > 0 {
			return true, nil
		}
	}
	return false, nil
}

// CurrentLayout names the layout of this version's keys, recorded under
// Layout once Migrate has moved every key of a former one.
const CurrentLayout = "sharded"

type migration struct {
	rdb      redis.UniversalClient
	s        Space
	moved    int
	recorded bool
}

// migrate moves or splits one old key of family f, whose parts are p.
func (m *migration) migrate(ctx context.Context, old string, f *former, p []string) error {
	s := m.s
	var ok bool
	var err error
	switch f.rule {
	case drop:
		return m.rdb.Del(ctx, old).Err()
	case moveKey:
		to := f.to(s, p)
		nf := s.Family(to)
		if nf == nil {
			return nil // a part this layout cannot hold: not a key of ours
		}
		if nf.Sharding != NotSharded {
			if err := m.record(ctx); err != nil {
				return err
			}
		}
		ok, err = move(ctx, m.rdb, old, to)
	default:
		var typ string
		if typ, err = m.rdb.Type(ctx, old).Result(); err != nil {
			return err
		}
		if typ != splitTypes[f.rule] {
			return nil // gone meanwhile, or not a key of ours
		}
		if err := m.record(ctx); err != nil {
			return err
		}
		into := func(i int) string { return f.into(s, p, i) }
		switch f.rule {
		case splitSet:
			err = m.splitSet(ctx, old, into)
		case splitZSet:
			err = m.splitZSet(ctx, old, into, f.byEntry)
		case splitStream:
			err = m.splitStream(ctx, old, into)
		}
		if err != nil {
			return err
		}
		var n int64
		n, err = m.rdb.Del(ctx, old).Result()
		ok = n == 1
	}
	if ok {
		m.moved++
	}
	return err
}

// splitTypes are the Redis types of the keys split by each rule.
var splitTypes = map[formerRule]string{splitSet: "set", splitZSet: "zset", splitStream: "stream"}

// record records the shard count the data is spread over, or checks the
// one recorded, once.
func (m *migration) record(ctx context.Context) error {
	if m.recorded {
		return nil
	}
	want := strconv.Itoa(m.s.Shards())
	set, err := m.rdb.SetNX(ctx, m.s.ShardCount(), want, 0).Result()
	if err != nil {
		return err
	}
	if !set {
		got, err := m.rdb.Get(ctx, m.s.ShardCount()).Result()
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("the keys about people are spread over %s shards already, not %s: "+
				"set OUTREACH_REDIS_SHARDS=%s to move the keys of the former layout", got, want, got)
		}
	}
	m.recorded = true
	return nil
}

// batch is how many members or entries a split reads at a time.
const batch = 500

func (m *migration) splitSet(ctx context.Context, old string, into func(int) string) error {
	var cursor uint64
	for {
		members, next, err := m.rdb.SScan(ctx, old, cursor, "", batch).Result()
		if err != nil {
			return err
		}
		by := map[int][]any{}
		for _, v := range members {
			i := m.s.ShardOf(v)
			by[i] = append(by[i], v)
		}
		if _, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, vs := range by {
				p.SAdd(ctx, into(i), vs...)
			}
			return nil
		}); err != nil {
			return err
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// splitZSet splits a sorted set; byEntry places a member by the "ck" of
// its JSON. A member already in its new set keeps its score there.
func (m *migration) splitZSet(ctx context.Context, old string, into func(int) string, byEntry bool) error {
	var cursor uint64
	for {
		pairs, next, err := m.rdb.ZScan(ctx, old, cursor, "", batch).Result()
		if err != nil {
			return err
		}
		by := map[int][]redis.Z{}
		for j := 0; j+1 < len(pairs); j += 2 {
			score, err := strconv.ParseFloat(pairs[j+1], 64)
			if err != nil {
				return fmt.Errorf("%s: score %q: %w", old, pairs[j+1], err)
			}
			part := pairs[j]
			if byEntry {
				part = entryContact(part)
			}
			i := m.s.ShardOf(part)
			by[i] = append(by[i], redis.Z{Score: score, Member: pairs[j]})
		}
		if _, err := m.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, zs := range by {
				p.ZAddNX(ctx, into(i), zs...)
			}
			return nil
		}); err != nil {
			return err
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// splitStream adds each entry of a stream, with its id and fields, to the
// stream of its person's shard. An entry whose id is there already was
// copied before (an interrupted run); one older than the new stream's last
// entry and not in it gets a new id.
func (m *migration) splitStream(ctx context.Context, old string, into func(int) string) error {
	start := "-"
	for {
		msgs, err := m.rdb.XRangeN(ctx, old, start, "+", batch).Result()
		if err != nil {
			return err
		}
		for _, x := range msgs {
			e, _ := x.Values["e"].(string)
			to := into(m.s.ShardOf(entryContact(e)))
			err := m.rdb.XAdd(ctx, &redis.XAddArgs{Stream: to, ID: x.ID, Values: x.Values}).Err()
			if err == nil {
				continue
			}
			if !strings.Contains(err.Error(), "equal or smaller") {
				return err
			}
			there, err := m.rdb.XRangeN(ctx, to, x.ID, x.ID, 1).Result()
			if err != nil {
				return err
			}
			if len(there) == 0 {
				if err := m.rdb.XAdd(ctx, &redis.XAddArgs{Stream: to, Values: x.Values}).Err(); err != nil {
					return err
				}
			}
		}
		if len(msgs) < batch {
			return nil
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// entryContact returns the contact key ("ck") of an outbox entry's JSON,
// or "" (whose shard is as good as any).
func entryContact(entry string) string {
	var e struct {
		Contact string `json:"ck"`
	}
	_ = json.Unmarshal([]byte(entry), &e)
	return e.Contact
}

// globEscape escapes the characters special to a SCAN pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// move copies old to new with its expiry, unless new exists, then deletes
// old. It reports whether it copied.
func move(ctx context.Context, rdb redis.UniversalClient, old, to string) (bool, error) {
	dump, err := rdb.Dump(ctx, old).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil // moved meanwhile
	} else if err != nil {
		return false, err
	}
	ttl, err := rdb.PTTL(ctx, old).Result()
	if err != nil {
		return false, err
	}
	if ttl == -2 {
		return false, nil // expired meanwhile
	}
	if ttl < 0 {
		ttl = 0
	}
	copied := true
	if err := rdb.Restore(ctx, to, ttl, dump).Err(); err != nil {
		if !strings.Contains(err.Error(), "BUSYKEY") {
			return false, err
		}
		copied = false
	}
	return copied, rdb.Del(ctx, old).Err()
}
