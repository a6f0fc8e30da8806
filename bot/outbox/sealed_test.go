package outbox_test

import (
	"context"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// TestSealedTextIsOpenedOnlyToSend: a sealed message arrives opened; one
// refused for good stays sealed in its dead letter; one that does not open
// is given up unsent, as an address that does not open is.
func TestSealedTextIsOpenedOnlyToSend(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	fake := &chat{fail: map[string]*outbox.SendError{"43": {Failure: outbox.Permanent, Reason: "chat_400"}}}
	ctx := context.Background()
	const words = "Votre rendez-vous est jeudi"
	sealed := func(chat string, text outbox.Text) outbox.Entry {
		e := outbox.NewEntry("chat", seal(chat), "c:"+chat, outbox.Reply)
		e.Messages = []outbox.Text{text}
		return e
	}
	if err := env.Outbox.Enqueue(ctx,
		sealed("42", outbox.SealedText(seal(words))),
		sealed("43", outbox.SealedText(seal(words))),
		sealed("44", outbox.SealedText("not sealed at all")),
	); err != nil {
		t.Fatal(err)
	}
	env.StartWorker(channels(fake, 100), outbox.Options{})
	var dead []outbox.DeadLetter
	// Two given up, and the outbox empty: the third is sent, not only taken.
	waitfor.Cond(t, waitfor.Default, "two dead letters, nothing waiting", func() bool {
		dead, _ = env.Outbox.Dead(ctx, 10)
		depth, err := env.Outbox.Depth(ctx)
		return len(dead) == 2 && err == nil && depth["reply"] == 0 && depth["delayed"] == 0
	})
	sent := fake.Sent()
	if len(sent) != 1 || sent[0].To != "42" || sent[0].Text != words {
		t.Errorf("sent %+v, want the opened words to chat 42 only", sent)
	}
	reasons := dead[0].Reason + " " + dead[1].Reason
	if !strings.Contains(reasons, "chat_400") || !strings.Contains(reasons, "text_unreadable") {
		t.Errorf("dead letters for %q, want a refusal and an unreadable text", reasons)
	}
	for _, d := range dead {
		if m := d.Entry.Messages[0]; !m.Sealed || strings.Contains(m.Text, "rendez-vous") {
			t.Errorf("dead letter %s keeps %+v, want the text sealed", d.Reason, m)
		}
	}
	if n := fake.callCount(); n != 2 {
		t.Errorf("%d sends, want 2 (nothing for the unreadable text)", n)
	}
}
