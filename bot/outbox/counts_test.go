package outbox_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/tally"
	"github.com/outreach-org/outreach/bot/telegram"
	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// TestWorkerCountsEachEvent sends a broadcast's entries through the worker,
// one for each outcome the worker counts, and reads the broadcast's counts
// as the API does: sent (Telegram: delivered too), skipped for a reason
// (suppressed, expired, cancelled), and failed before a provider took it
// (blocked, refused, no channel).
func TestWorkerCountsEachEvent(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	fake := telegramtest.NewServer(t, token)
	ctx := context.Background()
	fake.FailChat(3, 403, "Forbidden: bot was blocked by the user")
	bulk := func(chat, text, bc string) outbox.Entry {
		e := entry(env, chat, text, outbox.Bulk)
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
	stream := env.Outbox.Keys().Stream(outbox.Bulk)
	waitfor.Cond(t, waitfor.Default, "every entry handled", func() bool {
		n, _ := env.Redis.XLen(ctx, stream).Result()
		return n == 0
	})
	counter := tally.New(keys.New(env.Prefix))
	counts := func(bc string) tally.Counts {
		return tally.Parse(env.Redis.HGetAll(ctx, counter.Key(bc)).Val())
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
}
