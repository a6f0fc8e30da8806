package content

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// VoiceSuffix ends the id of a message's spoken variant: "main_title.voice"
// is what a call says for "main_title". A message that asks to reply with a
// number or to send a word needs one: a caller presses keys.
const VoiceSuffix = ".voice"

// Message ids a call uses by itself. Each is optional: without it, a call
// says the plain fallback given with it.
const (
	// MsgVoiceOption reads one option of a menu as a key to press:
	// {{.Label}} and {{.Key}} ("Santé : tapez 2."). Fallback: "2 Santé".
	MsgVoiceOption = "voice_option"
	// MsgVoiceLanguage offers a language, in that language, before any is
	// known: {{.Key}} ("Pour le français, tapez 1."). Fallback: the
	// language's name and its key.
	MsgVoiceLanguage = "voice_language"
	// MsgVoiceRepeat closes what a call says: how to hear it again (*).
	MsgVoiceRepeat = "voice_repeat"
	// MsgVoiceCallback is what staff read of a request made on a call: no
	// voice is recorded, so it asks them to call the person back.
	MsgVoiceCallback = "voice_callback"
	// MsgVoiceGoodbye ends a call that heard no key after the prompt was
	// said again.
	MsgVoiceGoodbye = "voice_goodbye"
	// MsgVoiceWithheld tells a caller whose number is withheld that a
	// call back or notices by SMS need their number.
	MsgVoiceWithheld = "voice_withheld"
	// MsgVoiceAlreadyAsked tells a caller who asks for a person again,
	// while their request is open, that it is recorded.
	MsgVoiceAlreadyAsked = "voice_already_asked"
)

// voiceMessages are the ids above.
var voiceMessages = []string{MsgVoiceOption, MsgVoiceLanguage, MsgVoiceRepeat, MsgVoiceCallback, MsgVoiceGoodbye, MsgVoiceWithheld, MsgVoiceAlreadyAsked}

// SpokenOnly reports whether message id is only ever said on a call (a
// spoken variant, a call's own message): it is never an SMS, so what an
// SMS costs does not apply to it.
func SpokenOnly(id string) bool {
	return strings.HasSuffix(id, VoiceSuffix) || slices.Contains(voiceMessages, id)
}

// Spoken returns the content as a call says it: a message with a spoken
// variant (<id>.voice) says that instead, and a menu reads each option as
// a key to press (MsgVoiceOption) instead of "2 Santé". Everything else is
// the same content.
func (c *Content) Spoken() *Content {
	if c.spoken == nil {
		return c // being loaded: Check sets it last
	}
	return c.spoken
}

// IsSpoken reports whether c is the spoken view of a content (Spoken).
func (c *Content) IsSpoken() bool { return c.voice }

// spokenView makes the spoken view of c, sharing everything else with it.
func (c *Content) spokenView() *Content {
	v := *c
	v.voice = true
	v.spoken = &v
	return &v
}

// voiceID returns the id to say for message id in lang: its spoken
// variant, in the spoken view, when lang has one.
func (c *Content) voiceID(lang, id string) string {
	if !c.voice || strings.HasSuffix(id, VoiceSuffix) {
		return id
	}
	if loc := c.locales[lang]; loc != nil {
		if _, ok := loc.Messages[id+VoiceSuffix]; ok {
			return id + VoiceSuffix
		}
	}
	return id
}

// VoiceOption reads an option as a key to press, in lang.
func (c *Content) VoiceOption(lang, key, label string) string {
	if c.Has(lang, MsgVoiceOption) {
		return c.Text(lang, MsgVoiceOption, map[string]any{"Key": key, "Label": label})
	}
	return key + " " + label
}

// VoiceLanguage offers lang, in lang, as key to press.
func (c *Content) VoiceLanguage(lang, key string) string {
	if c.Has(lang, MsgVoiceLanguage) {
		return c.Text(lang, MsgVoiceLanguage, map[string]any{"Key": key})
	}
	return key + " " + c.Text(lang, MsgLanguageName, nil)
}

// checkVoice checks the spoken variants: each stands for a message that
// exists, in a language that has it; and a message a call would read as it
// is while it asks to write (a menu's title, a footer) is pointed out.
func (c *Content) checkVoice(used map[string][]usage) Problems {
	var ps Problems
	for _, lang := range slices.Sorted(maps.Keys(c.locales)) {
		loc := c.locales[lang]
		for _, id := range slices.Sorted(maps.Keys(loc.Messages)) {
			base, ok := strings.CutSuffix(id, VoiceSuffix)
			if !ok {
				continue
			}
			m := loc.Messages[id]
			switch {
			case base == "":
				ps.add(Problem{File: loc.File, Line: m.Line, Key: id, Msg: "a spoken variant names the message it stands for: <id>" + VoiceSuffix})
			case loc.Messages[base] == nil:
				ps.add(Problem{File: loc.File, Line: m.Line, Key: id, Msg: fmt.Sprintf("spoken variant of %q, which %s does not have", base, lang)})
			case loc.Messages[base].Plural != m.Plural:
				ps.add(Problem{File: loc.File, Line: m.Line, Key: id, Msg: fmt.Sprintf("%q has plural forms and its spoken variant not, or the other way round: give both the same", base)})
			}
		}
	}
	for _, id := range c.spokenIDs() {
		if _, ok := used[id]; !ok {
			continue
		}
		for _, lang := range c.Languages {
			loc := c.locales[lang]
			if loc == nil || loc.Messages[id] == nil || loc.Messages[id+VoiceSuffix] != nil {
				continue
			}
			if word, ok := asksToWrite(lang, loc.Messages[id].Forms["other"]); ok {
				ps.add(Problem{File: loc.File, Line: loc.Messages[id].Line, Key: id, Warning: true,
					Msg: fmt.Sprintf("says %q, which a caller cannot do: a call reads it as it is; add %s%s with what to press", word, id, VoiceSuffix)})
			}
		}
	}
	return ps
}

// spokenIDs are the messages every call says: menu and question texts, the
// footers and the invalid-answer message.
func (c *Content) spokenIDs() []string {
	s := c.Flow.Settings
	ids := []string{s.Invalid, s.FooterMain, s.FooterMenu}
	for _, n := range c.Flow.Nodes {
		if n.Kind == KindMenu || n.Kind == KindQuestion && n.Expect != ExpectText {
			ids = append(ids, n.Text, n.Retry)
		}
	}
	slices.Sort(ids)
	return slices.Compact(slices.DeleteFunc(ids, func(id string) bool { return id == "" }))
}

// writeWords are words that ask a person to write, by language: a call
// cannot do what they say.
var writeWords = map[string][]string{
	"fr": {"répondez", "repondez", "envoyez", "écrivez", "ecrivez"},
	"en": {"reply", "send", "write", "type"},
	"ar": {"أرسل", "ارسل", "اكتب", "أجب", "اجب"},
}

// asksToWrite returns the first word of writeWords[lang] text holds.
func asksToWrite(lang, text string) (string, bool) {
	low := strings.ToLower(text)
	for _, w := range writeWords[lang] {
		if strings.Contains(low, w) {
			return w, true
		}
	}
	return "", false
}
