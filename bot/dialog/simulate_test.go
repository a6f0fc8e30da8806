package dialog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

// keyspace returns every key under prefix but those of simulations, each
// with its value (DUMP) and whether it expires: what a real person's or a
// staff view could read.
func keyspace(t *testing.T, rdb redis.UniversalClient, prefix string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	// Every master of a Cluster: a SCAN of one sees only its slots.
	for _, k := range redistest.KeysUnder(t, rdb, prefix) {
		if strings.HasPrefix(k, prefix+store.SimulationSpace) {
			continue
		}
		v, err := rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Fatalf("DUMP %s: %v", k, err)
		}
		out[k] = fmt.Sprintf("%x expires=%v", v, rdb.PTTL(ctx, k).Val() > 0)
	}
	return out
}

// TestSimulationTouchesNoRealData: a real person subscribes and asks for a
// person; then the same address, on every simulation channel (simulate, a
// preview of content, chat), subscribes (4), asks for a person (0) and
// erases everything (EFFACER). The simulations get the replies a person
// would, and the effects are reported; but nothing outside the simulation
// space is created, changed or erased — no request for staff, no
// subscriber, no outbox entry — and every simulation key expires within
// the simulation period.
func TestSimulationTouchesNoRealData(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	ob := outbox.New(rdb, st.Keys())
	const simTTL = 10 * time.Minute
	svc := New(st, c, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{
		IdleAfter: time.Hour, Outbox: ob, Deliver: []string{"sms"}, SimulationTTL: simTTL,
		// The flood limit's counter is written too: it must be simulated.
		FloodPerMinute: 100,
	})
	const address = "+212600000099"
	for i, text := range []string{"Bonjour", "4", "1", "1", "MENU", "0", "J'ai besoin d'un médecin"} {
		if _, err := svc.Handle(ctx, Message{Channel: "sms", Address: address, Text: text, ProviderID: fmt.Sprint("SM", i)}); err != nil {
			t.Fatal(err)
		}
	}
	reqsBefore, err := st.Requests().List(ctx)
	if err != nil || len(reqsBefore) != 1 {
		t.Fatalf("the real person's requests: %v, %v; want one", reqsBefore, err)
	}
	before := keyspace(t, rdb, prefix)

	draft := *c // a preview of content of its own
	for _, msg := range []Message{{Channel: ChannelSimulate}, {Channel: ChannelChat}, {Channel: ChannelPreview, Content: &draft}} {
		t.Run(msg.Channel, func(t *testing.T) {
			var kinds []string
			say := func(text string) []engine.Reply {
				t.Helper()
				m := msg
				m.Address, m.Text = address, text
				out, err := svc.Handle(ctx, m)
				if err != nil {
					t.Fatalf("%q: %v", text, err)
				}
				if !out.Simulated {
					t.Errorf("%q: the outcome does not say it was a simulation", text)
				}
				for _, e := range out.Effects {
					kinds = append(kinds, e.Kind)
				}
				return out.Replies
			}
			for _, text := range []string{"Bonjour", "4", "1", "1", "MENU", "0"} {
				say(text)
			}
			if got := say("J'ai besoin d'un médecin"); !contains(got, c.Text("fr", "person_recorded", nil)) {
				t.Errorf("the simulated request: %+v; want the reply a person gets", got)
			}
			say("EFFACER")
			if got := say("1"); !contains(got, c.Text("fr", "erased", nil)) {
				t.Errorf("the simulated erasure: %+v; want the reply a person gets", got)
			}
			say("Bonjour") // the simulation goes on: it has keys again
			if want := []string{engine.EffectSubscribe, engine.EffectHandover, engine.EffectErase}; fmt.Sprint(kinds) != fmt.Sprint(want) {
				t.Errorf("reported effects %v, want %v", kinds, want)
			}
		})
	}

	after := keyspace(t, rdb, prefix)
	for k, v := range after {
		if b, ok := before[k]; !ok {
			t.Errorf("a simulation created %s", k)
		} else if b != v {
			t.Errorf("a simulation changed %s", k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			t.Errorf("a simulation deleted %s", k)
		}
	}
	if reqs, _ := st.Requests().List(ctx); len(reqs) != 1 || reqs[0].ID != reqsBefore[0].ID {
		t.Errorf("open requests after the simulations: %+v; want the real one only", reqs)
	}
	var subs []string
	for _, site := range c.Flow.Sites {
		s, _ := st.Contacts().Subscribers(ctx, site)
		subs = append(subs, s...)
	}
	if len(subs) != 1 || subs[0] != st.ContactKey("sms", address) {
		t.Errorf("subscribers after the simulations: %v; want the real person only", subs)
	}

	simKeys := redistest.KeysUnder(t, rdb, prefix+store.SimulationSpace)
	if len(simKeys) == 0 {
		t.Fatalf("simulation keys %v; want the simulated conversations", simKeys)
	}
	for _, k := range simKeys {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > simTTL {
			t.Errorf("%s expires in %v, want within %v", k, ttl, simTTL)
		}
	}
}
