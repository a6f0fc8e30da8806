// Package keys owns the Redis keyspace: it names every key family of the
// service, how its keys are built, its hash tag, how its keys expire,
// whether they hold something about a person and how erasure finds them.
// No other package builds a key string: they ask a Space.
//
// A family's Pattern is the key after the configured prefix, each "*" one
// part of the name that holds no ':' (a contact key, an id, a day). The
// builders of Space fill those parts in order, so a key built here always
// belongs to its family (Family finds it again).
//
// Hash tags keep the keys of one multi-key operation in one slot of a
// Redis Cluster. The keys about people are spread over shards (shard.go),
// each under its tag "{s<i>.<j>}": a person's state and conversation,
// their requests, their share of subscriber sets and request indexes, the
// outbox streams of the entries to them and a broadcast's record of them
// sit in their shard, so that a turn or a broadcast's fan-out to a shard
// is one script on one slot. The rest has tags of its own: broadcasts
// {o}, content versions {content}, API tokens {tokens}, console accounts
// {people}, the audit {audit}.
package keys

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Space builds the keys under one prefix (OUTREACH_REDIS_PREFIX), its
// sharded families spread over a number of shards (WithShards).
type Space struct {
	prefix string
	shards int
}

// New returns the space of keys under prefix, e.g. "outreach:", with
// DefaultShards shards.
func New(prefix string) Space { return Space{prefix: prefix} }

// Prefix returns what every key of the space starts with.
func (s Space) Prefix() string { return s.prefix }

// SimulationSpace is what the keys of simulations start with, after the
// prefix: "<prefix>sim:{s3.12}:c:…:state".
const SimulationSpace = "sim:"

// Simulation returns the space of simulations: the keys of a contact under
// "<prefix>sim:", families of their own (SimulatedState…).
func (s Space) Simulation() Space { return Space{prefix: s.prefix + SimulationSpace, shards: s.shards} }

// Key builds a key of family f, filling its parts in order (and, for a
// family sharded ByFirstPart, its shard's tag). It panics when the number
// of parts is not the family's, or when f is sharded Explicit (use KeyIn):
// programming errors.
func (s Space) Key(f *Family, parts ...string) string {
	switch f.Sharding {
	case Explicit:
		panic("keys: " + f.Name + " is one key a shard: use KeyIn")
	case ByFirstPart:
		if len(parts) == 0 {
			panic("keys: " + f.Name + " takes its shard from a first part")
		}
		return s.prefix + f.fill(tagsOf(s.Shards())[s.ShardOf(parts[0])], parts)
	}
	return s.prefix + f.fill("", parts)
}

// KeyIn builds the key of family f in shard i (a family sharded
// Explicit), filling its parts in order.
func (s Space) KeyIn(f *Family, i int, parts ...string) string {
	if f.Sharding != Explicit {
		panic("keys: " + f.Name + " is not one key a shard: use Key")
	}
	return s.prefix + f.fill(tagsOf(s.Shards())[i], parts)
}

// Glob is the SCAN pattern of the keys of f whose first parts are given;
// the other parts match anything (filter the keys found with Family). The
// shard of a family sharded ByFirstPart is that of the first part given;
// else any shard's keys match.
func (s Space) Glob(f *Family, first ...string) string {
	tag := "*"
	if f.Sharding == ByFirstPart && len(first) > 0 {
		tag = tagsOf(s.Shards())[s.ShardOf(first[0])]
	}
	return s.glob(f, tag, first)
}

// GlobIn is Glob within shard i.
func (s Space) GlobIn(f *Family, i int, first ...string) string {
	return s.glob(f, tagsOf(s.Shards())[i], first)
}

func (s Space) glob(f *Family, tag string, first []string) string {
	var b strings.Builder
	b.WriteString(s.prefix)
	i := 0
	for _, c := range f.Pattern {
		switch c {
		case '#':
			b.WriteString(tag)
		case '*':
			if i < len(first) {
				b.WriteString(first[i])
			} else {
				b.WriteByte('*')
			}
			i++
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// ShardOfKey returns the shard of a key of a sharded family, or -1.
func (s Space) ShardOfKey(key string) int {
	f := s.Family(key)
	if f == nil || f.Sharding == NotSharded {
		return -1
	}
	rest := strings.TrimPrefix(key, s.prefix)
	tag := capture(f.Pattern, rest)[0]
	for i, t := range tagsOf(s.Shards()) {
		if t == tag {
			return i
		}
	}
	return -1
}

// Family returns the family a key belongs to, or nil: the most specific
// pattern that matches it (a name without parts before one with some).
func (s Space) Family(key string) *Family {
	rest, ok := strings.CutPrefix(key, s.prefix)
	if !ok {
		return nil
	}
	var best *Family
	for _, f := range registry {
		if s.matches(f, rest) && (best == nil || f.parts() < best.parts()) {
			best = f
		}
	}
	return best
}

// Parts returns the parts of key that the "*" of its family stand for.
func (s Space) Parts(f *Family, key string) []string {
	rest, ok := strings.CutPrefix(key, s.prefix)
	if !ok || !s.matches(f, rest) {
		return nil
	}
	got := capture(f.Pattern, rest)
	if f.Sharding != NotSharded {
		got = got[1:] // the shard's tag
	}
	return got
}

// matches reports whether name (after the prefix) is a key of f: its
// pattern fits, and a sharded family's tag is one of this space's shards,
// the right one for a family sharded ByFirstPart.
func (s Space) matches(f *Family, name string) bool {
	got := capture(f.Pattern, name)
	if got == nil {
		return false
	}
	if f.Sharding == NotSharded {
		return true
	}
	tags := tagsOf(s.Shards())
	if f.Sharding == ByFirstPart {
		return len(got) > 1 && got[0] == tags[s.ShardOf(got[1])]
	}
	for _, t := range tags {
		if t == got[0] {
			return true
		}
	}
	return false
}

// ErrStop, returned by the function given to Scan, ends the scan early;
// Scan then returns nil.
var ErrStop = errors.New("keys: stop scanning")

// Scan calls fn with each key matching glob, on every master of a Cluster
// (a SCAN of one node sees only its own slots). The calls never overlap,
// though the masters are scanned at once; after fn returns an error, it is
// not called again.
func Scan(ctx context.Context, rdb redis.UniversalClient, glob string, fn func(key string) error) error {
	var mu sync.Mutex
	var failed error
	each := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, glob, 1000).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			if failed == nil {
				failed = fn(iter.Val())
			}
			stop := failed != nil
			mu.Unlock()
			if stop {
				return nil
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			return each(ctx, node)
		})
	} else {
		err = each(ctx, rdb)
	}
	if failed != nil && !errors.Is(failed, ErrStop) {
		return failed
	}
	return err
}

func (f *Family) parts() int { return strings.Count(f.Pattern, "*") }

func (f *Family) fill(tag string, parts []string) string {
	if len(parts) != f.parts() {
		panic("keys: " + f.Name + " takes " + itoa(f.parts()) + " parts, not " + itoa(len(parts)))
	}
	var b strings.Builder
	i := 0
	for _, c := range f.Pattern {
		switch c {
		case '*':
			b.WriteString(parts[i])
			i++
		case '#':
			b.WriteString(tag)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + itoa(n%10)
}

// capture returns the parts of name that the "*" and "#" of pattern stand
// for (each one or more characters other than ':'), or nil when name does
// not fit.
func capture(pattern, name string) []string {
	out := []string{}
	for pattern != "" {
		star := strings.IndexAny(pattern, "*#")
		if star < 0 {
			if pattern != name {
				return nil
			}
			return out
		}
		lit := pattern[:star]
		if !strings.HasPrefix(name, lit) {
			return nil
		}
		name, pattern = name[len(lit):], pattern[star+1:]
		end := strings.IndexByte(name, ':')
		if end < 0 {
			end = len(name)
		}
		// The part ends where the pattern's next literal starts, within
		// the run without ':'.
		next := pattern
		if i := strings.IndexAny(next, "*#"); i >= 0 {
			next = next[:i]
		}
		cut := end
		if next != "" && next[0] != ':' {
			j := strings.Index(name, next)
			if j < 0 || j > end {
				return nil
			}
			cut = j
		}
		if cut == 0 {
			return nil
		}
		out = append(out, name[:cut])
		name = name[cut:]
	}
	if name != "" {
		return nil
	}
	return out
}
