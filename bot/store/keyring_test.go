package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// TestDataKeyRotation: the data key is rotated by starting with the new key
// and the former one; contact keys and sealed addresses stay readable, and
// from then on only the new key opens the data.
func TestDataKeyRotation(t *testing.T) {
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	open := func(key, previous []byte) (*store.Store, error) {
		return store.New(ctx, rdb, store.Options{Prefix: prefix, DataKey: key, PreviousDataKey: previous})
	}
	first, err := open(k1, nil)
	if err != nil {
		t.Fatal(err)
	}
	ck := first.ContactKey("sms", "+212600000001")
	sealed := first.Seal("+212600000001")

	if _, err := open(k2, nil); !errors.Is(err, store.ErrWrongDataKey) {
		t.Fatalf("a new key alone: %v, want ErrWrongDataKey", err)
	}
	rotated, err := open(k2, k1)
	if err != nil {
		t.Fatalf("rotating: %v", err)
	}
	if rotated.ContactKey("sms", "+212600000001") != ck {
		t.Error("the contact key changed with the rotation")
	}
	if addr, err := rotated.Open(sealed); err != nil || addr != "+212600000001" {
		t.Errorf("a sealed address after the rotation: %q, %v", addr, err)
	}
	if _, err := open(k2, nil); err != nil {
		t.Errorf("the new key alone after the rotation: %v", err)
	}
	if _, err := open(k1, nil); !errors.Is(err, store.ErrWrongDataKey) {
		t.Errorf("the former key after the rotation: %v, want ErrWrongDataKey", err)
	}
	if raw := rdb.Get(ctx, prefix+"keyring").Val(); bytes.Contains([]byte(raw), k2) || raw == "" {
		t.Error("the keyring is not kept sealed")
	}
}

// TestKeyringKeepsDataWrittenBefore: contacts written before the keyring
// existed (keys derived from the data key itself) keep their keys.
func TestKeyringKeepsDataWrittenBefore(t *testing.T) {
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	k := bytes.Repeat([]byte{3}, 32)
	a, err := store.New(ctx, rdb, store.Options{Prefix: prefix, DataKey: k})
	if err != nil {
		t.Fatal(err)
	}
	fresh := a.ContactKey("sms", "+212600000002")

	// Another deployment, with data from before the keyring.
	rdb2, prefix2 := redistest.New(t)
	rdb2.Set(ctx, keys.New(prefix2).ContactState("0123"), "x", 0)
	b, err := store.New(ctx, rdb2, store.Options{Prefix: prefix2, DataKey: k})
	if err != nil {
		t.Fatal(err)
	}
	legacy := b.ContactKey("sms", "+212600000002")
	if legacy == fresh {
		t.Error("a new deployment's root key is the data key: rotation would not protect it")
	}
	if legacy != store.LegacyContactKey(k, "sms", "+212600000002") {
		t.Error("contacts written before the keyring lost their keys")
	}
}

// TestRotatingDataWrittenBefore: a deployment from before the keyring
// upgrades and rotates in one start. The root key is the former key, the
// one its addresses were sealed with, so nothing is lost.
func TestRotatingDataWrittenBefore(t *testing.T) {
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	old, fresh := bytes.Repeat([]byte{4}, 32), bytes.Repeat([]byte{5}, 32)
	// What the former version wrote: a contact keyed and sealed straight
	// from the old data key.
	ck := store.LegacyContactKey(old, "sms", "+212600000003")
	rdb.HSet(ctx, keys.New(prefix).ContactState(ck), "v", 1, "s", "{}", "a", store.LegacySeal(old, "+212600000003"), "ch", "sms")

	if _, err := store.New(ctx, rdb, store.Options{Prefix: prefix, DataKey: fresh}); err == nil {
		t.Fatal("a new key alone was taken for the key these addresses were sealed with")
	}
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix, DataKey: fresh, PreviousDataKey: old})
	if err != nil {
		t.Fatal(err)
	}
	if st.ContactKey("sms", "+212600000003") != ck {
		t.Error("the contact key changed")
	}
	sealed := rdb.HGet(ctx, keys.New(prefix).ContactState(ck), "a").Val()
	if addr, err := st.Open(sealed); err != nil || addr != "+212600000003" {
		t.Errorf("the sealed address: %q, %v", addr, err)
	}
	if _, err := store.New(ctx, rdb, store.Options{Prefix: prefix, DataKey: fresh}); err != nil {
		t.Errorf("the new key alone afterwards: %v", err)
	}
}
