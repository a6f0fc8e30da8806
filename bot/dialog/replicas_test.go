package dialog

import (
	"context"
	"errors"
	"fmt"
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
// It asks for more replicas than any test setup has (none on one node or
// the test Cluster, one under Sentinel), so WAIT never reaches enough.
func TestTurnNotOnAReplicaIsNotAccepted(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), rdb, store.Options{Prefix: prefix, Replicas: 3, ReplicaTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, c, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)),
		Options{IdleAfter: time.Hour})
	msg := Message{Channel: "sms", Address: "+212600000077", Text: "Bonjour", ProviderID: "SM1"}
	if _, err := svc.Handle(context.Background(), msg); !errors.Is(err, store.ErrNotReplicated) {
		t.Fatalf("first try: %v, want store.ErrNotReplicated", err)
	}
	out, err := svc.Handle(context.Background(), msg)
	if !errors.Is(err, store.ErrNotReplicated) || out.Duplicate {
		t.Fatalf("retry: %+v %v, want store.ErrNotReplicated again", out, err)
	}
}

// TestErasureIsNotLeftForARetry: a turn written but not yet on a replica
// still carries out its effects. An erasure asked for (EFFACER, then 1
// to confirm) is done at
// once: the provider's retry would find the message handled, and nothing
// would erase.
func TestErasureIsNotLeftForARetry(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix, Replicas: 3, ReplicaTimeout: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, c, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{IdleAfter: time.Hour})
	const phone = "+212600000078"
	for i, text := range []string{"Bonjour", "EFFACER", "1"} {
		msg := Message{Channel: "sms", Address: phone, Text: text, ProviderID: fmt.Sprintf("SM%d", i)}
		if _, err := svc.Handle(ctx, msg); !errors.Is(err, store.ErrNotReplicated) {
			t.Fatalf("%s: %v, want ErrNotReplicated", text, err)
		}
		if i == 0 {
			if s, _ := st.LoadState(ctx, st.ContactKey("sms", phone), ""); len(s.Data) == 0 {
				t.Fatal("the first turn was not written")
			}
		}
	}
	contact := st.ContactKey("sms", phone)
	if s, err := st.LoadState(ctx, contact, ""); err != nil || len(s.Data) != 0 || s.Version != 0 {
		t.Errorf("after EFFACER and 1: %+v %v, want nothing kept", s, err)
	}
}
