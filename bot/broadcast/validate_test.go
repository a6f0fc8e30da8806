package broadcast_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/telegram"
)

// clock is a test's time, moved by hand.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

// atTime returns a broadcast service on env whose clock is c (not run:
// these tests look at what Create accepts and stores).
func atTime(env *channeltest.Env, c *clock) *broadcast.Service {
	return broadcast.New(env.Redis, env.Store, env.Dialog.Content, slog.New(slog.NewTextHandler(io.Discard, nil)), broadcast.Options{Now: c.Now})
}

// refused checks that err is ErrInvalid naming each of fields.
func refused(t *testing.T, what string, err error, fields ...string) {
	t.Helper()
	if !errors.Is(err, broadcast.ErrInvalid) {
		t.Errorf("%s: %v, want ErrInvalid", what, err)
		return
	}
	for _, f := range fields {
		if !strings.Contains(err.Error(), f+": ") {
			t.Errorf("%s: %q does not name %q", what, err, f)
		}
	}
}

// TestTextInEveryLanguageOfTheAudience: a message needs a text in every
// language its audience reads — the audience's languages, or all the bot's
// — unless staff name a fallback language that has one.
func TestTextInEveryLanguageOfTheAudience(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	svc := atTime(env, &clock{time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)})
	ctx := context.Background()
	msg := func(text map[string]string, fallback string, langs ...string) broadcast.Broadcast {
		return broadcast.Broadcast{Kind: broadcast.KindMessage, Text: text, Fallback: fallback, Audience: broadcast.Audience{Languages: langs}}
	}
	for _, tt := range []struct {
		name   string
		b      broadcast.Broadcast
		fields []string // nil: accepted
	}{
		{"French only, to everyone", msg(map[string]string{"fr": "Avis"}, ""), []string{"text.en", "text.ar"}},
		{"French only, to Arabic readers", msg(map[string]string{"fr": "Avis"}, "", "ar"), []string{"text.ar"}},
		{"French only, to French readers", msg(map[string]string{"fr": "Avis"}, "", "fr"), nil},
		{"every language", msg(map[string]string{"fr": "Avis", "en": "Notice", "ar": "إعلان"}, ""), nil},
		{"French, named the fallback", msg(map[string]string{"fr": "Avis"}, "fr"), nil},
		{"a fallback the bot does not speak", msg(map[string]string{"fr": "Avis"}, "de"), []string{"fallback"}},
		{"a fallback without a text", msg(map[string]string{"fr": "Avis"}, "en"), []string{"fallback"}},
		{"a blank text", msg(map[string]string{"fr": "  ", "en": "Notice", "ar": "إعلان"}, ""), []string{"text.fr"}},
		{"a text in a language the bot does not speak", msg(map[string]string{"de": "Hallo"}, "", "fr"), []string{"text.de", "text.fr"}},
		{"no text", msg(nil, ""), []string{"text"}},
		{"a notice with a fallback", broadcast.Broadcast{Kind: content.NoticeNew, Distribution: "d1", Fallback: "fr"}, []string{"fallback"}},
		{"a notice with a text", broadcast.Broadcast{Kind: content.NoticeNew, Distribution: "d1", Text: map[string]string{"fr": "x"}}, []string{"text"}},
	} {
		_, _, err := svc.Create(ctx, tt.b, "")
		if tt.fields == nil {
			if err != nil {
				t.Errorf("%s: %v, want it accepted", tt.name, err)
			}
			continue
		}
		refused(t, tt.name, err, tt.fields...)
	}
	// The message names the language and the way out.
	_, _, err := svc.Create(ctx, msg(map[string]string{"fr": "Avis"}, "", "ar"), "")
	if want := `text.ar: missing — the audience includes people who read ar (العربية); give a text in ar or name a "fallback" language`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to say %q", err, want)
	}
}

// TestFallbackIsSent: people whose language has no text get the fallback's.
func TestFallbackIsSent(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	subscribe(t, env, 6, func(i int) string { return []string{"fr", "en", "ar"}[i%3] })
	svc := running(t, env)
	id, _, err := svc.Create(context.Background(), broadcast.Broadcast{Kind: broadcast.KindMessage,
		Text: map[string]string{"fr": "Bureau fermé", "en": "Office closed"}, Fallback: "en"}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitCounts(t, svc, id, func(c broadcast.Counts) bool { return c.Total == 6 })
	got := map[string]int{}
	for _, e := range env.Entries(outbox.Bulk) {
		text := e.Messages[0].Text
		switch {
		case strings.Contains(text, "Bureau fermé") && strings.Contains(text, env.Text("fr", "notice_footer")):
			got["fr"]++
		case strings.Contains(text, "Office closed") && strings.Contains(text, env.Text("ar", "notice_footer")):
			got["ar"]++ // the fallback's text, the reader's footer
		case strings.Contains(text, "Office closed"):
			got["en"]++
		}
	}
	if got["fr"] != 2 || got["en"] != 2 || got["ar"] != 2 {
		t.Errorf("texts sent by language %v, want 2 each: French in French, English and the English fallback for Arabic", got)
	}
}

// TestAudienceMustExist: an audience naming a site that does not exist or
// is retired, a language the bot does not speak, a channel it does not
// know or a broadcast that does not exist is refused.
func TestAudienceMustExist(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	ctx := context.Background()
	if err := env.Store.PutSites(ctx, []engine.Site{{ID: "nador"}, {ID: "rabat", Retired: true}}); err != nil {
		t.Fatal(err)
	}
	svc := atTime(env, &clock{time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)})
	all := map[string]string{"fr": "Avis", "en": "Notice", "ar": "إعلان"}
	first, _, err := svc.Create(ctx, broadcast.Broadcast{Kind: broadcast.KindMessage, Text: all, Audience: broadcast.Audience{Sites: []string{"nador"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		audience broadcast.Audience
		field    string
	}{
		{"an unknown site", broadcast.Audience{Sites: []string{"nador", "atlantis"}}, "audience.sites"},
		{"a retired site", broadcast.Audience{Sites: []string{"rabat"}}, "audience.sites"},
		{"a default site the stored sites replaced", broadcast.Audience{Sites: []string{"oujda"}}, "audience.sites"},
		{"an unknown language", broadcast.Audience{Languages: []string{"de"}}, "audience.languages"},
		{"an unknown channel", broadcast.Audience{Channels: []string{"fax"}}, "audience.channels"},
		{"an unknown broadcast", broadcast.Audience{RecipientsOf: []string{first, "nope"}}, "audience.recipients_of"},
		{"sites and recipients_of", broadcast.Audience{Sites: []string{"nador"}, RecipientsOf: []string{first}}, "audience"},
	} {
		_, _, err := svc.Create(ctx, broadcast.Broadcast{Kind: broadcast.KindMessage, Text: all, Audience: tt.audience}, "")
		refused(t, tt.name, err, tt.field)
	}
	for _, ok := range []broadcast.Audience{
		{Sites: []string{"nador"}, Languages: []string{"fr", "ar"}, Channels: []string{"sms", "whatsapp", "telegram"}},
		{RecipientsOf: []string{first}},
		{},
	} {
		if _, _, err := svc.Create(ctx, broadcast.Broadcast{Kind: broadcast.KindMessage, Text: all, Audience: ok}, ""); err != nil {
			t.Errorf("audience %+v: %v", ok, err)
		}
	}
}

// TestSendAtInThePast: a send_at before now, beyond the clock slack, is
// refused; within the slack, or to come, it is kept.
func TestSendAtInThePast(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	svc := atTime(env, &clock{now})
	ctx := context.Background()
	at := func(t time.Time) broadcast.Broadcast {
		return broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Avis"}, Fallback: "fr", SendAt: t}
	}
	for _, past := range []time.Time{now.Add(-broadcast.SendAtSlack - time.Second), now.Add(-24 * time.Hour)} {
		_, _, err := svc.Create(ctx, at(past), "")
		refused(t, "send_at "+past.Format(time.RFC3339), err, "send_at")
	}
	for _, fine := range []time.Time{{}, now.Add(-broadcast.SendAtSlack + time.Second), now, now.Add(time.Hour)} {
		id, _, err := svc.Create(ctx, at(fine), "")
		if err != nil {
			t.Errorf("send_at %v: %v", fine, err)
			continue
		}
		r, err := svc.Get(ctx, id)
		if err != nil || r.Status != broadcast.Scheduled {
			t.Errorf("send_at %v: %+v %v", fine, r, err)
		}
	}
}

// TestIdempotencyKeyWithAnotherRequest: the same key with the same request
// returns the broadcast made the first time (even once its send_at has
// passed); with a different request it is a conflict and makes nothing.
func TestIdempotencyKeyWithAnotherRequest(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, telegram.Channel)
	clk := &clock{time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	svc := atTime(env, clk)
	ctx := context.Background()
	b := broadcast.Broadcast{Kind: broadcast.KindMessage, Text: map[string]string{"fr": "Avis", "en": "Notice", "ar": "إعلان"},
		Audience: broadcast.Audience{Sites: []string{"nador", "oujda"}}, SendAt: clk.now.Add(time.Minute), CreatedBy: "amina"}
	id, existed, err := svc.Create(ctx, b, "k-1")
	if err != nil || existed {
		t.Fatalf("first: %v %v", existed, err)
	}
	again := b
	again.Audience.Sites = []string{"oujda", "nador"} // the same set
	clk.now = clk.now.Add(time.Hour)                  // its send_at has passed: a repeat is still a repeat
	if id2, existed, err := svc.Create(ctx, again, "k-1"); err != nil || !existed || id2 != id {
		t.Errorf("the same request again: %s %v %v; want %s, existed", id2, existed, err, id)
	}
	other := b
	other.Text = map[string]string{"fr": "Autre avis", "en": "Other notice", "ar": "إعلان آخر"}
	other.SendAt = clk.now.Add(time.Minute)
	if id3, _, err := svc.Create(ctx, other, "k-1"); !errors.Is(err, broadcast.ErrIdempotencyConflict) || id3 != "" {
		t.Errorf("another request with the same key: %q %v, want ErrIdempotencyConflict", id3, err)
	}
	// The key is scoped to who sends it.
	other.CreatedBy = "youssef"
	if id4, existed, err := svc.Create(ctx, other, "k-1"); err != nil || existed || id4 == id {
		t.Errorf("another sender's key: %s %v %v; want a new broadcast", id4, existed, err)
	}
	if list, err := svc.List(ctx, 10); err != nil || len(list) != 2 {
		t.Errorf("%d broadcasts, %v; want 2", len(list), err)
	}
	// A key stored before fingerprints (only the id) is still a repeat.
	sum := sha256.Sum256([]byte("amina\x00k-old"))
	env.Redis.Set(ctx, env.Prefix+"{o}:idem:"+hex.EncodeToString(sum[:16]), id, time.Hour)
	if id5, existed, err := svc.Create(ctx, b, "k-old"); err != nil || !existed || id5 != id {
		t.Errorf("a key stored by the previous version: %s %v %v; want %s", id5, existed, err, id)
	}
}

// TestNoticeTemplatePlace: the place of a WhatsApp notice template falls
// back, like the notice's text, to any language given.
func TestNoticeTemplatePlace(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, "whatsapp")
	ctx := context.Background()
	phone := "+212612000009"
	ck := env.Store.ContactKey("whatsapp", phone)
	st, _ := json.Marshal(engine.State{Lang: "fr", Node: "main", Sites: []string{"nador"}, LastSeen: time.Now().Add(-72 * time.Hour)})
	env.Redis.HSet(ctx, env.Store.Keys().ContactState(ck), "v", 1, "s", st, "a", env.Store.Seal(phone), "ch", "whatsapp")
	env.Redis.SAdd(ctx, env.Store.Keys().SubscribersOf("nador", ck), ck)
	start := time.Now().Add(72 * time.Hour).Truncate(time.Hour)
	d := engine.Distribution{ID: "d1", Site: "nador", StartsAt: start, EndsAt: start.Add(2 * time.Hour), Place: engine.Localized{"en": "Sports ground"}, Items: []string{"rice"}}
	if err := env.Store.PutDistribution(ctx, d); err != nil {
		t.Fatal(err)
	}
	svc := broadcast.New(env.Redis, env.Store, env.Dialog.Content, slog.New(slog.NewTextHandler(io.Discard, nil)),
		broadcast.Options{Templates: map[string]string{content.NoticeNew: "HX0123"}})
	cctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go svc.Run(cctx)
	id, _, err := svc.Create(ctx, broadcast.Broadcast{Kind: content.NoticeNew, Distribution: "d1", Audience: broadcast.Audience{Sites: []string{"nador"}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	waitCounts(t, svc, id, func(c broadcast.Counts) bool { return c.Total == 1 })
	entries := env.Entries(outbox.Bulk)
	if len(entries) != 1 || entries[0].Template != "HX0123" || entries[0].TemplateVars["4"] != "Sports ground" {
		t.Errorf("entries %+v: want the template with the place given in English", entries)
	}
}

func TestCheckSite(t *testing.T) {
	t.Parallel()
	langs := []string{"fr", "en", "ar"}
	for _, tt := range []struct {
		site  engine.Site
		field string // "": accepted
	}{
		{engine.Site{ID: "tiznit", Names: map[string]string{"fr": "Tiznit", "ar": "تيزنيت"}}, ""},
		{engine.Site{ID: "beni-mellal_2"}, ""},
		{engine.Site{ID: "Tiznit", Names: map[string]string{"fr": "Tiznit"}}, "id"},
		{engine.Site{ID: "", Names: map[string]string{"fr": "Tiznit"}}, "id"},
		{engine.Site{ID: "tiznit", Names: map[string]string{"de": "Tiznit"}}, "names.de"},
		{engine.Site{ID: "tiznit", Names: map[string]string{"fr": ""}}, "names.fr"},
		{engine.Site{ID: "tiznit", Names: map[string]string{"fr": " \t "}}, "names.fr"},
		{engine.Site{ID: "tiznit", Names: map[string]string{"fr": " Tiznit"}}, "names.fr"},
		{engine.Site{ID: "tiznit", Names: map[string]string{"fr": strings.Repeat("é", broadcast.MaxSiteName+1)}}, "names.fr"},
		{engine.Site{ID: "tiznit", Names: map[string]string{"fr": strings.Repeat("é", broadcast.MaxSiteName)}}, ""},
		{engine.Site{ID: "tiznit", Names: map[string]string{"fr": "Tiz\nnit"}}, "names.fr"},
		{engine.Site{ID: "tiznit", Names: map[string]string{"fr": "Tiz\x1bnit"}}, "names.fr"},
		{engine.Site{ID: "tiznit", Names: map[string]string{"ar": "تيز\u202eنيت"}}, "names.ar"},
		{engine.Site{ID: "tiznit", Names: map[string]string{"fr": "Tiz\xffnit"}}, "names.fr"},
		{engine.Site{ID: "tiznit", ExactPlace: engine.ExactPlaceEveryone, Area: engine.Localized{"fr": "Tiznit, quartier Agadir Oufella"}}, ""},
		{engine.Site{ID: "tiznit", ExactPlace: engine.ExactPlaceSubscribers}, ""},
		{engine.Site{ID: "tiznit", ExactPlace: "all"}, "exact_place"},
		{engine.Site{ID: "tiznit", Area: engine.Localized{"de": "Zentrum"}}, "area.de"},
		{engine.Site{ID: "tiznit", Area: engine.Localized{"fr": " "}}, "area.fr"},
		{engine.Site{ID: "tiznit", Area: engine.Localized{"fr": "centre\nville"}}, "area.fr"},
		{engine.Site{ID: "tiznit", Area: engine.Localized{"ar": strings.Repeat("ب", broadcast.MaxSiteArea+1)}}, "area.ar"},
	} {
		err := broadcast.CheckSite(tt.site, langs)
		if tt.field == "" {
			if err != nil {
				t.Errorf("%+v: %v, want it accepted", tt.site, err)
			}
			continue
		}
		if !errors.Is(err, broadcast.ErrInvalid) || !strings.Contains(err.Error(), tt.field+": ") || !strings.HasPrefix(err.Error(), "invalid site: ") {
			t.Errorf("%+v: %v, want ErrInvalid naming %s", tt.site, err, tt.field)
		}
	}
}
