package twilio

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds webhook bodies to the parsers: they never panic, and what
// they accept is well formed. The seeds are the testdata payloads; `go test`
// runs them, `go test -fuzz FuzzParse ./bot/twilio` explores further.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.form")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add("MessageSid=SM00000000000000000000000000000000&From=whatsapp:")
	f.Add("MessageSid=%ZZ&From=%00")
	f.Add("CallSid=CA00000000000000000000000000000000&From=%2B212612345678&Digits=%23&t=3&s=1&l=fr")
	f.Add("CallSid=CA00000000000000000000000000000000&From=anonymous&Digits=12&t=-1")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		if in, err := ParseInbound(form); err == nil {
			if !validSID(in.MessageSID) || in.Address == "" || strings.HasPrefix(in.Address, whatsappPrefix) {
				t.Errorf("accepted a bad inbound message: %+v", in)
			}
			if in.Channel != SMS && in.Channel != WhatsApp {
				t.Errorf("channel %q", in.Channel)
			}
			if !utf8.ValidString(in.Body) {
				t.Errorf("body is not valid UTF-8")
			}
			for _, r := range in.Body {
				if r < 0x20 && r != '\n' && r != '\t' {
					t.Errorf("body keeps control character %U", r)
				}
			}
		}
		if st, err := ParseStatus(form); err == nil {
			if !validSID(st.MessageSID) || st.Status == "" {
				t.Errorf("accepted a bad status: %+v", st)
			}
		}
		// A voice webhook, the same body as its form and as its URL's query.
		if c, err := ParseCall(form, form); err == nil {
			if !strings.HasPrefix(c.CallSID, "CA") || !validSID(c.CallSID) || len(c.Digits) > 1 ||
				c.Turn < 0 || c.Turn > 1000 || c.Silences < 0 || c.Silences > 1000 || len(c.Lang) > 8 ||
				c.From != "" && !phoneNumber(c.From) {
				t.Errorf("accepted a bad call: %+v", c)
			}
		}
	})
}
