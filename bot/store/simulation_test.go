package store_test

import (
	"context"
	"errors"
	"github.com/outreach-org/outreach/bot/keys"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

// TestSimulationStoreRefusesSideEffects: the store of simulations keeps a
// conversation's state and nothing else, whoever calls it.
func TestSimulationStoreRefusesSideEffects(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	st, err := store.New(context.Background(), rdb, store.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	sim := st.Simulation(time.Minute)
	for name, turn := range map[string]store.Turn{
		"outbox entry": {Contact: "a", Data: []byte("{}"), Outbox: keys.New(prefix).ReplyStream(keys.New(prefix).ShardOf("a")), Entries: []string{"{}"}},
		"subscription": {Contact: "a", Data: []byte("{}"), Subscribe: []string{"nador"}},
		"address":      {Contact: "a", Data: []byte("{}"), Address: "sealed", Channel: "sms"},
	} {
		if err := sim.Commit(context.Background(), turn); !errors.Is(err, store.ErrSimulationWrite) {
			t.Errorf("%s: %v, want ErrSimulationWrite", name, err)
		}
	}
	if n := rdb.Exists(context.Background(), st.Keys().SubscribersOf("nador", "a"), st.Keys().ReplyStream(st.Shard("a"))).Val(); n != 0 {
		t.Errorf("%d keys written by refused simulated turns", n)
	}
	if err := sim.Commit(context.Background(), store.Turn{Contact: "a", Data: []byte("{}")}); err != nil {
		t.Fatalf("a simulated state: %v", err)
	}
	if ttl := rdb.PTTL(context.Background(), st.Keys().Simulation().ContactState("a")).Val(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("the simulated state expires in %v, want within a minute", ttl)
	}
}
