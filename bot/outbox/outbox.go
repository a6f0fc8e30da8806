package outbox

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/stats"
	"github.com/outreach-org/outreach/bot/tally"
)

// Outbox is the outbox in Redis: its streams, its delayed and dead-letter
// lists, and the delivery state of sent messages.
type Outbox struct {
	rdb  redis.UniversalClient
	keys Keys
	// statusTTL is how long a delivery state (which names the person's
	// contact key) is kept: statusTTL, or the retention period if shorter.
	statusTTL time.Duration
	// doneTTL is how long an entry's sent parts are remembered: doneTTL,
	// or the retention period if shorter.
	doneTTL time.Duration
	// stats count, in memory, what was sent, delivered and failed.
	stats *stats.Stats
	// counts writes the counts of broadcasts.
	counts tally.Counter
	// cluster is set when rdb is a Cluster client: a command or a
	// transaction then names keys of one slot only.
	cluster bool
}

// New returns the outbox in the key space ks: its prefix, and the shards
// its streams are spread over.
func New(rdb redis.UniversalClient, ks keys.Space) *Outbox {
	_, cluster := rdb.(*redis.ClusterClient)
	return &Outbox{rdb: rdb, keys: NewKeys(ks), statusTTL: statusTTL, doneTTL: doneTTL, counts: tally.New(ks), cluster: cluster}
}

// WithRetention bounds what the outbox keeps about a person to the
// retention period (OUTREACH_RETENTION) when it is shorter than its own
// periods, and returns o.
func (o *Outbox) WithRetention(d time.Duration) *Outbox {
	if d > 0 {
		o.statusTTL, o.doneTTL = min(o.statusTTL, d), min(o.doneTTL, d)
	}
	return o
}

// WithStats counts, for the dashboard, the messages the providers accept,
// deliver or fail, and returns o. Counting costs no round trip (see
// stats.Stats); call it before the worker starts.
func (o *Outbox) WithStats(s *stats.Stats) *Outbox {
	o.stats = s
	return o
}

// Keys returns the names of the outbox's keys.
func (o *Outbox) Keys() Keys { return o.keys }

// priorities are the two priorities, replies first.
var priorities = []Priority{Reply, Bulk}

// Setup creates the streams of every shard and their consumer group if
// they do not exist, in one pipeline.
func (o *Outbox) Setup(ctx context.Context) error {
	var cmds []*redis.StatusCmd
	o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, pr := range priorities {
			for _, stream := range o.keys.Streams(pr) {
				cmds = append(cmds, p.XGroupCreateMkStream(ctx, stream, group, "0"))
			}
		}
		return nil
	})
	for _, c := range cmds {
		if err := c.Err(); err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return fmt.Errorf("outbox: create group: %w", err)
		}
	}
	return nil
}

// Enqueue appends entries to their priority's stream in their contact's
// shard, in one pipeline.
func (o *Outbox) Enqueue(ctx context.Context, entries ...Entry) error {
	_, err := o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			p.XAdd(ctx, &redis.XAddArgs{Stream: o.keys.StreamFor(e.Priority, e.Contact), Values: []any{"e", e.Encode()}})
		}
		return nil
	})
	return err
}

// inOrder runs steps, each a transaction whose keys share one slot. On one
// node they make one transaction; on a Cluster, where a transaction cannot
// span slots, they run one after the other, and the first that fails stops
// the rest. Callers order them so that a crash between two leaves what a
// later try recovers from: what records a send before what acknowledges
// it, what acknowledges an entry before what forgets its progress.
func (o *Outbox) inOrder(ctx context.Context, steps ...func(p redis.Pipeliner)) error {
	if !o.cluster {
		_, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, step := range steps {
				step(p)
			}
			return nil
		})
		return err
	}
	for _, step := range steps {
		if _, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			step(p)
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// evalEach runs script s once for each set of keys (each within a slot),
// in one pipeline, and returns the first error.
func (o *Outbox) evalEach(ctx context.Context, s *redis.Script, keys [][]string, args ...any) error {
	cmds := make([]*redis.Cmd, len(keys))
	_, err := o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = s.EvalSha(ctx, p, k, args...)
		}
		return nil
	})
	if err == nil {
		return nil
	}
	var first error
	for i, c := range cmds {
		err := c.Err()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			err = s.Run(ctx, o.rdb, keys[i], args...).Err() // loads it
		}
		if err != nil && !errors.Is(err, redis.Nil) && first == nil {
			first = err
		}
	}
	return first
}

// DeadLetter is a message given up on, for staff to inspect.
type DeadLetter struct {
	Entry  Entry     `json:"entry"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// maxDead bounds the dead-letter list.
const maxDead = 10000

// Dead returns the newest n dead letters, newest first.
func (o *Outbox) Dead(ctx context.Context, n int64) ([]DeadLetter, error) {
	vals, err := o.rdb.LRange(ctx, o.keys.dead(), 0, n-1).Result()
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, 0, len(vals))
	for _, v := range vals {
		var d DeadLetter
		if json.Unmarshal([]byte(v), &d) == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

// Depth returns how many entries wait: per priority (not yet acknowledged
// included) and delayed for a retry, summed over the shards, and dead.
func (o *Outbox) Depth(ctx context.Context) (map[string]int64, error) {
	var reply, bulk, delayed []*redis.IntCmd
	var dead *redis.IntCmd
	_, err := o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range o.keys.Shards() {
			reply = append(reply, p.XLen(ctx, o.keys.Stream(Reply, i)))
			bulk = append(bulk, p.XLen(ctx, o.keys.Stream(Bulk, i)))
			delayed = append(delayed, p.ZCard(ctx, o.keys.delayed(i)))
		}
		dead = p.LLen(ctx, o.keys.dead())
		return nil
	})
	if err != nil {
		return nil, err
	}
	sum := func(cmds []*redis.IntCmd) int64 {
		var n int64
		for _, c := range cmds {
			n += c.Val()
		}
		return n
	}
	return map[string]int64{"reply": sum(reply), "bulk": sum(bulk), "delayed": sum(delayed), "dead": dead.Val()}, nil
}

// Collector returns a Prometheus collector of the outbox depth, read from
// Redis at each scrape.
func (o *Outbox) Collector() prometheus.Collector { return depthCollector{o} }

type depthCollector struct{ o *Outbox }

var depthDesc = prometheus.NewDesc("outreach_outbox_depth", "Messages waiting in the outbox, by queue (reply, bulk, delayed for retry, dead).", []string{"queue"}, nil)

func (c depthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- depthDesc }

func (c depthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	depth, err := c.o.Depth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(depthDesc, err)
		return
	}
	for q, n := range depth {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(n), q)
	}
}

// statusRanks orders delivery states: a state only replaces a lower one, as
// status callbacks can arrive out of order.
var statusRanks = map[string]int{
	"accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
	"delivered": 4, "undelivered": 4, "failed": 4, "canceled": 4, "read": 5,
}

// finalRank is the rank of the states after which nothing changes but a
// delivered message being read.
const finalRank = 4

// failedStatus reports whether a final state means the message did not
// reach the person.
func failedStatus(status string) bool {
	return status == "failed" || status == "undelivered" || status == "canceled"
}

// finalEvent is what a final state is for a broadcast's counts.
func finalEvent(status string) tally.Event {
	if failedStatus(status) {
		return tally.Failed
	}
	return tally.Delivered
}

// finalCounts is what each final state adds to a broadcast's counts, as
// status.lua takes it: a state, then its event (tally.ScriptArgs).
var finalCounts = func() []any {
	var states []string
	for st, rank := range statusRanks {
		if rank >= finalRank {
			states = append(states, st)
		}
	}
	slices.Sort(states)
	var out []any
	for _, st := range states {
		out = append(out, st)
		out = append(out, tally.ScriptArgs(finalEvent(st))...)
	}
	return out
}()

// statusArgs are status.lua's ARGV: a state and its rank, an error code,
// how long the state is kept, the broadcast whose counts are given, the
// send to record (entry id, contact, channel, broadcast; none for a
// callback), then finalCounts.
func (o *Outbox) statusArgs(status string, rank int, errorCode, bc string, rec ...string) []any {
	if len(rec) == 0 {
		rec = []string{"", "", "", ""}
	}
	args := []any{status, rank, errorCode, o.statusTTL.Milliseconds(), bc}
	for _, r := range rec {
		args = append(args, r)
	}
	return append(args, finalCounts...)
}

// statusTTL is how long a sent message's delivery state is kept.
const statusTTL = 30 * 24 * time.Hour

// doneTTL is how long the parts of an entry already sent are remembered.
const doneTTL = 7 * 24 * time.Hour

//go:embed status.lua
var statusSrc string

var statusScript = redis.NewScript(statusSrc)

// Delivery is what is known of a sent message.
type Delivery struct {
	// ID is the outbox entry's id; Contact, Channel and Broadcast come from it.
	ID        string
	Contact   string
	Channel   string
	Broadcast string
	Status    string
	Error     string
}

// recordSent notes a message the provider accepted, under its provider
// id: one script on the slot of the provider id's shard.
func (o *Outbox) recordSent(ctx context.Context, p redis.Pipeliner, providerID, status string, e Entry) {
	k := o.keys.status(providerID)
	statusScript.Eval(ctx, p, []string{k, o.countsKey(providerID, k, e.Broadcast)},
		o.statusArgs(status, statusRanks[status], "", e.Broadcast, e.ID, e.Contact, e.Channel, e.Broadcast)...)
}

// countsKey is, for status.lua, the share of broadcast bc's counts in the
// shard of the message's provider id (the slot of its hash k), or k when
// there is no broadcast.
func (o *Outbox) countsKey(providerID, k, bc string) string {
	if bc == "" {
		return k
	}
	return o.counts.Key(bc, o.keys.ShardOf(providerID))
}

// ErrUnknownStatus means a status the outbox does not track.
var ErrUnknownStatus = errors.New("outbox: unknown delivery status")

// UpdateStatus moves a sent message's delivery state forward (never back)
// and returns what is known of the message; changed is false when the state
// was already as far or further.
func (o *Outbox) UpdateStatus(ctx context.Context, providerID, status, errorCode string) (d Delivery, changed bool, err error) {
	rank, ok := statusRanks[status]
	if !ok {
		return Delivery{}, false, ErrUnknownStatus
	}
	k := o.keys.status(providerID)
	// The script is given the counts of the broadcast the message is of,
	// as last read: should the send be recorded meanwhile, it says so
	// (-3) and is called again.
	prev := -3
	for try := 0; prev == -3 && try < 5; try++ {
		bc, err := o.rdb.HGet(ctx, k, "bc").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return Delivery{}, false, err
		}
		prev, err = statusScript.Run(ctx, o.rdb, []string{k, o.countsKey(providerID, k, bc)}, o.statusArgs(status, rank, errorCode, bc)...).Int()
		if err != nil {
			return Delivery{}, false, err
		}
	}
	if prev == -3 {
		return Delivery{}, false, errors.New("outbox: a message's broadcast kept changing")
	}
	vals, err := o.rdb.HMGet(ctx, k, "id", "ck", "ch", "bc", "status", "err").Result()
	if err != nil {
		return Delivery{}, false, err
	}
	str := func(i int) string { s, _ := vals[i].(string); return s }
	d = Delivery{ID: str(0), Contact: str(1), Channel: str(2), Broadcast: str(3), Status: str(4), Error: str(5)}
	changed = prev != -2
	if changed && prev < finalRank && rank >= finalRank {
		kind, ch := stats.Delivered, d.Channel
		if failedStatus(status) {
			kind = stats.Failed
		}
		if ch == "" {
			ch = stats.UnknownChannel // the callback came before the send was recorded
		}
		o.stats.Add(stats.Name(kind, ch), 1)
	}
	return d, changed, nil
}

// ForgetDead removes the dead letters given up before a time (they hold a
// sealed address and a text) and returns how many it removed. The list is
// newest first, so the old ones are a tail.
func (o *Outbox) ForgetDead(ctx context.Context, before time.Time) (int, error) {
	k := o.keys.dead()
	removed := 0
	var err error
	for range 5 { // a worker burying a letter meanwhile: read again
		if err = o.forgetDead(ctx, k, before, &removed); !errors.Is(err, redis.TxFailedErr) {
			break
		}
	}
	return removed, err
}

func (o *Outbox) forgetDead(ctx context.Context, k string, before time.Time, removed *int) error {
	return o.rdb.Watch(ctx, func(tx *redis.Tx) error {
		vals, err := tx.LRange(ctx, k, 0, -1).Result()
		if err != nil {
			return err
		}
		keep := len(vals)
		for keep > 0 {
			var d DeadLetter
			if json.Unmarshal([]byte(vals[keep-1]), &d) == nil && !d.At.Before(before) {
				break
			}
			keep--
		}
		if keep == len(vals) {
			return nil
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			if keep == 0 {
				p.Del(ctx, k)
			} else {
				p.LTrim(ctx, k, 0, int64(keep-1))
			}
			return nil
		})
		if err == nil {
			*removed = len(vals) - keep
		}
		return err
	}, k)
}
