package outbox_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/tally"
	"github.com/outreach-org/outreach/bot/waitfor"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// TestWorkerKilledBeforeAck takes an entry as a worker that then dies, before
// sending and acknowledging. Another worker takes it over and sends it once.
func TestWorkerKilledBeforeAck(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	fake := &chat{}
	ctx := context.Background()
	e := entry("42", "hello once", outbox.Reply)
	if err := env.Outbox.Enqueue(ctx, e); err != nil {
		t.Fatal(err)
	}
	stream := env.Outbox.Keys().StreamFor(outbox.Reply, e.Contact)
	taken, err := env.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "senders", Consumer: "worker-that-died", Streams: []string{stream, ">"}, Count: 1}).Result()
	if err != nil || len(taken[0].Messages) != 1 {
		t.Fatalf("taking the entry: %v", err)
	}
	env.StartWorker(channels(fake, 100), outbox.Options{ClaimIdle: 200 * time.Millisecond})
	sent := fake.WaitSent(t, 1)
	if sent[0].Text != "hello once" {
		t.Errorf("sent %q", sent[0].Text)
	}
	waitfor.Cond(t, waitfor.Default, "the condition", func() bool {
		n, _ := env.Redis.XLen(ctx, stream).Result()
		return n == 0
	})
	time.Sleep(500 * time.Millisecond) // more than two claim rounds
	if n := len(fake.Sent()); n != 1 {
		t.Errorf("sent %d times, want once", n)
	}
}

// TestSentPartsAreNotSentAgain: an entry whose first part went out before
// its worker died sends only the rest when taken over.
func TestSentPartsAreNotSentAgain(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	fake := &chat{}
	ctx := context.Background()
	e := entry("42", strings.Repeat("a", 4096)+" "+"the end", outbox.Reply)
	if err := env.Outbox.Enqueue(ctx, e); err != nil {
		t.Fatal(err)
	}
	// A worker took the entry, sent its first part, then died.
	stream := env.Outbox.Keys().StreamFor(outbox.Reply, e.Contact)
	if _, err := env.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "senders", Consumer: "worker-that-died", Streams: []string{stream, ">"}, Count: 1}).Result(); err != nil {
		t.Fatal(err)
	}
	env.Redis.Set(ctx, env.Space.SentParts(e.ID), 1, time.Hour)
	env.StartWorker(channels(fake, 100), outbox.Options{ClaimIdle: 200 * time.Millisecond})
	sent := fake.WaitSent(t, 1)
	time.Sleep(200 * time.Millisecond)
	if len(fake.Sent()) != 1 || sent[0].Text != "the end" {
		t.Errorf("sent %d messages, first %q; want only the second part", len(fake.Sent()), sent[0].Text)
	}
}

// TestRepliesOvertakeBulk queues a broadcast, then a reply: the reply leaves
// within the next few sends, not after the broadcast.
func TestRepliesOvertakeBulk(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	fake := &chat{}
	ctx := context.Background()
	const bulk = 40
	var entries []outbox.Entry
	for i := range bulk {
		entries = append(entries, entry(strconv.Itoa(1000+i), "notice", outbox.Bulk))
	}
	if err := env.Outbox.Enqueue(ctx, entries...); err != nil {
		t.Fatal(err)
	}
	env.StartWorker(channels(fake, 40), outbox.Options{ReplyWorkers: 1, BulkWorkers: 2})
	fake.WaitSent(t, 3)
	if err := env.Outbox.Enqueue(ctx, entry("42", "reply", outbox.Reply)); err != nil {
		t.Fatal(err)
	}
	before := len(fake.Sent())
	all := fake.WaitSent(t, bulk+1)
	pos := -1
	for i, c := range all {
		if c.Text == "reply" {
			pos = i
		}
	}
	if pos < 0 || pos > before+3 {
		t.Errorf("the reply left at position %d; %d sends had gone before it was queued: it waited behind bulk", pos, before)
	}
}

func TestPermanentErrorGoesToDeadLetters(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	fake := &chat{}
	ctx := context.Background()
	// An empty text is refused by Telegram with 400: never retried.
	if err := env.Outbox.Enqueue(ctx, entry("42", "", outbox.Reply)); err != nil {
		t.Fatal(err)
	}
	if err := env.Outbox.Enqueue(ctx, outbox.Entry{ID: "x", Channel: "pigeon", Priority: outbox.Reply}); err != nil {
		t.Fatal(err)
	}
	env.StartWorker(channels(fake, 100), outbox.Options{})
	var dead []outbox.DeadLetter
	waitfor.Cond(t, waitfor.Default, "the condition", func() bool { dead, _ = env.Outbox.Dead(ctx, 10); return len(dead) == 2 })
	reasons := dead[0].Reason + " " + dead[1].Reason
	if !strings.Contains(reasons, "chat_400") || !strings.Contains(reasons, "channel_off") {
		t.Errorf("reasons %q", reasons)
	}
	if n := fake.callCount(); n != 1 {
		t.Errorf("%d sends of a refused message, want 1", n)
	}
	depth, err := env.Outbox.Depth(ctx)
	if err != nil || depth["reply"] != 0 || depth["dead"] != 2 {
		t.Errorf("depth = %v, %v", depth, err)
	}
}

func TestGateServesHighFirst(t *testing.T) {
	t.Parallel()
	g := outbox.NewGate(50, 1)
	ctx := context.Background()
	// While the gate is paused both wait; when it opens, high goes first.
	g.Pause(300 * time.Millisecond)
	order := make(chan string, 2)
	go func() { g.Wait(ctx, 1, false); order <- "low" }()
	go func() { g.Wait(ctx, 1, true); order <- "high" }()
	if first := <-order; first != "high" {
		t.Errorf("%s went first, want high", first)
	}
	<-order
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	g.Pause(time.Hour)
	if err := g.Wait(cctx, 1, true); err == nil {
		t.Error("Wait on a paused gate with a cancelled context returned no error")
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text  string
		limit int
		want  []string
	}{
		{"short", 10, []string{"short"}},
		{"one two three four", 9, []string{"one two", "three", "four"}},
		{"line one\nline two", 12, []string{"line one", "line two"}},
		{"ééééééééé", 4, []string{"éééé", "éééé", "é"}},
		{"مرحبا بكم في", 6, []string{"مرحبا", "بكم في"}},
		{"abc", 0, []string{"abc"}},
	}
	for _, tt := range tests {
		got := outbox.Split(tt.text, tt.limit)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Split(%q, %d) = %q, want %q", tt.text, tt.limit, got, tt.want)
		}
	}
}

// TestSlowEntryIsNotTakenOver: an entry whose sends take longer than the
// claim idle time stays with its worker (the heartbeat) and leaves once.
func TestSlowEntryIsNotTakenOver(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	fake := &chat{}
	fake.delay = 150 * time.Millisecond
	e := outbox.NewEntry("chat", seal("42"), "c:42", outbox.Reply)
	for _, text := range []string{"a", "b", "c", "d"} {
		e.Messages = append(e.Messages, outbox.Text{Text: text})
	}
	if err := env.Outbox.Enqueue(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	env.StartWorker(channels(fake, 100), outbox.Options{ClaimIdle: 200 * time.Millisecond, ReplyWorkers: 2})
	fake.WaitSent(t, 4)
	waitfor.Cond(t, waitfor.Default, "the condition", func() bool {
		n, _ := env.Redis.XLen(context.Background(), env.Outbox.Keys().StreamFor(outbox.Reply, e.Contact)).Result()
		return n == 0
	})
	if got := texts(fake.Sent()); strings.Join(got, "") != "abcd" {
		t.Errorf("sent %q, want a b c d once each, in order", got)
	}
}

// TestStaleButtonPressKeepsReplies: Telegram refuses to answer a button
// press that is too old; the replies still leave.
func TestStaleButtonPressKeepsReplies(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	fake := &chat{}
	fake.failCalls = 1 // the query is too old to answer
	e := entry("42", "the menu", outbox.Reply)
	e.Callback = "12345"
	if err := env.Outbox.Enqueue(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	env.StartWorker(channels(fake, 100), outbox.Options{})
	sent := fake.WaitSent(t, 1)
	if sent[0].Text != "the menu" {
		t.Errorf("sent %q", sent[0].Text)
	}
	if dead, _ := env.Outbox.Dead(context.Background(), 10); len(dead) != 0 {
		t.Errorf("dead letters: %+v", dead)
	}
}

// TestQuietHoursHoldBulkOnly: during quiet hours a reply leaves, a notice waits.
func TestQuietHoursHoldBulkOnly(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	fake := &chat{}
	ctx := context.Background()
	if err := env.Outbox.Enqueue(ctx, entry("1", "notice", outbox.Bulk), entry("2", "reply", outbox.Reply)); err != nil {
		t.Fatal(err)
	}
	env.StartWorker(channels(fake, 100), outbox.Options{Quiet: func(time.Time) bool { return true }})
	sent := fake.WaitSent(t, 1)
	time.Sleep(300 * time.Millisecond)
	if len(fake.Sent()) != 1 || sent[0].Text != "reply" {
		t.Errorf("during quiet hours sent %d messages, first %q; want only the reply", len(fake.Sent()), sent[0].Text)
	}
	if n, _ := env.Redis.XLen(ctx, env.Outbox.Keys().StreamFor(outbox.Bulk, "c:1")).Result(); n != 1 {
		t.Errorf("bulk stream holds %d, want the notice waiting", n)
	}
}

func TestDeliveryCountedOncePerMessage(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := context.Background()
	const sid = "SM0000000000000000000000000000000a"
	env.Redis.HSet(ctx, env.Space.Delivery(sid), "bc", "b1")
	for _, st := range []string{"queued", "sent", "delivered", "read", "delivered", "failed"} {
		if _, _, err := env.Outbox.UpdateStatus(ctx, sid, st, ""); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := tally.New(env.Space).Read(ctx, env.Redis, "b1")
	if err != nil || counts.Delivered != 1 || counts.Failed != 0 {
		t.Errorf("counts %v: want delivered once, no failure after delivery", counts)
	}
	if d, _, _ := env.Outbox.UpdateStatus(ctx, sid, "sent", ""); d.Status != "read" {
		t.Errorf("status went back to %q", d.Status)
	}
}

func TestExpiredNoticeIsNotSent(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	fake := &chat{}
	ctx := context.Background()
	old := entry("1", "about yesterday", outbox.Bulk)
	old.Expires = time.Now().Add(-time.Hour).UnixMilli()
	if err := env.Outbox.Enqueue(ctx, old, entry("2", "still true", outbox.Bulk)); err != nil {
		t.Fatal(err)
	}
	env.StartWorker(channels(fake, 100), outbox.Options{})
	sent := fake.WaitSent(t, 1)
	env.waitDrained(t)
	if len(fake.Sent()) != 1 || sent[0].Text != "still true" {
		t.Errorf("sent %d, first %q; want only the notice still true", len(fake.Sent()), sent[0].Text)
	}
}

// TestForgetDeadLetters: dead letters older than the retention period go,
// newer ones stay, in order.
func TestForgetDeadLetters(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	ctx := context.Background()
	now := time.Now()
	for _, age := range []time.Duration{72 * time.Hour, 48 * time.Hour, time.Hour, time.Minute} { // oldest pushed first
		d, _ := json.Marshal(outbox.DeadLetter{Entry: outbox.Entry{ID: age.String()}, Reason: "test", At: now.Add(-age)})
		env.Redis.LPush(ctx, env.Space.Dead(), d)
	}
	n, err := env.Outbox.ForgetDead(ctx, now.Add(-24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("ForgetDead: %d, %v; want 2", n, err)
	}
	left, err := env.Outbox.Dead(ctx, 10)
	if err != nil || len(left) != 2 || left[0].Entry.ID != "1m0s" || left[1].Entry.ID != "1h0m0s" {
		t.Fatalf("left %+v, %v", left, err)
	}
	if n, err := env.Outbox.ForgetDead(ctx, now.Add(-24*time.Hour)); err != nil || n != 0 {
		t.Errorf("again: %d, %v", n, err)
	}
	if n, _ := env.Outbox.ForgetDead(ctx, now); n != 2 || env.Redis.Exists(ctx, env.Space.Dead()).Val() != 0 {
		t.Errorf("all: %d", n)
	}
}

// TestProviderPauseIsShared: a Retry-After met by one instance holds the
// others' sends on that channel too. (Above 50 sends a second an instance
// may first spend the fiftieth of a second it already reserved.)
func TestProviderPauseIsShared(t *testing.T) {
	t.Parallel()
	env := newEnv(t)
	a := outbox.NewSharedGate(env.Redis, env.Prefix, "chat", 30, 10, env.Log)
	b := outbox.NewSharedGate(env.Redis, env.Prefix, "chat", 30, 10, env.Log)
	if err := b.Wait(context.Background(), 1, true); err != nil {
		t.Fatalf("before the pause: %v", err)
	}
	a.Pause(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := b.Wait(ctx, 1, true); err == nil {
		t.Error("another instance sent during the provider's pause")
	}
	// A short pause ends for the others too.
	c := outbox.NewSharedGate(env.Redis, env.Prefix, "sms", 30, 10, env.Log)
	d := outbox.NewSharedGate(env.Redis, env.Prefix, "sms", 30, 10, env.Log)
	c.Pause(200 * time.Millisecond)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := d.Wait(ctx2, 1, true); err != nil {
		t.Errorf("after the pause: %v", err)
	}
}
