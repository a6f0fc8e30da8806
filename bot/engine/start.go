package engine

import (
	"github.com/outreach-org/outreach/bot/content"
)

// varSiteStart holds, while the language question answers a site link, the
// site: the welcome after the language goes on to Settings.SiteStart.
const varSiteStart = "site_start"

// siteByID returns the active site whose id is id (a site link's payload),
// when the content has a site start.
func (r *step) siteByID(id string) (string, bool) {
	if id == "" || r.s.SiteStart == "" {
		return "", false
	}
	for _, s := range r.data.activeSites() {
		if content.Fold(s.ID) == content.Fold(id) {
			return s.ID, true
		}
	}
	return "", false
}

// siteNamed returns the active site a message names, and only names: its
// id, or its name in any language, whatever the case, accents or spacing.
// A number is no site: it is a menu choice.
func (r *step) siteNamed(text string) (string, bool) {
	folded := content.Fold(text)
	if folded == "" || r.s.SiteStart == "" || bareNumber(text) {
		return "", false
	}
	for _, s := range r.data.activeSites() {
		if folded == content.Fold(s.ID) {
			return s.ID, true
		}
		for _, name := range s.Names {
			if folded == content.Fold(name) {
				return s.ID, true
			}
		}
		for _, lang := range r.c.Languages {
			if folded == content.Fold(SiteName(r.c, r.data.Sites, lang, s.ID)) {
				return s.ID, true
			}
		}
	}
	return "", false
}

// startAt answers a person who came for a site (a site link, or a first
// message that names it): the site is chosen, as menu 1 chooses it, and the
// site start follows — after the welcome for a new contact, after the
// language question when the language cannot be told, with a short welcome
// back after a silence.
func (r *step) startAt(site, text, hint string, idle bool) {
	if r.st.Vars == nil {
		r.st.Vars = map[string]string{}
	}
	r.st.Vars[content.VarSite] = site
	r.st.Tries = 0
	r.st.StaffReplied = false
	if !r.c.HasLanguage(r.st.Lang) {
		r.st.Lang = ""
		if lang, ok := r.c.DetectLanguage(text); ok {
			r.st.Lang = lang
		} else if h := baseLanguage(hint); r.c.HasLanguage(h) {
			r.st.Lang = h
		} else {
			r.afterWelcome = r.s.SiteStart
			r.run(r.s.ChooseLanguage)
			return
		}
	}
	if r.firstMessage {
		r.afterWelcome = r.s.SiteStart
		r.run(r.s.Welcome)
		return
	}
	r.run(r.s.SiteStart)
	if idle {
		r.welcomeBackShort()
	}
}

// welcomeBackShort puts the short welcome back before the first reply.
func (r *step) welcomeBackShort() {
	if len(r.replies) > 0 && r.c.Has(r.st.Lang, content.MsgWelcomeBackShort) {
		r.replies[0].Text = r.text(content.MsgWelcomeBackShort) + "\n" + r.replies[0].Text
	}
}

// media answers a message with no text but a photo, a voice note, a
// sticker, a file or a place: only text is read. Nothing of the media is
// kept. Where the conversation stands does not change; a new contact (or
// one back after a silence) also gets the welcome, and one whose language
// cannot be told the language question, as for any first message.
func (r *step) media(hint string, idle bool) {
	r.st.Misses = r.misses
	if !r.c.HasLanguage(r.st.Lang) {
		if h := baseLanguage(hint); r.c.HasLanguage(h) && r.st.Node != r.s.ChooseLanguage {
			r.st.Lang = h
		} else {
			r.st.Lang = ""
			r.run(r.s.ChooseLanguage)
			return
		}
	}
	switch {
	case r.data.CallNumber != "" && r.c.Has(r.st.Lang, content.MsgMediaOnlyCall):
		r.say(r.text(content.MsgMediaOnlyCall), nil)
	case r.c.Has(r.st.Lang, content.MsgMediaOnly):
		r.say(r.text(content.MsgMediaOnly), nil)
	}
	switch {
	case r.firstMessage:
		r.run(r.s.Welcome)
	case idle && !r.awaitsText() && r.st.Request == "":
		r.run(r.s.WelcomeBack)
	case len(r.replies) == 0:
		// Content without the message: show where the person is.
		r.answer("")
	}
}
