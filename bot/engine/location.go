package engine

import (
	"math"
	"strconv"

	"github.com/outreach-org/outreach/bot/content"
)

// Point is a place in decimal degrees: a site's centre, or a location a
// person shared, which is never kept.
type Point = content.Point

// DefaultNearestSiteKm is how far a shared location's nearest site may be
// when Engine.NearestSiteKm is not set: about an hour by road or bus.
const DefaultNearestSiteKm = 50

// earthRadiusKm is the Earth's mean radius (IUGG).
const earthRadiusKm = 6371.0088

// Distance returns the great-circle distance between a and b in km, by the
// haversine formula (the Earth taken as a sphere: within 0.5 %).
func Distance(a, b Point) float64 {
	const rad = math.Pi / 180
	sinLat := math.Sin((b.Lat - a.Lat) * rad / 2)
	sinLon := math.Sin((b.Lon - a.Lon) * rad / 2)
	h := sinLat*sinLat + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*sinLon*sinLon
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(h)))
}

// SiteCoords returns a site's centre: its own, else the one the content
// gives its id (flows/sites.yaml); ok is false when neither has one.
func SiteCoords(c *content.Content, s Site) (p Point, ok bool) {
	if s.Coords != nil && s.Coords.Valid() {
		return *s.Coords, true
	}
	p, ok = c.Flow.SiteCoords[s.ID]
	return p, ok
}

// Nearest returns the active site nearest to p and its distance in km;
// ok is false when no active site has coordinates. Of sites equally near,
// the one listed first is taken.
func Nearest(c *content.Content, sites []Site, p Point) (site Site, km float64, ok bool) {
	for _, s := range sites {
		at, has := SiteCoords(c, s)
		if s.Retired || !has {
			continue
		}
		if d := Distance(p, at); !ok || d < km {
			site, km, ok = s, d, true
		}
	}
	return site, km, ok
}

func (e *Engine) nearestSiteKm() float64 {
	if e.NearestSiteKm > 0 {
		return e.NearestSiteKm
	}
	return DefaultNearestSiteKm
}

// located answers a shared location. The nearest site within the distance
// is chosen as menu 1 chooses it, and the site start follows (as for a
// site link), after a line that names it and how far it is; with none that
// near, the line says so and the site start follows without a site: the
// list of sites to choose from (a site chosen before is kept unless the
// person picks another). The point itself is kept nowhere: not in the
// state, not in a reply, not in an effect.
//
// A location sent to staff — a request open, or being written — would not
// reach them, and the person could believe that it did: they are told that
// it was not passed on and that they can write where they are, and stay
// where they were.
func (r *step) located(p Point, hint string, idle bool) {
	site, km, found := Nearest(r.c, r.data.Sites, p)
	limit := r.e.nearestSiteKm()
	near := found && km <= limit && p.Valid()
	if r.c.HasLanguage(r.st.Lang) && (r.st.Request != "" || r.awaitsText()) && r.c.Has(r.st.Lang, content.MsgLocationNotPassed) {
		text := r.text(content.MsgLocationNotPassed)
		if near {
			text = r.nearLine(site.ID, km) + "\n" + text
		}
		r.say(text, nil)
		return
	}
	if r.s.SiteStart == "" || !r.c.Has(r.c.Languages[0], content.MsgLocationNear) {
		// Content without a site start, or from before locations: a place
		// is media like any other.
		r.media(hint, idle)
		return
	}
	prior := r.st.Vars[content.VarSite]
	chosen := ""
	if near {
		chosen = site.ID
	}
	r.startAt(chosen, "", hint, false)
	if !near {
		delete(r.st.Vars, content.VarSite)
		if prior != "" {
			r.st.Vars[content.VarSite] = prior
		}
	}
	if r.st.Node == r.s.ChooseLanguage && r.st.Lang == "" {
		// The language is asked first; a site near goes on after it.
		if !near {
			r.afterWelcome = ""
		}
		return
	}
	line := r.nearLine(chosen, km)
	if !near {
		line = r.c.Text(r.st.Lang, content.MsgLocationFar, map[string]any{"Count": strconv.FormatFloat(limit, 'f', -1, 64)})
	}
	at := 0
	if r.firstMessage {
		at = r.afterWelcomeAt
	}
	if at < len(r.replies) {
		r.replies[at].Text = line + "\n" + r.replies[at].Text
	}
	if idle {
		r.welcomeBackShort()
	}
}

// nearLine names the nearest site and about how far it is, in whole km
// (at least 1).
func (r *step) nearLine(site string, km float64) string {
	return r.c.Text(r.st.Lang, content.MsgLocationNear, map[string]any{
		"Site": r.siteName(site), "Count": strconv.Itoa(max(1, int(math.Round(km)))),
	})
}
