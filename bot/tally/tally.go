// Package tally keeps a broadcast's counts, in its counts hashes
// (keys.Space.BroadcastCounts), one a shard: a count is written in the
// shard of the slot its writer already writes (the recipient's, or the
// provider message id's), so that it goes in the same transaction or
// script, and the shares add up when read (Counter.Read). It is the one
// place that says which fields
// of the hash each delivery event adds one to, and how the hash reads back
// as Counts: the fan-out, the outbox worker and the delivery status
// callbacks all count through it.
//
// The events, and the fields each adds one to:
//
//	Reached          total                      the fan-out found a person of the audience new to the broadcast
//	Skipped(reason)  skipped, skipped:<reason>  not sent, and never will be: at the fan-out (opted out, no address…)
//	                                            or when its turn came (expired, cancelled, suppressed, needs a template)
//	Sent             sent                       a provider took the message (the last of its parts)
//	Delivered        delivered                  it reached the person: a final status callback, or, on a channel
//	                                            without callbacks (Telegram), when it is Sent
//	Failed           failed                     a provider said it did not reach the person (failed, undelivered, canceled)
//	Unsent           failed, unsent             it failed before a provider took it: an address refused, a dead letter
//
// Each person Reached ends once Sent, Skipped or Unsent; a message Sent
// then ends at most once Delivered or Failed. Counts.Failed thus holds
// both the failures after a provider took the message and, among them
// (Counts.Unsent), those before.
//
// Counter.Add writes events in a pipeline or transaction of the caller's,
// in the shard it is given.
// A Lua script that must count in the same step as its own writes (the
// fan-out records a recipient and counts them at once; a status callback
// counts a message once, under a mark on the message) calls HINCRBY
// itself, on the fields it is given as ARGV (ScriptArgs): the rules are
// still written here only.
package tally

import (
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
)

// The fields of a counts hash.
const (
	total     = "total"
	sent      = "sent"
	delivered = "delivered"
	failed    = "failed"
	unsent    = "unsent"
	skipped   = "skipped"
	// skippedBy starts the field of the skips for one reason.
	skippedBy = "skipped:"
)

// Event is what happened to a broadcast's message for one person: the
// fields of the counts it adds one to.
type Event struct{ fields []string }

// The events without a reason (see the package's documentation).
var (
	Reached   = Event{[]string{total}}
	Sent      = Event{[]string{sent}}
	Delivered = Event{[]string{delivered}}
	Failed    = Event{[]string{failed}}
	Unsent    = Event{[]string{failed, unsent}}
)

// Skipped is a message not sent for reason ("opted_out", "expired"…).
func Skipped(reason string) Event { return Event{[]string{skipped, skippedBy + reason}} }

// Fields returns the fields of the counts hash that events add one to,
// each once per event that names it.
func Fields(events ...Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.fields...)
	}
	return out
}

// ScriptArgs returns events as a script takes them in its ARGV: how many
// fields, then the fields (Fields), each to be added one to.
func ScriptArgs(events ...Event) []any {
	f := Fields(events...)
	out := make([]any, 0, 1+len(f))
	out = append(out, len(f))
	for _, x := range f {
		out = append(out, x)
	}
	return out
}

// Counter writes broadcasts' counts under one key space.
type Counter struct{ keys keys.Space }

// New returns the counter of the broadcasts of s.
func New(s keys.Space) Counter { return Counter{keys: s} }

// Shards returns how many shares a broadcast's counts are kept in.
func (c Counter) Shards() int { return c.keys.Shards() }

// Key returns shard's share of the counts of broadcast bc: for a script
// that counts itself (ScriptArgs) in that shard's slot.
func (c Counter) Key(bc string, shard int) string { return c.keys.BroadcastCounts(bc, shard) }

// Keys returns every shard's share of the counts of broadcast bc, in shard
// order: to read them (Read does) or delete them (one key a slot).
func (c Counter) Keys(bc string) []string {
	out := make([]string, c.keys.Shards())
	for i := range out {
		out[i] = c.Key(bc, i)
	}
	return out
}

// Add queues on p one more of each of events for broadcast bc, in shard's
// share of its counts; nothing when bc is empty (a message of no
// broadcast). The shard is the caller's choice: that of the other keys p
// writes, so that a transaction stays in one slot.
func (c Counter) Add(ctx context.Context, p redis.Pipeliner, bc string, shard int, events ...Event) {
	if bc == "" {
		return
	}
	k := c.Key(bc, shard)
	for _, f := range Fields(events...) {
		p.HIncrBy(ctx, k, f, 1)
	}
}

// Queue queues on p the reading of every share of broadcast bc's counts,
// for a caller that reads other keys in the same pipeline; the function
// returned, called after p ran, sums them (as Read does).
func (c Counter) Queue(ctx context.Context, p redis.Pipeliner, bc string) func() (Counts, error) {
	cmds := make([]*redis.MapStringStringCmd, c.keys.Shards())
	for i := range cmds {
		cmds[i] = p.HGetAll(ctx, c.Key(bc, i))
	}
	return func() (Counts, error) {
		var sum Counts
		for _, cmd := range cmds {
			h, err := cmd.Result()
			if err != nil {
				return Counts{}, err
			}
			sum = sum.Plus(Parse(h))
		}
		return sum, nil
	}
}

// Read returns the counts of broadcast bc: every shard's share, read in
// one pipeline (a Cluster client sends it to each master at once), summed.
func (c Counter) Read(ctx context.Context, rdb redis.UniversalClient, bc string) (Counts, error) {
	var sum func() (Counts, error)
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		sum = c.Queue(ctx, p, bc)
		return nil
	}); err != nil {
		return Counts{}, err
	}
	return sum()
}

// Counts are a broadcast's numbers. Total counts the people reached by the
// audience; each ends sent (then delivered or failed) or skipped, or failed
// before it was sent.
type Counts struct {
	Total     int64            `json:"total"`
	Sent      int64            `json:"sent"`
	Delivered int64            `json:"delivered"`
	Failed    int64            `json:"failed"`
	Skipped   int64            `json:"skipped"`
	SkippedBy map[string]int64 `json:"skipped_by,omitempty"`
	// Unsent counts, among Failed, those that failed before a provider
	// took them (dead letters, refused addresses).
	Unsent int64 `json:"unsent"`
}

// Finished counts the people whose message has an outcome: sent, skipped
// or failed before sending.
func (c Counts) Finished() int64 { return c.Sent + c.Skipped + c.Unsent }

// Waiting counts the people still to be sent to: reached by the audience,
// neither sent, skipped nor failed before sending.
func (c Counts) Waiting() int64 { return max(0, c.Total-c.Finished()) }

// Plus returns the sum of c and d, field by field (the shares of a
// broadcast's counts add up).
func (c Counts) Plus(d Counts) Counts {
	out := Counts{Total: c.Total + d.Total, Sent: c.Sent + d.Sent, Delivered: c.Delivered + d.Delivered,
		Failed: c.Failed + d.Failed, Skipped: c.Skipped + d.Skipped, Unsent: c.Unsent + d.Unsent}
	for _, m := range []map[string]int64{c.SkippedBy, d.SkippedBy} {
		for reason, n := range m {
			if out.SkippedBy == nil {
				out.SkippedBy = map[string]int64{}
			}
			out.SkippedBy[reason] += n
		}
	}
	return out
}

// Parse reads one share of a counts hash, as HGETALL gives it (Read sums
// the shares). Fields it does not know,
// or whose value is not a number, are left out.
func Parse(h map[string]string) Counts {
	var c Counts
	for k, v := range h {
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case total:
			c.Total = x
		case sent:
			c.Sent = x
		case delivered:
			c.Delivered = x
		case failed:
			c.Failed = x
		case skipped:
			c.Skipped = x
		case unsent:
			c.Unsent = x
		default:
			if reason, ok := strings.CutPrefix(k, skippedBy); ok {
				if c.SkippedBy == nil {
					c.SkippedBy = map[string]int64{}
				}
				c.SkippedBy[reason] = x
			}
		}
	}
	return c
}
