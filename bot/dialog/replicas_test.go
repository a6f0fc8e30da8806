package dialog

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

// TestTurnNotOnAReplicaIsNotAccepted: with store.Options.Replicas, a turn that no
// replica holds in time is an error (the webhook answers 503 and the
// provider retries), and the retry is not handled twice but waits again.
// The test's Redis has no replica, so WAIT never reaches one.
func TestTurnNotOnAReplicaIsNotAccepted(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), rdb, store.Options{Prefix: prefix, Replicas: 1, ReplicaTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, c, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)),
		Options{IdleAfter: time.Hour})
	msg := Message{Channel: "sms", Address: "+212600000077", Text: "Bonjour", ProviderID: "SM1"}
	if _, err := svc.Handle(context.Background(), msg); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("first try: %v, want ErrNotReplicated", err)
	}
	out, err := svc.Handle(context.Background(), msg)
	if !errors.Is(err, ErrNotReplicated) || out.Duplicate {
		t.Fatalf("retry: %+v %v, want ErrNotReplicated again", out, err)
	}
}
