package broadcast_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/telegram"
)

// person is one contact a test stores as the bot would.
type person struct {
	channel, address, lang string
	sites                  []string
	optedOut, blocked      bool
	undeliverable          bool
	noAddress              bool
	seen                   time.Duration // how long ago they last wrote
	purged                 bool          // subscribed, but their state is gone
}

func storePeople(t *testing.T, env *channeltest.Env, people []person) {
	t.Helper()
	ctx := context.Background()
	for _, p := range people {
		ck := env.Store.ContactKey(p.channel, p.address)
		for _, site := range p.sites {
			env.Redis.SAdd(ctx, env.Store.Keys().SubscribersOf(site, ck), ck)
		}
		if p.purged {
			continue
		}
		st, _ := json.Marshal(engine.State{Lang: p.lang, Node: "main", Sites: p.sites, OptedOut: p.optedOut, Blocked: p.blocked, LastSeen: time.Now().Add(-p.seen)})
		fields := []any{"v", 1, "s", st, "ch", p.channel}
		if !p.noAddress {
			fields = append(fields, "a", env.Store.Seal(p.address))
		}
		if p.undeliverable {
			fields = append(fields, "x", "undeliverable")
		}
		if err := env.Redis.HSet(ctx, env.Store.Keys().ContactState(ck), fields...).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEstimateIsWhatTheFanOutDoes: before a broadcast, Estimate counts who
// it will reach, by channel and language, and who it will skip and why;
// the fan-out then does exactly that. Estimating changes nothing.
func TestEstimateIsWhatTheFanOutDoes(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel, "sms", "whatsapp")
	nador, both := []string{"nador"}, []string{"nador", "oujda"}
	storePeople(t, env, []person{
		{channel: "sms", address: "+212600000001", lang: "fr", sites: nador},
		{channel: "sms", address: "+212600000002", lang: "ar", sites: both}, // counted once
		{channel: "sms", address: "+212600000003", lang: "ar", sites: nador},
		{channel: telegram.Channel, address: "4001", lang: "en", sites: []string{"oujda"}},
		{channel: telegram.Channel, address: "4002", lang: "ar", sites: nador, blocked: true},
		{channel: "sms", address: "+212600000004", lang: "fr", sites: nador, optedOut: true},
		{channel: "sms", address: "+212600000005", lang: "fr", sites: nador, undeliverable: true},
		{channel: "sms", address: "+212600000006", lang: "fr", sites: nador, noAddress: true},
		{channel: "whatsapp", address: "+212600000007", lang: "en", sites: nador, seen: time.Hour},
		{channel: "whatsapp", address: "+212600000008", lang: "fr", sites: nador, seen: 72 * time.Hour}, // no template
		{channel: "sms", address: "+212600000009", lang: "fr", sites: nador, purged: true},
		{channel: telegram.Channel, address: "4003", lang: "fr", sites: []string{"rabat"}}, // another site
	})
	svc := newService(env)
	ctx := context.Background()
	b := broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Avis", "en": "Notice", "ar": "إعلان"},
		Audience: broadcast.Audience{Sites: both}}
	est, err := svc.Estimate(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	wantSend := map[string]map[string]int64{"sms": {"fr": 1, "ar": 2}, telegram.Channel: {"en": 1}, "whatsapp": {"en": 1}}
	wantSkipped := map[string]int64{"blocked": 1, "opted_out": 1, "undeliverable": 1, "no_address": 1, "needs_template": 1, "no_contact": 1}
	if est.Total != 11 || est.People() != 5 || !equalSend(est.Send, wantSend) || !maps.Equal(est.Skipped, wantSkipped) {
		t.Errorf("estimate: total %d, people %d, send %v, skipped %v; want 11, 5, %v, %v", est.Total, est.People(), est.Send, est.Skipped, wantSend, wantSkipped)
	}
	if n := len(env.Entries(outbox.Bulk)); n != 0 {
		t.Fatalf("estimating enqueued %d entries", n)
	}
	if n, err := env.Store.Contacts().SubscriberCounts(ctx, []string{"nador"}); err != nil || n["nador"] != 10 {
		t.Errorf("estimating changed the subscribers of nador: %v, %v; want 10", n, err)
	}

	// Narrowed to Arabic readers on SMS: whose state is gone cannot be
	// told apart, and counts as skipped, as in the fan-out.
	narrow := b
	narrow.Audience = broadcast.Audience{Sites: both, Languages: []string{"ar"}, Channels: []string{"sms"}}
	if e, err := svc.Estimate(ctx, narrow); err != nil || e.Total != 3 || e.People() != 2 || !maps.Equal(e.Skipped, map[string]int64{"no_contact": 1}) {
		t.Errorf("Arabic on SMS: %+v, %v; want 2 people, the purged one skipped", e, err)
	}

	// The fan-out does what the estimate said.
	go svc.Run(t.Context())
	id, _, err := svc.Create(ctx, b, "")
	if err != nil {
		t.Fatal(err)
	}
	r := waitCounts(t, svc, id, func(c broadcast.Counts) bool { return c.Total == est.Total })
	entries := env.Entries(outbox.Bulk)
	byChannel := map[string]int64{}
	for _, e := range entries {
		byChannel[e.Channel]++
	}
	if int64(len(entries)) != est.People() || byChannel["sms"] != 3 || byChannel[telegram.Channel] != 1 || byChannel["whatsapp"] != 1 {
		t.Errorf("the fan-out enqueued %v, the estimate said %v", byChannel, est.Send)
	}
	if !maps.Equal(r.Counts.SkippedBy, est.Skipped) || r.Counts.Skipped != est.Total-est.People() {
		t.Errorf("the fan-out skipped %v, the estimate said %v", r.Counts.SkippedBy, est.Skipped)
	}
	if w := r.Counts.Waiting(); w != est.People() {
		t.Errorf("waiting %d, want the %d enqueued, not yet sent", w, est.People())
	}
}

func equalSend(a, b map[string]map[string]int64) bool {
	return maps.EqualFunc(a, b, func(x, y map[string]int64) bool { return maps.Equal(x, y) })
}

// TestMessageIsWhatPeopleGet: Message is the text exactly as the fan-out
// sends it, footer included, the fallback's text for a language without
// one; empty when a language has no text to get.
func TestMessageIsWhatPeopleGet(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	subscribe(t, env, 2, func(i int) string { return []string{"fr", "ar"}[i] })
	svc := newService(env)
	b := broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Le bureau est fermé lundi."}, Fallback: "fr"}
	fr, ar := svc.Message(b, "fr"), svc.Message(b, "ar")
	if fr != "Le bureau est fermé lundi.\n\n"+env.Text("fr", "notice_footer") || ar != "Le bureau est fermé lundi.\n\n"+env.Text("ar", "notice_footer") {
		t.Errorf("Message: fr %q, ar %q", fr, ar)
	}
	go svc.Run(t.Context())
	id, _, err := svc.Create(context.Background(), b, "")
	if err != nil {
		t.Fatal(err)
	}
	waitCounts(t, svc, id, func(c broadcast.Counts) bool { return c.Total == 2 })
	var got []string
	for _, e := range env.Entries(outbox.Bulk) {
		got = append(got, e.Messages[0].Text)
	}
	if len(got) != 2 || !(got[0] == fr && got[1] == ar || got[0] == ar && got[1] == fr) {
		t.Errorf("the people got %q, Message said %q and %q", got, fr, ar)
	}
	b.Fallback = ""
	if m := svc.Message(b, "ar"); m != "" {
		t.Errorf("no Arabic text and no fallback: Message %q, want empty", m)
	}
}

// TestProblemsNameEachField: a refused broadcast says, field by field, why,
// in words a form can translate; the API's message is unchanged.
func TestProblemsNameEachField(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	if err := env.Store.PutSites(context.Background(), []engine.Site{{ID: "nador"}, {ID: "oujda", Retired: true}}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	svc := atTime(env, &clock{now})
	err := svc.Validate(context.Background(), broadcast.Broadcast{Kind: broadcast.KindMessage,
		Text:     map[string]string{"fr": " ", "en": strings.Repeat("a", broadcast.MaxText+1), "ar": "a\u0007b"},
		Audience: broadcast.Audience{Sites: []string{"oujda", "atlantis"}, Channels: []string{"fax"}},
		SendAt:   now.Add(-time.Hour)})
	want := []broadcast.Problem{
		{Field: "text.ar", Reason: broadcast.ReasonBadChar, Value: "U+0007"},
		{Field: "text.en", Reason: broadcast.ReasonTooLong, Value: "1601"},
		{Field: "text.fr", Reason: broadcast.ReasonEmpty},
		{Field: "audience.sites", Reason: broadcast.ReasonRetired, Value: "oujda"},
		{Field: "audience.sites", Reason: broadcast.ReasonUnknown, Value: "atlantis"},
		{Field: "audience.channels", Reason: broadcast.ReasonUnknown, Value: "fax"},
		{Field: "send_at", Reason: broadcast.ReasonPast},
	}
	got := broadcast.Problems(err)
	if len(got) != len(want) {
		t.Fatalf("problems %+v, want %d", got, len(want))
	}
	for i, p := range got {
		if p.Field != want[i].Field || p.Reason != want[i].Reason || p.Value != want[i].Value || p.Message == "" {
			t.Errorf("problem %d: %+v, want %+v with a message", i, p, want[i])
		}
		if !strings.Contains(err.Error(), p.Field+": "+p.Message) {
			t.Errorf("the error %q does not say %q", err, p.Field+": "+p.Message)
		}
	}
	if !errors.Is(err, broadcast.ErrInvalid) || !strings.HasPrefix(err.Error(), "invalid broadcast: text.ar: holds the character U+0007") {
		t.Errorf("error %q", err)
	}
	missing := broadcast.Problems(svc.Validate(context.Background(), broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Avis", "en": "Notice"}}))
	if len(missing) != 1 || missing[0].Field != "text.ar" || missing[0].Reason != broadcast.ReasonMissing || missing[0].Value != "ar" {
		t.Errorf("no Arabic text: %+v", missing)
	}
	if broadcast.Problems(nil) != nil || broadcast.Problems(broadcast.ErrNotFound) != nil {
		t.Error("Problems of an error that is no refusal is not nil")
	}
}

// TestListFrom pages the list, newest first.
func TestListFrom(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	c := &clock{time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	svc := atTime(env, c)
	var ids []string
	for _, text := range []string{"un", "deux", "trois"} {
		id, _, err := svc.Create(context.Background(), broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": text}, Fallback: "fr"}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		c.now = c.now.Add(time.Minute)
	}
	page, err := svc.ListFrom(context.Background(), 1, 1)
	if err != nil || len(page) != 1 || page[0].ID != ids[1] {
		t.Errorf("ListFrom(1, 1): %v, %v; want the second newest", page, err)
	}
	if page, err := svc.ListFrom(context.Background(), 3, 10); err != nil || len(page) != 0 {
		t.Errorf("past the end: %v, %v", page, err)
	}
}

// BenchmarkEstimate counts the audience of a broadcast to 100,000 Telegram
// subscribers, as the console's composer does.
func BenchmarkEstimate(b *testing.B) {
	env := channeltest.New(b, telegram.Channel)
	const n = 100_000
	subscribe(b, env, n, func(i int) string { return []string{"fr", "en", "ar"}[i%3] })
	svc := newService(env)
	bc := broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Avis"}, Fallback: "fr"}
	for b.Loop() {
		est, err := svc.Estimate(context.Background(), bc)
		if err != nil || est.People() != n {
			b.Fatalf("%d people, %v", est.People(), err)
		}
	}
}
