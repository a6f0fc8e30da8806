package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/engine"
)

// The simulator chats with the draft (or, with no draft, the live
// content) as POST /api/v1/simulate does with a draft: dialog.Service.Handle
// on the preview channel with the content to preview. Such a message is a
// simulation: its conversation is kept apart and expires, nothing is sent
// or recorded. Each person has one conversation a language; the
// transcript is kept in their session.

// simMaxText bounds one simulated message, as the API bounds it.
const simMaxText = 1600

// simMaxTurns bounds the transcript kept in the session.
const simMaxTurns = 40

// simMaxBytes bounds the transcript of one language in the session.
const simMaxBytes = 16 << 10

// simTurn is one line of the transcript.
type simTurn struct {
	Me      bool     `json:"me,omitempty"`
	Text    string   `json:"text"`
	Effects []string `json:"effects,omitempty"`
}

// contentSimData is the simulator page.
type contentSimData struct {
	Draft   draftInfo
	Show    string
	Langs   []string
	Turns   []simTurn
	Problem []problemView
	// Text is the message kept when it was refused.
	Text string
}

func simKey(lang string) string { return "content_sim_" + lang }

// simTurns reads the transcript of lang from the session.
func (c *Console) simTurns(r *http.Request, lang string) []simTurn {
	var turns []simTurn
	if s := c.sessions.GetString(r.Context(), simKey(lang)); s != "" {
		_ = json.Unmarshal([]byte(s), &turns) // a transcript that does not read starts afresh
	}
	return turns
}

// simAddress is the simulated person's address for who in lang: a new
// one after each restart, so that the conversation starts afresh.
func (c *Console) simAddress(r *http.Request, who, lang string) string {
	gen := c.sessions.GetInt(r.Context(), "content_sim_gen")
	return "console:" + who + ":" + lang + ":" + strconv.Itoa(gen)
}

// simLang is the language asked for (?show=), else the page's, else the
// content's first.
func simLang(r *http.Request, set *contentSet, page string) string {
	show := r.URL.Query().Get("show")
	if show == "" {
		show = r.PostFormValue("show")
	}
	for _, l := range []string{show, page} {
		if slices.Contains(set.Langs, l) {
			return l
		}
	}
	if len(set.Langs) > 0 {
		return set.Langs[0]
	}
	return page
}

func (c *Console) simPage(w http.ResponseWriter, r *http.Request, status int, st *contentState, lang, text string) {
	p := c.newPage(r, "content_sim_title", nil)
	d := contentSimData{Draft: st.info(), Show: lang, Langs: st.Work.Langs, Turns: c.simTurns(r, lang), Text: text}
	if st.Work.Content == nil || st.Work.Problems.HasErrors() {
		for _, v := range st.Work.problemViews(st.Work.Problems) {
			if !v.Warning {
				d.Problem = append(d.Problem, v)
			}
		}
	}
	p.Data = d
	c.render(w, r, status, "content-sim", p)
}

// contentSim shows the simulator: the transcript in one language and a
// box to write the next message.
func (c *Console) contentSim(w http.ResponseWriter, r *http.Request) error {
	st, err := c.contentState(r)
	if err != nil {
		return err
	}
	c.simPage(w, r, http.StatusOK, st, simLang(r, st.Work, c.language(r, signedIn(r))), "")
	return nil
}

// contentSimSend runs one message through the bot with the draft.
func (c *Console) contentSimSend(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	st, err := c.contentState(r)
	if err != nil {
		return err
	}
	lang := simLang(r, st.Work, c.language(r, signedIn(r)))
	text := strings.TrimSpace(dialog.Clean(r.PostForm.Get("text")))
	switch {
	case text == "":
		p := c.newPage(r, "content_sim_title", nil)
		p.Errors = map[string]string{"text": p.T("content_sim_empty")}
		return c.simRefused(w, r, st, lang, text, p.Errors)
	case utf8.RuneCountInString(text) > simMaxText:
		p := c.newPage(r, "content_sim_title", nil)
		p.Errors = map[string]string{"text": p.T("content_sim_long", "Max", simMaxText)}
		return c.simRefused(w, r, st, lang, text, p.Errors)
	}
	preview := st.Work.Content
	if preview == nil || st.Work.Problems.HasErrors() {
		c.simPage(w, r, http.StatusUnprocessableEntity, st, lang, text)
		return nil
	}
	outcome, err := c.opts.Dialog.Handle(r.Context(), dialog.Message{Channel: dialog.ChannelPreview,
		Address: c.simAddress(r, signedIn(r).Name, lang), Text: text, LangHint: lang, Content: preview})
	if err != nil {
		return err
	}
	turns := append(c.simTurns(r, lang), simTurn{Me: true, Text: text})
	for i, rep := range outcome.Replies {
		t := simTurn{Text: rep.Text}
		if i == len(outcome.Replies)-1 {
			t.Effects = effectNames(outcome.Effects)
		}
		turns = append(turns, t)
	}
	if len(outcome.Replies) == 0 && len(outcome.Effects) > 0 {
		turns = append(turns, simTurn{Effects: effectNames(outcome.Effects)})
	}
	if len(turns) > simMaxTurns {
		turns = turns[len(turns)-simMaxTurns:]
	}
	data, err := json.Marshal(turns)
	for err == nil && len(data) > simMaxBytes && len(turns) > 1 {
		turns = turns[1:]
		data, err = json.Marshal(turns)
	}
	if err != nil {
		return err
	}
	c.sessions.Put(r.Context(), simKey(lang), string(data))
	http.Redirect(w, r, "/content/simulator?show="+url.QueryEscape(lang)+"#last", http.StatusSeeOther)
	return nil
}

func (c *Console) simRefused(w http.ResponseWriter, r *http.Request, st *contentState, lang, text string, errs map[string]string) error {
	p := c.newPage(r, "content_sim_title", nil)
	d := contentSimData{Draft: st.info(), Show: lang, Langs: st.Work.Langs, Turns: c.simTurns(r, lang), Text: text}
	p.Data, p.Errors = d, errs
	c.render(w, r, http.StatusUnprocessableEntity, "content-sim", p)
	return nil
}

// effectNames are the message ids that say what a step would have done in
// a real conversation (nothing of it was done).
func effectNames(effects []engine.Effect) []string {
	var out []string
	for _, e := range effects {
		var id string
		switch e.Kind {
		case engine.EffectHandover:
			id = "content_sim_effect_handover"
		case engine.EffectSubscribe:
			id = "content_sim_effect_subscribe"
		case engine.EffectUnsubscribe:
			id = "content_sim_effect_unsubscribe"
		case engine.EffectErase:
			id = "content_sim_effect_erase"
		case engine.EffectUrgent:
			id = "content_sim_effect_urgent"
		case engine.EffectNote:
			id = "content_sim_effect_note"
		default:
			continue
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// contentSimRestart starts the person's simulated conversations afresh,
// in every language.
func (c *Console) contentSimRestart(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	st, err := c.contentState(r)
	if err != nil {
		return err
	}
	c.sessions.Put(r.Context(), "content_sim_gen", c.sessions.GetInt(r.Context(), "content_sim_gen")+1)
	for _, lang := range st.Work.Langs {
		c.sessions.Remove(r.Context(), simKey(lang))
	}
	lang := simLang(r, st.Work, c.language(r, signedIn(r)))
	http.Redirect(w, r, "/content/simulator?show="+url.QueryEscape(lang), http.StatusSeeOther)
	return nil
}
