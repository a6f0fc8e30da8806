package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/outreach-org/outreach/bot/engine"
)

// siteCoords reads the centre a site form sends (fields lat and lon, in
// decimal degrees; a comma is taken as the decimal point): nil when both
// are blank, which keeps the site's centre; ok is false when only one is
// given or either is not a number. The range is checked with the site
// (broadcast.CheckSite), as for the API.
func siteCoords(r *http.Request) (p *engine.Point, ok bool) {
	lat := strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get("lat")), ",", ".")
	lon := strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get("lon")), ",", ".")
	if lat == "" && lon == "" {
		return nil, true
	}
	la, err1 := strconv.ParseFloat(lat, 64)
	lo, err2 := strconv.ParseFloat(lon, 64)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return &engine.Point{Lat: la, Lon: lo}, true
}

// errCoords is the form error of a centre that cannot be read or is out
// of range.
var errCoords = map[string]string{"coords": "admin_site_coords_invalid"}
