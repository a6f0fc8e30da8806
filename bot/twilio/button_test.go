package twilio

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/channeltest"
)

// TestButtonPayloadIsTheAnswer: a WhatsApp quick-reply button pressed, as
// Twilio posts it (Body and ButtonText the button's words, ButtonPayload
// "1"), is answered as the person typing 1 at the menu is.
func TestButtonPayloadIsTheAnswer(t *testing.T) {
	t.Parallel()
	after := func(second func(t testing.TB) *http.Request) []string {
		env := channeltest.New(t, WhatsApp)
		h := newHandler(env)
		for i, req := range []func(t testing.TB) *http.Request{signed("/webhooks/twilio", "inbound_whatsapp_hello.form", authToken, nil), second} {
			rec := httptest.NewRecorder()
			h.Inbound(rec, req(t))
			if rec.Code != 200 {
				t.Fatalf("message %d: status %d", i+1, rec.Code)
			}
		}
		var texts []string
		for _, r := range env.Replies()[2:] { // after the welcome and the menu
			texts = append(texts, r.Text)
		}
		return texts
	}
	button := after(signed("/webhooks/twilio", "inbound_whatsapp_button.form", authToken, nil))
	typed := after(func(t testing.TB) *http.Request {
		f := form(t, "inbound_whatsapp_button.form")
		f.Set("Body", "1")
		f.Del("ButtonText")
		f.Del("ButtonPayload")
		f.Set("MessageType", "text")
		return signedForm(f)(t)
	})
	if len(typed) == 0 || strings.Join(button, "\n") != strings.Join(typed, "\n") {
		t.Errorf("the button pressed was answered\n%q\nwhere 1 typed is answered\n%q", button, typed)
	}
}

func TestParseInboundButton(t *testing.T) {
	t.Parallel()
	base := func(extra ...string) url.Values {
		f := url.Values{"MessageSid": {"SM7f2c1e9a04b6d3850c1e2f3a4b5c6d7e"}, "From": {"whatsapp:" + person}, "Body": {"Next distributions"}}
		for i := 0; i < len(extra); i += 2 {
			f.Set(extra[i], extra[i+1])
		}
		return f
	}
	for _, tt := range []struct {
		form url.Values
		want string
	}{
		{base("ButtonText", "Next distributions", "ButtonPayload", "1"), "1"},
		{base("ButtonText", "2"), "2"},
		{base("ButtonText", "", "ButtonPayload", ""), "Next distributions"},
		{base(), "Next distributions"},
	} {
		in, err := ParseInbound(tt.form)
		if err != nil || in.Body != tt.want {
			t.Errorf("ButtonText %q, ButtonPayload %q: read %q, %v; want %q", tt.form.Get("ButtonText"), tt.form.Get("ButtonPayload"), in.Body, err, tt.want)
		}
	}
}
