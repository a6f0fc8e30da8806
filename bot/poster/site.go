package poster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
)

// Errors of For; each is wrapped with what was asked.
var (
	// ErrUnknownSite means no site has the id asked for.
	ErrUnknownSite = errors.New("no such site")
	// ErrRetired means the site is retired: no poster sends people there.
	ErrRetired = errors.New("the site is retired")
	// ErrLanguage means the content does not speak the language asked for.
	ErrLanguage = errors.New("no such language")
	// ErrNoChannel means no channel is configured: nothing to print.
	ErrNoChannel = errors.New("no channel to put on the poster")
)

// builtin is the content built into the binary, for a poster message that
// the content in use lacks (one published before posters were made).
var builtin = sync.OnceValues(func() (*content.Content, error) { return content.Load(content.Embedded()) })

// For writes the poster of site id in lang (the content's first language
// when empty) from the content c and the sites as the service has them.
func For(c *content.Content, sites []engine.Site, id, lang string, ch Channels) (Poster, error) {
	i := slices.IndexFunc(sites, func(s engine.Site) bool { return s.ID == id })
	if i < 0 {
		var ids []string
		for _, s := range sites {
			if !s.Retired {
				ids = append(ids, s.ID)
			}
		}
		return Poster{}, fmt.Errorf("%w %q: the sites are %s", ErrUnknownSite, id, strings.Join(ids, ", "))
	}
	if sites[i].Retired {
		return Poster{}, fmt.Errorf("%q: %w", id, ErrRetired)
	}
	if lang == "" {
		lang = c.Languages[0]
	}
	if !slices.Contains(c.Languages, lang) {
		return Poster{}, fmt.Errorf("%w %q: the languages are %s", ErrLanguage, lang, strings.Join(c.Languages, ", "))
	}
	if ch.Empty() {
		return Poster{}, ErrNoChannel
	}
	name := engine.SiteName(c, sites, lang, id)
	var missing error
	text := func(msg string) string {
		from := c
		if !c.Has(lang, msg) {
			b, err := builtin()
			if err != nil || !b.Has(lang, msg) {
				missing = fmt.Errorf("poster: message %s missing in %s", msg, lang)
				return ""
			}
			from = b
		}
		return from.Text(lang, msg, map[string]any{"Site": name})
	}
	p := Compose(text, Site{ID: id, Name: name}, ch)
	return p, missing
}
