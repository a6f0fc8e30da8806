package console

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// ids returns the message ids of each language, from messages/*.<lang>.yaml.
func ids(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	names, err := fs.Glob(files, "messages/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range names {
		parts := strings.Split(filepath.Base(f), ".")
		lang := parts[len(parts)-2]
		b, _ := fs.ReadFile(files, f)
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if out[lang] == nil {
			out[lang] = map[string]bool{}
		}
		for id := range m {
			if out[lang][id] {
				t.Errorf("%s: %s is defined twice for %s", f, id, lang)
			}
			out[lang][id] = true
		}
	}
	return out
}

// used finds the message ids the templates and the Go code name.
func used(t *testing.T) []string {
	t.Helper()
	var out []string
	tmpl := regexp.MustCompile(`\.(?:T|HTML) "([a-z0-9_]+)"`)
	goCode := regexp.MustCompile(`(?:\.T\(|message: |setFlash\(r, |newPage\(r, |pageIn\(r, [a-zA-Z.]+, |errorPage\(r, [a-zA-Z.]+, )"([a-z0-9_]+)"`)
	err := fs.WalkDir(files, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(files, p)
		for _, m := range tmpl.FindAllStringSubmatch(string(b), -1) {
			out = append(out, m[1])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	gofiles, _ := filepath.Glob("*.go")
	for _, f := range gofiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goCode.FindAllStringSubmatch(string(b), -1) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestEveryMessageInEveryLanguage(t *testing.T) {
	have := ids(t)
	for _, lang := range Languages {
		if have[lang] == nil {
			t.Fatalf("no messages for %s", lang)
		}
	}
	for _, id := range used(t) {
		for _, lang := range Languages {
			if !have[lang][id] {
				t.Errorf("message %q is used but missing in %s", id, lang)
			}
		}
	}
	for _, lang := range Languages {
		for id := range have[lang] {
			for _, other := range Languages {
				if !have[other][id] {
					t.Errorf("message %q is in %s but not in %s", id, lang, other)
				}
			}
		}
	}
}

func TestTemplatesParse(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"login", "invite", "error", "dashboard"} {
		if p.byName[name] == nil {
			t.Errorf("no template %s", name)
		}
	}
}

// The CSP forbids inline scripts and styles: no template may hold them.
func TestNoInlineScriptOrStyle(t *testing.T) {
	bad := regexp.MustCompile(`(?i)<script>|<script [^>]*>[^<]|\sstyle=|<style|\son[a-z]+=`)
	err := fs.WalkDir(files, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(files, p)
		if m := bad.FindString(string(b)); m != "" {
			t.Errorf("%s holds %q: the Content-Security-Policy refuses inline script and style", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRefreshInSeconds: a page's live part says its reload interval in
// seconds, a fraction when it is one (console.js reads it with parseFloat).
func TestRefreshInSeconds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		c    *Console
		want string
	}{
		{nil, "3"},
		{&Console{opts: Options{Refresh: DefaultRefresh}}, "3"},
		{&Console{opts: Options{Refresh: 200 * time.Millisecond}}, "0.2"},
		{&Console{opts: Options{Refresh: 90 * time.Second}}, "90"},
	} {
		if got := (&Page{c: tt.c}).Refresh(); got != tt.want {
			t.Errorf("Refresh() = %q, want %q", got, tt.want)
		}
	}
}
