package content

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// setMessage sets message id to text in every shipped language, replacing
// its line, and returns that line's number in fr.yaml.
func setMessage(t *testing.T, files fstest.MapFS, id, text string) int {
	t.Helper()
	line := 0
	for _, lang := range []string{"fr", "en", "ar"} {
		name := "locales/" + lang + ".yaml"
		lines := strings.Split(string(files[name].Data), "\n")
		found := false
		for i, l := range lines {
			if strings.HasPrefix(l, id+":") {
				lines[i] = id + ": " + fmt.Sprintf("%q", text)
				found = true
				if lang == "fr" {
					line = i + 1
				}
				break
			}
		}
		if !found {
			t.Fatalf("%s has no line %s:", name, id)
		}
		files[name].Data = []byte(strings.Join(lines, "\n"))
	}
	return line
}

// TestMessagesOnlyFillFields: a text that is anything but text and
// {{.Field}} is refused, naming file, line and key, in every language. Today
// text/template took most of these (range, variables, comments, trim
// markers, fields of fields).
func TestMessagesOnlyFillFields(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"{{range .Site}}x{{end}}",
		"{{range 3}}{{range 3}}x{{end}}{{end}}",
		"{{$.Sitee}}",
		"{{$x := .Site}}{{$x}}",
		"{{.Site.Name}}",
		"{{/* a comment */}}Menu",
		"{{- .Site -}}",
		`{{printf "%0999999d" 1}}`,
		`{{index . "Site"}}`,
		`{{template "x"}}`,
		`{{define "x"}}{{end}}Menu`,
		"{{.Site | print}}",
		"{{if .Site}}x{{end}}",
		"{{.Site}",
		"{{}}",
		"{{ . }}",
	} {
		t.Run(text, func(t *testing.T) {
			t.Parallel()
			files := shippedFiles(t)
			line := setMessage(t, files, "main_title", text)
			_, err := Load(files)
			want := fmt.Sprintf("locales/fr.yaml:%d: main_title: ", line)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("%q: want a problem at %q, got %v", text, want, err)
			}
		})
	}
	// What is allowed: fields, with spaces inside the braces if one likes,
	// and braces that are not a field opening.
	files := shippedFiles(t)
	setMessage(t, files, "dist_none", "Rien à {{ .Site }} {{.Site}} }} {")
	c := mustLoad(t, files)
	if got := c.Text("fr", "dist_none", map[string]any{"Site": "Oujda"}); got != "Rien à Oujda Oujda }} {" {
		t.Errorf("fields: %q", got)
	}
}

// TestUnknownFieldIsRefusedInEveryFile: {{.Sitee}} is refused even in a
// message file whose language is not offered (yet), which was only a
// warning: it was rendered as nothing.
func TestUnknownFieldIsRefusedInEveryFile(t *testing.T) {
	t.Parallel()
	files := shippedFiles(t)
	files["locales/es.yaml"] = &fstest.MapFile{Data: []byte("language_name: Español\ndist_none: \"Nada en {{.Sitee}}\"\n")}
	_, err := Load(files)
	if err == nil || !strings.Contains(err.Error(), "locales/es.yaml:2: dist_none: {{.Sitee}}: the bot fills no such field") {
		t.Fatalf("want the unknown field refused at locales/es.yaml:2, got %v", err)
	}
	// In a plural form: the form and its own line are named.
	files = shippedFiles(t)
	edit(t, files, "locales/en.yaml", "  other: \"{{.Count}} upcoming distributions in {{.Site}}:\"", "  other: \"{{.Count}} upcoming distributions in {{.Sitee}}:\"")
	_, err = Load(files)
	if err == nil || !strings.Contains(err.Error(), ": dist_header: other: {{.Sitee}}: the bot fills no such field") {
		t.Fatalf("want the plural form named, got %v", err)
	}
}

// TestRenderedMessageIsBounded: a message over MaxMessageChars as rendered
// is refused, also when its own text is short and a field repeats.
func TestRenderedMessageIsBounded(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{
		"long text":       strings.Repeat("a", MaxMessageChars+1),
		"repeated fields": strings.Repeat("{{.Items}}", 100), // 1,000 characters, 1,700 filled
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			files := shippedFiles(t)
			setMessage(t, files, "dist_item", text)
			_, err := Load(files)
			if err == nil || !strings.Contains(err.Error(), "dist_item: ") || !strings.Contains(err.Error(), fmt.Sprintf("a message has at most %d", MaxMessageChars)) {
				t.Fatalf("want the message refused as too long, got %v", err)
			}
		})
	}
	files := shippedFiles(t)
	setMessage(t, files, "dist_item", strings.Repeat("a", MaxMessageChars))
	if _, err := Load(files); err != nil {
		t.Errorf("a message at the bound is refused: %v", err)
	}
}

// TestSampleFieldsAreTheDeclaredFields: validation fills exactly the
// fields the bot declares.
func TestSampleFieldsAreTheDeclaredFields(t *testing.T) {
	t.Parallel()
	if got := slices.Sorted(maps.Keys(sampleFields)); !slices.Equal(got, TemplateFields) {
		t.Errorf("sample fields %v, declared %v", got, TemplateFields)
	}
}

// TestRendererCannotLoop: content that validation refused is still
// usable by Check's caller; showing its message must not run it. The
// child renders under a 1 GiB cap on its data memory (prlimit --data, which
// unlike --as leaves room for the race detector's shadow mappings): with
// text/template the nested range asks for 10 GB and the child dies.
func TestRendererCannotLoop(t *testing.T) {
	if os.Getenv("CONTENT_RENDER_CHILD") == "1" {
		files := shippedFiles(t)
		setMessage(t, files, "main_title", "{{range 100000}}{{range 100000}}xxxxxxxxxx{{end}}{{end}}")
		c, _ := Check(files)
		if c == nil {
			t.Fatal("no content")
		}
		out := c.Text("fr", "main_title", nil)
		fmt.Printf("rendered %d bytes\n", len(out))
		return
	}
	t.Parallel()
	cmd := exec.Command("prlimit", "--data=1073741824", os.Args[0], "-test.run=^TestRendererCannotLoop$", "-test.v")
	cmd.Env = append(os.Environ(), "CONTENT_RENDER_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the child rendering the message died (%v):\n%.2000s", err, out)
	}
	if !strings.Contains(string(out), "rendered 10 bytes") { // the message id, not the loop
		t.Errorf("child output:\n%.2000s", out)
	}
}
