package content

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// numbers returns the whole numbers written in s, in order ("141" is not "14").
var numberRE = regexp.MustCompile(`[0-9]+`)

func numbers(s string) []string { return numberRE.FindAllString(Digits(s), -1) }

// shippedTexts calls f with every form of every shipped message.
func shippedTexts(t *testing.T, f func(lang, id, text string)) {
	t.Helper()
	c := mustLoad(t, Embedded())
	for _, lang := range c.Languages {
		loc := c.locales[lang]
		if loc == nil || len(loc.Messages) == 0 {
			t.Fatalf("no messages for %s", lang)
		}
		for id, m := range loc.Messages {
			for _, form := range m.Forms {
				f(lang, id, form)
			}
		}
	}
}

// TestNoShippedTextNamesRAMED: RAMED no longer exists (replaced by AMO
// Tadamon) and was never extended to migrants (locales/sources.md).
func TestNoShippedTextNamesRAMED(t *testing.T) {
	shippedTexts(t, func(lang, id, text string) {
		f := Fold(text)
		if strings.Contains(f, "ramed") || strings.Contains(f, Fold("راميد")) {
			t.Errorf("%s %s names RAMED: %q", lang, id, text)
		}
	})
}

// TestEmergencyNumbersFifteenFirst: wherever the police (19) is given, 15
// comes before it, in every language; the emergency list starts with 15,
// gives 15 as the fallback of 141 (SAMU exists only in some regions) and
// names 177 as the Gendarmerie royale.
func TestEmergencyNumbersFifteenFirst(t *testing.T) {
	shippedTexts(t, func(lang, id, text string) {
		nums := numbers(text)
		if i := slices.Index(nums, "19"); i >= 0 {
			if j := slices.Index(nums, "15"); j < 0 || j > i {
				t.Errorf("%s %s gives 19 (police) before 15: %q", lang, id, text)
			}
		}
	})
	c := mustLoad(t, Embedded())
	royal := map[string]string{"fr": "royale", "en": "royale", "ar": "الملكي"}
	for _, lang := range c.Languages {
		text := c.Text(lang, "health_emergency", nil)
		nums := numbers(text)
		if len(nums) == 0 || nums[0] != "15" {
			t.Errorf("%s health_emergency does not start with 15: %q", lang, text)
		}
		for _, line := range strings.Split(text, "\n") {
			n := numbers(line)
			if slices.Contains(n, "141") && !slices.Contains(n, "15") {
				t.Errorf("%s health_emergency: the 141 line does not say to call 15 where there is no SAMU: %q", lang, line)
			}
			if slices.Contains(n, "177") && !strings.Contains(line, royal[lang]) {
				t.Errorf("%s health_emergency: 177 is not named the Gendarmerie royale: %q", lang, line)
			}
		}
	}
}

// TestHealthAndSchoolFacts checks the corrected facts of 2026-12-01 in every
// language (locales/sources.md).
func TestHealthAndSchoolFacts(t *testing.T) {
	c := mustLoad(t, Embedded())
	goAnyway := map[string]string{"fr": "allez-y", "en": "go anyway", "ar": "اذهب على كل حال"}
	enrolAnyway := map[string]string{"fr": "inscrivez l'enfant", "en": "enrol the child anyway", "ar": "سجل الطفل"}
	private := map[string]string{"fr": "priv", "en": "private", "ar": "الخاص"}
	inclusive := map[string]string{"fr": "migrants et réfugiés", "en": "migrant and refugee", "ar": "المهاجرين واللاجئين"}
	for _, lang := range c.Languages {
		get := func(id string) string { return c.Text(lang, id, nil) }
		if n := numbers(get("health_vaccination")); len(n) > 0 {
			t.Errorf("%s health_vaccination gives a number (no count of vaccines): %v", lang, n)
		}
		if s := strings.ToLower(get("health_vaccination")); !strings.Contains(s, goAnyway[lang]) {
			t.Errorf("%s health_vaccination does not say to go without a booklet: %q", lang, s)
		}
		if !slices.Contains(numbers(get("health_pregnancy")), "30") {
			t.Errorf("%s health_pregnancy does not say to declare a birth within 30 days", lang)
		}
		if s := strings.ToLower(get("school_right")); strings.Contains(s, private[lang]) || !strings.Contains(s, inclusive[lang]) {
			t.Errorf("%s school_right must name migrant and refugee children and not suggest private school: %q", lang, s)
		}
		if s := strings.ToLower(get("school_documents")); !strings.Contains(s, enrolAnyway[lang]) {
			t.Errorf("%s school_documents does not say to enrol without papers: %q", lang, s)
		}
		if n := numbers(get("school_nonformal")); !slices.Equal(n, []string{"13", "18"}) {
			t.Errorf("%s school_nonformal ages = %v, want 13 to 18", lang, n)
		}
		if s := get("health_rights"); !strings.Contains(s, " 0") {
			t.Errorf("%s health_rights does not say what to do when asked to pay (MENU then 0): %q", lang, s)
		}
	}
}

// TestArabicSaysCityNotLocation: "موقع" reads as "your location" (a person
// at risk is asked where they are): the Arabic texts say "المدينة".
func TestArabicSaysCityNotLocation(t *testing.T) {
	shippedTexts(t, func(lang, id, text string) {
		if lang == "ar" && strings.Contains(text, "موقع") {
			t.Errorf("ar %s says موقع: %q", id, text)
		}
	})
}
