package outbox

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/stats"
)

// TestBroadcastCountedOnceWhateverTheOrder: a delivery callback may come
// before the worker recorded the send, or after; either way the broadcast
// counts the message once, as delivered or failed.
func TestBroadcastCountedOnceWhateverTheOrder(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	o := New(rdb, keys.New(prefix))
	ctx := context.Background()
	record := func(sid string, e Entry) {
		t.Helper()
		if _, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			o.recordSent(ctx, p, sid, "queued", e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	update := func(sid, status string) {
		t.Helper()
		if _, _, err := o.UpdateStatus(ctx, sid, status, ""); err != nil {
			t.Fatal(err)
		}
	}
	e := Entry{ID: "e1", Contact: "ck1", Channel: "sms", Broadcast: "b1"}
	update("SM1", "delivered") // before the record
	record("SM1", e)
	update("SM1", "read")
	record("SM2", Entry{ID: "e2", Contact: "ck2", Channel: "sms", Broadcast: "b1"})
	update("SM2", "sent")
	update("SM2", "undelivered") // after the record
	update("SM2", "undelivered")
	update("SM4", "failed") // before the record: counted as failed
	record("SM4", Entry{ID: "e4", Contact: "ck4", Channel: "sms", Broadcast: "b1"})
	update("SM3", "failed") // a message of no broadcast of ours
	counts, err := o.counts.Read(ctx, rdb, "b1")
	if err != nil || counts.Delivered != 1 || counts.Failed != 2 {
		t.Errorf("counts %v, want one delivered and two failed", counts)
	}
	d, _, err := o.UpdateStatus(ctx, "SM1", "delivered", "")
	if err != nil || d.ID != "e1" || d.Contact != "ck1" || d.Status != "read" {
		t.Errorf("what is known of SM1: %+v, %v", d, err)
	}
}

// TestDeliveriesAreCountedOnceADay: the daily counts take a message once,
// when its state first becomes final, on its channel.
func TestDeliveriesAreCountedOnceADay(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	counts := stats.New(rdb, prefix, stats.Options{})
	o := New(rdb, keys.New(prefix)).WithStats(counts)
	ctx := context.Background()
	record := func(sid string, e Entry) {
		t.Helper()
		if _, err := o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			o.recordSent(ctx, p, sid, "queued", e)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	update := func(sid, status string) {
		t.Helper()
		if _, _, err := o.UpdateStatus(ctx, sid, status, ""); err != nil {
			t.Fatal(err)
		}
	}
	record("SM1", Entry{ID: "e1", Channel: "sms"})
	update("SM1", "sent")
	update("SM1", "delivered")
	update("SM1", "read")      // already final: not counted again
	update("SM1", "delivered") // a retried callback
	record("SM2", Entry{ID: "e2", Channel: "whatsapp"})
	update("SM2", "read") // WhatsApp may skip "delivered"
	record("SM3", Entry{ID: "e3", Channel: "sms"})
	update("SM3", "undelivered")
	update("SM4", "failed") // before its send is recorded
	if err := counts.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	days, err := counts.Days(ctx, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"delivered.sms": 1, "delivered.whatsapp": 1, "failed.sms": 1, "failed.unknown": 1}
	if got := days[0].Counts; !maps.Equal(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
}
