package content

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"go.yaml.in/yaml/v3"
)

// manyIDs returns a message file of n ids, one short line each.
func manyIDs(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "x%d: a\n", i)
	}
	return []byte(b.String())
}

func rawFiles(t *testing.T) map[string][]byte {
	t.Helper()
	return mustLoad(t, Embedded()).Files()
}

// TestBoundsAreRefused: each bound on a content set is refused with a
// problem naming what is over, before the content is decoded.
func TestBoundsAreRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(files map[string][]byte)
		want   string
	}{
		{"too many ids in a message file", func(f map[string][]byte) {
			f["locales/fr.yaml"] = append(f["locales/fr.yaml"], manyIDs(MaxEntries)...)
		}, fmt.Sprintf("locales/fr.yaml:7: a mapping of %d entries: at most %d", MaxEntries+frEntries(t), MaxEntries)},
		{"too many entries in a flow node", func(f map[string][]byte) {
			var b strings.Builder
			b.WriteString("nodes:\n  big:\n")
			for i := range MaxEntries + 1 {
				fmt.Fprintf(&b, "    k%d: v\n", i)
			}
			f["flows/big.yaml"] = []byte(b.String())
		}, fmt.Sprintf("flows/big.yaml:3: a mapping of %d entries", MaxEntries+1)},
		{"too big a file", func(f map[string][]byte) {
			f["locales/notes.md"] = []byte(strings.Repeat("x", MaxFileBytes+1))
		}, "locales/notes.md: over 131072 bytes"},
		{"too many files", func(f map[string][]byte) {
			for i := range MaxFiles {
				f[fmt.Sprintf("locales/n%d.md", i)] = []byte("x")
			}
		}, fmt.Sprintf("content: %d files: a content set holds at most %d", MaxFiles+6, MaxFiles)},
		{"too many bytes in all", func(f map[string][]byte) {
			for i := range 9 {
				f[fmt.Sprintf("locales/n%d.md", i)] = []byte(strings.Repeat("x", MaxFileBytes))
			}
		}, "bytes in all: a content set holds at most 1048576"},
		{"a file that is not content", func(f map[string][]byte) {
			f["junk/big.bin"] = []byte("x")
		}, "junk/big.bin: not a content file"},
		{"a file in a subdirectory", func(f map[string][]byte) {
			f["locales/x/fr.yaml"] = []byte("x: a\n")
		}, "locales/x/fr.yaml: not a content file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := rawFiles(t)
			tt.change(files)
			c, problems := CheckFiles(files)
			if !problems.HasErrors() || !strings.Contains(problems.Error(), tt.want) {
				t.Fatalf("want a problem %q, got %v", tt.want, problems)
			}
			if c != nil && strings.Contains(tt.want, "content:") {
				t.Error("content returned for a set refused as a whole")
			}
		})
	}
	// The same bounds hold for a directory (outreach validate).
	files := shippedFiles(t)
	files["locales/big.md"] = &fstest.MapFile{Data: []byte(strings.Repeat("x", MaxFileBytes+1))}
	if _, problems := Check(files); !strings.Contains(problems.Error(), "locales/big.md: over 131072 bytes") {
		t.Errorf("Check took a file over the bound: %v", problems)
	}
	// And at the bound, all is well.
	ok := rawFiles(t)
	ok["locales/big.md"] = []byte(strings.Repeat("x", MaxFileBytes))
	if _, problems := CheckFiles(ok); problems.HasErrors() {
		t.Errorf("a file at the bound is refused: %v", problems)
	}
}

// TestManyIDsAreRefusedByTheirCount: 200,000 ids, past the byte bound, are
// refused by their count when read directly, without being decoded.
func TestManyIDsAreRefusedByTheirCount(t *testing.T) {
	t.Parallel()
	loc, problems := parseLocale("locales/fr.yaml", "fr", manyIDs(200_000))
	if loc != nil || !strings.Contains(problems.Error(), "a mapping of 200000 entries") {
		t.Fatalf("want 200,000 ids refused, got %v", problems)
	}
}

// BenchmarkRefuseManyIDs measures refusing a message file of 200,000 ids
// (1.7 MB) by its count: go test ./bot/content -run X -bench ManyIDs -benchmem
func BenchmarkRefuseManyIDs(b *testing.B) {
	data := manyIDs(200_000)
	for b.Loop() {
		if loc, _ := parseLocale("locales/fr.yaml", "fr", data); loc != nil {
			b.Fatal("accepted")
		}
	}
}

// BenchmarkCheckAtTheBound measures checking the shipped content with its
// French file at MaxEntries ids.
func BenchmarkCheckAtTheBound(b *testing.B) {
	c, err := Load(Embedded())
	if err != nil {
		b.Fatal(err)
	}
	files := c.Files()
	files["locales/fr.yaml"] = append(files["locales/fr.yaml"], manyIDs(MaxEntries-119)...)
	for b.Loop() {
		if _, problems := CheckFiles(files); !problems.HasErrors() {
			b.Fatal("the extra ids are missing in en and ar: want errors")
		}
	}
}

// frEntries counts the message ids of the shipped French file.
func frEntries(t *testing.T) int {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(rawFiles(t)["locales/fr.yaml"], &m); err != nil {
		t.Fatal(err)
	}
	return len(m)
}
