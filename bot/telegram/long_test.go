package telegram

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
)

// TestLongTextWithEmojiArrivesWhole: a text of over 9000 UTF-16 units, a
// third of its characters emoji (two units each), reaches the fake Bot API
// (which refuses over 4096 units, as Telegram does) in parts within the
// limit, none empty, that join back into the text.
func TestLongTextWithEmojiArrivesWhole(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, Channel)
	fake := telegramtest.NewServer(t, token)
	long := strings.TrimSpace(strings.Repeat("Distribution 🍞 demain 🕘 à Nador 📍\n", 260))
	e := outbox.NewEntry(Channel, env.Store.Seal(chat), "", outbox.Reply)
	e.Messages = []outbox.Text{{Text: long}}
	if err := env.Outbox.Enqueue(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	startWorker(t, env, fake, outbox.Options{MaxTries: 1})
	want := (len(utf16.Encode([]rune(long))) + MaxText - 1) / MaxText
	fake.WaitSent(t, want, 10*time.Second)
	channeltest.WaitFor(t, func() bool { return len(env.Entries(outbox.Reply)) == 0 })
	sent := fake.Sent()
	if dead, _ := env.Outbox.Dead(context.Background(), 10); len(dead) != 0 {
		t.Fatalf("the text went to the dead letters: %s", dead[0].Reason)
	}
	var parts []string
	for _, c := range sent {
		text := c.Params.Get("text")
		if n := len(utf16.Encode([]rune(text))); n > MaxText || strings.TrimSpace(text) == "" {
			t.Errorf("a part of %d UTF-16 units", n)
		}
		parts = append(parts, text)
	}
	if got := strings.Join(parts, "\n"); got != long {
		t.Errorf("%d parts that do not join back into the text", len(parts))
	}
}
