package twilio

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/channeltest"
)

// withFrom is a payload from another number, signed as Twilio would.
func withFrom(file, from string) func(t testing.TB) *http.Request {
	return func(t testing.TB) *http.Request {
		f := form(t, file)
		f.Set("From", from)
		return signedForm(f)(t)
	}
}

func TestParseMedia(t *testing.T) {
	t.Parallel()
	for file, want := range map[string]bool{
		"inbound_sms_mms_no_body.form":   true,
		"inbound_whatsapp_location.form": false, // a place: read as a location
		"inbound_sms_bonjour.form":       false,
		"inbound_whatsapp_button.form":   false,
	} {
		in, err := ParseInbound(form(t, file))
		if err != nil || in.Media != want {
			t.Errorf("%s: media %v, %v; want %v", file, in.Media, err, want)
		}
	}
}

func TestSiteNameAndMedia(t *testing.T) {
	t.Parallel()
	const mms = "+212612345680"
	mediaURL := form(t, "inbound_sms_mms_no_body.form").Get("MediaUrl0")
	channeltest.Run(t, []channeltest.Case{
		{Label: "a site's name first asks the language, the site kept", Request: signed("/webhooks/twilio", "inbound_sms_site.form", authToken, nil),
			Status: 200, Replies: 1, ReplyHas: "Choisissez votre langue", Channel: SMS, Address: person,
			Check: func(t testing.TB, env *channeltest.Env) {
				// 1 (French): the welcome, then menu 1 for Nador.
				rec := serve(t, env, signedForm(url.Values{"MessageSid": {"SM5a1e0c3d9b7f42e68c1d2b3a4f5e6d72"}, "From": {person}, "Body": {"1"}, "NumMedia": {"0"}}))
				if rec != 200 {
					t.Fatalf("answer 1: %d", rec)
				}
				replies := env.Replies()
				if len(replies) != 4 || !strings.HasPrefix(replies[1].Text, "Ici ") || !strings.HasPrefix(replies[2].Text, "Pas de distribution annoncée à Nador") {
					t.Errorf("after the language: %+v", replies)
				}
				env.NoTrace(t, person, "NADOR")
			}},
		{Label: "a picture from a new number still asks the language", Request: signed("/webhooks/twilio", "inbound_sms_mms_no_body.form", authToken, nil),
			Status: 200, Replies: 1, ReplyHas: "Choisissez votre langue", Channel: SMS, Address: mms,
			Check: func(t testing.TB, env *channeltest.Env) {
				env.NoTrace(t, mms, mediaURL, "ME7837cc908156191f9907af444be1df55")
			}},
	}, inboundSetup)
}

// serve posts one request to a fresh handler of env and returns the status.
func serve(t testing.TB, env *channeltest.Env, req func(t testing.TB) *http.Request) int {
	rec := httptest.NewRecorder()
	newHandler(env).Inbound(rec, req(t))
	return rec.Code
}

// A picture from a person the bot knows: only the note that text is read,
// in their language; the menu they were at still answers.
func TestPictureMidConversation(t *testing.T) {
	t.Parallel()
	env, _ := inboundSetup(t)
	mediaURL := form(t, "inbound_sms_mms_no_body.form").Get("MediaUrl0")
	for _, req := range []func(t testing.TB) *http.Request{
		signed("/webhooks/twilio", "inbound_sms_bonjour.form", authToken, nil),
		withFrom("inbound_sms_mms_no_body.form", person),
	} {
		if code := serve(t, env, req); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	replies := env.Replies()
	if len(replies) != 3 || replies[2].Text != env.Text("fr", "media_only") {
		t.Fatalf("replies %+v, want welcome, menu, media_only", replies)
	}
	if code := serve(t, env, signedForm(url.Values{"MessageSid": {"SM5a1e0c3d9b7f42e68c1d2b3a4f5e6d73"}, "From": {person}, "Body": {"3"}, "NumMedia": {"0"}})); code != 200 {
		t.Fatalf("status %d", code)
	}
	if replies := env.Replies(); len(replies) != 4 || !strings.HasPrefix(replies[3].Text, env.Text("fr", "school_title")) {
		t.Errorf("3 after the picture: %+v, want the school menu", replies[3:])
	}
	env.NoTrace(t, person, mediaURL, "image/jpeg")
}
