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
// Redis Cluster: a person's keys share {c:<contact>}, requests {r}, the
// outbox and broadcasts {o}, content versions {content}, API tokens
// {tokens}, console accounts {people}. The turn script and the broadcast
// fan-out still cross tags (they write site subscriber sets and requests
// next to the person's keys): they run on one node or Sentinel only.
package keys

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Space builds the keys under one prefix (OUTREACH_REDIS_PREFIX).
type Space struct{ prefix string }

// New returns the space of keys under prefix, e.g. "outreach:".
func New(prefix string) Space { return Space{prefix: prefix} }

// Prefix returns what every key of the space starts with.
func (s Space) Prefix() string { return s.prefix }

// SimulationSpace is what the keys of simulations start with, after the
// prefix: "<prefix>sim:{c:…}:state".
const SimulationSpace = "sim:"

// Simulation returns the space of simulations: the keys of a contact under
// "<prefix>sim:", families of their own (SimulatedState…).
func (s Space) Simulation() Space { return Space{prefix: s.prefix + SimulationSpace} }

// Key builds a key of family f, filling its parts in order. It panics when
// the number of parts is not the family's: a programming error.
func (s Space) Key(f *Family, parts ...string) string {
	return s.prefix + f.fill(parts)
}

// Glob is the SCAN pattern of the keys of f whose first parts are given;
// the other parts match anything (filter the keys found with Family).
func (s Space) Glob(f *Family, first ...string) string {
	var b strings.Builder
	b.WriteString(s.prefix)
	i := 0
	for _, c := range f.Pattern {
		if c != '*' {
			b.WriteRune(c)
			continue
		}
		if i < len(first) {
			b.WriteString(first[i])
		} else {
			b.WriteByte('*')
		}
		i++
	}
	return b.String()
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
		if match(f.Pattern, rest) && (best == nil || f.parts() < best.parts()) {
			best = f
		}
	}
	return best
}

// Parts returns the parts of key that the "*" of its family stand for.
func (s Space) Parts(f *Family, key string) []string {
	rest, ok := strings.CutPrefix(key, s.prefix)
	if !ok || !match(f.Pattern, rest) {
		return nil
	}
	return capture(f.Pattern, rest)
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

func (f *Family) fill(parts []string) string {
	if len(parts) != f.parts() {
		panic("keys: " + f.Name + " takes " + itoa(f.parts()) + " parts, not " + itoa(len(parts)))
	}
	var b strings.Builder
	i := 0
	for _, c := range f.Pattern {
		if c == '*' {
			b.WriteString(parts[i])
			i++
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + itoa(n%10)
}

// match reports whether name fits pattern, each "*" one or more characters
// other than ':'.
func match(pattern, name string) bool { return capture(pattern, name) != nil }

func capture(pattern, name string) []string {
	out := []string{}
	for pattern != "" {
		star := strings.IndexByte(pattern, '*')
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
		if i := strings.IndexByte(next, '*'); i >= 0 {
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
