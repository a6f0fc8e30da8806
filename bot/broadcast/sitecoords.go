package broadcast

import (
	"strconv"

	"github.com/outreach-org/outreach/bot/engine"
)

// checkCoords adds what is wrong with a site's centre, if it has one: a
// latitude from -90 to 90 and a longitude from -180 to 180, in decimal
// degrees (south and west negative).
func checkCoords(p *problems, c *engine.Point) {
	if c == nil {
		return
	}
	if !(c.Lat >= -90 && c.Lat <= 90) {
		p.add("coords.lat", ReasonInvalid, strconv.FormatFloat(c.Lat, 'g', -1, 64), "%v: want a latitude from -90 to 90 (decimal degrees, south negative)", c.Lat)
	}
	if !(c.Lon >= -180 && c.Lon <= 180) {
		p.add("coords.lon", ReasonInvalid, strconv.FormatFloat(c.Lon, 'g', -1, 64), "%v: want a longitude from -180 to 180 (decimal degrees, west negative)", c.Lon)
	}
}
