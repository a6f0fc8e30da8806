package telegram

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds update bodies to the parser: it never panics, and a
// message it accepts has a chat and valid text. The seeds are the testdata
// updates; `go test -fuzz FuzzParse ./bot/telegram` explores further.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"update_id":1,"message":{"chat":{"id":0,"type":"private"},"text":"\u0000"}}`))
	f.Add([]byte(`{"update_id":1,"callback_query":{"id":"","message":null}}`))
	f.Add([]byte(`{"update_id":1,"my_chat_member":{"chat":{"id":5,"type":"private"},"new_chat_member":{"status":"kicked"}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := Parse(body)
		if err != nil {
			return
		}
		switch ev.Kind {
		case KindIgnore:
		case KindMessage, KindBlocked, KindUnblocked:
			if ev.ChatID == "" || ev.ChatID == "0" {
				t.Errorf("accepted an event without a chat: %+v", ev)
			}
			if !utf8.ValidString(ev.Text) {
				t.Errorf("text is not valid UTF-8")
			}
		default:
			t.Errorf("kind %d", ev.Kind)
		}
	})
}
