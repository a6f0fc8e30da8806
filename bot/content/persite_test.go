package content

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestPerSiteValidation: a per-site message's generic text must exist in
// every language, a per-site text present in one language must be in all,
// and the question that asks the site must come back with a site.
func TestPerSiteValidation(t *testing.T) {
	t.Parallel()
	tests := []brokenContent{
		{"per-site text missing in one language", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "locales/ar.yaml", "health_where_oujda:", "health_where_oujdaa:")
		}, []string{"locales/ar.yaml", "health_where_oujda: missing in ar (used at flows/main.yaml:"}},
		{"generic text missing in one language", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "locales/en.yaml", "\nschool_help:", "\nschool_help_gone:")
		}, []string{"locales/en.yaml", "school_help: missing in en"}},
		{"per-site message without a question", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "    ask: health_where_site\n", "")
		}, []string{"health_where: a per_site message needs ask"}},
		{"ask that is not a site question", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "    ask: health_where_site\n", "    ask: person\n")
		}, []string{`health_where: ask "person" is not a question with expect: site`}},
		{"ask that goes elsewhere", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "    back: health\n    goto: health_where\n", "    back: health\n    goto: health\n")
		}, []string{`health_where: ask "health_where_site" goes to "health", not back to "health_where"`}},
		{"ask that saves another answer", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "    save: site\n    back: health\n    goto: health_where\n", "    save: city\n    back: health\n    goto: health_where\n")
		}, []string{`health_where: ask "health_where_site" saves "city"`}},
		{"per_site on a menu", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "    text: school_title\n", "    text: school_title\n    per_site: true\n")
		}, []string{"school: per_site and ask are for a message, not a menu"}},
		{"ask without per_site", func(t *testing.T, f fstest.MapFS) {
			edit(t, f, "flows/main.yaml", "    per_site: true\n    ask: health_where_site\n", "    ask: health_where_site\n")
		}, []string{"health_where: ask is only for a per_site message"}},
	}
	refused(t, tests, true)
}

// TestPerSiteTextsAreOptional: a site without its own text is valid (it
// gets the generic one), and the per-site texts of the default sites are
// used, not reported as unused.
func TestPerSiteTextsAreOptional(t *testing.T) {
	t.Parallel()
	files := shippedFiles(t)
	for _, lang := range []string{"fr", "en", "ar"} {
		edit(t, files, "locales/"+lang+".yaml", "\nhealth_where_tanger:", "\n# health_where_tanger:")
	}
	c, problems := Check(files)
	if len(problems) > 0 {
		t.Fatalf("problems without a per-site text for tanger:\n%v", problems)
	}
	if got := c.SiteMessage("fr", "health_where", "tanger"); got != "health_where" {
		t.Errorf("tanger without its own text sends %q, want the generic health_where", got)
	}
	if got := c.SiteMessage("fr", "health_where", "oujda"); got != "health_where_oujda" {
		t.Errorf("oujda sends %q, want health_where_oujda", got)
	}
	if got := c.SiteMessage("fr", "health_where", ""); got != "health_where" {
		t.Errorf("no site sends %q, want health_where", got)
	}
}

// TestPerSiteCosts: validate measures each per-site text as sent, with its
// footer, so that the SMS budget covers it too.
func TestPerSiteCosts(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, Embedded())
	found := map[string]bool{}
	for _, cost := range c.Costs() {
		if cost.Site != "" {
			found[cost.Key+"/"+cost.Site+"/"+cost.Lang] = true
		}
	}
	for _, node := range []string{"health_where", "health_help", "school_help"} {
		for _, site := range c.Flow.Sites {
			for _, lang := range c.Languages {
				if !found[node+"/"+site+"/"+lang] {
					t.Errorf("no cost for %s as sent for %s in %s", node, site, lang)
				}
			}
		}
	}
	// Over budget: a long per-site text is a warning naming the site.
	files := shippedFiles(t)
	edit(t, files, "locales/fr.yaml", `health_where_oujda: "`, `health_where_oujda: "`+strings.Repeat("Texte long. ", 40))
	_, problems := Check(files)
	if !strings.Contains(problems.Error(), "health_where: in fr for oujda it costs") {
		t.Errorf("a per-site text over the budget is not reported:\n%v", problems)
	}
}
