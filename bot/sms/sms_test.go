package sms

import (
	"strings"
	"testing"
)

func TestMeasure(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Cost
	}{
		{"empty", "", Cost{GSM7, 0, 0}},
		{"plain french", "Bonjour, répondez 1 à 5", Cost{GSM7, 23, 1}},
		{"160 septets", strings.Repeat("a", 160), Cost{GSM7, 160, 1}},
		{"161 septets", strings.Repeat("a", 161), Cost{GSM7, 161, 2}},
		{"306 septets", strings.Repeat("a", 306), Cost{GSM7, 306, 2}},
		{"307 septets", strings.Repeat("a", 307), Cost{GSM7, 307, 3}},
		{"extension costs two", "€[]", Cost{GSM7, 6, 1}},
		{"escape pair not split", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 10), Cost{GSM7, 164, 2}},
		{"escape pair pushed to next segment", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), Cost{GSM7, 306, 3}},
		{"circumflex forces UCS-2", "être", Cost{UCS2, 4, 1}},
		{"lowercase c cedilla forces UCS-2", "reçu", Cost{UCS2, 4, 1}},
		{"typographic apostrophe", "l’aide", Cost{UCS2, 6, 1}},
		{"arabic 70", strings.Repeat("ب", 70), Cost{UCS2, 70, 1}},
		{"arabic 71", strings.Repeat("ب", 71), Cost{UCS2, 71, 2}},
		{"arabic 134", strings.Repeat("ب", 134), Cost{UCS2, 134, 2}},
		{"arabic 135", strings.Repeat("ب", 135), Cost{UCS2, 135, 3}},
		{"emoji is a surrogate pair", "ok 👍", Cost{UCS2, 5, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Measure(tt.text); got != tt.want {
				t.Errorf("Measure(%q) = %+v, want %+v", tt.text, got, tt.want)
			}
		})
	}
}

func TestFirstNonGSM(t *testing.T) {
	if r, ok := FirstNonGSM("Bonjour « ami »"); !ok || r != '«' {
		t.Errorf("FirstNonGSM = %q, %v; want «, true", r, ok)
	}
	if _, ok := FirstNonGSM("Bonjour à tous"); ok {
		t.Error("FirstNonGSM found a character outside GSM-7 in plain French")
	}
}
