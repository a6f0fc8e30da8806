package outbox_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"

	"github.com/outreach-org/outreach/bot/outbox"
)

func utf16Units(r rune) int { return max(1, utf16.RuneLen(r)) }

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

func TestSplitUTF16(t *testing.T) {
	t.Parallel()
	tests := []struct {
		text  string
		limit int
		want  []string
	}{
		{"🙂🙂🙂", 6, []string{"🙂🙂🙂"}},
		{"🙂🙂🙂🙂", 6, []string{"🙂🙂🙂", "🙂"}},
		{"ab🙂", 3, []string{"ab", "🙂"}}, // never half an emoji
		{"🙂 🙂 🙂", 5, []string{"🙂 🙂", "🙂"}},
		{"salut 👋🏽 ça va", 10, []string{"salut 👋🏽", "ça va"}},
		{"          x", 4, []string{"x"}}, // no empty part
		{"a\n\n\n\n\n\n\nb", 2, []string{"a", "b"}},
		{"🙂", 1, []string{"🙂"}}, // wider than the limit: alone, not lost
		{"", 5, []string{""}},
	}
	for _, tt := range tests {
		got := outbox.SplitUnits(tt.text, tt.limit, utf16Units)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("SplitUnits(%q, %d) = %q, want %q", tt.text, tt.limit, got, tt.want)
		}
	}
}

// TestSplitKeepsEverything cuts random texts of letters, spaces, line
// breaks, Arabic and emoji: every part is within the limit and not empty,
// and the parts hold every character but the spaces at the cuts, in order.
func TestSplitKeepsEverything(t *testing.T) {
	t.Parallel()
	alphabet := []rune("aé ب\n🙂👋🏽\t")
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var b strings.Builder
		for range rnd.IntN(300) {
			b.WriteRune(alphabet[rnd.IntN(len(alphabet))])
		}
		text, limit := b.String(), 1+rnd.IntN(40)
		parts := outbox.SplitUnits(text, limit, utf16Units)
		if utf16Len(text) <= limit {
			if len(parts) != 1 || parts[0] != text {
				t.Fatalf("SplitUnits(%q, %d) = %q, want it whole", text, limit, parts)
			}
			continue
		}
		for _, p := range parts {
			if p == "" || utf16Len(p) > max(limit, 2) {
				t.Fatalf("SplitUnits(%q, %d): part %q", text, limit, p)
			}
		}
		strip := func(s string) string {
			return strings.Map(func(r rune) rune {
				if unicode.IsSpace(r) {
					return -1
				}
				return r
			}, s)
		}
		if strip(strings.Join(parts, "")) != strip(text) {
			t.Fatalf("SplitUnits(%q, %d) = %q: characters lost", text, limit, parts)
		}
	}
}
