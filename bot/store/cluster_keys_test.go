package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

// TestRequestsAndErasureOnCluster: on a 3-master Redis Cluster, a request
// is kept and closed (a MULTI within the {r} tag), replied to and
// assigned; the person is then erased — their keys, their requests, their
// place in a subscriber set, wherever the slots put them — and the purge
// scans every master.
func TestRequestsAndErasureOnCluster(t *testing.T) {
	t.Parallel()
	c := redistest.SharedCluster(t)
	_, prefix := redistest.NewAt(t, c.URL)
	ctx := context.Background()
	rdb, closeRedis, err := store.Connect(ctx, c.URL, 2, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer closeRedis()
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix, DataKey: []byte("a data key of thirty-two bytes!!")})
	if err != nil {
		t.Fatal(err)
	}
	k := st.Keys()
	contact, other := st.ContactKey("sms", "+212600000001"), st.ContactKey("sms", "+212600000002")
	for _, ck := range []string{contact, other} {
		if err := st.Commit(ctx, store.Turn{Contact: ck, Data: []byte(`{"lang":"fr"}`), Dialog: []byte(`{}`), DialogTTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
		rdb.SAdd(ctx, k.SubscribersOf("nador", ck), ck)
	}
	r := store.Request{ID: "r1", Contact: contact, Channel: "sms", Lang: "fr", Text: st.Seal("x"), CreatedAt: time.Now(), Open: true}
	if err := st.Requests().Put(ctx, r); err != nil {
		t.Fatalf("PutRequest on the cluster: %v", err)
	}
	rdb.SAdd(ctx, k.RequestsOf(contact), "r1")
	rdb.ZAdd(ctx, k.OpenRequests(k.ShardOf("r1")), zOf("r1"))
	if err := st.Requests().AddReply(ctx, "r1", store.Reply{At: time.Now(), By: "amina", Text: st.Seal("y")}); err != nil {
		t.Fatal(err)
	}
	if err := st.Requests().Assign(ctx, "r1", "amina"); err != nil {
		t.Fatal(err)
	}
	r.Open = false
	if err := st.Requests().Put(ctx, r); err != nil {
		t.Fatalf("closing a request on the cluster: %v", err)
	}

	if err := st.Contacts().Erase(ctx, contact); err != nil {
		t.Fatalf("Erase on the cluster: %v", err)
	}
	for _, key := range redistest.KeysUnder(t, rdb, prefix) {
		if strings.Contains(key, contact) || strings.Contains(key, "r1") {
			t.Errorf("after erasure, %s is left", key)
		}
	}
	if rdb.SIsMember(ctx, k.SubscribersOf("nador", contact), contact).Val() || !rdb.SIsMember(ctx, k.SubscribersOf("nador", other), other).Val() {
		t.Error("erasure did not take the person, and only them, out of the subscriber set")
	}
	if n := rdb.ZCard(ctx, k.ClosedRequests(k.ShardOf("r1"))).Val(); n != 0 {
		t.Errorf("%d closed requests left", n)
	}
	rdb.SAdd(ctx, k.SubscribersOf("oujda", "00000000000000000000000000000000"), "00000000000000000000000000000000")
	rdb.ZAdd(ctx, k.OpenRequests(k.ShardOf("gone")), zOf("gone"))
	if n, err := st.Contacts().Purge(ctx); err != nil || n != 2 {
		t.Errorf("purge on the cluster = %d, %v; want 2", n, err)
	}
}

func zOf(m string) redis.Z { return redis.Z{Score: float64(time.Now().UnixMilli()), Member: m} }
