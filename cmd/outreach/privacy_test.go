package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	keyspace "github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

// contents returns every key under prefix with its value read by type, as
// text: strings, hash fields and values, list, set and sorted set members,
// and every stream entry (XRANGE). Values are read, not DUMPed: a DUMP may
// compress a text, and a stream's DUMP changes with its readers.
func contents(t *testing.T, rdb redis.UniversalClient, prefix string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for _, k := range redistest.KeysUnder(t, rdb, prefix) { // every master of a Cluster
		var v string
		var err error
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "string":
			v, err = rdb.Get(ctx, k).Result()
		case "hash":
			var h map[string]string
			h, err = rdb.HGetAll(ctx, k).Result()
			v = fmt.Sprint(h) // fmt sorts map keys
		case "list":
			var l []string
			l, err = rdb.LRange(ctx, k, 0, -1).Result()
			v = strings.Join(l, "\n")
		case "set":
			var s []string
			s, err = rdb.SMembers(ctx, k).Result()
			sort.Strings(s)
			v = strings.Join(s, "\n")
		case "zset":
			var z []redis.Z
			z, err = rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
			v = fmt.Sprint(z)
		case "stream":
			var x []redis.XMessage
			x, err = rdb.XRange(ctx, k, "-", "+").Result()
			v = fmt.Sprint(x)
		case "none":
			continue // expired since the scan saw it
		default:
			t.Fatalf("%s: a key of type %s the scan cannot read", k, typ)
		}
		if err != nil && err != redis.Nil {
			t.Fatalf("reading %s: %v", k, err)
		}
		out[k] = v
	}
	return out
}

func redisOf(t *testing.T, vars map[string]string) redis.UniversalClient {
	t.Helper()
	rdb, err := redistest.Client(vars["REDIS_URL"]) // one node, Cluster or Sentinel
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// requestOf returns the id of the open request whose text is text.
func requestOf(t *testing.T, base, text string) string {
	t.Helper()
	code, out := api(t, "GET", base+"/api/v1/requests", adminToken, "")
	if code != 200 {
		t.Fatalf("requests: %d %v", code, out)
	}
	for _, r := range out["requests"].([]any) {
		if r := r.(map[string]any); r["text"] == text {
			return r["id"].(string)
		}
	}
	t.Fatalf("no open request %q in %v", text, out)
	return ""
}

// TestSimulationLeavesRealDataAlone: with real people's data in Redis,
// POST /api/v1/simulate and outreach chat run a conversation that
// subscribes (4), asks for a person (0) and erases everything (EFFACER):
// the replies are a person's, but no key outside the simulation space is
// created, changed or deleted — no request in GET /api/v1/requests, no
// subscriber, no outbox entry, nothing sent — and every simulation key
// expires within an hour.
func TestSimulationLeavesRealDataAlone(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	p := withProviders(t)
	s := startServe(t, p.vars)
	prefix := p.vars["OUTREACH_REDIS_PREFIX"]
	rdb := redisOf(t, p.vars)
	ppl := &people{t: t, base: s.base}
	const person = "+212611000051"
	for _, text := range []string{"Bonjour", "4", "1", "1", "MENU", "0", "Il me faut un médecin"} {
		ppl.sms(person, text)
	}
	p.twilio.WaitAccepted(t, 7, 10*time.Second)
	requestOf(t, s.base, "Il me faut un médecin")
	waitFor(t, func() bool { return replyLen(rdb, prefix) == 0 })
	// The day's counts are flushed every few seconds: wait until they hold
	// the real conversation's, so that a flush during the simulation is not
	// taken for one of its writes.
	waitFor(t, func() bool {
		sms := metricValues(t, s.base)[`outreach_sent_total{channel="sms"}`]
		in, out := dayCounts(t, rdb, prefix, "in.sms"), dayCounts(t, rdb, prefix, "out.sms")
		return in == 7 && sms > 0 && out == int64(sms)
	})
	sent := len(p.twilio.Calls()) + len(p.telegram.Calls("sendMessage"))
	before := contents(t, rdb, prefix)
	_, reqsBefore := api(t, "GET", s.base+"/api/v1/requests", adminToken, "")

	conversation := []string{"Bonjour", "4", "1", "1", "MENU", "0", "Il me faut un médecin", "EFFACER", "1", "Bonjour"}
	var got []string
	for _, text := range conversation {
		got = append(got, say(t, s.base, person, text)...)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"chat", "--contact", person}, env(p.vars),
		strings.NewReader(strings.Join(conversation, "\n")+"\n"), &out, &errOut); err != nil {
		t.Fatalf("chat: %v\n%s", err, errOut.String())
	}
	for name, replies := range map[string]string{"simulate": strings.Join(got, "\n"), "chat": out.String()} {
		for _, want := range []string{c.Text("fr", "notices_subscribed", map[string]any{"Site": "Nador"}), c.Text("fr", "person_recorded", nil), c.Text("fr", "erased", nil)} {
			if !strings.Contains(replies, strings.SplitN(want, "\n", 2)[0]) {
				t.Errorf("%s replies lack %q:\n%s", name, want, replies)
			}
		}
	}

	after := contents(t, rdb, prefix)
	for k, v := range after {
		if strings.HasPrefix(k, prefix+"sim:") {
			if ttl := rdb.PTTL(context.Background(), k).Val(); ttl <= 0 || ttl > time.Hour {
				t.Errorf("simulation key %s expires in %v, want within an hour", k, ttl)
			}
			continue
		}
		if b, ok := before[k]; !ok {
			t.Errorf("a simulation created %s = %.200s", k, v)
		} else if b != v {
			t.Errorf("a simulation changed %s:\n before %.300s\n after  %.300s", k, b, v)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("a simulation deleted %s", k)
		}
	}
	if _, reqs := api(t, "GET", s.base+"/api/v1/requests", adminToken, ""); fmt.Sprint(reqs) != fmt.Sprint(reqsBefore) {
		t.Errorf("GET /api/v1/requests after the simulations:\n%v\nwant as before:\n%v", reqs, reqsBefore)
	}
	if n := len(p.twilio.Calls()) + len(p.telegram.Calls("sendMessage")); n != sent {
		t.Errorf("%d provider calls during the simulations, want none", n-sent)
	}
}

// TestStaffRepliesSealedAtRest: staff answer four people's requests with
// marker texts. The replies arrive whole at Twilio and Telegram; one
// person's number is refused for good (a dead letter), another's fails
// for a while (a retry, then a dead letter once the tries are spent).
// While all this happens, no key or value under the prefix — streams,
// retries and dead letters included — nor the log holds a marker in clear.
func TestStaffRepliesSealedAtRest(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	p.vars["OUTREACH_SEND_MAX_TRIES"] = "2"
	s := startServe(t, p.vars)
	prefix := p.vars["OUTREACH_REDIS_PREFIX"]
	rdb := redisOf(t, p.vars)
	ctx := context.Background()
	ppl := &people{t: t, base: s.base}
	const arrives, refused, failing, tgChat = "+212611000061", "+212611000062", "+212611000063", int64(611000064)
	for i, to := range []string{arrives, refused, failing} {
		for _, text := range []string{"Bonjour", "0", fmt.Sprint("Demande numéro ", i)} {
			ppl.sms(to, text)
		}
	}
	for _, text := range []string{"hello", "0", "Request number 3"} {
		ppl.telegram(tgChat, "en", text)
	}
	p.twilio.WaitAccepted(t, 9, 10*time.Second)
	p.telegram.WaitSent(t, 3, 10*time.Second)
	// Every reply of the conversations has left (an entry leaves the
	// stream once sent): only staff's replies meet the failures.
	waitFor(t, func() bool { return replyLen(rdb, prefix) == 0 })
	p.twilio.FailTo(refused, 400, 21617) // body too long: refused for good
	p.twilio.FailTo(failing, 503, 20500) // Twilio down for this one: retried

	marker := func(i int) string { return fmt.Sprintf("STAFF-MARKER-%d-Rendez-vous jeudi au centre", i) }
	ids := []string{requestOf(t, s.base, "Demande numéro 0"), requestOf(t, s.base, "Demande numéro 1"),
		requestOf(t, s.base, "Demande numéro 2"), requestOf(t, s.base, "Request number 3")}
	for i, id := range ids {
		body, _ := json.Marshal(map[string]string{"text": marker(i)})
		if code, out := api(t, "POST", s.base+"/api/v1/requests/"+id+"/reply", adminToken, string(body)); code != 202 {
			t.Fatalf("reply to %s: %d %v", id, code, out)
		}
	}

	scans := 0
	var sawRetry atomic.Bool
	check := func() {
		t.Helper()
		scans++
		for k, v := range contents(t, rdb, prefix) {
			if isDelayed(prefix, k) && strings.Contains(v, `"tries":1`) {
				sawRetry.Store(true)
			}
			if strings.Contains(k, "STAFF-MARKER") || strings.Contains(v, "STAFF-MARKER") {
				t.Fatalf("scan %d: %s holds staff's reply in clear: %.300s", scans, k, v)
			}
		}
	}
	check() // at once: the replies wait in the stream
	twilioHas := func(to, text string) bool {
		return slices.ContainsFunc(p.twilio.Accepted(), func(c twiliotest.Call) bool { return c.To == to && c.Body == text })
	}
	telegramHas := func(text string) bool {
		return slices.ContainsFunc(p.telegram.Sent(), func(c telegramtest.Call) bool { return strings.Contains(c.Params.Get("text"), text) })
	}
	// The retried reply waits in the delayed set for a second or so: it is
	// looked for there all along, apart from the full scans (which take
	// longer than the wait on a busy machine), and must be sealed there too.
	var inClear atomic.Value
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		for {
			for _, v := range delayed(rdb, prefix) {
				if strings.Contains(v, "STAFF-MARKER") {
					inClear.Store(v)
				}
				if strings.Contains(v, `"tries":1`) {
					sawRetry.Store(true)
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	for deadline, turn := time.Now().Add(30*time.Second), 0; ; turn++ {
		if turn%10 == 0 {
			check()
		}
		time.Sleep(20 * time.Millisecond)
		dead := rdb.LLen(ctx, prefix+"{o}:dead").Val()
		if twilioHas(arrives, marker(0)) && telegramHas(marker(3)) && dead == 2 && sawRetry.Load() {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			<-watched
			t.Fatalf("after 30 s: reply arrived by SMS %v, by Telegram %v; %d dead letters (want 2); a retry seen %v",
				twilioHas(arrives, marker(0)), telegramHas(marker(3)), dead, sawRetry.Load())
		}
	}
	close(stop)
	<-watched
	if v, ok := inClear.Load().(string); ok {
		t.Fatalf("the delayed set holds staff's reply in clear: %.300s", v)
	}
	check()
	if code, out := api(t, "GET", s.base+"/api/v1/outbox/dead", adminToken, ""); code != 200 || !strings.Contains(fmt.Sprint(out), "gave_up") || !strings.Contains(fmt.Sprint(out), "twilio_21617") {
		t.Errorf("dead letters: %d %v; want the refused reply and the one given up", code, out)
	}
	if logs := s.logs.String(); strings.Contains(logs, "STAFF-MARKER") {
		t.Error("the log holds staff's reply")
	}
}

// personal reports whether a key is about one person, and must expire
// within the retention period; shared reports a key family that is not
// (indexes and queues cleaned by the retention sweep, configuration).
// The registry of bot/keys says which: a key of no registered family is
// neither, and fails the test.
func personal(prefix, k string) (personal, shared bool) {
	f := keyspace.New(prefix).Family(k)
	if f == nil {
		return false, false
	}
	if f.Holds == keyspace.Contact && (f.TTL.Rule == keyspace.Retention || f.TTL.Rule == keyspace.Fixed) {
		return true, false
	}
	return false, true
}

// TestPersonalKeysExpireWithinRetention: after conversations on SMS and
// Telegram, a subscription, a request to a person with a later note, a
// broadcast and staff's reply, every key about a person expires, within
// the retention period.
func TestPersonalKeysExpireWithinRetention(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	p.vars["OUTREACH_QUIET_HOURS"] = ""
	p.vars["OUTREACH_RETENTION"] = "480h" // 20 days: shorter than the outbox's own periods too
	const retention = 20 * 24 * time.Hour
	s := startServe(t, p.vars)
	prefix := p.vars["OUTREACH_REDIS_PREFIX"]
	rdb := redisOf(t, p.vars)
	ctx := context.Background()
	ppl := &people{t: t, base: s.base}
	const person, tgChat = "+212611000071", int64(611000072)
	for _, text := range []string{"Bonjour", "4", "1", "1", "MENU", "0", "Demande de rendez-vous", "Je suis à Nador"} {
		ppl.sms(person, text)
	}
	for _, text := range []string{"hello", "4", "1", "1"} {
		ppl.telegram(tgChat, "en", text)
	}
	p.twilio.WaitAccepted(t, 7, 10*time.Second)
	p.telegram.WaitSent(t, 4, 10*time.Second)
	if code, out := api(t, "POST", s.base+"/api/v1/broadcasts", adminToken, `{"text":{"fr":"Avis","en":"Notice","ar":"إعلان"},"audience":{"sites":["nador"]}}`); code != 202 {
		t.Fatalf("broadcast: %d %v", code, out)
	}
	id := requestOf(t, s.base, "Demande de rendez-vous")
	if code, out := api(t, "POST", s.base+"/api/v1/requests/"+id+"/reply", adminToken, `{"text":"Jeudi à 10 h"}`); code != 202 {
		t.Fatalf("reply: %d %v", code, out)
	}
	p.twilio.WaitAccepted(t, 9, 15*time.Second)
	p.telegram.WaitSent(t, 5, 15*time.Second)

	keys := redistest.KeysUnder(t, rdb, prefix) // on every master of a Cluster
	var found []string
	for _, k := range keys {
		mine, shared := personal(prefix, k)
		switch {
		case mine:
			found = append(found, strings.TrimPrefix(k, prefix))
			if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > retention+time.Minute {
				t.Errorf("%s is about a person and expires in %v; want within the retention period (%v)", k, ttl, retention)
			}
		case !shared:
			t.Errorf("%s: a key family the test does not know; say whether it is about a person", k)
		}
	}
	// The scan saw each family it must check.
	for _, want := range []string{":state", ":seen", ":requests", "request:", ":notes", ":msg:"} {
		if !slices.ContainsFunc(found, func(k string) bool { return strings.Contains(k, want) }) {
			t.Errorf("no key %q among the personal keys %v", want, found)
		}
	}
}

// dayCounts sums a count over the days kept in Redis.
func dayCounts(t *testing.T, rdb redis.UniversalClient, prefix, name string) int64 {
	t.Helper()
	ctx := context.Background()
	var n int64
	for _, k := range redistest.KeysUnder(t, rdb, prefix+"{stats}:day:") {
		v, _ := rdb.HGet(ctx, k, name).Int64()
		n += v
	}
	return n
}
