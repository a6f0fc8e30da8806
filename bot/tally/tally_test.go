package tally_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/tally"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// add writes events for broadcast bc in one transaction, in shard's share.
func add(t *testing.T, rdb redis.UniversalClient, c tally.Counter, bc string, shard int, events ...tally.Event) {
	t.Helper()
	ctx := context.Background()
	if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		c.Add(ctx, p, bc, shard, events...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// read is c.Read, failing the test on an error.
func read(t *testing.T, rdb redis.UniversalClient, c tally.Counter, bc string) tally.Counts {
	t.Helper()
	got, err := c.Read(context.Background(), rdb, bc)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestEachEventAddsItsFields drives each event alone, on a broadcast of its
// own, and reads the hash back: the fields the package's documentation
// lists, and the Counts they read as.
func TestEachEventAddsItsFields(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	c := tally.New(keys.New(prefix))
	for _, tt := range []struct {
		name   string
		event  tally.Event
		fields map[string]string
		counts tally.Counts
	}{
		{"reached", tally.Reached, map[string]string{"total": "1"}, tally.Counts{Total: 1}},
		{"skipped", tally.Skipped("opted_out"), map[string]string{"skipped": "1", "skipped:opted_out": "1"},
			tally.Counts{Skipped: 1, SkippedBy: map[string]int64{"opted_out": 1}}},
		{"sent", tally.Sent, map[string]string{"sent": "1"}, tally.Counts{Sent: 1}},
		{"delivered", tally.Delivered, map[string]string{"delivered": "1"}, tally.Counts{Delivered: 1}},
		{"failed", tally.Failed, map[string]string{"failed": "1"}, tally.Counts{Failed: 1}},
		{"unsent", tally.Unsent, map[string]string{"failed": "1", "unsent": "1"}, tally.Counts{Failed: 1, Unsent: 1}},
	} {
		add(t, rdb, c, tt.name, 5, tt.event)
		h := rdb.HGetAll(context.Background(), c.Key(tt.name, 5)).Val()
		if !maps.Equal(h, tt.fields) {
			t.Errorf("%s: hash %v, want %v", tt.name, h, tt.fields)
		}
		if got := tally.Parse(h); !reflect.DeepEqual(got, tt.counts) {
			t.Errorf("%s: counts %+v, want %+v", tt.name, got, tt.counts)
		}
		if got := read(t, rdb, c, tt.name); !reflect.DeepEqual(got, tt.counts) {
			t.Errorf("%s: read %+v, want %+v", tt.name, got, tt.counts)
		}
	}
}

// TestABroadcastIsCounted drives the events of a broadcast to seven people,
// as the fan-out, the worker and the status callbacks record them, each in
// a shard of its own choosing; Read sums the shards.
func TestABroadcastIsCounted(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	c := tally.New(keys.New(prefix).WithShards(4))
	n := 0
	// shard spreads the writes over the shards, as people and ids are.
	shard := func() int { n++; return n % 4 }
	// The fan-out: seven people, two of them skipped there.
	for range 5 {
		add(t, rdb, c, "b1", shard(), tally.Reached)
	}
	add(t, rdb, c, "b1", shard(), tally.Reached, tally.Skipped("opted_out"))
	add(t, rdb, c, "b1", shard(), tally.Reached, tally.Skipped("no_address"))
	// The worker: one expired, one refused by the provider, three sent,
	// one on a channel without callbacks.
	add(t, rdb, c, "b1", shard(), tally.Skipped("expired"))
	add(t, rdb, c, "b1", shard(), tally.Unsent)
	add(t, rdb, c, "b1", shard(), tally.Sent)
	add(t, rdb, c, "b1", shard(), tally.Sent)
	add(t, rdb, c, "b1", shard(), tally.Sent, tally.Delivered)
	// Status callbacks.
	add(t, rdb, c, "b1", shard(), tally.Delivered)
	add(t, rdb, c, "b1", shard(), tally.Failed)
	// A message of no broadcast counts nowhere.
	add(t, rdb, c, "", shard(), tally.Sent, tally.Delivered)

	got := read(t, rdb, c, "b1")
	want := tally.Counts{Total: 7, Sent: 3, Delivered: 2, Failed: 2, Skipped: 3, Unsent: 1,
		SkippedBy: map[string]int64{"opted_out": 1, "no_address": 1, "expired": 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	if got.Finished() != 7 || got.Waiting() != 0 {
		t.Errorf("finished %d, waiting %d; want 7, 0", got.Finished(), got.Waiting())
	}
	all := c.Keys("b1")
	slices.Sort(all)
	if k := redistest.KeysUnder(t, rdb, prefix); !slices.Equal(k, all) {
		t.Errorf("keys %v, want b1's counts in each shard, %v", k, all)
	}
	// Queue reads them with other commands of the caller's pipeline.
	ctx := context.Background()
	var sum func() (tally.Counts, error)
	if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, prefix+"other")
		sum = c.Queue(ctx, p, "b1")
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	if queued, err := sum(); err != nil || !reflect.DeepEqual(queued, want) {
		t.Errorf("queued read %+v, %v; want %+v", queued, err, want)
	}
}

// TestKeysAreOneAShard: a broadcast's counts are one key a shard, each in
// its shard's slot, the one Key names.
func TestKeysAreOneAShard(t *testing.T) {
	t.Parallel()
	s := keys.New("p:").WithShards(8)
	c := tally.New(s)
	got := c.Keys("b1")
	if len(got) != 8 || c.Shards() != 8 {
		t.Fatalf("keys %v, shards %d; want 8", got, c.Shards())
	}
	for i, k := range got {
		if k != c.Key("b1", i) || k != s.BroadcastCounts("b1", i) || keys.Slot(k) != keys.Slot(s.ReplyStream(i)) {
			t.Errorf("shard %d: %s is not the share in the shard's slot", i, k)
		}
	}
}

// TestPlusAddsEveryField: the shares add up field by field, reasons too.
func TestPlusAddsEveryField(t *testing.T) {
	t.Parallel()
	a := tally.Counts{Total: 1, Sent: 2, Delivered: 3, Failed: 4, Skipped: 5, Unsent: 6, SkippedBy: map[string]int64{"x": 1, "y": 2}}
	b := tally.Counts{Total: 10, Sent: 20, Delivered: 30, Failed: 40, Skipped: 50, Unsent: 60, SkippedBy: map[string]int64{"y": 3}}
	want := tally.Counts{Total: 11, Sent: 22, Delivered: 33, Failed: 44, Skipped: 55, Unsent: 66, SkippedBy: map[string]int64{"x": 1, "y": 5}}
	if got := a.Plus(b); !reflect.DeepEqual(got, want) {
		t.Errorf("%+v + %+v = %+v, want %+v", a, b, got, want)
	}
	if a.SkippedBy["y"] != 2 {
		t.Error("Plus changed its operand")
	}
	if got := (tally.Counts{}).Plus(tally.Counts{}); got.SkippedBy != nil {
		t.Errorf("empty sum %+v", got)
	}
}

// TestWaiting: who is reached and has no outcome yet waits; a count a
// moment ahead of the total (a skip counted before a slow fan-out's total)
// never makes it negative.
func TestWaiting(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		c    tally.Counts
		want int64
	}{
		{tally.Counts{Total: 10, Sent: 3, Skipped: 2, Unsent: 1, Failed: 4}, 4},
		{tally.Counts{Total: 1, Sent: 2}, 0},
		{tally.Counts{}, 0},
	} {
		if got := tt.c.Waiting(); got != tt.want {
			t.Errorf("%+v waiting %d, want %d", tt.c, got, tt.want)
		}
	}
}

// TestParseLeavesOutWhatItDoesNotKnow: a field of no event, or a value
// that is not a number, reads as nothing.
func TestParseLeavesOutWhatItDoesNotKnow(t *testing.T) {
	t.Parallel()
	got := tally.Parse(map[string]string{"total": "4", "sent": "x", "other": "9", "skipped:blocked": "2"})
	want := tally.Counts{Total: 4, SkippedBy: map[string]int64{"blocked": 2}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}

// TestScriptArgs: how many fields, then the fields of the events in order.
func TestScriptArgs(t *testing.T) {
	t.Parallel()
	got := tally.ScriptArgs(tally.Reached, tally.Skipped("blocked"))
	want := []any{3, "total", "skipped", "skipped:blocked"}
	if !slices.Equal(got, want) {
		t.Errorf("ScriptArgs = %v, want %v", got, want)
	}
	if got := tally.ScriptArgs(); !slices.Equal(got, []any{0}) {
		t.Errorf("ScriptArgs() = %v, want [0]", got)
	}
}
