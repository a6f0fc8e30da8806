package twilio

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/twilio/twilio-go/client"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

// padded is a testdata form with fields added up to n fields in all.
func padded(file string, n int) func(url.Values) {
	return func(f url.Values) {
		for i := 0; len(f) < n; i++ {
			f.Set(fmt.Sprintf("Pad%03d", i), "x")
		}
	}
}

// signedPadded signs a testdata form padded to n fields.
func signedPadded(file string, n int) func(t testing.TB) *http.Request {
	return func(t testing.TB) *http.Request {
		f := form(t, file)
		padded(file, n)(f)
		return signedForm(f)(t)
	}
}

// TestTooManyFieldsRefused: a form with more fields than any Twilio webhook
// has is refused with 400 before its signature is checked, even when it is
// signed, and nothing is stored; a form of MaxFields fields is served.
func TestTooManyFieldsRefused(t *testing.T) {
	t.Parallel()
	channeltest.Run(t, []channeltest.Case{
		{Label: "signed, MaxFields fields", Request: signedPadded("inbound_sms_bonjour.form", MaxFields),
			Status: 200, Replies: 2, Channel: SMS, Address: person, Lang: "fr"},
		{Label: "signed, one field too many", Request: signedPadded("inbound_sms_bonjour.form", MaxFields+1),
			Status: 400, Replies: 0, Channel: SMS, Address: person, NoState: true},
		{Label: "forged, 40 KB of fields", Request: func(t testing.TB) *http.Request {
			r := httptest.NewRequest("POST", "/webhooks/twilio", strings.NewReader(forgedForm(40<<10)))
			r.Header.Set("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==")
			return r
		}, Status: 400, Replies: 0, Channel: SMS, Address: person, NoState: true},
	}, inboundSetup)
}

// allocated returns the bytes allocated while f ran. Tests that call it do
// not run in parallel, so what they measure is f's.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestSignatureCheckIsLinear measures, in bytes allocated rather than in
// time, what a forged form costs: a 40 KB form of many fields, and the
// costliest form under the bound (one field of nearly 64 KiB, first in
// signing order, and MaxFields-1 short ones). twilio-go's validator, fed
// the fields one by one, copies the signed string once per field: hundreds
// of megabytes for the first, 9 MB for the second.
// Not parallel: it counts the allocations of the whole process.
func TestSignatureCheckIsLinear(t *testing.T) {
	h := NewHandler(authToken, publicURL, nil, nil, nil, []string{SMS}, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	worst := url.Values{"MessageSid": {"SM00000000000000000000000000000001"}, "From": {person}}
	padded("", MaxFields-1)(worst)
	worst.Set("A", strings.Repeat("a", 64<<10-len(worst.Encode())-3))
	for _, tt := range []struct {
		name string
		body string
		code int
	}{
		{"forged 40 KB form", forgedForm(40 << 10), http.StatusBadRequest},
		{"costliest form under the bound", worst.Encode(), http.StatusForbidden},
	} {
		var code int
		n := allocated(func() {
			r := httptest.NewRequest("POST", "/webhooks/twilio", strings.NewReader(tt.body))
			r.Header.Set("X-Twilio-Signature", "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==")
			rec := httptest.NewRecorder()
			h.Inbound(rec, r)
			code = rec.Code
		})
		if code != tt.code {
			t.Errorf("%s: status %d, want %d", tt.name, code, tt.code)
		}
		// Linear: a few copies of the body, not one per field.
		if limit := uint64(20 * len(tt.body)); n > limit {
			t.Errorf("%s (%d bytes): %d bytes allocated, over %d", tt.name, len(tt.body), n, limit)
		}
	}
}

// TestSignatureAsTwilioGoChecksIt: the fields joined once sign the same
// string as twilio-go's validator fed them one by one, for Twilio's own
// payloads and the published vector, with and without the port.
func TestSignatureAsTwilioGoChecksIt(t *testing.T) {
	t.Parallel()
	h := NewHandler(authToken, publicURL, nil, nil, nil, []string{SMS}, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	v := client.NewRequestValidator(authToken)
	for _, file := range []string{"inbound_sms_bonjour.form", "inbound_sms_arabic.form", "inbound_whatsapp_hello.form", "status_failed_21610.form"} {
		f := form(t, file)
		flat := map[string]string{}
		for k := range f {
			flat[k] = f.Get(k)
		}
		for _, u := range []string{publicURL + "/webhooks/twilio", "https://bot.example.org:443/webhooks/twilio?site=nador"} {
			for _, sig := range []string{twiliotest.Sign(authToken, u, f), twiliotest.Sign(authToken, strings.Replace(u, ":443", "", 1), f), "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA=="} {
				if got, want := h.signatureValid(u, f, sig), v.Validate(u, flat, sig); got != want {
					t.Errorf("%s at %s: %v, twilio-go says %v", file, u, got, want)
				}
			}
		}
	}
	vector := url.Values{
		"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
		"Caller": {"+14158675309"}, "From": {"+14158675309"}, "ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
	}
	h12345 := NewHandler("12345", publicURL, nil, nil, nil, nil, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if !h12345.signatureValid("https://mycompany.com/myapp.php?foo=1&bar=2", vector, "vOEb5UThFn24KEfnOFLQY2AE5FY=") {
		t.Error("the published vector is refused")
	}
}
