package engine

import "testing"

// SiteName: the name staff gave, else the content's, else the id.
func TestSiteName(t *testing.T) {
	c := shipped(t)
	sites := []Site{{ID: "nador", Names: map[string]string{"fr": "Nador-Ville"}}, {ID: "tiznit"}}
	for _, tt := range []struct{ id, lang, want string }{
		{"nador", "fr", "Nador-Ville"},
		{"nador", "ar", c.Text("ar", "site_nador", nil)},
		{"tiznit", "fr", "tiznit"},
	} {
		if got := SiteName(c, sites, tt.lang, tt.id); got != tt.want {
			t.Errorf("SiteName(%s, %s) = %q, want %q", tt.id, tt.lang, got, tt.want)
		}
	}
}
