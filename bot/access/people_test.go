package access

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/redistest"
)

func TestInviteAcceptSignInDisable(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	people := NewPeople(rdb, prefix, "bootstrap-passphrase", func() time.Time { return now })

	inv, err := people.Invite(ctx, "amina", Staff, "ar")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := people.SignIn(ctx, "amina", "anything-at-all"); ok {
		t.Fatal("an invited person signed in before choosing a passphrase")
	}
	if _, err := people.Invite(ctx, "Admin", Staff, "fr"); !errors.Is(err, ErrInvalid) {
		t.Errorf("inviting the bootstrap name: %v, want ErrInvalid", err)
	}
	if _, err := people.Accept(ctx, inv.Token, "short"); !errors.Is(err, ErrWeakPassphrase) {
		t.Errorf("a short passphrase: %v, want ErrWeakPassphrase", err)
	}
	if _, err := people.Accept(ctx, "not-a-token", "long enough passphrase"); !errors.Is(err, ErrInviteInvalid) {
		t.Errorf("an unknown invitation: %v", err)
	}
	p, err := people.Accept(ctx, inv.Token, "olive tree by the sea")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "amina" || p.Role != Staff || p.Lang != "ar" {
		t.Errorf("accepted %+v", p)
	}
	if _, err := people.Accept(ctx, inv.Token, "olive tree by the sea"); !errors.Is(err, ErrInviteInvalid) {
		t.Errorf("a used invitation worked again: %v", err)
	}
	if _, err := people.Invite(ctx, "amina", Partner, "fr"); !errors.Is(err, ErrPersonExists) {
		t.Errorf("inviting an existing person: %v", err)
	}
	if _, ok, _ := people.SignIn(ctx, "amina", "olive tree by the se"); ok {
		t.Error("a wrong passphrase signed in")
	}
	if got, ok, err := people.SignIn(ctx, "AMINA", "olive tree by the sea"); err != nil || !ok || got.Name != "amina" {
		t.Errorf("sign-in: %+v %v %v", got, ok, err)
	}
	if _, ok, _ := people.SignIn(ctx, "admin", "bootstrap-passphrase"); !ok {
		t.Error("the bootstrap admin did not sign in")
	}
	if _, ok, _ := people.SignIn(ctx, "nobody", "olive tree by the sea"); ok {
		t.Error("an unknown person signed in")
	}
	if err := people.SetDisabled(ctx, "amina", true); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := people.SignIn(ctx, "amina", "olive tree by the sea"); ok {
		t.Error("a disabled person signed in")
	}
	list, err := people.List(ctx)
	if err != nil || len(list) != 1 || !list[0].Disabled {
		t.Errorf("list: %+v %v", list, err)
	}
	// The hash is argon2id, never the passphrase.
	h, _ := rdb.HGet(ctx, prefix+"{people}:person:amina", "hash").Result()
	if !strings.HasPrefix(h, "$argon2id$") || strings.Contains(h, "olive") {
		t.Errorf("stored hash %q", h)
	}
}

func TestInvitationExpires(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	people := NewPeople(rdb, prefix, "", nil)
	inv, err := people.Invite(ctx, "sam", Partner, "en")
	if err != nil {
		t.Fatal(err)
	}
	ttl, err := rdb.TTL(ctx, prefix+"{people}:invite:"+hashToken(inv.Token)).Result()
	if err != nil || ttl <= 47*time.Hour || ttl > InviteTTL {
		t.Errorf("invitation TTL %v %v, want 48h", ttl, err)
	}
	rdb.Del(ctx, prefix+"{people}:invite:"+hashToken(inv.Token)) // as when it expires
	if _, err := people.Accept(ctx, inv.Token, "a long passphrase"); !errors.Is(err, ErrInviteInvalid) {
		t.Errorf("an expired invitation: %v", err)
	}
	// Without OUTREACH_ADMIN_TOKEN there is no bootstrap admin.
	if _, ok, _ := people.SignIn(ctx, "admin", ""); ok {
		t.Error("admin signed in with no bootstrap passphrase set")
	}
}

func TestFailedSignInsSlowDownButNeverLockOut(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	f := NewFailures(rdb, prefix)
	var delays []time.Duration
	for range 6 {
		d, err := f.Delay(ctx, "amina", "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		delays = append(delays, d)
		if err := f.Failed(ctx, "amina", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{0, 0, 0, 500 * time.Millisecond, time.Second, 2 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Errorf("delay before attempt %d = %v, want %v", i+1, delays[i], want[i])
		}
	}
	// Another address guessing the same account is slowed too (per account).
	if d, _ := f.Delay(ctx, "amina", "198.51.100.7"); d == 0 {
		t.Error("the account's failures do not slow another address")
	}
	// The same address guessing another account is slowed (per address).
	if d, _ := f.Delay(ctx, "sam", "192.0.2.1"); d == 0 {
		t.Error("the address's failures do not slow it on another account")
	}
	if failureDelay(1000) != 10*time.Second {
		t.Errorf("the delay is not capped: %v", failureDelay(1000))
	}
}
