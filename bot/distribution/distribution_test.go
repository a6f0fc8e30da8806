package distribution_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/distribution"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/telegram"
	"github.com/outreach-org/outreach/bot/waitfor"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// now is the tests' time.
var now = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// setup returns the distribution service on a real Redis, its clock at now,
// with three Telegram subscribers of nador (one a language) and rabat
// retired.
func setup(t *testing.T) (*channeltest.Env, *broadcast.Service, *distribution.Service) {
	t.Helper()
	env := channeltest.New(t, telegram.Channel)
	ctx := context.Background()
	sites := []engine.Site{{ID: "nador"}, {ID: "oujda"}, {ID: "rabat", Retired: true}}
	if err := env.Store.PutSites(ctx, sites); err != nil {
		t.Fatal(err)
	}
	for i, lang := range []string{"fr", "en", "ar"} {
		chat := "70000" + string(rune('1'+i))
		ck := env.Store.ContactKey(telegram.Channel, chat)
		st, _ := json.Marshal(engine.State{Lang: lang, Node: "main", Sites: []string{"nador"}, LastSeen: now})
		env.Redis.HSet(ctx, env.Store.Keys().ContactState(ck), "v", 1, "s", st, "a", env.Store.Seal(chat), "ch", telegram.Channel)
		env.Redis.SAdd(ctx, env.Store.Keys().SubscribersOf("nador", ck), ck)
	}
	clock := func() time.Time { return now }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bc := broadcast.New(env.Redis, env.Store, env.Dialog.Content, log, broadcast.Options{Now: clock})
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go bc.Run(runCtx)
	return env, bc, distribution.New(env.Store, bc, env.Dialog.Content, 24*time.Hour, clock, nil, log)
}

// valid is a distribution that may be announced; change edits a copy.
func valid(change func(*engine.Distribution)) engine.Distribution {
	start := now.Add(72 * time.Hour)
	d := engine.Distribution{Site: "nador", StartsAt: start, EndsAt: start.Add(3 * time.Hour),
		Place: engine.Localized{"fr": "Terrain de sport"}, Items: []string{"rice", "oil"}}
	if change != nil {
		change(&d)
	}
	return d
}

// refused checks that err is ErrInvalid naming field.
func refused(t *testing.T, what string, err error, field string) {
	t.Helper()
	if !errors.Is(err, distribution.ErrInvalid) || !strings.Contains(err.Error(), field+": ") {
		t.Errorf("%s: %v, want ErrInvalid naming %q", what, err, field)
	}
}

// TestDistributionNeedsPlaceAndKit: a distribution without its place, with
// a blank one, without a kit or with an item not in the catalogue, at a
// site that does not exist or is retired, is refused, naming the field.
func TestDistributionNeedsPlaceAndKit(t *testing.T) {
	t.Parallel()
	_, _, svc := setup(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name   string
		change func(*engine.Distribution)
		field  string
	}{
		{"no place", func(d *engine.Distribution) { d.Place = nil }, "place"},
		{"an empty place", func(d *engine.Distribution) { d.Place = engine.Localized{} }, "place"},
		{"a blank place", func(d *engine.Distribution) { d.Place = engine.Localized{"fr": "  "} }, "place.fr"},
		{"a blank place among others", func(d *engine.Distribution) { d.Place = engine.Localized{"fr": "Terrain", "ar": ""} }, "place.ar"},
		{"a place in a language the bot does not speak", func(d *engine.Distribution) { d.Place = engine.Localized{"de": "Sportplatz"} }, "place.de"},
		{"a blank who", func(d *engine.Distribution) { d.Who = engine.Localized{"fr": " "} }, "who.fr"},
		{"no kit", func(d *engine.Distribution) { d.Items = nil }, "items"},
		{"an empty kit", func(d *engine.Distribution) { d.Items = []string{} }, "items"},
		{"an item not in the catalogue", func(d *engine.Distribution) { d.Items = []string{"rice", "caviar"} }, "items"},
		{"an item twice", func(d *engine.Distribution) { d.Items = []string{"rice", "rice"} }, "items"},
		{"no site", func(d *engine.Distribution) { d.Site = "" }, "site"},
		{"an unknown site", func(d *engine.Distribution) { d.Site = "atlantis" }, "site"},
		{"a retired site", func(d *engine.Distribution) { d.Site = "rabat" }, "site"},
		{"ends before it starts", func(d *engine.Distribution) { d.EndsAt = d.StartsAt.Add(-time.Hour) }, "ends_at"},
		{"already over", func(d *engine.Distribution) { d.StartsAt, d.EndsAt = now.Add(-3*time.Hour), now.Add(-time.Hour) }, "ends_at"},
	} {
		_, err := svc.Create(ctx, valid(tt.change), "amina")
		refused(t, tt.name, err, tt.field)
	}
	if list, err := svc.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("%d distributions stored, %v; want none", len(list), err)
	}
	for _, ok := range []func(*engine.Distribution){
		nil,
		func(d *engine.Distribution) { d.Place = engine.Localized{"en": "Sports ground"} }, // one text, in any language
		func(d *engine.Distribution) {
			d.Place = engine.Localized{"fr": "Terrain", "en": "Sports ground", "ar": "الملعب"}
		},
	} {
		if _, err := svc.Create(ctx, valid(ok), "amina"); err != nil {
			t.Errorf("%+v: %v", valid(ok), err)
		}
	}
}

// TestPatchCannotEmptyANotice: a change that would leave a notice without
// its place or its kit is refused and changes nothing; null leaves a field
// as it is.
func TestPatchCannotEmptyANotice(t *testing.T) {
	t.Parallel()
	_, _, svc := setup(t)
	ctx := context.Background()
	d, err := svc.Create(ctx, valid(func(d *engine.Distribution) { d.Who = engine.Localized{"fr": "les familles"} }), "amina")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ body, field string }{
		{`{"items":[]}`, "items"},
		{`{"place":""}`, "place"},
		{`{"place":{}}`, "place"},
		{`{"place":{"fr":""}}`, "place.fr"},
		{`{"place":{"fr":"   "}}`, "place.fr"},
		{`{"items":["rice","caviar"]}`, "items"},
	} {
		var p distribution.Patch
		if err := json.Unmarshal([]byte(tt.body), &p); err != nil {
			t.Fatal(err)
		}
		_, err := svc.Update(ctx, d.ID, p, "amina")
		refused(t, tt.body, err, tt.field)
	}
	var p distribution.Patch
	if err := json.Unmarshal([]byte(`{"place":null,"who":null,"items":null,"bring":"la carte"}`), &p); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Update(ctx, d.ID, p, "amina")
	if err != nil {
		t.Fatalf("null fields: %v", err)
	}
	if got.Place["fr"] != "Terrain de sport" || got.Who["fr"] != "les familles" || len(got.Items) != 2 || got.Bring["fr"] != "la carte" {
		t.Errorf("after a change with null fields: %+v; want place, who and items as they were", got)
	}
}

// TestNoticeHasNoEmptyLine: whatever staff give, a notice that goes out
// shows its place and kit in every language (the place may be given in one
// only); what would leave a line empty is refused.
func TestNoticeHasNoEmptyLine(t *testing.T) {
	t.Parallel()
	env, bc, svc := setup(t)
	ctx := context.Background()
	// The labels of the place and kit lines, as they read when empty.
	var labels []string
	for _, lang := range env.Content.Languages {
		empty := env.Content.Text(lang, "dist_item", map[string]any{"Date": "D", "Time": "T", "Place": "", "Items": ""})
		for _, line := range strings.Split(empty, "\n") {
			if l := strings.TrimSpace(line); strings.HasSuffix(l, ":") {
				labels = append(labels, l)
			}
		}
	}
	if len(labels) != 6 {
		t.Fatalf("labels %q: want a place and a kit line in each of 3 languages", labels)
	}
	sent := 0
	for _, change := range []func(*engine.Distribution){
		func(d *engine.Distribution) { d.Items = nil },
		func(d *engine.Distribution) { d.Place = engine.Localized{"fr": " "} },
		func(d *engine.Distribution) { d.Place = engine.Localized{"fr": "", "en": "Sports ground"} },
		func(d *engine.Distribution) { d.Place = engine.Localized{"en": "Sports ground"} },
	} {
		d, err := svc.Create(ctx, valid(func(d *engine.Distribution) { d.Notify = true; change(d) }), "amina")
		if errors.Is(err, distribution.ErrInvalid) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sent++
		var r broadcast.Report
		if !waitfor.Within(20*time.Second, func() bool {
			r, err = bc.Get(ctx, d.Told[0])
			return err != nil || r.Counts.Total == 3
		}) {
			t.Fatalf("the notice did not fan out: %+v", r)
		}
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range env.Entries(outbox.Bulk) {
			if e.Broadcast != d.Told[0] {
				continue
			}
			n++
			text := e.Messages[0].Text
			for _, line := range strings.Split(text, "\n") {
				if slices.Contains(labels, strings.TrimSpace(line)) {
					t.Errorf("place %v, items %v: a notice with an empty line %q:\n%s", d.Place, d.Items, line, text)
				}
			}
		}
		if n != 3 {
			t.Errorf("%d notices, want 3", n)
		}
	}
	if sent != 1 {
		t.Errorf("%d notices went out, want 1 (the place given in English only)", sent)
	}
}
