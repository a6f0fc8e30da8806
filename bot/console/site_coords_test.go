package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/engine"
)

// A site's centre is set in the console as through the API: read from the
// form, checked by the same rules, shown again when the site is opened.
func TestSiteCoordinatesInTheConsole(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	admin := f.signIn("admin", bootstrap)
	base := url.Values{"id": {"tiznit"}, "name_fr": {"Tiznit"}, "exact_place": {"subscribers"}}
	with := func(lat, lon string) url.Values {
		v := url.Values{}
		for k, x := range base {
			v[k] = x
		}
		v.Set("lat", lat)
		v.Set("lon", lon)
		return v
	}
	for _, bad := range [][2]string{{"95", "-9.73"}, {"29.69", ""}, {"north", "-9.73"}, {"29.69", "-181"}} {
		if code, page, _ := admin.post("/admin/sites", with(bad[0], bad[1])); code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="coords-error"`) {
			t.Errorf("lat %q, lon %q: %d; want 422 with the error by the centre", bad[0], bad[1], code)
		}
	}
	if code, _, loc := admin.post("/admin/sites", with("29,6974", "-9.7316")); code != http.StatusSeeOther || loc != "/admin/sites" {
		t.Fatalf("add with a centre: %d %q", code, loc)
	}
	if code, _, _ := admin.post("/admin/sites/nador", url.Values{"exact_place": {"subscribers"}, "lat": {"35.1688"}, "lon": {"-2.9335"}}); code != http.StatusSeeOther {
		t.Fatalf("change nador's centre: %d", code)
	}
	if code, _, _ := admin.post("/admin/sites/nador", url.Values{"exact_place": {"subscribers"}, "lat": {"35.1688"}}); code != http.StatusUnprocessableEntity {
		t.Errorf("half a centre: %d, want 422", code)
	}
	sites, err := f.store.Sites(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]engine.Point{"tiznit": {Lat: 29.6974, Lon: -9.7316}, "nador": {Lat: 35.1688, Lon: -2.9335}}
	for _, s := range sites {
		if w, ok := want[s.ID]; ok && (s.Coords == nil || *s.Coords != w) {
			t.Errorf("%s stored at %v, want %v", s.ID, s.Coords, w)
		}
	}
	if _, page, _ := admin.get("/admin/sites/nador"); !strings.Contains(page, `value="35.1688"`) || !strings.Contains(page, `value="-2.9335"`) {
		t.Errorf("nador's page does not show its centre")
	}
}
