package outbox_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/tally"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// onEach runs a test on one node (the test Redis) and on the 3-master
// Cluster.
func onEach(t *testing.T, test func(t *testing.T, env *env)) {
	for _, on := range []struct {
		name string
		env  func(*testing.T) *env
	}{{"node", newEnv}, {"cluster", clusterEnv}} {
		t.Run(on.name, func(t *testing.T) {
			t.Parallel()
			test(t, on.env(t))
		})
	}
}

// addressesOfEachShard returns n addresses whose contacts ("c:"+address)
// fall in each shard, by shard.
func addressesOfEachShard(env *env, n int) [][]string {
	k := env.Outbox.Keys()
	out := make([][]string, k.Shards())
	left := n * k.Shards()
	for i := 0; left > 0; i++ {
		a := strconv.Itoa(100000 + i)
		if s := k.ShardOf("c:" + a); len(out[s]) < n {
			out[s] = append(out[s], a)
			left--
		}
	}
	return out
}

// TestEveryShardIsSentOnce queues a reply and a notice to people of every
// shard: each waits in its contact's shard's stream, and each is sent once.
func TestEveryShardIsSentOnce(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, env *env) {
		ctx := context.Background()
		k := env.Outbox.Keys()
		var entries []outbox.Entry
		var secrets []string
		for _, addrs := range addressesOfEachShard(env, 2) {
			entries = append(entries, entry(addrs[0], "reply to "+addrs[0], outbox.Reply), entry(addrs[1], "notice to "+addrs[1], outbox.Bulk))
			secrets = append(secrets, addrs...)
		}
		if err := env.Outbox.Enqueue(ctx, entries...); err != nil {
			t.Fatal(err)
		}
		for i := range k.Shards() {
			for _, p := range []outbox.Priority{outbox.Reply, outbox.Bulk} {
				msgs := env.Redis.XRange(ctx, k.Stream(p, i), "-", "+").Val()
				if len(msgs) != 1 {
					t.Fatalf("shard %d's %s stream holds %d entries, want 1", i, p, len(msgs))
				}
			}
		}
		if d, err := env.Outbox.Depth(ctx); err != nil || d["reply"] != int64(k.Shards()) || d["bulk"] != int64(k.Shards()) {
			t.Errorf("depth %v, %v; want %d of each priority", d, err, k.Shards())
		}
		fake := &chat{}
		env.StartWorker(channels(fake, 1000), outbox.Options{ClaimIdle: 500 * time.Millisecond})
		fake.WaitSent(t, len(entries))
		env.waitDrained(t)
		time.Sleep(600 * time.Millisecond) // more than a claim round
		got := texts(fake.Sent())
		var want []string
		for _, e := range entries {
			want = append(want, e.Messages[0].Text)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("sent %q, want %q, each once", got, want)
		}
		env.noWarnings(t, secrets...)
	})
}

// TestRepliesOvertakeBulkOfEveryShard: a broadcast queued over every
// shard, then a reply: the reply leaves within the next few sends.
func TestRepliesOvertakeBulkOfEveryShard(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, env *env) {
		ctx := context.Background()
		var entries []outbox.Entry
		for _, addrs := range addressesOfEachShard(env, 3) {
			for _, a := range addrs {
				entries = append(entries, entry(a, "notice", outbox.Bulk))
			}
		}
		if err := env.Outbox.Enqueue(ctx, entries...); err != nil {
			t.Fatal(err)
		}
		fake := &chat{}
		env.StartWorker(channels(fake, 40), outbox.Options{ReplyWorkers: 1, BulkWorkers: 2})
		fake.WaitSent(t, 3)
		if err := env.Outbox.Enqueue(ctx, entry("42", "reply", outbox.Reply)); err != nil {
			t.Fatal(err)
		}
		before := len(fake.Sent())
		all := fake.WaitSent(t, len(entries)+1)
		pos := slices.Index(texts(all), "reply")
		if pos < 0 || pos > before+3 {
			t.Errorf("the reply left at position %d; %d sends had gone before it was queued: it waited behind bulk", pos, before)
		}
		env.noWarnings(t)
	})
}

// TestAbandonedEntriesOfEveryShardAreTakenOver: a worker took an entry of
// each shard's streams and died; another takes them over and sends each
// once, an entry's parts sent before not again.
func TestAbandonedEntriesOfEveryShardAreTakenOver(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, env *env) {
		ctx := context.Background()
		k := env.Outbox.Keys()
		var entries []outbox.Entry
		for _, addrs := range addressesOfEachShard(env, 2) {
			entries = append(entries, entry(addrs[0], "reply "+addrs[0], outbox.Reply), entry(addrs[1], "notice "+addrs[1], outbox.Bulk))
		}
		// One of two parts, its first sent before the worker died.
		twoParts := entries[0]
		twoParts.Messages = []outbox.Text{{Text: "sent before"}, {Text: "left to send"}}
		entries[0] = twoParts
		if err := env.Outbox.Enqueue(ctx, entries...); err != nil {
			t.Fatal(err)
		}
		for i := range k.Shards() {
			for _, p := range []outbox.Priority{outbox.Reply, outbox.Bulk} {
				res, err := env.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "senders", Consumer: "worker-that-died", Streams: []string{k.Stream(p, i), ">"}, Count: 1}).Result()
				if err != nil || len(res[0].Messages) != 1 {
					t.Fatalf("taking shard %d's %s entry: %v", i, p, err)
				}
			}
		}
		env.Redis.Set(ctx, env.Space.SentParts(twoParts.ID), 1, time.Hour)
		fake := &chat{}
		env.StartWorker(channels(fake, 1000), outbox.Options{ClaimIdle: 200 * time.Millisecond})
		fake.WaitSent(t, len(entries))
		env.waitDrained(t)
		time.Sleep(500 * time.Millisecond) // more than two claim rounds
		got := texts(fake.Sent())
		if len(got) != len(entries) || slices.Contains(got, "sent before") || !slices.Contains(got, "left to send") {
			t.Errorf("sent %d: %q; want each entry once, and of the first only its second part", len(got), got)
		}
		if n := env.Redis.Exists(ctx, env.Space.SentParts(twoParts.ID)).Val(); n != 0 {
			t.Error("the sent parts of an entry sent outlived it")
		}
		env.noWarnings(t)
	})
}

// TestRetriesOfEveryShardComeBack: a send to someone of each shard fails
// once; each waits in its shard's delayed set and is moved back to its
// stream and sent.
func TestRetriesOfEveryShardComeBack(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, env *env) {
		ctx := context.Background()
		fake := &chat{failOnce: map[string]*outbox.SendError{}}
		var entries []outbox.Entry
		for _, addrs := range addressesOfEachShard(env, 1) {
			p := outbox.Reply
			if len(entries)%2 == 1 {
				p = outbox.Bulk
			}
			entries = append(entries, entry(addrs[0], "to "+addrs[0], p))
			fake.failOnce[addrs[0]] = &outbox.SendError{Failure: outbox.Retry, Reason: "http_503"}
		}
		if err := env.Outbox.Enqueue(ctx, entries...); err != nil {
			t.Fatal(err)
		}
		var delayed atomicMax
		env.StartWorker(channels(fake, 1000), outbox.Options{Backoff: func(int) time.Duration { return 300 * time.Millisecond }})
		waitfor.Cond(t, waitfor.Default, "the retries delayed", func() bool {
			d, _ := env.Outbox.Depth(ctx)
			delayed.see(d["delayed"])
			return delayed.get() > 0
		})
		fake.WaitSent(t, len(entries))
		env.waitDrained(t)
		got := texts(fake.Sent())
		if len(got) != len(entries) {
			t.Errorf("sent %q, want each entry once", got)
		}
		// The warnings are the failed sends', nothing else.
		for _, l := range env.Logs.lines() {
			if l["level"] == "WARN" && l["msg"] != "send failed" {
				t.Errorf("the worker warned: %v", l)
			}
		}
	})
}

// atomicMax keeps the largest value seen (the condition runs on one
// goroutine; it is read after).
type atomicMax struct{ n int64 }

func (a *atomicMax) see(n int64) { a.n = max(a.n, n) }
func (a *atomicMax) get() int64  { return a.n }

// TestBroadcastOfEveryShardIsCountedOnce: a broadcast to people of every
// shard, sent with provider ids; their delivery callbacks count in the
// shares of the ids' shards, and the counts read summed.
func TestBroadcastOfEveryShardIsCountedOnce(t *testing.T) {
	t.Parallel()
	onEach(t, func(t *testing.T, env *env) {
		ctx := context.Background()
		k := env.Outbox.Keys()
		var entries []outbox.Entry
		for _, addrs := range addressesOfEachShard(env, 2) {
			for _, a := range addrs {
				e := entry(a, "notice", outbox.Bulk)
				e.Broadcast = "b1"
				entries = append(entries, e)
			}
		}
		if err := env.Outbox.Enqueue(ctx, entries...); err != nil {
			t.Fatal(err)
		}
		fake := &chat{ids: true}
		env.StartWorker(channels(fake, 1000), outbox.Options{})
		fake.WaitSent(t, len(entries))
		env.waitDrained(t)
		counter := tally.New(env.Space)
		read := func() tally.Counts {
			c, err := counter.Read(ctx, env.Redis, "b1")
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		if c := read(); c.Sent != int64(len(entries)) || c.Delivered != 0 {
			t.Fatalf("counts %+v, want %d sent, none delivered yet", c, len(entries))
		}
		// Callbacks: the first third failed, the rest delivered, then
		// read; each twice (providers retry callbacks).
		failed := len(entries) / 3
		for round := range 2 {
			for i := range entries {
				status := "delivered"
				if i < failed {
					status = "failed"
				}
				for _, st := range []string{"sent", status, "read"} {
					d, _, err := env.Outbox.UpdateStatus(ctx, fmt.Sprintf("P%d", i), st, "")
					if err != nil {
						t.Fatalf("round %d, P%d %s: %v", round, i, st, err)
					}
					if d.Broadcast != "b1" || d.Channel != "chat" || d.ID == "" {
						t.Fatalf("P%d is known as %+v", i, d)
					}
				}
			}
		}
		want := tally.Counts{Sent: int64(len(entries)), Delivered: int64(len(entries) - failed), Failed: int64(failed)}
		if got := read(); !reflect.DeepEqual(got, want) {
			t.Errorf("counts %+v, want %+v", got, want)
		}
		// Who it reached: each in their shard's share.
		for i := range k.Shards() {
			told := env.Redis.SMembers(ctx, k.BroadcastTold("b1", i)).Val()
			for _, ck := range told {
				if k.ShardOf(ck) != i {
					t.Errorf("%s is told in shard %d, not its own", ck, i)
				}
			}
			if len(told) != 2 {
				t.Errorf("shard %d: told %d, want 2", i, len(told))
			}
		}
		env.noWarnings(t)
	})
}

// TestCrashBetweenRecordAndAckOnTheCluster: on a Cluster the last part's
// record and the acknowledgement are two transactions. A worker that died
// between them left the record, the attempt mark and the entry pending:
// the worker that takes it over asks the provider, finds the message
// recorded for the entry, and sends nothing again.
func TestCrashBetweenRecordAndAckOnTheCluster(t *testing.T) {
	t.Parallel()
	env := clusterEnv(t)
	ctx := context.Background()
	e := smsEntry(env, "one")
	e.Broadcast = "b1"
	if err := env.Outbox.Enqueue(ctx, e); err != nil {
		t.Fatal(err)
	}
	stream := env.Outbox.Keys().StreamFor(outbox.Reply, e.Contact)
	if _, err := env.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "senders", Consumer: "worker-that-died", Streams: []string{stream, ">"}, Count: 1}).Result(); err != nil {
		t.Fatal(err)
	}
	p := &provider{}
	p.Send(ctx, outbox.Message{To: "+212612345678", Text: "one"})
	// What the dead worker wrote: the part handed over, its answer
	// recorded (the first step of finish), nothing after.
	env.Redis.Set(ctx, env.Space.Attempt(e.ID), fmt.Sprintf("0:%d", time.Now().UnixMilli()), time.Hour)
	env.Redis.HSet(ctx, env.Space.Delivery("P0"), "id", e.ID, "ck", e.Contact, "ch", "sms", "bc", "b1", "status", "queued", "rank", 1)
	startProvider(env, p)
	if dead := settled(t, env); len(dead) != 0 {
		t.Fatalf("dead letters %+v", dead)
	}
	if got := p.texts(); len(got) != 1 {
		t.Errorf("the provider took %q, want the message once", got)
	}
	if p.lookupCount() == 0 {
		t.Error("the provider was not asked")
	}
	c, err := tally.New(env.Space).Read(ctx, env.Redis, "b1")
	if err != nil || c.Sent != 1 {
		t.Errorf("counts %+v, %v; want it sent once", c, err)
	}
	if n := env.Redis.Exists(ctx, env.Space.Attempt(e.ID)).Val(); n != 0 {
		t.Error("the attempt mark outlived the entry")
	}
}

// TestErasureConfirmationIsRetried: the confirmation of an erasure is an
// entry naming no contact, appended by the turn to the reply stream of the
// erased person's shard. A send that fails for now is retried from that
// shard's delayed set, in the stream's slot (on a Cluster, the contact's
// shard would be another slot, and the retry refused), with no warning.
func TestErasureConfirmationIsRetried(t *testing.T) {
	onEach(t, func(t *testing.T, env *env) {
		ctx := context.Background()
		k := env.Outbox.Keys()
		empty := k.ShardOf("")
		// a person in another shard than ShardOf("")
		var ck, addr string
		for i := 0; ; i++ {
			addr = strconv.Itoa(500000 + i)
			if k.ShardOf("c:"+addr) != empty {
				ck = "c:" + addr
				break
			}
		}
		e := outbox.NewEntry("chat", seal(addr), "", outbox.Reply) // ck = "" as dialog does
		e.Messages = []outbox.Text{{Text: "all erased"}}
		// the turn appends it to StreamFor(Reply, contact)
		if err := env.Redis.XAdd(ctx, &redis.XAddArgs{Stream: k.StreamFor(outbox.Reply, ck), Values: []any{"e", e.Encode()}}).Err(); err != nil {
			t.Fatal(err)
		}
		fake := &chat{failOnce: map[string]*outbox.SendError{addr: {Failure: outbox.Retry, Reason: "http_503"}}}
		// No takeover within the test: only the retry can send it again.
		env.StartWorker(channels(fake, 1000), outbox.Options{ClaimIdle: time.Hour, Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
		fake.WaitSent(t, 1)
		env.waitDrained(t)
		if logs := env.Logs.String(); strings.Contains(logs, "retry failed") || strings.Contains(logs, "CROSSSLOT") || strings.Contains(logs, addr) {
			t.Errorf("the retry was not scheduled as it should: %s", logs)
		}
	})
}
