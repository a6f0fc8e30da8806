package config

import (
	"fmt"
	"strconv"
)

// Locations is how a shared location (WhatsApp, Telegram) is answered.
type Locations struct {
	// NearestSiteKm is how far the nearest site may be for a location to
	// be answered with it; farther, the list of sites
	// (OUTREACH_NEAREST_SITE_KM, default 50).
	NearestSiteKm float64
}

// maxNearestSiteKm bounds OUTREACH_NEAREST_SITE_KM: Morocco is about 1,500
// km long, and every site is nearer than half the Earth's circumference.
const maxNearestSiteKm = 20000

func loadLocations(c *Config, getenv func(string) string) error {
	c.Locations.NearestSiteKm = 50
	v := getenv("OUTREACH_NEAREST_SITE_KM")
	if v == "" {
		return nil
	}
	km, err := strconv.ParseFloat(v, 64)
	if err != nil || !(km > 0 && km <= maxNearestSiteKm) {
		return fmt.Errorf("OUTREACH_NEAREST_SITE_KM: want a distance in km greater than 0 and at most %d, such as 50 or 12.5; got %q", maxNearestSiteKm, v)
	}
	c.Locations.NearestSiteKm = km
	return nil
}
