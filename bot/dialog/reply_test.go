package dialog

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

// TestReplyKeptInThread: staff's reply is kept, sealed, under who replied
// and after the notes the person had written; a text CheckReply refuses is
// neither sent nor kept; the closing notice is what closing would send.
func TestReplyKeptInThread(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := redistest.New(t)
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ob := outbox.New(rdb, st.Keys())
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	svc := New(st, c, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{
		IdleAfter: time.Hour, Outbox: ob, Deliver: []string{"sms"}, Now: func() time.Time { return at },
	})
	const phone = "+212600000095"
	for _, text := range []string{"Bonjour", "0", "J'ai besoin d'aide", "Je suis à Nador"} {
		if _, err := svc.Handle(ctx, Message{Channel: "sms", Address: phone, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	reqs, err := st.Requests().List(ctx)
	if err != nil || len(reqs) != 1 {
		t.Fatalf("requests: %v, %v", reqs, err)
	}
	id := reqs[0].ID

	for text, want := range map[string]error{"": ErrReplyEmpty, strings.Repeat("a", MaxReply+1): ErrReplyTooLong} {
		if err := svc.Requests().Reply(ctx, id, "samira", text); !errors.Is(err, want) {
			t.Errorf("reply of %d characters: %v, want %v", len(text), err, want)
		}
	}
	var bad *BadCharError
	if err := svc.Requests().Reply(ctx, id, "samira", "a\x00b"); !errors.As(err, &bad) || bad.Char != 0 {
		t.Errorf("reply with a NUL: %v, want a BadCharError for U+0000", err)
	}
	if err := CheckReply(strings.Repeat("é", MaxReply)); err != nil {
		t.Errorf("a reply of exactly %d characters: %v", MaxReply, err)
	}
	if got, _ := st.Requests().Replies(ctx, id); len(got) != 0 {
		t.Fatalf("refused replies were kept: %+v", got)
	}

	if err := svc.Requests().Reply(ctx, id, "samira", "Nous vous appelons"); err != nil {
		t.Fatal(err)
	}
	got, err := st.Requests().Replies(ctx, id)
	if err != nil || len(got) != 1 {
		t.Fatalf("replies: %+v, %v", got, err)
	}
	text, err := st.Open(got[0].Text)
	if err != nil || text != "Nous vous appelons" || got[0].By != "samira" || got[0].After != 1 || !got[0].At.Equal(at) {
		t.Errorf("kept reply %+v (%q, %v); want samira's text, after the one note, at %v", got[0], text, err, at)
	}
	if got[0].Text == "Nous vous appelons" {
		t.Error("the reply is kept in clear")
	}

	notice, lang, err := svc.Requests().ClosingNotice(ctx, id)
	if err != nil || lang != "fr" || notice != c.Text("fr", content.MsgRequestClosed, nil) {
		t.Errorf("closing notice %q in %q (%v)", notice, lang, err)
	}
	if err := svc.Requests().Close(ctx, id); err != nil {
		t.Fatal(err)
	}
	if notice, _, err := svc.Requests().ClosingNotice(ctx, id); err != nil || notice != "" {
		t.Errorf("closing notice of a closed request: %q (%v), want none", notice, err)
	}
	if err := svc.Requests().Reply(ctx, id, "samira", "Encore"); !errors.Is(err, ErrRequestClosed) {
		t.Errorf("reply to a closed request: %v", err)
	}
}
