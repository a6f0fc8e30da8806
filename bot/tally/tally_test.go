package tally_test

import (
	"context"
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

// add writes events for broadcast bc in one transaction.
func add(t *testing.T, rdb redis.UniversalClient, c tally.Counter, bc string, events ...tally.Event) {
	t.Helper()
	ctx := context.Background()
	if _, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		c.Add(ctx, p, bc, events...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
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
		add(t, rdb, c, tt.name, tt.event)
		h := rdb.HGetAll(context.Background(), c.Key(tt.name)).Val()
		if !maps.Equal(h, tt.fields) {
			t.Errorf("%s: hash %v, want %v", tt.name, h, tt.fields)
		}
		if got := tally.Parse(h); !reflect.DeepEqual(got, tt.counts) {
			t.Errorf("%s: counts %+v, want %+v", tt.name, got, tt.counts)
		}
	}
}

// TestABroadcastIsCounted drives the events of a broadcast to seven people,
// as the fan-out, the worker and the status callbacks record them.
func TestABroadcastIsCounted(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	c := tally.New(keys.New(prefix))
	// The fan-out: seven people, two of them skipped there.
	for range 5 {
		add(t, rdb, c, "b1", tally.Reached)
	}
	add(t, rdb, c, "b1", tally.Reached, tally.Skipped("opted_out"))
	add(t, rdb, c, "b1", tally.Reached, tally.Skipped("no_address"))
	// The worker: one expired, one refused by the provider, three sent,
	// one on a channel without callbacks.
	add(t, rdb, c, "b1", tally.Skipped("expired"))
	add(t, rdb, c, "b1", tally.Unsent)
	add(t, rdb, c, "b1", tally.Sent)
	add(t, rdb, c, "b1", tally.Sent)
	add(t, rdb, c, "b1", tally.Sent, tally.Delivered)
	// Status callbacks.
	add(t, rdb, c, "b1", tally.Delivered)
	add(t, rdb, c, "b1", tally.Failed)
	// A message of no broadcast counts nowhere.
	add(t, rdb, c, "", tally.Sent, tally.Delivered)

	got := tally.Parse(rdb.HGetAll(context.Background(), c.Key("b1")).Val())
	want := tally.Counts{Total: 7, Sent: 3, Delivered: 2, Failed: 2, Skipped: 3, Unsent: 1,
		SkippedBy: map[string]int64{"opted_out": 1, "no_address": 1, "expired": 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counts %+v, want %+v", got, want)
	}
	if got.Finished() != 7 || got.Waiting() != 0 {
		t.Errorf("finished %d, waiting %d; want 7, 0", got.Finished(), got.Waiting())
	}
	if k := redistest.KeysUnder(t, rdb, prefix); !slices.Equal(k, []string{c.Key("b1")}) {
		t.Errorf("keys %v, want only b1's counts", k)
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
