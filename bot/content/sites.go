package content

import (
	"fmt"
	"math"

	"go.yaml.in/yaml/v3"
)

// Point is a place on Earth in decimal degrees (WGS 84): a site's centre,
// or a location a person shared (never kept).
type Point struct {
	Lat float64 `json:"lat" yaml:"lat"`
	Lon float64 `json:"lon" yaml:"lon"`
}

// Valid reports whether p is a place: a latitude from -90 to 90 and a
// longitude from -180 to 180.
func (p Point) Valid() bool {
	return !math.IsNaN(p.Lat) && !math.IsNaN(p.Lon) && p.Lat >= -90 && p.Lat <= 90 && p.Lon >= -180 && p.Lon <= 180
}

// siteEntry is one site of the sites section in its long form:
// {id: nador, lat: 35.174, lon: -2.9287}.
type siteEntry struct {
	ID  string   `yaml:"id"`
	Lat *float64 `yaml:"lat"`
	Lon *float64 `yaml:"lon"`
}

// parseSites reads the sites section: a list whose items are a site's id
// ("nador", the old plain form) or a mapping of its id and the coordinates
// of its centre, which answer a shared location with the nearest site.
func (f *Flow) parseSites(file string, val *yaml.Node) Problems {
	var problems Problems
	if val.Kind != yaml.SequenceNode {
		problems.add(Problem{File: file, Line: val.Line, Key: "sites", Msg: "sites is a list of site ids, or of {id, lat, lon}"})
		return problems
	}
	for _, item := range val.Content {
		bad := func(format string, args ...any) {
			problems.add(Problem{File: file, Line: item.Line, Key: "sites", Msg: fmt.Sprintf(format, args...)})
		}
		var e siteEntry
		switch item.Kind {
		case yaml.ScalarNode:
			e.ID = item.Value
		case yaml.MappingNode:
			problems = append(problems, unknownFields(file, "sites", item, siteEntry{})...)
			if err := item.Decode(&e); err != nil {
				bad("%v", err)
				continue
			}
		default:
			bad("a site is its id, or {id, lat, lon}")
			continue
		}
		if e.ID == "" {
			bad("a site needs its id")
			continue
		}
		f.Sites = append(f.Sites, e.ID)
		switch {
		case e.Lat == nil && e.Lon == nil:
		case e.Lat == nil || e.Lon == nil:
			bad("%s: give both lat and lon, or neither", e.ID)
		case !(Point{Lat: *e.Lat, Lon: *e.Lon}).Valid():
			bad("%s: lat %v, lon %v: want a latitude from -90 to 90 and a longitude from -180 to 180 (decimal degrees)", e.ID, *e.Lat, *e.Lon)
		default:
			if f.SiteCoords == nil {
				f.SiteCoords = map[string]Point{}
			}
			f.SiteCoords[e.ID] = Point{Lat: *e.Lat, Lon: *e.Lon}
		}
	}
	f.sitesFile, f.sitesLine = file, val.Line
	return problems
}
