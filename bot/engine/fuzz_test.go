package engine_test

import (
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
)

// contentFiles are the files a partner may change.
var contentFiles = []string{"flows/main.yaml", "flows/sites.yaml", "locales/fr.yaml", "locales/en.yaml", "locales/ar.yaml"}

// FuzzContentFiles edits one content file as a partner might, anywhere:
// cuts a few bytes at a place and puts any text there, or replaces the
// whole file. Loading never panics: it fails with problems or gives a
// content; and content that passes validation carries a whole conversation
// without a panic, a silence or an empty reply.
//
//	go test -run XXX -fuzz FuzzContentFiles -fuzztime 60s -fuzzminimizetime 1s ./bot/engine
func FuzzContentFiles(f *testing.F) {
	shipped, err := content.Load(content.Embedded())
	if err != nil {
		f.Fatal(err)
	}
	files := shipped.Files()
	f.Add(uint8(2), uint16(0), uint8(0), "")
	f.Add(uint8(2), uint16(40), uint8(3), "{{.Nope")
	f.Add(uint8(0), uint16(500), uint8(10), "goto: nowhere\n")
	f.Add(uint8(3), uint16(100), uint8(0), "\n- a\n- b\n")
	f.Add(uint8(4), uint16(200), uint8(4), "\xff\xfe")
	f.Add(uint8(1), uint16(10), uint8(200), "&a [*a, *a, *a]")
	f.Add(uint8(128), uint16(0), uint8(0), "nodes:\n  main:\n    kind: menu\n")
	f.Fuzz(func(t *testing.T, which uint8, at uint16, cut uint8, insert string) {
		name := contentFiles[int(which)%len(contentFiles)]
		file := string(files[name])
		if which >= 128 {
			file = insert // the whole file replaced
		} else {
			pos := int(at) % (len(file) + 1)
			end := min(pos+int(cut), len(file))
			file = file[:pos] + insert + file[end:]
		}
		changed := map[string][]byte{}
		for k, v := range files {
			changed[k] = v
		}
		changed[name] = []byte(file)
		c, problems := content.Check(content.FromFiles(changed))
		if problems.HasErrors() {
			if problems.Errors().Error() == "" {
				t.Fatal("errors without a message")
			}
			return
		}
		if c == nil {
			t.Fatal("no errors but no content")
		}
		eng := engine.Engine{Content: c, Location: time.UTC, IdleAfter: time.Hour}
		var st engine.State
		now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
		for _, text := range []string{"Bonjour", "1", "2", "9", "0", "3", "1", "1", "STOP", "START", "MENU", "hello", "مرحبا", "4", "1", "1"} {
			res := eng.Step(st, engine.Input{Text: text, Now: now}, engine.Data{})
			if len(res.Replies) == 0 && st.Request == "" {
				t.Fatalf("%s changed: %q got no answer at %q", name, text, st.Node)
			}
			for _, r := range res.Replies {
				if r.Text == "" {
					t.Fatalf("%s changed: %q got an empty reply", name, text)
				}
			}
			st = res.State
			now = now.Add(time.Minute)
		}
	})
}
