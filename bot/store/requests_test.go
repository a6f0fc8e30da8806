package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/store"
)

// putRequest records a request as a turn does.
func putRequest(t *testing.T, st *store.Store, rdb redis.UniversalClient, req store.Request) {
	t.Helper()
	if err := st.Requests().Add(context.Background(), req); err != nil {
		t.Fatal(err)
	}
}

// TestRepliesAndAssignee: staff's replies are kept sealed, in order, and
// expire within the retention period; a request takes one assignee, whom a
// later one replaces; nobody can be assigned to a request that does not
// exist; erasing the person deletes both.
func TestRepliesAndAssignee(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, prefix := redistest.New(t)
	const retention = 48 * time.Hour
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix, Retention: retention})
	if err != nil {
		t.Fatal(err)
	}
	const contact = "0123456789abcdef0123456789abcdef"
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	putRequest(t, st, rdb, store.Request{ID: "r1", Contact: contact, Channel: "sms", Lang: "fr", Text: st.Seal("Bonjour"), CreatedAt: at, Open: true})
	putRequest(t, st, rdb, store.Request{ID: "r2", Contact: "other", Channel: "sms", Lang: "fr", Text: st.Seal("Salut"), CreatedAt: at, Open: true})

	if got, err := st.Requests().Replies(ctx, "r1"); err != nil || len(got) != 0 {
		t.Fatalf("replies before any: %v, %v", got, err)
	}
	for i, text := range []string{"Nous vous appelons", "Jeudi 10 h"} {
		r := store.Reply{At: at.Add(time.Duration(i+1) * time.Minute), By: "samira", Text: st.Seal(text), After: i}
		if err := st.Requests().AddReply(ctx, "r1", r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Requests().Replies(ctx, "r1")
	if err != nil || len(got) != 2 {
		t.Fatalf("replies: %v, %v", got, err)
	}
	for i, want := range []string{"Nous vous appelons", "Jeudi 10 h"} {
		if got[i].Text == want {
			t.Errorf("reply %d is kept in clear", i)
		}
		if text, err := st.Open(got[i].Text); err != nil || text != want || got[i].By != "samira" || got[i].After != i || !got[i].At.Equal(at.Add(time.Duration(i+1)*time.Minute)) {
			t.Errorf("reply %d = %+v (%q, %v)", i, got[i], text, err)
		}
	}

	if err := st.Requests().Assign(ctx, "nope", "samira"); !errors.Is(err, store.ErrNoRequest) {
		t.Errorf("assign to a request that does not exist: %v, want ErrNoRequest", err)
	}
	if err := st.Requests().Assign(ctx, "r1", ""); err == nil {
		t.Error("assigning nobody was accepted")
	}
	if err := st.Requests().Assign(ctx, "r1", "samira"); err != nil {
		t.Fatal(err)
	}
	if err := st.Requests().Assign(ctx, "r1", "youssef"); err != nil {
		t.Fatal(err)
	}
	names, err := st.Requests().Assignees(ctx, "r2", "r1", "nope")
	if err != nil || !slices.Equal(names, []string{"", "youssef", ""}) {
		t.Errorf("assignees = %q, %v; want nobody, youssef, nobody", names, err)
	}
	if names, err := st.Requests().Assignees(ctx); err != nil || len(names) != 0 {
		t.Errorf("assignees of no request: %q, %v", names, err)
	}
	for _, k := range []string{st.Keys().RequestReplies("r1"), st.Keys().RequestAssignee("r1")} {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > retention {
			t.Errorf("%s expires in %v, want within the retention period %v", k, ttl, retention)
		}
	}

	if err := st.Contacts().Erase(ctx, contact); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, st.Keys().RequestReplies("r1"), st.Keys().RequestAssignee("r1")).Val(); n != 0 {
		t.Errorf("%d of the erased person's reply and assignee keys are left", n)
	}
	if got, err := st.Requests().Replies(ctx, "r1"); err != nil || len(got) != 0 {
		t.Errorf("replies after erasure: %v, %v", got, err)
	}
	if err := st.Requests().Assign(ctx, "r1", "samira"); !errors.Is(err, store.ErrNoRequest) {
		t.Errorf("assign to an erased request: %v, want ErrNoRequest", err)
	}
}

// TestStaffOrder: urgent requests first, then the one waiting longest.
func TestStaffOrder(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	reqs := []store.Request{
		{ID: "new", CreatedAt: t0.Add(3 * time.Hour)},
		{ID: "urgent-new", CreatedAt: t0.Add(2 * time.Hour), Urgent: true},
		{ID: "old", CreatedAt: t0},
		{ID: "urgent-old", CreatedAt: t0.Add(time.Hour), Urgent: true},
	}
	store.StaffOrder(reqs)
	var ids []string
	for _, r := range reqs {
		ids = append(ids, r.ID)
	}
	if want := []string{"urgent-old", "urgent-new", "old", "new"}; !slices.Equal(ids, want) {
		t.Errorf("order %v, want %v", ids, want)
	}
}

// TestOpenThread: the texts are opened, what does not open says so, and
// each reply comes after the notes the person had written before it.
func TestOpenThread(t *testing.T) {
	t.Parallel()
	open := func(s string) (string, error) {
		if s == "broken" {
			return "", errors.New("does not open")
		}
		return "open:" + s, nil
	}
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	req := store.Request{ID: "r", Text: "ask", CreatedAt: t0}
	replies := []store.Reply{
		{At: t0.Add(time.Minute), By: "a", Text: "r1", After: 1},
		{At: t0.Add(2 * time.Minute), By: "b", Text: "r2", After: 1},
		{At: t0.Add(3 * time.Minute), By: "a", Text: "broken", After: 3},
	}
	th := store.OpenThread(open, req, []string{"n1", "n2", "broken"}, replies)
	if th.Text != "open:ask" || !slices.Equal(th.Then, []string{"open:n1", "open:n2", store.Unreadable}) {
		t.Errorf("text %q, then %q", th.Text, th.Then)
	}
	if len(th.Replies) != 3 || th.Replies[2].Text != store.Unreadable || th.Replies[0].Text != "open:r1" {
		t.Errorf("replies %+v", th.Replies)
	}
	var got []string
	for _, m := range th.Messages {
		who := "person"
		if m.Staff {
			who = m.By
		}
		got = append(got, who+" "+m.Text)
	}
	want := []string{"person open:ask", "person open:n1", "a open:r1", "b open:r2", "person open:n2", "person " + store.Unreadable, "a " + store.Unreadable}
	if !slices.Equal(got, want) {
		t.Errorf("thread\n%q\nwant\n%q", got, want)
	}
	if !th.Messages[0].At.Equal(t0) || !th.Messages[1].At.IsZero() || !th.Messages[2].At.Equal(t0.Add(time.Minute)) {
		t.Errorf("times: %v %v %v", th.Messages[0].At, th.Messages[1].At, th.Messages[2].At)
	}
	// A reply's place beyond the notes kept puts it last.
	th = store.OpenThread(open, req, nil, []store.Reply{{By: "a", Text: "x", After: 5}})
	if len(th.Messages) != 2 || !th.Messages[1].Staff {
		t.Errorf("thread without notes: %+v", th.Messages)
	}
}

// TestRequestCounts: open and urgent requests are counted from their
// indexes: a request recorded urgent, one flagged urgent later, one closed.
func TestRequestCounts(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	ctx := context.Background()
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix, DataKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, r := range []store.Request{
		{ID: "a", Contact: "c1", Open: true, Urgent: true, CreatedAt: now},
		{ID: "b", Contact: "c2", Open: true, CreatedAt: now},
		{ID: "c", Contact: "c3", Open: true, CreatedAt: now},
	} {
		putRequest(t, st, rdb, r)
	}
	if changed, err := st.Requests().MarkUrgent(ctx, "b"); err != nil || !changed {
		t.Fatalf("MarkUrgent: %v %v", changed, err)
	}
	open, urgent, err := st.Requests().Counts(ctx)
	if err != nil || open != 3 || urgent != 2 {
		t.Fatalf("counts %d open, %d urgent (%v); want 3 and 2", open, urgent, err)
	}
	closed, _, err := st.Requests().Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	closed.Open = false
	if err := st.Requests().Put(ctx, closed); err != nil {
		t.Fatal(err)
	}
	open, urgent, err = st.Requests().Counts(ctx)
	if err != nil || open != 2 || urgent != 1 {
		t.Errorf("after closing an urgent one: %d open, %d urgent (%v); want 2 and 1", open, urgent, err)
	}
	if err := st.Contacts().Erase(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if _, urgent, _ := st.Requests().Counts(ctx); urgent != 0 {
		t.Errorf("after erasing the person of the other urgent one: %d urgent, want 0", urgent)
	}
}
