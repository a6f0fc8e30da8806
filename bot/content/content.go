// Package content loads and checks what the bot says: the flows (the shape of
// the conversation, in flows/*.yaml) and the messages (its words in each
// language, in locales/<lang>.yaml, read by go-i18n).
//
// Content is immutable once loaded; a new version is loaded beside it and
// swapped in, since a go-i18n Bundle must not change while in use.
package content

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"testing/fstest"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

// Content is one complete, loaded set of flows and messages.
type Content struct {
	// Flow is the conversation.
	Flow *Flow
	// Languages are the languages every message exists in, in the order the
	// language choice shows them.
	Languages []string

	bundle     *i18n.Bundle
	localizers map[string]*i18n.Localizer
	locales    map[string]*Locale
	// files keeps the raw files, so a version can be shown or published as is.
	files map[string][]byte
	// folded holds the keywords and greetings folded once, for matching.
	folded folded
	// plain holds, by language and id, the messages that have no template
	// field and no plural forms, rendered once: most of what is sent.
	plain map[string]map[string]string
	// voice is set in the spoken view (Spoken), spoken the view itself.
	voice  bool
	spoken *Content
	// audio holds the recordings (audio/<lang>/<id>.mp3 or .wav).
	audio recordings
}

// Load reads and checks the content rooted at fsys (holding flows/ and
// locales/). It fails, listing every problem, when the content has errors;
// warnings alone do not stop it.
func Load(fsys fs.FS) (*Content, error) {
	c, problems := Check(fsys)
	if problems.HasErrors() {
		return nil, problems.Errors()
	}
	return c, nil
}

// Check reads the content rooted at fsys and returns it with every problem
// found. The content is nil when it is too broken to be used.
func Check(fsys fs.FS) (*Content, Problems) {
	var problems Problems
	c := &Content{
		localizers: map[string]*i18n.Localizer{},
		locales:    map[string]*Locale{},
		files:      map[string][]byte{},
	}

	flowFiles, localeFiles, notes, bad := contentFiles(fsys)
	if bad.HasErrors() {
		return nil, bad
	}
	r := &reader{fsys: fsys}
	if len(flowFiles) == 0 {
		problems.add(Problem{File: "flows", Msg: "no flow files (flows/*.yaml)"})
		return nil, problems
	}
	flow := newFlow()
	for _, name := range flowFiles {
		data, p := r.read(name)
		if p != nil {
			problems.add(*p)
			continue
		}
		c.files[name] = data
		problems = append(problems, flow.parse(name, data)...)
	}
	c.Flow = flow

	if len(localeFiles) == 0 {
		problems.add(Problem{File: "locales", Msg: "no message files (locales/<lang>.yaml)"})
		return nil, problems
	}
	if _, err := fs.Stat(fsys, "locales/sources.md"); err != nil {
		problems.add(Problem{File: "locales/sources.md", Msg: "missing: the list of every fact given to people, with its source, is part of the content"})
	}
	for _, name := range notes {
		data, p := r.read(name)
		if p != nil {
			problems.add(*p)
			continue
		}
		c.files[name] = data
	}

	defaultLang := "fr"
	if len(flow.Settings.Languages) > 0 {
		defaultLang = flow.Settings.Languages[0]
	}
	defaultTag, err := language.Parse(defaultLang)
	if err != nil {
		problems.add(Problem{File: flow.settingsFile, Key: "settings.languages", Msg: fmt.Sprintf("%q is not a language tag", defaultLang)})
		defaultTag = language.French
	}
	c.bundle = i18n.NewBundle(defaultTag)
	for _, name := range localeFiles {
		lang := strings.TrimSuffix(path.Base(name), ".yaml")
		if _, err := language.Parse(lang); err != nil {
			problems.add(Problem{File: name, Msg: fmt.Sprintf("file name %q is not a language tag (e.g. fr.yaml)", path.Base(name))})
			continue
		}
		data, p := r.read(name)
		if p != nil {
			problems.add(*p)
			continue
		}
		c.files[name] = data
		loc, ps := parseLocale(name, lang, data)
		problems = append(problems, ps...)
		if loc == nil {
			continue
		}
		// The messages go to go-i18n as parsed here, not as a file for it to
		// parse again: its YAML decoding checks keys pairwise, quadratic in
		// the number of ids.
		if err := c.bundle.AddMessages(language.Make(lang), loc.i18nMessages()...); err != nil {
			problems.add(Problem{File: name, Msg: "go-i18n: " + err.Error()})
			continue
		}
		c.locales[lang] = loc
		c.localizers[lang] = i18n.NewLocalizer(c.bundle, lang)
	}

	audio, aps := readAudio(fsys)
	problems = append(problems, aps...)
	c.audio.byPath = audio

	c.Languages = flow.Settings.Languages
	if len(c.Languages) == 0 {
		for lang := range c.locales {
			c.Languages = append(c.Languages, lang)
		}
		slices.Sort(c.Languages)
	}
	problems = append(problems, c.validate()...)
	if len(c.locales) == 0 || len(flow.Nodes) == 0 {
		return nil, problems
	}
	c.folded = foldWords(flow, c.Languages)
	c.plain = c.renderPlain()
	c.audio.index(c)
	c.spoken = c.spokenView()
	return c, problems
}

// Files returns a copy of the raw files of this content by path, e.g.
// "flows/main.yaml", as they were loaded.
func (c *Content) Files() map[string][]byte {
	out := make(map[string][]byte, len(c.files))
	for name, data := range c.files {
		out[name] = bytes.Clone(data)
	}
	return out
}

// FromFiles returns a content root holding the given files, by path
// relative to the root (e.g. "locales/fr.yaml"): a draft that is not on disk.
func FromFiles(files map[string][]byte) fs.FS {
	m := fstest.MapFS{}
	for name, data := range files {
		m[name] = &fstest.MapFile{Data: data, Mode: 0o444}
	}
	return m
}

// Items returns the kit catalogue: the ids of the messages "item_<id>" of
// the first language, sorted.
func (c *Content) Items() []string {
	var items []string
	if loc := c.locales[c.Languages[0]]; loc != nil {
		for id := range loc.Messages {
			if it, ok := strings.CutPrefix(id, PrefixItem); ok {
				items = append(items, it)
			}
		}
	}
	slices.Sort(items)
	return items
}

// HasLanguage reports whether lang is one of the content's languages.
func (c *Content) HasLanguage(lang string) bool {
	return slices.Contains(c.Languages, lang)
}

// Has reports whether message id exists in lang.
func (c *Content) Has(lang, id string) bool {
	loc := c.locales[lang]
	if loc == nil {
		return false
	}
	_, ok := loc.Messages[id]
	return ok
}

// Text returns message id in lang, filled with data. A message missing in
// lang falls back to the default language, then to the id itself, so the bot
// always says something; validation keeps that from happening.
func (c *Content) Text(lang, id string, data map[string]any) string {
	id = c.voiceID(lang, id)
	if s, ok := c.plain[lang][id]; ok {
		return s
	}
	return c.localize(lang, &i18n.LocalizeConfig{MessageID: id, TemplateData: c.withHours(lang, data)})
}

// withHours adds {{.Hours}} to data, unless data has it: when staff answer,
// the content's own MsgStaffHours in lang. (The messages rendered once at
// load, renderPlain, always show the content's.)
func (c *Content) withHours(lang string, data map[string]any) map[string]any {
	if _, ok := data["Hours"]; ok {
		return data
	}
	h, ok := c.plain[lang][MsgStaffHours]
	if !ok {
		// While loading (validation measures the messages before the
		// plain ones are rendered), or staff hours with fields (refused).
		if loc := c.locales[lang]; loc == nil || loc.Messages[MsgStaffHours] == nil {
			return data
		}
		h = c.localize(lang, &i18n.LocalizeConfig{MessageID: MsgStaffHours})
	}
	d := make(map[string]any, len(data)+1)
	maps.Copy(d, data)
	d["Hours"] = h
	return d
}

// Plural returns message id in lang in the plural form count calls for.
// count is also given to the message as {{.Count}}.
func (c *Content) Plural(lang, id string, count int, data map[string]any) string {
	d := map[string]any{"Count": count}
	for k, v := range data {
		d[k] = v
	}
	return c.localize(lang, &i18n.LocalizeConfig{MessageID: c.voiceID(lang, id), TemplateData: c.withHours(lang, d), PluralCount: count})
}

// renderPlain renders the messages whose text is the same whatever the data:
// those without fields, then those whose only field is {{.Hours}}, the
// content's own.
func (c *Content) renderPlain() map[string]map[string]string {
	out := map[string]map[string]string{}
	for lang, loc := range c.locales {
		out[lang] = map[string]string{}
		for id, m := range loc.Messages {
			if text, ok := m.Forms["other"]; ok && !m.Plural && len(m.Forms) == 1 && !strings.Contains(text, "{{") {
				out[lang][id] = c.localize(lang, &i18n.LocalizeConfig{MessageID: id})
			}
		}
	}
	c.plain = out // withHours reads staff_hours from it
	for lang, loc := range c.locales {
		for id, m := range loc.Messages {
			if text, ok := m.Forms["other"]; ok && !m.Plural && len(m.Forms) == 1 && !strings.Contains(strings.ReplaceAll(text, "{{.Hours}}", ""), "{{") && strings.Contains(text, "{{.Hours}}") {
				out[lang][id] = c.localize(lang, &i18n.LocalizeConfig{MessageID: id, TemplateData: c.withHours(lang, nil)})
			}
		}
	}
	return out
}

func (c *Content) localize(lang string, cfg *i18n.LocalizeConfig) string {
	l := c.localizers[lang]
	if l == nil {
		if len(c.Languages) == 0 || c.localizers[c.Languages[0]] == nil {
			return cfg.MessageID
		}
		l = c.localizers[c.Languages[0]]
	}
	cfg.TemplateParser = fieldParser{} // never text/template
	s, err := l.Localize(cfg)
	if s == "" && err != nil {
		return cfg.MessageID
	}
	return s
}

// templateVars returns the names of the template fields a text uses ({{.Name}}),
// sorted and without repeats. A text that is more than fields is an error.
func templateVars(text string) ([]string, error) {
	t, err := parseFields(text)
	if err != nil {
		return nil, err
	}
	vars := t.fields()
	slices.Sort(vars)
	return slices.Compact(vars), nil
}
