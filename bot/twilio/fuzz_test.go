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
	})
}
