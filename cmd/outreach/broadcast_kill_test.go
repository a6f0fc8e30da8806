package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// TestBroadcastToTenThousandWithAnInstanceKilled: 10,000 people follow
// Oujda's notices by SMS, spread over every shard (WhatsApp's share of the
// same guarantee is in TestKill9DuringBroadcastAndInbound: there, a notice
// outside the 24-hour window needs a template). Two instances of the real binary share the Redis (one node, or a
// Cluster under REDISTEST=cluster). A broadcast is created on the first;
// once 2,000 messages have left, the first is killed with
// SIGKILL, sends in flight. The second finishes the work: every person
// gets the broadcast exactly once — none lost, none sent twice (a send the
// kill cut off is looked up at Twilio before it is tried again) — and the
// broadcast's counts, summed over the shards, say so.
//
// It is not run in parallel with the package's other tests: its 10,000
// people and their messages would slow every other test's Redis on a
// small machine. It deletes the service's keys at the end (they are
// under the service's prefix, not the test client's).
func TestBroadcastToTenThousandWithAnInstanceKilled(t *testing.T) {
	const people = 10_000
	bin := buildBinary(t)
	p := withProviders(t)
	vars := processVars(p)
	vars["OUTREACH_OUTBOX_CLAIM_IDLE"] = "1s"
	vars["OUTREACH_RATE_SMS"] = "5000"
	vars["OUTREACH_RATE_WHATSAPP"] = "5000"
	vars["OUTREACH_OUTBOX_WORKERS"] = "8"

	// The people, written as the bot writes them (a state with the sealed
	// address, a place in their shard's share of Oujda's subscribers).
	ctx := context.Background()
	rdb, _ := redistest.New(t)
	t.Cleanup(func() {
		if err := redistest.Clean(rdb, vars["OUTREACH_REDIS_PREFIX"]); err != nil {
			t.Error(err)
		}
	})
	key, err := base64.StdEncoding.DecodeString(vars["OUTREACH_DATA_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, rdb, store.Options{Prefix: vars["OUTREACH_REDIS_PREFIX"], DataKey: key})
	if err != nil {
		t.Fatal(err)
	}
	k := st.Keys()
	addrs := make([]string, people)
	shards := map[int]bool{}
	pipe := rdb.Pipeline()
	for i := range people {
		channel, addr := "sms", fmt.Sprintf("+2126%08d", 10_000_000+i)
		addrs[i] = addr
		ck := st.ContactKey(channel, addr)
		shards[st.Shard(ck)] = true
		state, _ := json.Marshal(engine.State{Lang: "fr", Node: "main", Sites: []string{"oujda"}, LastSeen: time.Now()})
		pipe.HSet(ctx, k.ContactState(ck), "v", 1, "s", state, "a", st.Seal(addr), "ch", channel)
		pipe.Expire(ctx, k.ContactState(ck), time.Hour)
		pipe.SAdd(ctx, k.SubscribersOf("oujda", ck), ck)
		if pipe.Len() >= 3000 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if len(shards) != k.Shards() {
		t.Fatalf("the people fall in %d of the %d shards", len(shards), k.Shards())
	}

	// Twilio answers after 20 ms, so that the kill is likely to find
	// sends in flight; 16 bulk senders an instance keep it busy.
	p.twilio.SetAnswerDelay(20 * time.Millisecond)
	first := startProcess(t, bin, vars)
	second := startProcess(t, bin, copyVars(vars))
	const text = "Distribution de couvertures demain à 10 h."
	code, out := api(t, "POST", first.base+"/api/v1/broadcasts", adminToken,
		`{"text":{"fr":"`+text+`","en":"Blankets tomorrow at 10.","ar":"توزيع البطانيات غدا على الساعة 10."},"audience":{"sites":["oujda"]}}`)
	if code != 202 {
		t.Fatalf("broadcast: %d %v", code, out)
	}
	id := out["id"].(string)
	// A busy machine sends slowly: the kill waits for a fifth of them,
	// however long they take.
	waitfor.Cond(t, 3*time.Minute, "2,000 sends before the kill", func() bool { return len(p.twilio.Accepted()) >= 2000 })
	first.kill()
	killedAt := len(p.twilio.Accepted())
	if killedAt >= people {
		t.Fatalf("the broadcast was over before the kill: the test proves nothing")
	}

	deadline := time.Now().Add(4 * time.Minute)
	for {
		r := broadcastReport(t, second.base, id)
		if r["status"] == "done" && outboxEmpty(t, second.base) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not all sent within 4 minutes of the kill: %v", r)
		}
		time.Sleep(200 * time.Millisecond)
	}

	got := map[string]int{}
	unanswered := 0
	for _, c := range p.twilio.Accepted() {
		if strings.Contains(c.Body, text) {
			got[c.To]++
		}
		if c.Unanswered {
			unanswered++
		}
	}
	lost, twice := 0, 0
	for _, addr := range addrs {
		switch n := got[addr]; {
		case n == 0:
			lost++
		case n > 1:
			twice += n - 1
		}
	}
	t.Logf("killed after %d sends, %d of them taken by Twilio and never answered; lost %d, sent twice %d", killedAt, unanswered, lost, twice)
	if lost != 0 || twice != 0 {
		t.Errorf("of %d people, %d never got the broadcast and %d copies were sent twice; want 0 and 0", people, lost, twice)
	}
	// Whether the kill cut sends off depends on the instant; the lookup
	// that keeps them from going twice is asserted where it always does
	// (TestKill9DuringBroadcastAndInbound, TestSlowTwilioSendsOnce).
	counts := broadcastReport(t, second.base, id)["counts"].(map[string]any)
	if counts["total"] != float64(people) || counts["sent"] != float64(people) {
		t.Errorf("counts %v, want total and sent %d", counts, people)
	}
}

// TestConversationAcrossTwoInstances: two instances share the Redis (one
// node, or a Cluster under REDISTEST=cluster); a person's messages go to
// one and the other in turn, as a load balancer would send them, and the
// conversation goes on as on one instance: the same replies, once each, as
// a person who wrote to one instance only; the subscription made on the
// second is in the person's shard, seen by the first.
func TestConversationAcrossTwoInstances(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	p.vars["OUTREACH_QUIET_HOURS"] = ""
	a := startServe(t, p.vars)
	b := startServe(t, copyVars(p.vars))
	const alternating, control = "+212611000091", "+212611000092"
	onA, onB := &people{t: t, base: a.base}, &people{t: t, base: b.base, seq: 1000}
	for i, text := range []string{"Bonjour", "4", "1", "1", "MENU", "2"} {
		who := onA
		if i%2 == 1 {
			who = onB
		}
		who.sms(alternating, text)
		onA.sms(control, text)
		// The next message waits for the replies to this one, as a person
		// would: otherwise either instance may take the two out of order.
		waitFor(t, func() bool {
			return len(sentTo(p)[alternating]) == len(sentTo(p)[control]) && len(sentTo(p)[control]) > i
		})
	}
	got, want := sentTo(p)[alternating], sentTo(p)[control]
	if strings.Join(got, "\n--\n") != strings.Join(want, "\n--\n") {
		t.Errorf("across two instances the person got\n%q\nwant, as on one,\n%q", got, want)
	}
	rdb := redisOf(t, p.vars)
	if n := subscriberCount(rdb, p.vars["OUTREACH_REDIS_PREFIX"], "nador"); n != 2 {
		t.Errorf("%d subscribers to Nador, want the two people", n)
	}
}
