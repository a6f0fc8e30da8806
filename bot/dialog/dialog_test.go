package dialog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/keys"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
	"github.com/outreach-org/outreach/bot/waitfor"
)

func TestMain(m *testing.M) { os.Exit(redistest.MainParallel(m, 8)) }

type fixture struct {
	rdb     redis.UniversalClient
	prefix  string
	content *content.Content
	store   *store.Store
	svc     *Service
	metrics *metrics.Metrics
	// logs is everything the service logged, at every level.
	logs *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for the service's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	rdb, prefix := redistest.New(t)
	return newFixtureOn(t, rdb, prefix)
}

// newFixtureOn builds a service over an existing Redis and prefix, as a
// restarted process would.
func newFixtureOn(t *testing.T, rdb redis.UniversalClient, prefix string) *fixture {
	t.Helper()
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), rdb, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc := New(st, c, m, log, Options{IdleAfter: time.Hour})
	return &fixture{rdb: rdb, prefix: prefix, content: c, store: st, svc: svc, metrics: m, logs: logs}
}

func (f *fixture) send(t *testing.T, address, text string) []engine.Reply {
	t.Helper()
	out, err := f.svc.Handle(context.Background(), Message{Channel: "sms", Address: address, Text: text})
	if err != nil {
		t.Fatalf("Handle(%q): %v", text, err)
	}
	if len(out.Replies) == 0 {
		t.Fatalf("Handle(%q): no reply", text)
	}
	return out.Replies
}

func contains(replies []engine.Reply, want string) bool {
	for _, r := range replies {
		if strings.Contains(r.Text, want) {
			return true
		}
	}
	return false
}

func TestConversationContinuesAfterRestart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const phone = "+212600000001"
	f.send(t, phone, "Bonjour")
	f.send(t, phone, "2")

	// A new process: new store, new service, same Redis.
	g := newFixtureOn(t, f.rdb, f.prefix)
	replies := g.send(t, phone, "3")
	if !contains(replies, g.content.Text("fr", "health_emergency", nil)) {
		t.Fatalf("after restart, 3 in the health menu did not give the emergency numbers: %+v", replies)
	}
}

// TestSamePersonAtOnce sends many messages from one person at the same
// moment. Each must be handled exactly once, one after the other: the first
// text handled answers the "talk to a person" question and is recorded; all
// the others find the person back at the main menu. Were two handled on the
// same state, more than one request would be recorded.
func TestSamePersonAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const phone = "+212600000002"
	f.send(t, phone, "hello")
	f.send(t, phone, "0") // talk to a person: the next text is the request

	const n = 40
	var wg sync.WaitGroup
	results := make([][]engine.Reply, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var out Outcome
			out, errs[i] = f.svc.Handle(context.Background(), Message{Channel: "sms", Address: phone, Text: fmt.Sprintf("request number %d", i)})
			results[i] = out.Replies
		}()
	}
	close(start)
	wg.Wait()

	recorded := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("message %d: %v", i, errs[i])
		}
		if contains(results[i], f.content.Text("en", "person_recorded", nil)) {
			recorded++
		}
	}
	if recorded != 1 {
		t.Errorf("%d messages were taken as the request; want exactly 1", recorded)
	}
	reqs, err := f.store.Requests().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 {
		t.Fatalf("%d requests recorded, want 1", len(reqs))
	}
	text, err := f.store.Open(reqs[0].Text)
	if err != nil {
		t.Fatalf("request text cannot be opened: %v", err)
	}
	if !strings.HasPrefix(text, "request number ") || reqs[0].Lang != "en" || reqs[0].Channel != "sms" {
		t.Errorf("request = %+v", reqs[0])
	}
	// Every message moved the state on once: 2 before, n now.
	st, err := f.store.LoadState(context.Background(), f.store.ContactKey("sms", phone), "")
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != n+2 {
		t.Errorf("state version %d, want %d: a message was lost or counted twice", st.Version, n+2)
	}
}

func TestNoAddressInRedis(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const phone = "+212611223344"
	for _, text := range []string{"Bonjour", "4", "1", "1", "0", "Je cherche un médecin"} {
		f.send(t, phone, text)
	}
	ctx := context.Background()
	keys := redistest.KeysUnder(t, f.rdb, f.prefix) // on every master of a Cluster
	if len(keys) == 0 {
		t.Fatal("nothing stored")
	}
	contact := f.store.ContactKey("sms", phone)
	sawState := false
	for _, k := range keys {
		if strings.Contains(k, "611223344") {
			t.Errorf("key %q holds the phone number", k)
		}
		if k == f.store.Keys().ContactState(contact) {
			sawState = true
		}
		dump, err := f.rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(dump, "611223344") {
			t.Errorf("value of %q holds the phone number", k)
		}
	}
	if !sawState {
		t.Errorf("no state key with the contact's hash tag among %v", keys)
	}
	subs, err := f.store.Contacts().Subscribers(ctx, "nador")
	if err != nil || len(subs) != 1 || subs[0] != contact {
		t.Errorf("subscribers of nador = %v, %v; want [%s]", subs, err, contact)
	}
}

func TestContactKeys(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a := f.store.ContactKey("sms", "+212600000003")
	if a != f.store.ContactKey("sms", "+212600000003") {
		t.Error("the same address gave two keys")
	}
	if a == f.store.ContactKey("whatsapp", "+212600000003") {
		t.Error("the same number on two channels gave one key")
	}
	other, err := store.New(context.Background(), f.rdb, store.Options{Prefix: f.prefix + "other:", DataKey: []byte("another key of thirty-two bytes!")})
	if err != nil {
		t.Fatal(err)
	}
	if a == other.ContactKey("sms", "+212600000003") {
		t.Error("two hash keys gave the same contact key")
	}
}

func TestDistributionsReadFromStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	// Oujda shows its exact places to everyone (the stored site says so).
	var sites []engine.Site
	for _, id := range f.content.Flow.Sites {
		sites = append(sites, engine.Site{ID: id})
		if id == "oujda" {
			sites[len(sites)-1].ExactPlace = engine.ExactPlaceEveryone
		}
	}
	if err := f.store.PutSites(ctx, sites); err != nil {
		t.Fatal(err)
	}
	err := f.store.PutDistribution(ctx, engine.Distribution{
		ID: "d1", Site: "oujda", StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		Place: map[string]string{"fr": "Parking de la gare"}, Items: []string{"flour", "soap"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.Refresh()
	const phone = "+212600000004"
	f.send(t, phone, "Bonjour")
	f.send(t, phone, "1")
	replies := f.send(t, phone, "2") // Oujda
	for _, want := range []string{"Parking de la gare", f.content.Text("fr", "item_flour", nil), f.content.Text("fr", "dist_free", nil)} {
		if !contains(replies, want) {
			t.Errorf("distribution list lacks %q: %+v", want, replies)
		}
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// A client that worked when the store started, then lost Redis.
	down, err := redistest.Client(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	broken, err := store.New(context.Background(), down, store.Options{Prefix: f.prefix, DataKey: []byte("a key of exactly thirty-two byte")})
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	svc := New(broken, f.content, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{})
	if _, err := svc.Handle(context.Background(), Message{Channel: "sms", Address: "+212600000005", Text: "Bonjour"}); err == nil {
		t.Fatal("Handle with Redis down returned no error")
	}
}

// TestFloodLimit: a phone that sends 40 messages in a minute gets answers
// for the first 10, one slow-down, then silence.
func TestFloodLimit(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	c, _ := content.Load(content.Embedded())
	st, err := store.New(context.Background(), rdb, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 28, 10, 0, 30, 0, time.UTC)
	svc := New(st, c, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{FloodPerMinute: 10, Now: func() time.Time { return now }})
	var answered, slowDowns int
	for i := range 40 {
		out, err := svc.Handle(context.Background(), Message{Channel: "sms", Address: "+212600000077", Text: fmt.Sprint(i % 3)})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range out.Replies {
			if r.Text == c.Text("fr", "slow_down", nil) {
				slowDowns++
			}
		}
		if len(out.Replies) > 0 {
			answered++
		}
	}
	if answered != 11 || slowDowns != 1 {
		t.Errorf("%d messages answered, %d slow-downs; want 10 answers and 1 slow-down", answered, slowDowns)
	}
	now = now.Add(time.Minute) // the next minute, the person is heard again
	if out, _ := svc.Handle(context.Background(), Message{Channel: "sms", Address: "+212600000077", Text: "MENU"}); len(out.Replies) == 0 {
		t.Error("not answered the next minute")
	}
}

func TestPurgeRemovesWhatOutlivedContacts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.send(t, "+212600000088", "Bonjour")
	f.send(t, "+212600000088", "4")
	f.send(t, "+212600000088", "1")
	f.send(t, "+212600000088", "1") // subscribed to Nador
	live := f.store.ContactKey("sms", "+212600000088")
	f.rdb.SAdd(ctx, f.store.Keys().SubscribersOf("nador", "00000000000000000000000000000000"), "00000000000000000000000000000000") // state long expired
	f.rdb.ZAdd(ctx, f.store.Keys().OpenRequests(f.store.Keys().ShardOf("gone")), redis.Z{Score: 1, Member: "gone"})
	n, err := f.store.Contacts().Purge(ctx)
	if err != nil || n != 2 {
		t.Fatalf("purged %d, %v; want 2", n, err)
	}
	subs, _ := f.store.Contacts().Subscribers(ctx, "nador")
	if len(subs) != 1 || subs[0] != live {
		t.Errorf("subscribers %v, want only the live contact", subs)
	}
}

// TestConversationExpiresAfterIdle: where the conversation stands (the
// waiting menu, saved answers) is kept only for the idle period; what the
// person chose (language, subscriptions) for the retention period. When it
// is gone, the next message is welcomed back in the person's language.
func TestConversationExpiresAfterIdle(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(context.Background(), rdb, store.Options{Prefix: prefix, Retention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	svc := New(st, c, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{IdleAfter: 300 * time.Millisecond})
	f := &fixture{rdb: rdb, prefix: prefix, content: c, store: st, svc: svc}
	ctx := context.Background()
	f.send(t, "+212600000077", "hello")
	f.send(t, "+212600000077", "2") // the health menu waits for an answer
	ck := st.ContactKey("sms", "+212600000077")
	state, dialog := keys.New(prefix).ContactState(ck), keys.New(prefix).Dialog(ck)
	if ttl := rdb.PTTL(ctx, dialog).Val(); ttl <= 0 || ttl > 300*time.Millisecond {
		t.Fatalf("conversation kept for %v, want at most the idle period", ttl)
	}
	if ttl := rdb.PTTL(ctx, state).Val(); ttl < 23*time.Hour {
		t.Fatalf("contact kept for %v, want the retention period", ttl)
	}
	if s := rdb.HGet(ctx, state, "s").Val(); strings.Contains(s, "node") || !strings.Contains(s, `"lang":"en"`) {
		t.Errorf("the kept state %s holds where the conversation stands, or lost the language", s)
	}
	waitUntil(t, func() bool { return rdb.Exists(ctx, dialog).Val() == 0 })
	replies := f.send(t, "+212600000077", "1")
	if !contains(replies, c.Text("en", "welcome_back_short", nil)) || !contains(replies, c.Text("en", "dist_which_site", nil)) {
		t.Errorf("after the idle period, 1 got %q; want the welcome back in English, then the distributions", replies[0].Text)
	}
	f.send(t, "+212600000077", "0") // back to the main menu

	// Waiting for the person's own words (a request to staff): a long
	// silence does not lose what they then write.
	f.send(t, "+212600000077", "0")
	if ttl := rdb.PTTL(ctx, dialog).Val(); ttl < 23*time.Hour {
		t.Fatalf("a question waiting for words kept for %v, want the retention period", ttl)
	}
	time.Sleep(400 * time.Millisecond) // past the idle period
	out, err := svc.Handle(ctx, Message{Channel: "sms", Address: "+212600000077", Text: "I need a doctor for my son"})
	if err != nil || !contains(out.Replies, c.Text("en", "person_recorded", nil)) {
		t.Errorf("the request written after a silence: %+v, %v; want it recorded", out.Replies, err)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	waitfor.Cond(t, waitfor.Default, "the condition", cond)
}

// TestMissesCountAcrossMessages: the answers in a row the bot did not
// understand are counted across messages (kept with the conversation), and
// the third offers a person.
func TestMissesCountAcrossMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	offer := f.content.Text("fr", "offer_person", nil)
	f.send(t, "+212600000088", "Bonjour")
	for _, msg := range []string{"9", "peut-être"} {
		if replies := f.send(t, "+212600000088", msg); contains(replies, offer) {
			t.Fatalf("%q: offered a person before the third miss", msg)
		}
	}
	if replies := f.send(t, "+212600000088", "8"); !contains(replies, offer) {
		t.Errorf("third miss in a row: %q; want the offer of a person", replies[0].Text)
	}
}
