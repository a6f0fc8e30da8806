package content

import (
	"slices"
	"strings"
	"testing"

	"testing/fstest"
)

const shippedSites = "  - {id: nador, lat: 35.1740, lon: -2.9287}\n  - {id: oujda, lat: 34.6867, lon: -1.9114}\n  - {id: rabat, lat: 34.0209, lon: -6.8416}\n  - {id: casablanca, lat: 33.5731, lon: -7.5898}\n  - {id: tanger, lat: 35.7595, lon: -5.8340}\n"

// withSites returns the shipped content with the sites section replaced.
func withSites(t *testing.T, section string) fstest.MapFS {
	t.Helper()
	files := shippedFiles(t)
	edit(t, files, "flows/sites.yaml", "sites:\n"+shippedSites, section)
	return files
}

// sites.yaml takes the plain list of ids, as before, and sites with the
// centre of their place, mixed.
func TestSitesWithCoordinates(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, shippedFiles(t))
	if got := c.Flow.SiteCoords["oujda"]; got != (Point{Lat: 34.6867, Lon: -1.9114}) {
		t.Errorf("oujda at %v", got)
	}
	for _, section := range []string{
		"sites: [nador, oujda, rabat, casablanca, tanger]\n",
		"sites:\n  - nador\n  - {id: oujda, lat: 34.6867, lon: -1.9114}\n  - rabat\n  - id: casablanca\n  - {id: tanger, lat: 35.7595, lon: -5.834}\n",
	} {
		c := mustLoad(t, withSites(t, section))
		if want := []string{"nador", "oujda", "rabat", "casablanca", "tanger"}; !slices.Equal(c.Flow.Sites, want) {
			t.Errorf("%q: sites %v", section, c.Flow.Sites)
		}
		if _, ok := c.Flow.SiteCoords["nador"]; ok {
			t.Errorf("%q: nador has coordinates", section)
		}
	}
}

func TestSitesCoordinatesRefused(t *testing.T) {
	t.Parallel()
	for section, want := range map[string]string{
		"sites:\n  - {id: nador, lat: 95, lon: -2.9}\n  - oujda\n  - rabat\n  - casablanca\n  - tanger\n":      "nador: lat 95, lon -2.9: want a latitude from -90 to 90",
		"sites:\n  - {id: nador, lat: 35, lon: -181}\n  - oujda\n  - rabat\n  - casablanca\n  - tanger\n":      "nador: lat 35, lon -181: want",
		"sites:\n  - {id: nador, lat: 35}\n  - oujda\n  - rabat\n  - casablanca\n  - tanger\n":                 "nador: give both lat and lon, or neither",
		"sites:\n  - {id: nador, lat: 35, lon: 1, alt: 3}\n  - oujda\n  - rabat\n  - casablanca\n  - tanger\n": `unknown field "alt"`,
		"sites:\n  - {lat: 35, lon: 1}\n  - oujda\n  - rabat\n  - casablanca\n  - tanger\n":                    "a site needs its id",
		"sites:\n  - {id: nador, lat: north, lon: 1}\n  - oujda\n":                                             "cannot unmarshal !!str `north` into float64",
		"sites: nador\n": "sites is a list of site ids, or of {id, lat, lon}",
	} {
		_, problems := Check(withSites(t, section))
		if !strings.Contains(problems.Error(), want) {
			t.Errorf("%q: problems\n%v\nwant %q", section, problems, want)
		}
	}
}
