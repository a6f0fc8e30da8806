package telegram

import (
	"context"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/engine"
)

func TestParseLocation(t *testing.T) {
	t.Parallel()
	msg := func(fields string) []byte {
		return []byte(`{"update_id":1,"message":{"message_id":1,"chat":{"id":5,"type":"private"},` + fields + `}}`)
	}
	for _, tt := range []struct {
		label, fields string
		want          *engine.Point
		media         bool
	}{
		{"a location", `"location":{"latitude":34.6937,"longitude":-1.8712}`, &engine.Point{Lat: 34.6937, Lon: -1.8712}, false},
		{"a venue carries its location", `"venue":{"location":{"latitude":34.0011,"longitude":-6.8502},"title":"Chez moi","address":"12 rue X"}`, &engine.Point{Lat: 34.0011, Lon: -6.8502}, false},
		{"out of range: media", `"location":{"latitude":91,"longitude":-1.8}`, nil, true},
		{"a photo is no place", `"photo":[{"file_id":"x","file_unique_id":"y","width":1,"height":1}]`, nil, true},
		{"a text is no place", `"text":"34.69,-1.87"`, nil, false},
	} {
		ev, err := Parse(msg(tt.fields))
		if err != nil {
			t.Fatalf("%s: %v", tt.label, err)
		}
		if (ev.Location == nil) != (tt.want == nil) || ev.Location != nil && *ev.Location != *tt.want || ev.Media != tt.media {
			t.Errorf("%s: location %v, media %v; want %v, %v", tt.label, ev.Location, ev.Media, tt.want, tt.media)
		}
	}
	ev, err := Parse(update(t, "message_location.json"))
	if err != nil || ev.Location == nil || *ev.Location != (engine.Point{Lat: 35.168796, Lon: -2.933542}) || ev.Media {
		t.Errorf("message_location.json: %+v, %v", ev, err)
	}
}

// subscribes checks that 2, sent next, subscribes the person to site.
func subscribes(t testing.TB, env *channeltest.Env, site string) {
	t.Helper()
	if _, err := env.Dialog.Handle(context.Background(), dialog.Message{Channel: Channel, Address: chat, Text: "2"}); err != nil {
		t.Fatal(err)
	}
	if n, _ := env.Store.Contacts().SubscriberCounts(context.Background(), []string{site}); n[site] != 1 {
		t.Errorf("2 next: %d subscribers of %s, want 1", n[site], site)
	}
}

// A location while a request to staff is open is not passed on: the
// person is told so, and no note reaches the request.
func TestLocationDuringRequest(t *testing.T) {
	t.Parallel()
	env, _ := setup(t)
	ctx := context.Background()
	for _, text := range []string{"Bonjour", "0", "J'ai besoin d'aide pour mon fils"} {
		if _, err := env.Dialog.Handle(ctx, dialog.Message{Channel: Channel, Address: chat, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := env.State(Channel, chat)
	if st.Request == "" {
		t.Fatalf("no request open: %+v", st)
	}
	ev, err := Parse(update(t, "message_location.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := env.Dialog.Handle(ctx, dialog.Message{Channel: Channel, Address: chat, Location: ev.Location, ProviderID: "u1"})
	if err != nil || len(out.Replies) != 1 || !strings.Contains(out.Replies[0].Text, env.Text("fr", "location_not_passed")) || len(out.Effects) != 0 {
		t.Errorf("location during a request: %+v, %v; want only location_not_passed, no effect", out, err)
	}
	_, notes, err := env.Store.Requests().Get(ctx, st.Request)
	if err != nil || len(notes) != 0 {
		t.Errorf("the request's notes: %q, %v; want none", notes, err)
	}
	env.NoTrace(t, chat, "35.16", "2.93", "168796", "933542")
}
