package outbox_test

import (
	"context"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/telegram"
	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
)

// TestSealedTextIsOpenedOnlyToSend: a sealed message arrives opened; one
// refused for good stays sealed in its dead letter; one that does not open
// is given up unsent, as an address that does not open is.
func TestSealedTextIsOpenedOnlyToSend(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	fake := telegramtest.NewServer(t, token)
	fake.FailChat(43, 400, "Bad Request: message text is wrong")
	ctx := context.Background()
	const words = "Votre rendez-vous est jeudi"
	sealed := func(chat string, text outbox.Text) outbox.Entry {
		e := outbox.NewEntry(telegram.Channel, env.Store.Seal(chat), "", outbox.Reply)
		e.Messages = []outbox.Text{text}
		return e
	}
	if err := env.Outbox.Enqueue(ctx,
		sealed("42", outbox.SealedText(env.Store.Seal(words))),
		sealed("43", outbox.SealedText(env.Store.Seal(words))),
		sealed("44", outbox.SealedText("not sealed at all")),
	); err != nil {
		t.Fatal(err)
	}
	env.StartWorker(channels(fake, 100), outbox.Options{})
	var dead []outbox.DeadLetter
	// Two given up, and the outbox empty: the third is sent, not only taken.
	channeltest.WaitFor(t, func() bool {
		dead, _ = env.Outbox.Dead(ctx, 10)
		depth, err := env.Outbox.Depth(ctx)
		return len(dead) == 2 && err == nil && depth["reply"] == 0 && depth["delayed"] == 0
	})
	sent := fake.Sent()
	if len(sent) != 1 || sent[0].Params.Get("chat_id") != "42" || sent[0].Params.Get("text") != words {
		t.Errorf("sent %+v, want the opened words to chat 42 only", sent)
	}
	reasons := dead[0].Reason + " " + dead[1].Reason
	if !strings.Contains(reasons, "telegram_400") || !strings.Contains(reasons, "text_unreadable") {
		t.Errorf("dead letters for %q, want a refusal and an unreadable text", reasons)
	}
	for _, d := range dead {
		if m := d.Entry.Messages[0]; !m.Sealed || strings.Contains(m.Text, "rendez-vous") {
			t.Errorf("dead letter %s keeps %+v, want the text sealed", d.Reason, m)
		}
	}
	if n := len(fake.Calls("sendMessage")); n != 2 {
		t.Errorf("%d sendMessage calls, want 2 (nothing for the unreadable text)", n)
	}
}
