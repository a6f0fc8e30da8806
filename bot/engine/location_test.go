package engine

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/content"
)

// Places used below, none of them a site's centre.
var (
	nearOujda = Point{Lat: 34.6937, Lon: -1.8712} // ~4 km from Oujda's centre
	nearRabat = Point{Lat: 34.0011, Lon: -6.8502} // ~2 km from Rabat's
	marrakech = Point{Lat: 31.6295, Lon: -7.9811} // ~220 km from Casablanca
)

func siteText(c *content.Content, lang, id, site string) string {
	return c.Text(lang, id, map[string]any{"Site": c.Text(lang, "site_"+site, nil)})
}

func TestDistance(t *testing.T) {
	paris, london := Point{Lat: 48.8566, Lon: 2.3522}, Point{Lat: 51.5074, Lon: -0.1278}
	for _, tt := range []struct {
		a, b     Point
		want, by float64
	}{
		{paris, london, 343.6, 1},
		{london, paris, 343.6, 1},
		{paris, paris, 0, 1e-9},
		{Point{Lat: 0, Lon: 0}, Point{Lat: 0, Lon: 180}, math.Pi * earthRadiusKm, 1e-6},
		{Point{Lat: 90, Lon: 0}, Point{Lat: -90, Lon: 0}, math.Pi * earthRadiusKm, 1e-6},
		{Point{Lat: 0, Lon: 179.9}, Point{Lat: 0, Lon: -179.9}, 0.2 * math.Pi / 180 * earthRadiusKm, 1e-6},
	} {
		if got := Distance(tt.a, tt.b); math.Abs(got-tt.want) > tt.by {
			t.Errorf("Distance(%v, %v) = %.4f km, want %.4f", tt.a, tt.b, got, tt.want)
		}
	}
}

// The content gives the five default sites the centres of their cities.
func TestDefaultSitesHaveCoordinates(t *testing.T) {
	c := shipped(t)
	for _, id := range c.Flow.Sites {
		if p, ok := c.Flow.SiteCoords[id]; !ok || !p.Valid() || p.Lat < 27 || p.Lat > 36 || p.Lon < -13 || p.Lon > -1 {
			t.Errorf("site %s: coordinates %v, %v; want a place in Morocco", id, p, ok)
		}
	}
	if got := Distance(c.Flow.SiteCoords["rabat"], c.Flow.SiteCoords["casablanca"]); got < 80 || got > 95 {
		t.Errorf("Rabat to Casablanca: %.0f km, want about 87", got)
	}
}

// A new contact's location near a site: the welcome, then menu 1 for that
// site with its name and distance before it, and 2 subscribes. Nothing of
// the point is in the state.
func TestLocationNearestSite(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	data := defaultData(c)
	p := nearOujda
	res := e.Step(State{}, Input{Location: &p, Lang: "fr", Now: t0}, data)
	if res.State.Vars["site"] != "oujda" || res.State.Lang != "fr" || res.State.Node != "dist_menu" || !hasChoice(res, "2") {
		t.Fatalf("site %q, lang %q, at %q; want oujda, fr, dist_menu with 2:\n%s", res.State.Vars["site"], res.State.Lang, res.State.Node, joined(res))
	}
	if len(res.Replies) < 2 || !strings.HasPrefix(res.Replies[0].Text, "Ici ") {
		t.Fatalf("want the welcome first:\n%s", joined(res))
	}
	near := c.Text("fr", content.MsgLocationNear, map[string]any{"Site": "Oujda", "Count": "4"})
	if want := near + "\n" + siteText(c, "fr", "dist_none", "oujda"); !strings.HasPrefix(res.Replies[1].Text, want) {
		t.Errorf("second reply:\n%s\nwant it to start:\n%s", res.Replies[1].Text, want)
	}
	if len(res.Effects) != 0 {
		t.Errorf("effects %+v, want none", res.Effects)
	}
	noPoint(t, res.State, p)
	res = e.Step(res.State, Input{Text: "2", Now: t0.Add(time.Minute)}, data)
	if len(res.Effects) != 1 || res.Effects[0].Kind != EffectSubscribe || res.Effects[0].Sites[0] != "oujda" {
		t.Errorf("2 after a location: effects %+v, want a subscription to oujda", res.Effects)
	}

	// Mid-conversation: straight to the site, the line first.
	p = nearRabat
	res = e.Step(State{Lang: "en", Node: "health", LastSeen: t0}, Input{Location: &p, Now: t0.Add(time.Minute)}, data)
	near = c.Text("en", content.MsgLocationNear, map[string]any{"Site": "Rabat", "Count": "2"})
	if want := near + "\n" + siteText(c, "en", "dist_none", "rabat"); !strings.HasPrefix(joined(res), want) || res.State.Vars["site"] != "rabat" {
		t.Errorf("mid-conversation:\n%s\nwant it to start:\n%s", joined(res), want)
	}
	// After a silence: the short welcome back, the line, the site.
	res = e.Step(State{Lang: "en", Node: "health", LastSeen: t0}, Input{Location: &p, Now: t0.Add(3 * time.Hour)}, data)
	if want := text(c, "en", content.MsgWelcomeBackShort) + "\n" + near + "\n"; !strings.HasPrefix(joined(res), want) {
		t.Errorf("after a silence:\n%s\nwant it to start:\n%s", joined(res), want)
	}
}

// A location with no language to tell: the language question, then the
// welcome and the nearest site.
func TestLocationAsksLanguageFirst(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	data := defaultData(c)
	p := nearOujda
	res := e.Step(State{}, Input{Location: &p, Now: t0}, data)
	if res.State.Node != c.Flow.Settings.ChooseLanguage || res.State.Vars["site"] != "oujda" {
		t.Fatalf("at %q, site %q; want the language question, oujda", res.State.Node, res.State.Vars["site"])
	}
	noPoint(t, res.State, p)
	res = e.Step(res.State, Input{Text: "3", Now: t0.Add(time.Minute)}, data)
	mustContain(t, res, text(c, "ar", "welcome"))
	mustContain(t, res, siteText(c, "ar", "dist_none", "oujda"))
}

// Farther than the distance: the line says so, then the list of sites; a
// site chosen before stays until another is picked.
func TestLocationFarFromEverySite(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	data := defaultData(c)
	p := marrakech
	st := State{Lang: "fr", Node: "main", LastSeen: t0, Vars: map[string]string{"site": "tanger"}}
	res := e.Step(st, Input{Location: &p, Now: t0.Add(time.Minute)}, data)
	far := c.Text("fr", content.MsgLocationFar, map[string]any{"Count": "50"})
	if want := far + "\n" + text(c, "fr", "dist_which_site") + "\n1 Nador\n2 Oujda"; !strings.HasPrefix(joined(res), want) {
		t.Errorf("far:\n%s\nwant it to start:\n%s", joined(res), want)
	}
	if res.State.Node != "dist_site" || res.State.Vars["site"] != "tanger" {
		t.Errorf("at %q, site %q; want dist_site, tanger kept", res.State.Node, res.State.Vars["site"])
	}
	noPoint(t, res.State, p)
	res = e.Step(res.State, Input{Text: "2", Now: t0.Add(2 * time.Minute)}, data)
	if res.State.Vars["site"] != "oujda" {
		t.Errorf("2 in the list: site %q, want oujda", res.State.Vars["site"])
	}
	// A new contact far away: the welcome, then the list.
	res = e.Step(State{}, Input{Location: &p, Lang: "en", Now: t0}, data)
	if len(res.Replies) != 2 || !strings.HasPrefix(res.Replies[1].Text, c.Text("en", content.MsgLocationFar, map[string]any{"Count": "50"})+"\n") || res.State.Vars["site"] != "" {
		t.Errorf("new contact far away:\n%s", joined(res))
	}
	// With no language to tell, the language question, then the main menu.
	res = e.Step(State{}, Input{Location: &p, Now: t0}, data)
	res = e.Step(res.State, Input{Text: "1", Now: t0.Add(time.Minute)}, data)
	if res.State.Node != "main" || res.State.Vars[varSiteStart] != "" || res.State.Vars["site"] != "" {
		t.Errorf("far, language asked then told: at %q, vars %v; want the main menu", res.State.Node, res.State.Vars)
	}

	// The distance is the engine's: 300 km reaches Casablanca.
	wide := *e
	wide.NearestSiteKm = 300
	res = wide.Step(st, Input{Location: &p, Now: t0.Add(time.Minute)}, data)
	if res.State.Vars["site"] != "casablanca" {
		t.Errorf("within 300 km: site %q, want casablanca:\n%s", res.State.Vars["site"], joined(res))
	}
}

// Retired sites are never the nearest; sites staff stored with a centre
// of their own count; a stored site without one takes the content's.
func TestNearestSite(t *testing.T) {
	c := shipped(t)
	nador := c.Flow.SiteCoords["nador"]
	tiznit := Point{Lat: 29.6974, Lon: -9.7316}
	for _, tt := range []struct {
		label string
		sites []Site
		at    Point
		want  string
	}{
		{"the content's centres", []Site{{ID: "oujda"}, {ID: "nador"}}, nador, "nador"},
		{"a retired site is skipped", []Site{{ID: "nador", Retired: true}, {ID: "oujda"}}, nador, "oujda"},
		{"a site of staff's own", []Site{{ID: "nador"}, {ID: "tiznit", Coords: &tiznit}}, Point{Lat: 29.7, Lon: -9.7}, "tiznit"},
		{"a site's own centre before the content's", []Site{{ID: "nador", Coords: &tiznit}, {ID: "oujda"}}, nador, "oujda"},
		{"a tie: the first listed", []Site{{ID: "a", Coords: &tiznit}, {ID: "b", Coords: &tiznit}}, tiznit, "a"},
		{"without coordinates, none", []Site{{ID: "tiznit"}}, tiznit, ""},
	} {
		got, _, ok := Nearest(c, tt.sites, tt.at)
		if got.ID != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: %q, %v; want %q", tt.label, got.ID, ok, tt.want)
		}
	}
}

// The distance is a bound that holds: a site exactly that far is near, a
// hair farther is not.
func TestNearestSiteEdge(t *testing.T) {
	e := newEngine(t)
	data := Data{Sites: []Site{{ID: "nador", Retired: true}, {ID: "oujda"}}}
	p := e.Content.Flow.SiteCoords["nador"]
	d := Distance(p, e.Content.Flow.SiteCoords["oujda"])
	st := State{Lang: "fr", Node: "main", LastSeen: t0}
	for _, tt := range []struct {
		km   float64
		want string
	}{{d, "oujda"}, {d * 1.0001, "oujda"}, {d * 0.9999, ""}} {
		e.NearestSiteKm = tt.km
		res := e.Step(st, Input{Location: &p, Now: t0.Add(time.Minute)}, data)
		if res.State.Vars["site"] != tt.want {
			t.Errorf("within %.3f km of a site %.3f km away: site %q, want %q", tt.km, d, res.State.Vars["site"], tt.want)
		}
	}
}

// A location while the person writes to staff does not reach them: the
// person is told so, stays where they were, and no note is made.
func TestLocationToStaffIsNotPassedOn(t *testing.T) {
	e := newEngine(t)
	c := e.Content
	data := defaultData(c)
	p := nearOujda
	for _, st := range []State{
		{Lang: "fr", Node: "main", LastSeen: t0, Request: "r1"},
		{Lang: "fr", Node: "main", LastSeen: t0, Request: "r1", StaffReplied: true},
		{Lang: "fr", Node: "person", LastSeen: t0},
	} {
		if st.Request == "" && !AwaitsText(c, st.Node) {
			t.Fatalf("node %q does not wait for a request's words", st.Node)
		}
		res := e.Step(st, Input{Location: &p, Now: t0.Add(time.Minute)}, data)
		near := c.Text("fr", content.MsgLocationNear, map[string]any{"Site": "Oujda", "Count": "4"})
		if want := near + "\n" + text(c, "fr", content.MsgLocationNotPassed); len(res.Replies) != 1 || res.Replies[0].Text != want {
			t.Errorf("request %q at %q:\n%s\nwant:\n%s", st.Request, st.Node, joined(res), want)
		}
		if len(res.Effects) != 0 || res.State.Node != st.Node || res.State.Request != st.Request || res.State.Vars["site"] != "" {
			t.Errorf("request %q at %q: effects %+v, state %+v; want none, unchanged", st.Request, st.Node, res.Effects, res.State)
		}
		noPoint(t, res.State, p)
	}
}

// A text that comes with a location is read as the text.
func TestLocationWithTextReadsText(t *testing.T) {
	e := newEngine(t)
	p := nearOujda
	res := e.Step(State{Lang: "fr", Node: "main", LastSeen: t0}, Input{Text: "3", Location: &p, Now: t0.Add(time.Minute)}, defaultData(e.Content))
	if !strings.HasPrefix(joined(res), text(e.Content, "fr", "school_title")) || res.State.Vars["site"] != "" {
		t.Errorf("3 with a location:\n%s", joined(res))
	}
}

// noPoint fails when the state, as stored, holds p's digits.
func noPoint(t *testing.T, st State, p Point) {
	t.Helper()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []float64{p.Lat, p.Lon} {
		digits := strings.TrimPrefix(strings.TrimRight(json.Number(jsonFloat(f)).String(), "0"), "-")
		if strings.Contains(string(b), digits) {
			t.Errorf("the state holds %s: %s", digits, b)
		}
	}
}

func jsonFloat(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}
