package content

import (
	"strings"
	"testing"
)

// TestValidateUrgentLists: validate refuses a category without words in a
// language, a word that folds to nothing, and an offer that does not wait.
func TestValidateUrgentLists(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, old, new, want string
	}{
		{"no words for a language",
			"        ar: [ضرب*, يضرب*", "        xx: [ضرب*, يضرب*",
			`urgent.violence: no words for "ar": danger written in it would not be heard`},
		{"an empty list",
			"        en: [drown*, shipwreck*, boat sank, boat sinking, boat is sinking, capsiz*]", "        en: []",
			`urgent.drowning: no words for "en"`},
		{"a word that folds to nothing",
			"        fr: [suicid*,", "        fr: [\"?!*\", suicid*,",
			`urgent.suicide: fr word "?!*" folds to nothing`},
		{"an offer that does not wait",
			"  offer: urgent_offer", "  offer: urgent_record",
			`"urgent_record" is a action: the offer of a person must wait`},
		{"a missing text",
			"      text: urgent_medical\n", "      text: urgent_nothing\n",
			`urgent_nothing`},
		{"an unknown field",
			"      record: true\n", "      recrod: true\n",
			`unknown field "recrod"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := rawFiles(t)
			main := string(files["flows/main.yaml"])
			changed := strings.Replace(main, tt.old, tt.new, 1)
			if changed == main {
				t.Fatalf("could not find %q in flows/main.yaml", tt.old)
			}
			files["flows/main.yaml"] = []byte(changed)
			_, problems := CheckFiles(files)
			if !problems.HasErrors() || !strings.Contains(problems.Error(), tt.want) {
				t.Fatalf("want a problem %q, got %v", tt.want, problems)
			}
		})
	}
	if _, problems := CheckFiles(rawFiles(t)); problems.HasErrors() {
		t.Fatalf("the shipped content: %v", problems)
	}
}

// TestUrgentStemsAndWholeWords: a word matches whole, a "*" word as a stem,
// never inside a word; Arabic after its clitic prefixes.
func TestUrgentStemsAndWholeWords(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, Embedded())
	for text, want := range map[string]bool{
		"traitement de la tuberculose": false,
		"groupe sanguin O":             false,
		"prise de sang":                false,
		"il y a du sang partout":       true,
		"elle saigne":                  true,
		"saignement":                   true,
		"un viol":                      true,
		"ma femme est enceinte":        false,
		"للاغتصاب":                     true,
		"وبالعنف":                      true,
		"الدم":                         false,
	} {
		if got := c.Urgent(text); got != want {
			t.Errorf("Urgent(%q) = %v, want %v", text, got, want)
		}
	}
}
