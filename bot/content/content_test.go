package content

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/nicksnyder/go-i18n/v2/i18n"
)

// shippedFiles copies the built-in content into a MapFS a test can change.
func shippedFiles(t *testing.T) fstest.MapFS {
	t.Helper()
	return FromFiles(mustLoad(t, Embedded()).Files()).(fstest.MapFS)
}

func edit(t *testing.T, files fstest.MapFS, name, old, new string) {
	t.Helper()
	f := files[name]
	if f == nil || !strings.Contains(string(f.Data), old) {
		t.Fatalf("%s does not contain %q", name, old)
	}
	f.Data = []byte(strings.Replace(string(f.Data), old, new, 1))
}

func TestShippedContentIsValid(t *testing.T) {
	c, problems := Check(Embedded())
	if len(problems) > 0 {
		t.Fatalf("shipped content has problems:\n%v", problems)
	}
	if got := strings.Join(c.Languages, ","); got != "fr,en,ar" {
		t.Errorf("languages = %s, want fr,en,ar", got)
	}
	// The contract's main menu: 1 distributions … 5 language, 6 protection
	// and rights, 0 a person.
	main := c.Flow.Nodes[c.Flow.Settings.Main]
	want := map[int]string{1: "distributions", 2: "health", 3: "school", 4: "notices", 5: "language", 6: "protection", 0: "person"}
	for key, node := range want {
		o, ok := main.Option(key)
		if !ok || o.Goto != node {
			t.Errorf("main menu option %d = %+v, want goto %s", key, o, node)
		}
	}
	if len(main.Options) != len(want) {
		t.Errorf("main menu has %d options, want %d", len(main.Options), len(want))
	}
	if _, err := fs.ReadFile(Embedded(), "locales/sources.md"); err != nil {
		t.Errorf("the facts file is not shipped: %v", err)
	}
}

func TestShippedMenusFitOneSMSInLatinScript(t *testing.T) {
	c := mustLoad(t, Embedded())
	for _, cost := range c.Costs() {
		if cost.Node && c.Flow.Nodes[cost.Key].Kind == KindMenu && cost.Lang != "ar" && cost.Segments > 1 {
			t.Errorf("menu %s in %s costs %d SMS (%d %s units); menus in Latin script must fit one", cost.Key, cost.Lang, cost.Segments, cost.Units, cost.Encoding)
		}
		if !cost.Node && cost.Lang != "ar" && cost.Encoding != "GSM-7" && cost.Key != MsgLanguageName {
			t.Errorf("message %s in %s is %s: a character forces UCS-2", cost.Key, cost.Lang, cost.Encoding)
		}
	}
}

func mustLoad(t *testing.T, fsys fs.FS) *Content {
	t.Helper()
	c, err := Load(fsys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// brokenContent is a change to the shipped content that Load must refuse,
// with problems that mention each of want.
type brokenContent struct {
	name   string
	change func(t *testing.T, files fstest.MapFS)
	want   []string // each must appear in one problem line
}

// refused checks that Load refuses each broken content, naming its problems.
func refused(t *testing.T, tests []brokenContent, parallel bool) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
			files := shippedFiles(t)
			tt.change(t, files)
			_, err := Load(files)
			if err == nil {
				t.Fatal("Load accepted broken content")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("problems do not mention %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestValidationErrors(t *testing.T) {
	tests := []brokenContent{
		{"missing Arabic message", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "locales/ar.yaml", "health_emergency:", "health_emergency_gone:")
		}, []string{"locales/ar.yaml", "health_emergency: missing in ar"}},
		{"goto to nowhere", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "goto: health_where}", "goto: health_nowhere}")
		}, []string{"flows/main.yaml:", "health: option 2 goto \"health_nowhere\": no such node"}},
		{"message used by a flow exists nowhere", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "text: health_rights\n", "text: health_rightz\n")
		}, []string{"flows/main.yaml:", "health_rights: message \"health_rightz\" does not exist in any language"}},
		{"unreachable node", func(t *testing.T, f fstest.MapFS) {
			f["flows/extra.yaml"] = &fstest.MapFile{Data: []byte("nodes:\n  orphan:\n    type: message\n    text: welcome\n    goto: main\n")}
		}, []string{"flows/extra.yaml:2: orphan: unreachable"}},
		{"menu numbers with a gap", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "{key: 3, label: health_opt_emergency", "{key: 7, label: health_opt_emergency")
		}, []string{"health: options skip number 3"}},
		{"menu without a way back", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "      - {key: 0, label: opt_main_menu, goto: main}\n\n  health_rights:", "\n  health_rights:")
		}, []string{"health: a menu other than the main menu needs option 0"}},
		{"different template fields", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "locales/en.yaml", "{{.Site}}", "{{.Place}}")
		}, []string{"locales/en.yaml:", "must use the same fields"}},
		{"arabic plural form missing", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "locales/ar.yaml", "  few:", "  fewx:")
		}, []string{"locales/ar.yaml:", "not a plural category"}},
		{"invalid YAML names the line", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "  health_rights:\n", "  health_rights:\n   bad: [\n")
		}, []string{"flows/main.yaml:", "invalid YAML"}},
		{"message that never waits", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "    text: health_rights\n    rest: health\n", "    text: health_rights\n")
		}, []string{"health_rights: a message needs goto or rest"}},
		{"unknown node type", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "type: switch", "type: swich")
		}, []string{"distributions: type \"swich\""}},
		{"misspelt field", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "    retry: site_retry\n", "    retyr: site_retry\n")
		}, []string{"flows/main.yaml:", `dist_site: unknown field "retyr"`}},
		{"misspelt option field", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "{key: 1, label: health_opt_rights, goto: health_rights}", "{key: 1, label: health_opt_rights, gotto: health_rights}")
		}, []string{`health: unknown field "gotto"`}},
		{"template field the bot never fills", func(t *testing.T, f fstest.MapFS) {
			for _, lang := range []string{"fr", "en", "ar"} {
				edit(t, f, "locales/"+lang+".yaml", "{{.Site}}", "{{.Nom}}")
			}
		}, []string{"locales/fr.yaml:", "{{.Nom}}: the bot fills no such field"}},
		{"site without a name", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/sites.yaml", "lon: -5.8340}\n", "lon: -5.8340}\n  - tiznit\n")
		}, []string{"flows/sites.yaml:", "message \"site_tiznit\" does not exist in any language"}},
	}
	refused(t, tests, false)
}

func TestPluralCategoryMissing(t *testing.T) {
	files := shippedFiles(t)
	data := string(files["locales/ar.yaml"].Data)
	start := strings.Index(data, "dist_header:")
	few := strings.Index(data[start:], "  few:")
	end := strings.Index(data[start+few:], "\n")
	files["locales/ar.yaml"].Data = []byte(data[:start+few] + data[start+few+end+1:])
	_, err := Load(files)
	if err == nil || !strings.Contains(err.Error(), `dist_header: plural form "few" missing`) {
		t.Fatalf("want a missing plural form reported, got %v", err)
	}
}

func TestWarningsForCharactersThatForceUCS2(t *testing.T) {
	files := shippedFiles(t)
	edit(t, files, "locales/fr.yaml", "un autre numéro", "un « autre » numéro")
	c, problems := Check(files)
	if c == nil || problems.HasErrors() {
		t.Fatalf("a warning must not stop the content: %v", problems)
	}
	if !strings.Contains(problems.Error(), "warning: footer_menu: character \"«\" makes the SMS UCS-2") {
		t.Errorf("no warning about «:\n%v", problems)
	}
}

// TestWarningNamesTheCharacterThatForcesUCS2: any character outside GSM-7
// in a French or English text (here a lower-case ç) is named, with its line.
func TestWarningNamesTheCharacterThatForcesUCS2(t *testing.T) {
	files := shippedFiles(t)
	edit(t, files, "locales/fr.yaml", "un autre numéro", "un autre numéro, ça va")
	c, problems := Check(files)
	if c == nil || problems.HasErrors() {
		t.Fatalf("a warning must not stop the content: %v", problems)
	}
	if !regexp.MustCompile(`locales/fr\.yaml:\d+: warning: footer_menu: character "ç" is not in GSM-7`).MatchString(problems.Error()) {
		t.Errorf("no warning naming ç with its line:\n%v", problems)
	}
}

func TestSMSBudgetWarning(t *testing.T) {
	files := shippedFiles(t)
	edit(t, files, "flows/main.yaml", "sms_budget: 3", "sms_budget: 1")
	c, problems := Check(files)
	if c == nil || problems.HasErrors() {
		t.Fatalf("a budget warning must not stop the content: %v", problems)
	}
	if !strings.Contains(problems.Error(), "warning: health_rights: in fr it costs 2 SMS") {
		t.Errorf("no budget warning for health_rights:\n%v", problems)
	}
}

func TestFourthLanguageNeedsNoCode(t *testing.T) {
	dir := t.TempDir()
	files := shippedFiles(t)
	for name, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Spanish, as a translator would add it: a copy of the English file to
	// translate, listed in the languages and with a greeting.
	en := string(files["locales/en.yaml"].Data)
	es := strings.Replace(en, `language_name: "English"`, `language_name: "Español"`, 1)
	if es == en {
		t.Fatal("could not find language_name in en.yaml")
	}
	// Spanish plurals need one, many and other (in every plural message).
	es = strings.ReplaceAll(es, "  other:", "  many: \"{{.Count}} más:\"\n  other:")
	os.WriteFile(filepath.Join(dir, "locales", "es.yaml"), []byte(es), 0o644)
	main := string(files["flows/main.yaml"].Data)
	main = strings.Replace(main, "languages: [fr, en, ar]", "languages: [fr, en, ar, es]", 1)
	main = strings.Replace(main, "greetings:\n", "greetings:\n  es: [hola, buenos dias]\n", 1)
	// Words of danger are content too: each category gets Spanish words.
	main = strings.ReplaceAll(main, "\n        en: [", "\n        es: [socorro]\n        en: [")
	os.WriteFile(filepath.Join(dir, "flows", "main.yaml"), []byte(main), 0o644)

	c := mustLoad(t, Dir(dir))
	if !c.HasLanguage("es") {
		t.Fatalf("languages = %v, want es among them", c.Languages)
	}
	if lang, ok := c.DetectLanguage("Hola"); !ok || lang != "es" {
		t.Errorf("DetectLanguage(Hola) = %q, %v; want es", lang, ok)
	}
	if got := c.Text("es", MsgLanguageName, nil); got != "Español" {
		t.Errorf("language_name in es = %q", got)
	}
}

func TestGoi18nHashIsAccepted(t *testing.T) {
	files := shippedFiles(t)
	edit(t, files, "locales/en.yaml", `welcome_back: "`, "welcome_back:\n  hash: sha1-0123\n  other: \"")
	if _, err := Load(files); err != nil {
		t.Errorf("a message with goi18n's hash is refused: %v", err)
	}
}

func TestFoldAndDigits(t *testing.T) {
	tests := map[string]string{
		"  Arrêt ! ":    "arret",
		"ARRET":         "arret",
		"Bonjour,  toi": "bonjour toi",
		"٣":             "3",
		"۱۲":            "12",
		"مَرْحَبًا":     "مرحبا",
		"مـــرحبا":      "مرحبا",
		// Arabic spelling variants fold together.
		"القائمه":          "القايمه",
		"القائمة":          "القايمه",
		"القايمة":          "القايمه",
		"إحذف":             "احذف",
		"أحذف":             "احذف",
		"آحذف":             "احذف",
		"ٱحذف":             "احذف",
		"مساعدة":           "مساعده",
		"مُسَاعَدَة":       "مساعده",
		"مستشفى":           "مستشفي",
		"مستشفی":           "مستشفي",
		"کلمة":             "كلمه",
		"وجدہ":             "وجده",
		"القائمة، مساعدة؟": "القايمه مساعده", // Arabic comma and question mark are punctuation
	}
	for in, want := range tests {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUrgent(t *testing.T) {
	c := mustLoad(t, Embedded())
	for text, want := range map[string]bool{
		"Mon mari me frappe":        true,
		"il y a de la Violence ici": true,
		"he hits me":                true,
		"my child is missing":       true,
		"أخاف من العنف":             true,
		"تعرضت للاغتصاب":            true,
		"زوجي يضربني":               true,
		"Je cherche un médecin":     false,
		"where is the school":       false,
		"أريد معلومات عن المدرسة":   false,
	} {
		if got := c.Urgent(text); got != want {
			t.Errorf("Urgent(%q) = %v, want %v", text, got, want)
		}
	}
}

// TestPlainTextsRenderAsGoi18n: the messages rendered once at load are what
// go-i18n renders (with {{.Hours}}, the content's own, filled in), and the
// templated ones are still filled per call.
func TestPlainTextsRenderAsGoi18n(t *testing.T) {
	c := mustLoad(t, Embedded())
	n := 0
	for _, lang := range c.Languages {
		for id := range c.locales[lang].Messages {
			got := c.Text(lang, id, nil)
			want := c.localize(lang, &i18n.LocalizeConfig{MessageID: id, TemplateData: map[string]any{"Hours": c.Text(lang, MsgStaffHours, nil)}})
			if got != want {
				t.Errorf("%s %s: %q, go-i18n says %q", lang, id, got, want)
			}
			if _, ok := c.plain[lang][id]; ok {
				n++
			}
		}
	}
	if n == 0 {
		t.Error("no message was rendered at load")
	}
	if got := c.Plural("en", "dist_header", 3, map[string]any{"Site": "Oujda"}); got != "3 upcoming distributions in Oujda:" {
		t.Errorf("plural: %q", got)
	}
}

// TestKeywordsMatchAsWritten: every keyword word of the shipped content, in
// capitals and with punctuation, is found; an ordinary word is not.
func TestKeywordsMatchAsWritten(t *testing.T) {
	c := mustLoad(t, Embedded())
	for _, kw := range c.Flow.Keywords {
		for lang, words := range kw.Words {
			for _, w := range words {
				got, ok := c.Keyword(" " + strings.ToUpper(w) + " !")
				if !ok || got.Goto != kw.Goto {
					t.Errorf("%s %q: got %q, %v", lang, w, got.Goto, ok)
				}
				if l, ok := c.KeywordLanguage(w); !ok || !slices.Contains(c.Languages, l) {
					t.Errorf("%q: language %q, %v", w, l, ok)
				}
			}
		}
	}
	if _, ok := c.Keyword("pomme"); ok {
		t.Error("an ordinary word is taken for a keyword")
	}
}

func TestBadChar(t *testing.T) {
	for s, bad := range map[string]bool{
		"Distribution à 9 h.\nMerci":    false,
		"التوزيع\tغدا":                  false,
		"bell\a":                        true,
		"nul\x00":                       true,
		"escape\x1b[31m":                true,
		"from bad bytes \uFFFD":         true,
		"next line \u0085 (C1 control)": true,
	} {
		if _, got := BadChar(s); got != bad {
			t.Errorf("BadChar(%q) = %v, want %v", s, got, bad)
		}
	}
}

// TestStaffHoursSayWhenStaffAnswer: the replies to a request to talk to a
// person say when staff answer in the partners' own words (staff_hours);
// hours longer than 80 characters, which would make those replies cost
// more SMS, are refused by validation.
func TestStaffHoursSayWhenStaffAnswer(t *testing.T) {
	files := shippedFiles(t)
	edit(t, files, "locales/fr.yaml", `staff_hours: "dès que possible, parfois après des heures"`, `staff_hours: "du lundi au vendredi, de 9 h à 17 h"`)
	c := mustLoad(t, files)
	for _, id := range []string{"urgent_recorded", "person_recorded"} {
		if got := c.Text("fr", id, nil); !strings.Contains(got, "ici du lundi au vendredi, de 9 h à 17 h.") {
			t.Errorf("fr %s = %q, want the staff's hours", id, got)
		}
		if got := c.Text("en", id, nil); !strings.Contains(got, "as soon as they can, sometimes after some hours.") {
			t.Errorf("en %s = %q, want the shipped words", id, got)
		}
	}
	long := shippedFiles(t)
	edit(t, long, "locales/fr.yaml", `staff_hours: "dès que possible, parfois après des heures"`,
		`staff_hours: "du lundi au vendredi de 9 h à 17 h, et le samedi matin de 9 h à 12 h, sauf les jours fériés et pendant le mois de ramadan où les horaires changent"`)
	if _, problems := Check(long); !slices.ContainsFunc(problems, func(p Problem) bool {
		return !p.Warning && p.Key == MsgStaffHours && strings.Contains(p.Msg, "at most 80")
	}) {
		t.Errorf("staff hours of over 80 characters are accepted: %v", problems)
	}
}
