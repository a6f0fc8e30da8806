package twilio

import (
	"net/url"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/engine"
)

func TestParseLocation(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		label    string
		lat, lon string
		want     *engine.Point
		media    bool
	}{
		{"a place", "34.6937", "-1.8712", &engine.Point{Lat: 34.6937, Lon: -1.8712}, false},
		{"not a number: media", "north", "-1.8712", nil, true},
		{"out of range: media", "34.69", "-181", nil, true},
		{"NaN: media", "NaN", "0", nil, true},
		{"no longitude: media", "34.69", "", nil, true},
	} {
		f := form(t, "inbound_whatsapp_location.form")
		f.Set("Latitude", tt.lat)
		f.Set("Longitude", tt.lon)
		in, err := ParseInbound(f)
		if err != nil {
			t.Fatalf("%s: %v", tt.label, err)
		}
		if (in.Location == nil) != (tt.want == nil) || in.Location != nil && *in.Location != *tt.want || in.Media != tt.media {
			t.Errorf("%s: location %v, media %v; want %v, %v", tt.label, in.Location, in.Media, tt.want, tt.media)
		}
	}
	in, err := ParseInbound(form(t, "inbound_sms_bonjour.form"))
	if err != nil || in.Location != nil {
		t.Errorf("an SMS: location %v, %v", in.Location, err)
	}
}

// A WhatsApp location, signed as Twilio signs it: from a new number the
// language is asked first, then the welcome and menu 1 for the nearest site
// (Nador). Neither the coordinates nor the Address field are kept or logged.
func TestWhatsAppLocation(t *testing.T) {
	t.Parallel()
	channeltest.Run(t, []channeltest.Case{
		{Label: "a new number: the language, then the nearest site", Request: signed("/webhooks/twilio", "inbound_whatsapp_location.form", authToken, nil),
			Status: 200, Replies: 1, ReplyHas: "Choisissez votre langue", Channel: WhatsApp, Address: person,
			Check: func(t testing.TB, env *channeltest.Env) {
				rec := serve(t, env, signedForm(url.Values{"MessageSid": {"SM5a1e0c3d9b7f42e68c1d2b3a4f5e6d81"}, "From": {"whatsapp:" + person}, "Body": {"1"}, "NumMedia": {"0"}}))
				if rec != 200 {
					t.Fatalf("answer 1: %d", rec)
				}
				replies := env.Replies()
				if len(replies) != 4 || !strings.HasPrefix(replies[1].Text, "Ici ") || !strings.HasPrefix(replies[2].Text, "Pas de distribution annoncée à Nador") {
					t.Errorf("after the language: %+v", replies)
				}
				env.NoTrace(t, person, "35.16", "2.93", "168796", "933542")
			}},
		{Label: "a known person: the line, then the nearest site", Request: withFrom("inbound_whatsapp_location.form", "whatsapp:+212612345699"),
			Status: 200, Replies: 1, ReplyHas: "Choisissez votre langue", Channel: WhatsApp, Address: "+212612345699",
			Check: func(t testing.TB, env *channeltest.Env) {
				const known = "whatsapp:+212612345688"
				for i, body := range []string{"Bonjour", ""} {
					f := url.Values{"MessageSid": {"SM5a1e0c3d9b7f42e68c1d2b3a4f5e6d9" + string(rune('0'+i))}, "From": {known}, "Body": {body}, "NumMedia": {"0"}}
					if body == "" {
						f.Set("Latitude", "34.0011")
						f.Set("Longitude", "-6.8502")
						f.Set("Address", "12 rue des Oudayas")
						f.Set("Label", "Chez Amina")
					}
					if code := serve(t, env, signedForm(f)); code != 200 {
						t.Fatalf("%q: %d", body, code)
					}
				}
				replies := env.Replies()
				want := "La ville la plus proche de vous : Rabat, à environ 2 km.\nPas de distribution annoncée à Rabat"
				found := false
				for _, r := range replies {
					found = found || strings.HasPrefix(r.Text, want)
				}
				if len(replies) != 5 || !found {
					t.Errorf("replies %+v; want the question to the first number, the welcome, the menu, then %q", replies, want)
				}
				env.NoTrace(t, known, "34.0011", "6.8502", "Oudayas", "Chez Amina", "35.16", "2.93")
			}},
	}, inboundSetup)
}
