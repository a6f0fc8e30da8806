package distribution_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/distribution"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/sms"
	"github.com/outreach-org/outreach/bot/telegram"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// sentTexts waits until broadcast id has fanned out to n people and
// returns the texts it put in the outbox.
func sentTexts(t *testing.T, env interface {
	Entries(outbox.Priority) []outbox.Entry
}, bc *broadcast.Service, id string, n int64) []string {
	t.Helper()
	var r broadcast.Report
	var err error
	if !waitfor.Within(20*time.Second, func() bool {
		r, err = bc.Get(context.Background(), id)
		return err != nil || r.Counts.Total == n
	}) {
		t.Fatalf("broadcast %s did not fan out: %+v", id, r)
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range env.Entries(outbox.Bulk) {
		if e.Broadcast == id {
			out = append(out, e.Messages[0].Text)
		}
	}
	slices.Sort(out)
	return out
}

func previewTexts(pv distribution.Preview) []string {
	var out []string
	for _, n := range pv.Notices {
		out = append(out, n.Text)
	}
	slices.Sort(out)
	return out
}

// TestPreviewCreateIsWhatGoes: the preview of a new distribution shows,
// in each language, the very text its subscribers then get, its SMS cost,
// how many will get it by language, and when the reminder goes; it stores
// and sends nothing.
func TestPreviewCreateIsWhatGoes(t *testing.T) {
	t.Parallel()
	env, bc, svc := setup(t)
	ctx := context.Background()
	d := valid(func(d *engine.Distribution) {
		d.Notify = true
		d.Place = engine.Localized{"fr": "Terrain de sport", "en": "Sports ground", "ar": "الملعب"}
	})
	pv, err := svc.PreviewCreate(ctx, d, 100)
	if err != nil {
		t.Fatal(err)
	}
	if pv.Kind != content.NoticeNew || len(pv.Notices) != 3 || pv.Notices[0].Lang != "fr" || pv.Notices[2].Lang != "ar" {
		t.Fatalf("preview %+v: want the new notice in fr, en, ar", pv)
	}
	for _, n := range pv.Notices {
		if n.SMS != sms.Measure(n.Text) || n.SMS.Segments == 0 {
			t.Errorf("%s: cost %+v of %q", n.Lang, n.SMS, n.Text)
		}
	}
	if pv.Notices[2].SMS.Encoding != sms.UCS2 || !strings.Contains(pv.Notices[2].Text, "الملعب") {
		t.Errorf("Arabic notice %q costs %+v", pv.Notices[2].Text, pv.Notices[2].SMS)
	}
	if pv.Reach.People != 3 || pv.Reach.Sent["ar"][telegram.Channel] != 1 || pv.Reach.Sent["fr"][telegram.Channel] != 1 {
		t.Errorf("reach %+v: want the 3 subscribers, one a language", pv.Reach)
	}
	if !pv.Reminder.Equal(d.StartsAt.Add(-24 * time.Hour)) {
		t.Errorf("reminder at %v, want a day before %v", pv.Reminder, d.StartsAt)
	}
	if list, _ := svc.List(ctx); len(list) != 0 {
		t.Fatalf("the preview stored %d distributions", len(list))
	}
	if r, _ := bc.List(ctx, 10); len(r) != 0 {
		t.Fatalf("the preview made %d broadcasts", len(r))
	}

	made, err := svc.Create(ctx, d, "amina")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sentTexts(t, env, bc, made.Told[0], 3), previewTexts(pv); !slices.Equal(got, want) {
		t.Errorf("sent:\n%q\npreviewed:\n%q", got, want)
	}

	// Not announced: nothing goes, no reminder.
	quiet, err := svc.PreviewCreate(ctx, valid(nil), 100)
	if err != nil || quiet.Kind != "" || len(quiet.Notices) != 0 || !quiet.Reminder.IsZero() {
		t.Errorf("preview without notify: %+v, %v; want nothing sent", quiet, err)
	}
}

// TestPreviewRefusesAsCreateDoes: what Create refuses, the preview refuses
// with the same words, each problem with its field and code.
func TestPreviewRefusesAsCreateDoes(t *testing.T) {
	t.Parallel()
	_, _, svc := setup(t)
	ctx := context.Background()
	d := valid(func(d *engine.Distribution) {
		d.Place = engine.Localized{"fr": " "}
		d.Items = []string{"rice", "caviar"}
		d.Bring = engine.Localized{"ar": strings.Repeat("ب", 301)}
	})
	_, perr := svc.PreviewCreate(ctx, d, 100)
	_, cerr := svc.Create(ctx, d, "amina")
	if perr == nil || cerr == nil || perr.Error() != cerr.Error() || !errors.Is(perr, distribution.ErrInvalid) {
		t.Fatalf("preview: %v\ncreate: %v\nwant the same refusal", perr, cerr)
	}
	var inv *distribution.InvalidError
	if !errors.As(perr, &inv) {
		t.Fatalf("%T is not an *InvalidError", perr)
	}
	var got []string
	for _, p := range inv.Problems {
		got = append(got, p.Field+" "+p.Code)
	}
	want := []string{"place.fr text_empty", "bring.ar text_too_long", "items item_unknown"}
	if !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	if inv.Problems[1].Args["Chars"] != 301 || inv.Problems[2].Args["Item"] != "caviar" {
		t.Errorf("args %v, %v", inv.Problems[1].Args, inv.Problems[2].Args)
	}
	if !strings.HasPrefix(perr.Error(), "invalid distribution: place.fr: empty") {
		t.Errorf("the API's words changed: %v", perr)
	}
	for _, p := range inv.Problems {
		if !slices.Contains(distribution.Codes(), p.Code) {
			t.Errorf("code %q is not in Codes()", p.Code)
		}
	}
}

// TestPreviewChangeAndCancel: a change of place previews the correction to
// those who were told (each counted once); a change of the kit sends none;
// a cancellation previews the cancellation to them — and the texts are
// those that then go.
func TestPreviewChangeAndCancel(t *testing.T) {
	t.Parallel()
	env, bc, svc := setup(t)
	ctx := context.Background()
	d, err := svc.Create(ctx, valid(func(d *engine.Distribution) { d.Notify = true }), "amina")
	if err != nil {
		t.Fatal(err)
	}
	sentTexts(t, env, bc, d.Told[0], 3)
	// The provider took the notice for two of them; one of the two also
	// got an earlier broadcast about it (as a reminder would be).
	subs, _ := env.Store.Contacts().Subscribers(ctx, "nador")
	slices.Sort(subs)
	ks := env.Store.Keys()
	for _, told := range []struct{ bc, ck string }{{d.Told[0], subs[0]}, {d.Told[0], subs[1]}, {d.Told[1], subs[1]}} {
		env.Redis.SAdd(ctx, ks.BroadcastTold(told.bc, ks.ShardOf(told.ck)), told.ck)
	}

	kit, err := svc.PreviewUpdate(ctx, d.ID, distribution.Patch{Items: []string{"rice"}}, 100)
	if err != nil || kit.Kind != "" || kit.Distribution.Items[0] != "rice" || kit.Base != distribution.Fingerprint(d) {
		t.Errorf("a change of kit: %+v, %v; want no notice", kit, err)
	}
	if !kit.Reminder.Equal(d.StartsAt.Add(-24 * time.Hour)) {
		t.Errorf("a change of kit keeps the reminder at %v, got %v", d.StartsAt.Add(-24*time.Hour), kit.Reminder)
	}
	moved, err := svc.PreviewUpdate(ctx, d.ID, distribution.Patch{Place: engine.Localized{"fr": "Stade municipal"}}, 100)
	if err != nil || moved.Kind != content.NoticeChanged || moved.Reach.People != 2 || !strings.Contains(moved.Notices[0].Text, "Stade municipal") {
		t.Fatalf("a change of place: %+v, %v; want the correction to the 2 told", moved, err)
	}
	if _, err := svc.PreviewUpdate(ctx, d.ID, distribution.Patch{Place: engine.Localized{}}, 100); !errors.Is(err, distribution.ErrInvalid) {
		t.Errorf("a change that empties the place: %v", err)
	}
	if got, _ := svc.Get(ctx, d.ID); got.Place["fr"] != "Terrain de sport" {
		t.Errorf("a preview changed the place to %q", got.Place["fr"])
	}
	changed, err := svc.Update(ctx, d.ID, distribution.Patch{Place: engine.Localized{"fr": "Stade municipal"}}, "amina")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := sentTexts(t, env, bc, changed.Told[len(changed.Told)-2], 2), previewTexts(moved); !slices.Contains(want, got[0]) || !slices.Contains(want, got[1]) {
		t.Errorf("correction sent %q, previewed %q", got, want)
	}

	cancel, err := svc.PreviewCancel(ctx, d.ID, 100)
	if err != nil || cancel.Kind != content.NoticeCancelled || !cancel.Distribution.Cancelled || cancel.Reach.People != 2 || len(cancel.Notices) != 3 {
		t.Fatalf("cancel preview: %+v, %v", cancel, err)
	}
	if cancel.Base == kit.Base {
		t.Error("the fingerprint did not change with the distribution")
	}
	if err := svc.Cancel(ctx, d.ID, "amina"); err != nil {
		t.Fatal(err)
	}
	after, _ := svc.Get(ctx, d.ID)
	if got, want := sentTexts(t, env, bc, after.Told[len(after.Told)-1], 2), previewTexts(cancel); !slices.Contains(want, got[0]) || !slices.Contains(want, got[1]) {
		t.Errorf("cancellation sent %q, previewed %q", got, want)
	}
	if again, err := svc.PreviewCancel(ctx, d.ID, 100); err != nil || again.Kind != "" {
		t.Errorf("cancelling again previews %+v, %v; want nothing sent", again, err)
	}
	if _, err := svc.PreviewUpdate(ctx, d.ID, distribution.Patch{Items: []string{"oil"}}, 100); !errors.Is(err, distribution.ErrInvalid) {
		t.Errorf("changing a cancelled distribution: %v", err)
	}
	if _, err := svc.PreviewCancel(ctx, "nope", 100); !errors.Is(err, distribution.ErrNotFound) {
		t.Errorf("cancelling what does not exist: %v", err)
	}
}

// TestCreateOnce: the same key from the same person makes one distribution
// and one announcement, however often it is sent; another person's key is
// theirs; a refused creation lets the key be used again.
func TestCreateOnce(t *testing.T) {
	t.Parallel()
	_, bc, svc := setup(t)
	ctx := context.Background()
	d := valid(func(d *engine.Distribution) { d.Notify = true })
	first, existed, err := svc.CreateOnce(ctx, d, "amina", "k1")
	if err != nil || existed {
		t.Fatalf("first: %v, existed %v", err, existed)
	}
	again, existed, err := svc.CreateOnce(ctx, d, "amina", "k1")
	if err != nil || !existed || again.ID != first.ID {
		t.Errorf("again: %s, existed %v, %v; want %s", again.ID, existed, err, first.ID)
	}
	other, existed, err := svc.CreateOnce(ctx, d, "youssef", "k1")
	if err != nil || existed || other.ID == first.ID {
		t.Errorf("another person's key: %s, existed %v, %v", other.ID, existed, err)
	}
	if list, _ := svc.List(ctx); len(list) != 2 {
		t.Errorf("%d distributions, want 2", len(list))
	}
	if r, _ := bc.List(ctx, 10); len(r) != 4 {
		t.Errorf("%d broadcasts, want 2 notices and 2 reminders", len(r))
	}
	bad := valid(func(d *engine.Distribution) { d.Items = nil })
	if _, _, err := svc.CreateOnce(ctx, bad, "amina", "k2"); !errors.Is(err, distribution.ErrInvalid) {
		t.Fatalf("invalid: %v", err)
	}
	if got, existed, err := svc.CreateOnce(ctx, d, "amina", "k2"); err != nil || existed || got.ID == "" {
		t.Errorf("the key of a refused creation, used again: %v, existed %v", err, existed)
	}
}
