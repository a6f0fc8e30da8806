package broadcast_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/telegram"
)

// TestReachSaysWhatTheFanOutDoes: before a broadcast is sent, Reach counts
// the people its audience names, splits them by language and channel, and
// names those who will be skipped — the same numbers the broadcast's
// counts show once it has fanned out.
func TestReachSaysWhatTheFanOutDoes(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	keys := subscribe(t, env, 30, func(i int) string { return []string{"fr", "en", "ar"}[i%3] })
	ctx := context.Background()
	// Two of them opted out, one is blocked.
	for i, change := range map[int]func(*engine.State){0: func(s *engine.State) { s.OptedOut = true }, 4: func(s *engine.State) { s.OptedOut = true }, 8: func(s *engine.State) { s.Blocked = true }} {
		st := engine.State{Lang: []string{"fr", "en", "ar"}[i%3], Node: "main", Sites: []string{"nador"}, LastSeen: time.Now()}
		change(&st)
		b, _ := json.Marshal(st)
		env.Redis.HSet(ctx, env.Store.Keys().ContactState(keys[i]), "s", b)
	}
	svc := running(t, env)
	b := broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Avis"}, Fallback: "fr", Audience: broadcast.Audience{Sites: []string{"nador"}}}
	r, err := svc.Reach(ctx, b, 100)
	if err != nil {
		t.Fatal(err)
	}
	// 0 and 4 are French and English; 8 is Arabic: 10 - 1 of each is sent.
	want := map[string]map[string]int64{"fr": {telegram.Channel: 9}, "en": {telegram.Channel: 9}, "ar": {telegram.Channel: 9}}
	if r.People != 30 || r.Read != 30 || !maps.EqualFunc(r.Sent, want, maps.Equal) || r.Skipped["opted_out"] != 2 || r.Skipped["blocked"] != 1 {
		t.Errorf("reach %+v; want 30 people, all read, 9 of each language sent, 2 opted out, 1 blocked", r)
	}
	if r.Estimate(9) != 9 {
		t.Errorf("everyone read, yet Estimate(9) = %d", r.Estimate(9))
	}
	id, _, err := svc.Create(ctx, b, "")
	if err != nil {
		t.Fatal(err)
	}
	got := waitCounts(t, svc, id, func(c broadcast.Counts) bool { return c.Total == 30 })
	if got.Counts.Skipped != 3 || !maps.Equal(got.Counts.SkippedBy, r.Skipped) {
		t.Errorf("the fan-out skipped %v, Reach said %v", got.Counts.SkippedBy, r.Skipped)
	}

	// An audience narrowed to Arabic leaves the others outside.
	ar := b
	ar.Audience.Languages = []string{"ar"}
	if r, err := svc.Reach(ctx, ar, 100); err != nil || r.Outside != 20 || len(r.Sent) != 1 || r.Sent["ar"][telegram.Channel] != 9 {
		t.Errorf("Arabic only: %+v, %v; want 20 outside, 9 Arabic sent", r, err)
	}

	// A sample reads only that many, and scales up.
	r, err = svc.Reach(ctx, b, 10)
	if err != nil {
		t.Fatal(err)
	}
	if r.People != 30 || r.Read != 10 || r.Estimate(5) != 15 {
		t.Errorf("sample of 10: %+v, Estimate(5) = %d; want 30 people, 10 read, 15", r, r.Estimate(5))
	}
}

// TestReachCountsThoseToldOnce: an audience of the people earlier
// broadcasts reached counts each person once, however many of them
// reached the person, and leaves nothing behind.
func TestReachCountsThoseToldOnce(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	keys := subscribe(t, env, 5, func(int) string { return "fr" })
	ctx := context.Background()
	tell(t, env, "a", keys[0], keys[1], keys[2])
	tell(t, env, "b", keys[1], keys[2], keys[3])
	svc := newService(env)
	before := redistest.KeysUnder(t, env.Redis, env.Prefix)
	r, err := svc.Reach(ctx, broadcast.Broadcast{Kind: broadcast.KindMessage, Audience: broadcast.Audience{RecipientsOf: []string{"a", "b", "c"}}}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if r.People != 4 || r.Read != 4 || r.Sent["fr"][telegram.Channel] != 4 {
		t.Errorf("reach %+v; want the 4 people told", r)
	}
	if after := redistest.KeysUnder(t, env.Redis, env.Prefix); !slices.Equal(after, before) {
		t.Errorf("Reach left keys behind: %v before, %v after", before, after)
	}
}

// tell records, as the outbox does when a provider takes a broadcast's
// message, that broadcast id reached contacts: each in their shard's share
// of its told set.
func tell(t testing.TB, env *channeltest.Env, id string, contacts ...string) {
	t.Helper()
	ks := env.Store.Keys()
	for _, ck := range contacts {
		if err := env.Redis.SAdd(context.Background(), ks.BroadcastTold(id, ks.ShardOf(ck)), ck).Err(); err != nil {
			t.Fatal(err)
		}
	}
}
