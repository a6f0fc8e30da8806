package outbox_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/tally"
)

// TestWorkerCountsEachEvent sends a broadcast's entries through the worker,
// one for each outcome the worker counts, and reads the broadcast's counts
// summed over the shards as the API does: sent (a channel without
// delivery callbacks: delivered too), skipped for a reason
// (suppressed, expired, cancelled), and failed before a provider took it
// (blocked, refused, no channel).
func TestWorkerCountsEachEvent(t *testing.T) {
	t.Parallel()
	countEachEvent(t, newEnv(t))
}

func countEachEvent(t *testing.T, env *env) {
	fake := &chat{fail: map[string]*outbox.SendError{"3": {Failure: outbox.Blocked, Reason: "chat_403"}}}
	ctx := context.Background()
	env.Contacts.suppressed["unknown-contact"] = "no_contact"
	bulk := func(chat, text, bc string) outbox.Entry {
		e := entry(chat, text, outbox.Bulk)
		e.Broadcast = bc
		return e
	}
	sent := bulk("1", "hello", "b1")
	expired := bulk("2", "about yesterday", "b1")
	expired.Expires = time.Now().Add(-time.Hour).UnixMilli()
	blocked := bulk("3", "hello", "b1")
	refused := bulk("4", "", "b1") // an empty text: Telegram answers 400
	nobody := bulk("5", "hello", "b1")
	nobody.Contact = "unknown-contact" // no such person: suppressed
	offChannel := outbox.Entry{ID: "x", Channel: "pigeon", Priority: outbox.Bulk, Broadcast: "b1"}
	called := bulk("6", "hello", "b2")
	env.Redis.HSet(ctx, env.Outbox.Keys().Broadcast("b2"), "status", "cancelled")
	if err := env.Outbox.Enqueue(ctx, sent, expired, blocked, refused, nobody, offChannel, called); err != nil {
		t.Fatal(err)
	}
	env.StartWorker(channels(fake, 100), outbox.Options{})
	env.waitDrained(t)
	counter := tally.New(env.Space)
	counts := func(bc string) tally.Counts {
		c, err := counter.Read(ctx, env.Redis, bc)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	want := tally.Counts{Sent: 1, Delivered: 1, Failed: 3, Unsent: 3, Skipped: 2,
		SkippedBy: map[string]int64{"expired": 1, "no_contact": 1}}
	if got := counts("b1"); !reflect.DeepEqual(got, want) {
		t.Errorf("b1 counts %+v, want %+v", got, want)
	}
	want = tally.Counts{Skipped: 1, SkippedBy: map[string]int64{"cancelled": 1}}
	if got := counts("b2"); !reflect.DeepEqual(got, want) {
		t.Errorf("b2 counts %+v, want %+v", got, want)
	}
	// Who b1 reached: the one sent, in their shard's share.
	k := env.Outbox.Keys()
	for i := range k.Shards() {
		told := env.Redis.SMembers(ctx, k.BroadcastTold("b1", i)).Val()
		want := []string{}
		if i == k.ShardOf(sent.Contact) {
			want = []string{sent.Contact}
		}
		if !reflect.DeepEqual(append([]string{}, told...), want) {
			t.Errorf("shard %d: b1 told %v, want %v", i, told, want)
		}
	}
	if got := env.Contacts.marks(); !reflect.DeepEqual(got, []string{"blocked " + blocked.Contact}) {
		t.Errorf("marked %v", got)
	}
}
