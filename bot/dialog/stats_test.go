package dialog

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/stats"
)

// TestMessagesAreCountedForTheDashboard: each message on a delivered
// channel counts once; a person's language counts once, the first time it
// is known; the city counts when it is chosen; simulations count nothing.
func TestMessagesAreCountedForTheDashboard(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	counts := stats.New(f.rdb, f.prefix, stats.Options{})
	svc := New(f.store, f.content, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{
		IdleAfter: time.Hour, Outbox: outbox.New(f.rdb, f.store.Keys()), Deliver: []string{"sms"}, Stats: counts,
	})
	ctx := context.Background()
	send := func(channel, text string) {
		t.Helper()
		if _, err := svc.Handle(ctx, Message{Channel: channel, Address: "+212600000001", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	for _, text := range []string{"Bonjour", "3", "5", "1", "MENU"} {
		send("sms", text)
	}
	for _, text := range []string{"Bonjour", "3", "5", "1"} {
		send(ChannelSimulate, text)
	}
	// A retry of a message already handled is not counted again.
	for range 2 {
		if _, err := svc.Handle(ctx, Message{Channel: "sms", Address: "+212600000002", Text: "Hello", ProviderID: "SM1"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := counts.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	days, err := counts.Days(ctx, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	site := f.content.Flow.Sites[0]
	got := days[0].Counts
	want := map[string]int64{"in.sms": 6, "lang.fr": 1, "lang.en": 1, "site." + site: 1}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s = %d, want %d (all: %v)", name, got[name], n, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("counts %v, want only %v (nothing of the simulation)", got, want)
	}
}
