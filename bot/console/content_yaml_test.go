package console

import (
	"maps"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/locales"
)

func readLocale(t *testing.T, lang string) []byte {
	t.Helper()
	b, err := locales.FS.ReadFile(lang + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lineDiff returns the lines of a that b does not have at the same place
// and the lines of b that a does not, after the common start and end.
func lineDiff(a, b string) (gone, added []string) {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	i := 0
	for i < len(la) && i < len(lb) && la[i] == lb[i] {
		i++
	}
	ja, jb := len(la), len(lb)
	for ja > i && jb > i && la[ja-1] == lb[jb-1] {
		ja--
		jb--
	}
	return la[i:ja], lb[i:jb]
}

func TestSetMessageChangesOnlyItsLine(t *testing.T) {
	t.Parallel()
	data := readLocale(t, "ar")
	text := "القائمة \"الجديدة\" \\ - أرسل رقما:\nسطر ثان\tوعلامة"
	out, err := setMessage("locales/ar.yaml", "ar", data, "main_title", map[string]string{"other": text}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	gone, added := lineDiff(string(data), string(out))
	if len(gone) != 1 || !strings.HasPrefix(gone[0], "main_title: ") || len(added) != 1 || !strings.HasPrefix(added[0], "main_title: ") {
		t.Fatalf("changed lines: -%q +%q, want the one line of main_title", gone, added)
	}
	loc, ps := content.ParseLocale("locales/ar.yaml", "ar", out)
	if ps.HasErrors() {
		t.Fatal(ps)
	}
	if got := loc.Messages["main_title"].Forms["other"]; got != text {
		t.Errorf("read back %q, want %q", got, text)
	}
}

func TestSetMessageAddsAfterItsNeighbourAndRemoves(t *testing.T) {
	t.Parallel()
	data := readLocale(t, "fr")
	old, _ := content.ParseLocale("locales/fr.yaml", "fr", data)
	out, err := setMessage("locales/fr.yaml", "fr", data, "zz_new", map[string]string{"other": "Nouveau"}, false, []string{"language_name", "language_prompt"})
	if err != nil {
		t.Fatal(err)
	}
	gone, added := lineDiff(string(data), string(out))
	if len(gone) != 0 || len(added) != 1 || added[0] != `zz_new: "Nouveau"` {
		t.Fatalf("adding: -%q +%q", gone, added)
	}
	if i, j := strings.Index(string(out), "language_prompt:"), strings.Index(string(out), "zz_new:"); j < i || j > i+200 {
		t.Errorf("the new message is not right after language_prompt:\n%s", out[:min(len(out), i+300)])
	}
	back, err := setMessage("locales/fr.yaml", "fr", out, "zz_new", nil, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(back) != string(data) {
		gone, added := lineDiff(string(data), string(back))
		t.Errorf("adding then removing changed the file: -%q +%q", gone, added)
	}
	// Removing a message of the file takes its line only.
	out, err = setMessage("locales/fr.yaml", "fr", data, "welcome_back", nil, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := content.ParseLocale("locales/fr.yaml", "fr", out)
	if _, ok := loc.Messages["welcome_back"]; ok || len(loc.Messages) != len(old.Messages)-1 {
		t.Errorf("after removing welcome_back: %d messages (had %d)", len(loc.Messages), len(old.Messages))
	}
}

func TestSetMessagePlural(t *testing.T) {
	t.Parallel()
	data := readLocale(t, "ar")
	old, _ := content.ParseLocale("locales/ar.yaml", "ar", data)
	forms := maps.Clone(old.Messages["dist_header"].Forms)
	forms["two"] = "توزيعان جديدان في {{.Site}}:"
	out, err := setMessage("locales/ar.yaml", "ar", data, "dist_header", forms, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	gone, added := lineDiff(string(data), string(out))
	if len(gone) != 1 || len(added) != 1 || !strings.Contains(added[0], "two:") {
		t.Fatalf("plural change: -%q +%q, want the line of the form two", gone, added)
	}
	loc, _ := content.ParseLocale("locales/ar.yaml", "ar", out)
	if !maps.Equal(loc.Messages["dist_header"].Forms, forms) || !loc.Messages["dist_header"].Plural {
		t.Errorf("read back %v", loc.Messages["dist_header"].Forms)
	}
}

// A layout the splice does not follow (a text over several lines, a flow
// mapping) is written again whole, and still holds exactly the change.
func TestSetMessageOtherLayouts(t *testing.T) {
	t.Parallel()
	data := []byte("# head\na: first\n  line, folded\nb: {one: \"x {{.Count}}\", other: \"y {{.Count}}\"}\nc: \"z\" # note\n")
	out, err := setMessage("locales/en.yaml", "en", data, "a", map[string]string{"other": "new a"}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := content.ParseLocale("locales/en.yaml", "en", out)
	if loc.Messages["a"].Forms["other"] != "new a" || loc.Messages["c"].Forms["other"] != "z" || loc.Messages["b"].Forms["one"] != "x {{.Count}}" {
		t.Errorf("after a: %s", out)
	}
	out, err = setMessage("locales/en.yaml", "en", data, "b", map[string]string{"one": "1 {{.Count}}", "other": "n {{.Count}}"}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	loc, _ = content.ParseLocale("locales/en.yaml", "en", out)
	if loc.Messages["b"].Forms["one"] != "1 {{.Count}}" || loc.Messages["a"].Forms["other"] != "first line, folded" {
		t.Errorf("after b: %s", out)
	}
	out, err = setMessage("locales/en.yaml", "en", data, "c", map[string]string{"other": "zz"}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `c: "zz" # note`) {
		t.Errorf("the comment at the end of c's line is lost:\n%s", out)
	}
}

func TestQuoteReadsBack(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", `a "b" \c`, "line\nnext\ttab", "\u200fمرحبا\u200e", "bell\x07", "{{.Site}}: #1"} {
		data := []byte("m: " + quote(s) + "\n")
		loc, ps := content.ParseLocale("locales/en.yaml", "en", data)
		if ps.HasErrors() || loc.Messages["m"] == nil || loc.Messages["m"].Forms["other"] != s {
			t.Errorf("quote(%q) = %s reads back otherwise (%v)", s, data, ps)
		}
	}
}
