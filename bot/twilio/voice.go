package twilio

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twilio/twilio-go/twiml"

	"github.com/outreach-org/outreach/bot/config"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/engine"
)

// VoicePath is the route of the incoming-call webhook and of every key a
// caller presses after it (a Gather's action).
const VoicePath = "/webhooks/twilio/voice"

// AudioPath is where recordings are served to Twilio's <Play>:
// /audio/<sha256>.<ext>.
const AudioPath = "/audio/"

// gatherTimeout is how long a call waits, in seconds, for a key after the
// prompt; maxSilences how many prompts in a row may go unanswered before
// the call says goodbye and hangs up.
const (
	gatherTimeout = "6"
	maxSilences   = 2
)

// Call is one request of Twilio's voice webhook, as read from its form and
// its URL: the call, who calls, and where in the call it is.
type Call struct {
	CallSID string
	// From is the caller's number; empty when it is withheld.
	From string
	// Digits is the key pressed (after a Gather); empty at the start or
	// after a silence.
	Digits string
	// Turn counts the keys pressed so far in the call (t in the action
	// URL); Silences the prompts in a row left unanswered (s).
	Turn, Silences int
	// Lang is the language the last prompt was said in (l), for the
	// goodbye after silences.
	Lang string
}

// ParseCall reads a voice webhook: the form Twilio posts and the query of
// the URL it was told to post to.
func ParseCall(form, query url.Values) (Call, error) {
	c := Call{CallSID: form.Get("CallSid"), From: form.Get("From"), Digits: form.Get("Digits")}
	if !validSID(c.CallSID) || !strings.HasPrefix(c.CallSID, "CA") || len(c.Digits) > 1 || c.Digits != "" && !strings.Contains("0123456789*#", c.Digits) {
		return Call{}, ErrMalformed
	}
	if !phoneNumber(c.From) {
		c.From = "" // "anonymous", "+266696687" (withheld), a SIP address
	}
	for _, v := range []struct {
		name string
		to   *int
	}{{"t", &c.Turn}, {"s", &c.Silences}} {
		if s := query.Get(v.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 || n > 1000 {
				return Call{}, ErrMalformed
			}
			*v.to = n
		}
	}
	if c.Lang = query.Get("l"); len(c.Lang) > 8 {
		return Call{}, ErrMalformed
	}
	return c, nil
}

// phoneNumber reports whether s is an E.164 number a caller can be reached
// at again; Twilio gives withheld numbers as "anonymous" or +266696687.
func phoneNumber(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s == "+266696687" {
		return false
	}
	for _, r := range s[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// VoiceOptions configure calls.
type VoiceOptions struct {
	// Mode is config.VoiceIVR, config.VoiceSMSBack or config.VoiceOff.
	Mode string
	// Voices are the <Say> voice of each language.
	Voices map[string]config.SayVoice
	// Content is the content in use, for its recordings.
	Content func() *content.Content
	// SMS is on: a missed call (sms-back) can be answered.
	SMS bool
}

// Voice serves Twilio's voice webhook.
type Voice struct {
	h     *Handler
	opts  VoiceOptions
	calls *prometheus.CounterVec
	log   *slog.Logger
}

// NewVoice returns the voice webhook of h, which checks its signatures.
func (h *Handler) NewVoice(opts VoiceOptions, calls *prometheus.CounterVec) *Voice {
	return &Voice{h: h, opts: opts, calls: calls, log: h.log.With("component", "voice")}
}

// ServeHTTP answers a call, or a key pressed on it, with TwiML. The mode
// decides: ivr says the menus and gathers a key; sms-back rejects the call
// (it costs the caller nothing) and sends the menu by SMS; off rejects it.
func (v *Voice) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	form, ok := v.h.verify(w, r)
	if !ok {
		return
	}
	call, err := ParseCall(form, r.URL.Query())
	if err != nil {
		v.log.Warn("voice webhook without a valid CallSid, Digits or turn")
		http.Error(w, "missing or invalid CallSid, Digits or turn", http.StatusBadRequest)
		return
	}
	switch v.opts.Mode {
	case config.VoiceIVR:
		v.ivr(w, r.Context(), call)
	case config.VoiceSMSBack:
		v.smsBack(r.Context(), call)
		v.calls.WithLabelValues("sms_back").Inc()
		v.write(w, []twiml.Element{twiml.VoiceReject{}})
	default:
		v.calls.WithLabelValues("rejected").Inc()
		v.write(w, []twiml.Element{twiml.VoiceReject{}})
	}
}

// missedCallWindow is how often, at most, a number's missed calls are
// answered by SMS.
const missedCallWindow = 10 * time.Minute

// smsBack sends a missed call's caller what a first SMS would get: the
// language choice or the menu — once in missedCallWindow, however many
// calls, and however often Twilio asks. A withheld number cannot be
// answered.
func (v *Voice) smsBack(ctx context.Context, call Call) {
	if call.From == "" || !v.opts.SMS || call.Turn > 0 {
		return
	}
	// At most one SMS a number in missedCallWindow: the window, not the
	// call, is the message's id, so that calls from a forged caller id
	// cannot make the service send SMS after SMS to someone.
	id := "missed-" + strconv.FormatInt(time.Now().Unix()/int64(missedCallWindow/time.Second), 10)
	_, err := v.h.dialog.Handle(ctx, dialog.Message{Channel: SMS, Address: call.From, ProviderID: id, Call: true})
	if err != nil {
		// The call is rejected all the same: answering it would cost the
		// caller. They can call again.
		v.log.Error("a missed call's menu by SMS was not queued", "err", err)
	}
}

// ivr answers one step of a call: its start, a key, or a silence.
func (v *Voice) ivr(w http.ResponseWriter, ctx context.Context, call Call) {
	c := v.opts.Content()
	if call.Silences >= maxSilences {
		v.calls.WithLabelValues("silent").Inc()
		v.write(w, v.goodbye(c, call.Lang))
		return
	}
	msg := dialog.Message{Channel: dialog.ChannelVoice, Address: call.From, Text: call.Digits}
	if call.From == "" {
		// A withheld number: a conversation of its own, for this call,
		// kept apart and short-lived; nothing can reach the caller again.
		msg.Address, msg.Withheld = "call:"+call.CallSID, true
	}
	switch {
	case call.Turn == 0 && call.Silences == 0:
		msg.Call, msg.ProviderID = true, call.CallSID+"/0"
		v.calls.WithLabelValues("answered").Inc()
	case call.Digits == "":
		msg.Repeat = true
	default:
		msg.ProviderID = call.CallSID + "/" + strconv.Itoa(call.Turn)
	}
	out, err := v.h.dialog.Handle(ctx, msg)
	if err == nil && out.Duplicate {
		// Twilio asked again for a step already answered: say again where
		// the caller is, and change nothing.
		msg.ProviderID, msg.Call, msg.Repeat, msg.Text = "", false, true, ""
		out, err = v.h.dialog.Handle(ctx, msg)
	}
	if err != nil {
		// Twilio does not retry a call's webhook: 5xx would make it say an
		// error in English. The caller hears that the line is busy.
		v.log.Error("a call's step failed", "err", err)
		v.write(w, v.goodbye(c, ""))
		return
	}
	if len(out.Replies) == 0 {
		v.write(w, v.goodbye(c, ""))
		return
	}
	next := call.Turn + 1
	silence := call.Silences + 1
	if call.Digits != "" {
		silence = 1
	}
	// The hint to repeat, and the goodbye after silences, are in the
	// language of the last reply's first part: the person's, or on the
	// language choice the first offered.
	lang := ""
	if last := out.Replies[len(out.Replies)-1]; len(last.Parts) > 0 {
		lang = last.Parts[0].Lang
	}
	gather := twiml.VoiceGather{Input: "dtmf", NumDigits: "1", Timeout: gatherTimeout, Method: http.MethodPost, Action: v.url(next, 0, "")}
	for _, reply := range out.Replies {
		for _, p := range reply.Parts {
			gather.InnerElements = append(gather.InnerElements, v.speak(c, p)...)
		}
	}
	if c.Has(lang, content.MsgVoiceRepeat) {
		gather.InnerElements = append(gather.InnerElements, v.speak(c, engine.Part{Text: c.Text(lang, content.MsgVoiceRepeat, nil), Lang: lang})...)
	}
	v.write(w, []twiml.Element{gather, twiml.VoiceRedirect{Method: http.MethodPost, Url: v.url(call.Turn, silence, lang)}})
}

// url is the webhook's address for the next request of a call: turn keys
// pressed so far, after silences prompts in a row unanswered, the last said
// in lang.
func (v *Voice) url(turn, silences int, lang string) string {
	q := url.Values{}
	q.Set("t", strconv.Itoa(turn))
	if silences > 0 {
		q.Set("s", strconv.Itoa(silences))
	}
	if lang != "" {
		q.Set("l", lang)
	}
	return v.h.publicURL + VoicePath + "?" + q.Encode()
}

// speak says one part of a reply: a line, or lines, with a recording of
// their message played instead where the content has one; the rest said by
// the language's voice.
func (v *Voice) speak(c *content.Content, p engine.Part) []twiml.Element {
	var out []twiml.Element
	var said []string
	flush := func() {
		if len(said) > 0 {
			out = append(out, v.say(strings.Join(said, "\n"), p.Lang))
			said = nil
		}
	}
	lines := strings.Split(p.Text, "\n")
	for i := 0; i < len(lines); {
		j := len(lines)
		var rec *content.Recording
		for ; j > i; j-- {
			if r, ok := c.RecordingOf(p.Lang, strings.Join(lines[i:j], "\n")); ok {
				rec = r
				break
			}
		}
		if rec == nil {
			if strings.TrimSpace(lines[i]) != "" {
				said = append(said, lines[i])
			}
			i++
			continue
		}
		flush()
		out = append(out, twiml.VoicePlay{Url: v.h.publicURL + AudioPath + rec.Sum + rec.Ext()})
		i = j
	}
	flush()
	return out
}

// say is a <Say> of text in lang's voice.
func (v *Voice) say(text, lang string) twiml.Element {
	voice, ok := v.opts.Voices[lang]
	if !ok {
		voice = config.DefaultVoices[lang]
	}
	return twiml.VoiceSay{Message: text, Language: voice.Language, Voice: voice.Voice}
}

// goodbye ends a call: what to do instead, in lang (the content's first
// language when not known), then hang up.
func (v *Voice) goodbye(c *content.Content, lang string) []twiml.Element {
	if !c.HasLanguage(lang) {
		lang = c.Languages[0]
	}
	var out []twiml.Element
	if c.Has(lang, content.MsgVoiceGoodbye) {
		out = append(out, v.say(c.Text(lang, content.MsgVoiceGoodbye, nil), lang))
	}
	return append(out, twiml.VoiceHangup{})
}

// write answers TwiML. A Gather is told to end on no key (finishOnKey
// empty), so that # is a key like the others; twilio-go leaves empty
// attributes out, so it is set on the document.
func (v *Voice) write(w http.ResponseWriter, verbs []twiml.Element) {
	doc, response := twiml.CreateDocument()
	twiml.AddAllVerbs(response, verbs)
	for _, g := range response.SelectElements("Gather") {
		g.CreateAttr("finishOnKey", "")
	}
	s, err := doc.WriteToString()
	if err != nil {
		v.log.Error("writing TwiML failed", "err", err)
		http.Error(w, "cannot answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	io.WriteString(w, s)
}

// Audio serves the content's recordings to Twilio's <Play>, by the SHA-256
// of their bytes: an address never changes what it plays, so it may be
// cached for ever.
func Audio(current func() *content.Content) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, AudioPath)
		sum, ext, _ := strings.Cut(name, ".")
		rec, ok := current().RecordingBySum(sum)
		if !ok || "."+ext != rec.Ext() {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", rec.Type)
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("Content-Length", strconv.Itoa(len(rec.Data)))
		w.Write(rec.Data)
	})
}
