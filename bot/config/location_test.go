package config

import (
	"strings"
	"testing"
)

func TestNearestSiteKm(t *testing.T) {
	for v, want := range map[string]float64{"": 50, "12.5": 12.5, "200": 200} {
		c, err := Load(env(map[string]string{"OUTREACH_NEAREST_SITE_KM": v}))
		if err != nil || c.Locations.NearestSiteKm != want {
			t.Errorf("%q: %v, %v; want %v", v, c.Locations.NearestSiteKm, err, want)
		}
	}
	for _, v := range []string{"0", "-3", "fifty", "NaN", "Inf", "20001", "50km"} {
		if _, err := Load(env(map[string]string{"OUTREACH_NEAREST_SITE_KM": v})); err == nil || !strings.Contains(err.Error(), "OUTREACH_NEAREST_SITE_KM") {
			t.Errorf("%q: %v; want an error naming OUTREACH_NEAREST_SITE_KM", v, err)
		}
	}
}
