package twilio

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/config"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

// twimlVerb is what Twilio's TwiML reference allows of a verb: its
// attributes, each with the values it takes, and the verbs it may hold
// (https://www.twilio.com/docs/voice/twiml: Gather holds only Say, Play
// and Pause, error 13320; anything else is schema warning 12200).
type twimlVerb struct {
	attrs    map[string]*regexp.Regexp
	children []string
	// text is what the element's text must be; nil: no text.
	text *regexp.Regexp
}

var (
	absoluteURL = regexp.MustCompile(`^https?://[^\s]+$`)
	twimlSchema = map[string]twimlVerb{
		"Response": {children: []string{"Say", "Play", "Gather", "Redirect", "Reject", "Hangup", "Pause"}},
		"Gather": {attrs: map[string]*regexp.Regexp{
			"input": regexp.MustCompile(`^(dtmf|speech|dtmf speech)$`), "action": absoluteURL, "method": regexp.MustCompile(`^(GET|POST)$`),
			"timeout": regexp.MustCompile(`^[1-9][0-9]*$`), "numDigits": regexp.MustCompile(`^[1-9][0-9]*$`),
			"finishOnKey": regexp.MustCompile(`^[0-9#*]?$`), "actionOnEmptyResult": regexp.MustCompile(`^(true|false)$`),
		}, children: []string{"Say", "Play", "Pause"}},
		"Say": {attrs: map[string]*regexp.Regexp{
			// The languages Twilio's <Say> speaks that a call here uses.
			"language": regexp.MustCompile(`^(fr-FR|fr-CA|en-GB|en-US|arb|ar-XA|ar-AE)$`),
			"voice":    regexp.MustCompile(`^(man|woman|alice|Polly\.[A-Za-z-]+|Google\.[A-Za-z0-9-]+)$`),
			"loop":     regexp.MustCompile(`^[0-9]+$`),
		}, text: regexp.MustCompile(`\S`)},
		"Play":     {attrs: map[string]*regexp.Regexp{"loop": regexp.MustCompile(`^[0-9]+$`), "digits": regexp.MustCompile(`^[0-9w#*]+$`)}, text: absoluteURL},
		"Pause":    {attrs: map[string]*regexp.Regexp{"length": regexp.MustCompile(`^[0-9]+$`)}},
		"Redirect": {attrs: map[string]*regexp.Regexp{"method": regexp.MustCompile(`^(GET|POST)$`)}, text: absoluteURL},
		"Reject":   {attrs: map[string]*regexp.Regexp{"reason": regexp.MustCompile(`^(rejected|busy)$`)}},
		"Hangup":   {},
	}
)

// node is an element of a TwiML document.
type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []node     `xml:",any"`
}

// attr returns an attribute's value, and whether it is there.
func (n node) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

// checkTwiML parses a TwiML answer and checks it against twimlSchema.
func checkTwiML(t testing.TB, body string) node {
	t.Helper()
	var doc node
	if err := xml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("TwiML does not parse: %v\n%s", err, body)
	}
	var check func(n node, path string)
	check = func(n node, path string) {
		verb, ok := twimlSchema[n.XMLName.Local]
		if !ok {
			t.Errorf("%s: <%s> is no TwiML verb used here", path, n.XMLName.Local)
			return
		}
		for _, a := range n.Attrs {
			re, ok := verb.attrs[a.Name.Local]
			if !ok {
				t.Errorf("%s: <%s> has no attribute %q", path, n.XMLName.Local, a.Name.Local)
			} else if !re.MatchString(a.Value) {
				t.Errorf("%s: <%s %s=%q>: not a value it takes", path, n.XMLName.Local, a.Name.Local, a.Value)
			}
		}
		text := strings.TrimSpace(n.Text)
		switch {
		case verb.text == nil && text != "":
			t.Errorf("%s: <%s> holds text %q", path, n.XMLName.Local, text)
		case verb.text != nil && !verb.text.MatchString(text):
			t.Errorf("%s: <%s> text %q", path, n.XMLName.Local, text)
		}
		for _, c := range n.Children {
			if !slices.Contains(verb.children, c.XMLName.Local) {
				t.Errorf("%s: <%s> cannot hold <%s>", path, n.XMLName.Local, c.XMLName.Local)
			}
			check(c, path+"/"+c.XMLName.Local)
		}
	}
	if doc.XMLName.Local != "Response" {
		t.Fatalf("root <%s>, want <Response>", doc.XMLName.Local)
	}
	check(doc, "Response")
	return doc
}

// caller is one phone calling the voice webhook, as Twilio does: each
// request posts to the URL the last answer named, signed over it.
type caller struct {
	t     testing.TB
	h     http.Handler
	sid   string
	from  string
	next  string // the URL the last Gather's action names
	again string // the URL its Redirect names (no key pressed)
	last  node
}

func newCaller(t testing.TB, h http.Handler, from string, n int) *caller {
	return &caller{t: t, h: h, from: from, sid: fmt.Sprintf("CA%032x", n), next: publicURL + VoicePath}
}

// post sends a voice webhook to u with digits; it returns the status and
// the answer.
func (c *caller) post(u, digits, token string) (int, string) {
	c.t.Helper()
	f := url.Values{"CallSid": {c.sid}, "AccountSid": {accountSID}, "From": {c.from}, "To": {ourNumber}, "CallStatus": {"in-progress"}, "Direction": {"inbound"}}
	if digits != "" {
		f.Set("Digits", digits)
	}
	path := strings.TrimPrefix(u, publicURL)
	r := httptest.NewRequest("POST", path, strings.NewReader(f.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if token != "" {
		r.Header.Set("X-Twilio-Signature", twiliotest.Sign(token, u, f))
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)
	return rec.Code, rec.Body.String()
}

// press answers the last prompt with a key ("" for the call's start or a
// silence, which follows the Redirect) and returns the TwiML checked.
func (c *caller) press(digits string) node {
	c.t.Helper()
	u := c.next
	if digits == "" && c.again != "" {
		u = c.again
	}
	code, body := c.post(u, digits, authToken)
	if code != 200 {
		c.t.Fatalf("key %q: status %d: %s", digits, code, body)
	}
	doc := checkTwiML(c.t, body)
	c.last, c.next, c.again = doc, "", ""
	for _, v := range doc.Children {
		switch v.XMLName.Local {
		case "Gather":
			c.next, _ = v.attr("action")
		case "Redirect":
			c.again = strings.TrimSpace(v.Text)
		}
	}
	return doc
}

// said returns what a TwiML answer says, as "lang: text" lines, and the
// recordings it plays as "play: URL".
func said(doc node) []string {
	var out []string
	var walk func(n node)
	walk = func(n node) {
		switch n.XMLName.Local {
		case "Say":
			lang, _ := n.attr("language")
			out = append(out, lang+": "+strings.TrimSpace(n.Text))
		case "Play":
			out = append(out, "play: "+strings.TrimSpace(n.Text))
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func saysAll(t testing.TB, doc node, want ...string) {
	t.Helper()
	all := strings.Join(said(doc), "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("the call does not say %q; it says:\n%s", w, all)
		}
	}
}

func voiceSetup(t testing.TB, mode string) (*channeltest.Env, http.Handler) {
	env := channeltest.New(t, SMS, WhatsApp)
	v := newHandler(env).NewVoice(VoiceOptions{Mode: mode, Voices: config.DefaultVoices, Content: env.Dialog.Content, SMS: true}, env.Metrics.Calls)
	return env, v
}

// A whole call in each language: the language choice, each language
// offered in itself; the main menu read as keys; a branch; back; a request
// to a person, recorded for staff as a call to return, never a voice.
func TestCallInEachLanguage(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		lang, key, tag               string
		menu, health, back, recorded string
	}{
		{"fr", "1", "fr-FR", "Distributions d'aide : tapez 1.", "Santé.", "Menu principal.", "vous répondra à ce numéro par SMS"},
		{"en", "2", "en-GB", "Aid distributions: press 1.", "Health.", "Main menu.", "will answer you on this number by SMS"},
		{"ar", "3", "arb", "اضغط 1.", "الصحة.", "القائمة الرئيسية.", "سيجيبك موظف على هذا الرقم برسالة قصيرة"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel()
			env, h := voiceSetup(t, config.VoiceIVR)
			from := "+21261234500" + strconv.Itoa(i)
			c := newCaller(t, h, from, 100+i)
			start := c.press("")
			saysAll(t, start, "fr-FR: Pour le français, tapez 1.", "en-GB: For English, press 2.", "arb: للعربية، اضغط 3.")
			gather := start.Children[0]
			if gather.XMLName.Local != "Gather" {
				t.Fatalf("first verb <%s>, want <Gather>", gather.XMLName.Local)
			}
			if v, _ := gather.attr("numDigits"); v != "1" {
				t.Errorf("numDigits %q", v)
			}
			if v, _ := gather.attr("input"); v != "dtmf" {
				t.Errorf("input %q", v)
			}
			// # is a key like the others, not the end of the input.
			if v, ok := gather.attr("finishOnKey"); !ok || v != "" {
				t.Errorf("finishOnKey %q (set %v), want it set empty", v, ok)
			}
			menu := c.press(tc.key)
			saysAll(t, menu, tc.tag+": "+tc.back, tc.menu)
			if st, ok := env.State(SMS, from); !ok || st.Lang != tc.lang {
				t.Errorf("the SMS sender with that number: %+v, %v; want language %s", st, ok, tc.lang)
			}
			saysAll(t, c.press("2"), tc.tag+": "+tc.health)
			saysAll(t, c.press("0"), tc.back)
			saysAll(t, c.press("0"), tc.recorded)
			// # is the main menu; 0 again does not ask twice.
			saysAll(t, c.press("#"), tc.back)
			saysAll(t, c.press("0"), tc.tag+": "+env.Content.Text(tc.lang, content.MsgVoiceAlreadyAsked, map[string]any{}))
			reqs, err := env.Store.Requests().List(context.Background())
			if err != nil || len(reqs) != 1 {
				t.Fatalf("requests %+v, %v; want 1", reqs, err)
			}
			text, err := env.Store.Open(reqs[0].Text)
			if err != nil || text != env.Content.Text("fr", content.MsgVoiceCallback, nil) || reqs[0].Channel != dialog.ChannelVoice || reqs[0].Lang != tc.lang {
				t.Errorf("request %+v says %q, %v; want a call back, in French for staff", reqs[0], text, err)
			}
			if len(env.Entries(outbox.Reply)) != 0 {
				t.Error("a call sent messages: its replies are said, not sent")
			}
			env.NoTrace(t, from)
		})
	}
}

// * says the same again and changes nothing; a silence does too, twice,
// then the call says goodbye and hangs up.
func TestCallRepeatsAndSilences(t *testing.T) {
	t.Parallel()
	env, h := voiceSetup(t, config.VoiceIVR)
	c := newCaller(t, h, "+212612345010", 200)
	c.press("")
	c.press("1") // French: welcome, main menu
	health := said(c.press("2"))
	if again := said(c.press("*")); !slices.Equal(again, health) {
		t.Errorf("* said\n%q\nwant again\n%q", again, health)
	}
	info := said(c.press("1"))
	if again := said(c.press("*")); !slices.Equal(again, info) {
		t.Errorf("* after an answer said\n%q\nwant\n%q", again, info)
	}
	if silence := said(c.press("")); !slices.Equal(silence, info) {
		t.Errorf("a silence said\n%q\nwant\n%q", silence, info)
	}
	end := c.press("")
	if names := verbs(end); !slices.Equal(names, []string{"Say", "Hangup"}) {
		t.Errorf("after two silences %v, want a goodbye and a hang-up", names)
	}
	saysAll(t, end, "fr-FR: "+env.Text("fr", content.MsgVoiceGoodbye))
	stored, err := env.Store.LoadState(context.Background(), env.Store.ContactKey(SMS, "+212612345010"), "")
	if err != nil || !strings.Contains(string(stored.Dialog), `"node":"health"`) {
		t.Errorf("after * and silences the conversation is %s, %v; want at the health menu", stored.Dialog, err)
	}
}

func verbs(doc node) []string {
	var out []string
	for _, v := range doc.Children {
		out = append(out, v.XMLName.Local)
	}
	return out
}

// Twilio posting the same key of a call twice gets the same prompt again,
// and the key acts once: one request, not two.
func TestCallRetryActsOnce(t *testing.T) {
	t.Parallel()
	env, h := voiceSetup(t, config.VoiceIVR)
	c := newCaller(t, h, "+212612345011", 201)
	c.press("")
	c.press("1")
	u := c.next
	first := said(c.press("0")) // a person: recorded
	code, body := c.post(u, "0", authToken)
	if code != 200 {
		t.Fatalf("retry: %d", code)
	}
	if again := said(checkTwiML(t, body)); !slices.Equal(again, first) {
		t.Errorf("the retry said\n%q\nwant the same as the first time\n%q", again, first)
	}
	reqs, _ := env.Store.Requests().List(context.Background())
	if len(reqs) != 1 {
		t.Errorf("%d requests after a retried key, want 1", len(reqs))
	}
}

// The caller is the SMS sender with that number: a language chosen by SMS
// needs no asking on a call.
func TestCallerIsTheSMSSender(t *testing.T) {
	t.Parallel()
	env, h := voiceSetup(t, config.VoiceIVR)
	if code := serve(t, env, signed("/webhooks/twilio", "inbound_sms_bonjour.form", authToken, nil)); code != 200 {
		t.Fatal(code)
	}
	c := newCaller(t, h, person, 202)
	saysAll(t, c.press(""), "fr-FR: "+env.Text("fr", "welcome_back"), "Distributions d'aide : tapez 1.")
}

// A webhook not signed by Twilio, or signed over another URL, is refused.
func TestCallSignature(t *testing.T) {
	t.Parallel()
	_, h := voiceSetup(t, config.VoiceIVR)
	c := newCaller(t, h, person, 203)
	for label, tc := range map[string]struct{ u, token string }{
		"unsigned":           {publicURL + VoicePath, ""},
		"another token":      {publicURL + VoicePath, "fedcba9876543210fedcba9876543210"},
		"another turn (URL)": {publicURL + VoicePath + "?t=3", "sign-other-url"},
	} {
		token := tc.token
		u := tc.u
		if token == "sign-other-url" {
			// Signed over ?t=2, posted to ?t=3.
			f := url.Values{"CallSid": {c.sid}, "From": {person}, "Digits": {"1"}}
			r := httptest.NewRequest("POST", VoicePath+"?t=3", strings.NewReader(f.Encode()))
			r.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, publicURL+VoicePath+"?t=2", f))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != 403 {
				t.Errorf("%s: %d, want 403", label, rec.Code)
			}
			continue
		}
		if code, _ := c.post(u, "", token); code != 403 {
			t.Errorf("%s: %d, want 403", label, code)
		}
	}
}

// A recording of a message is played instead of the synthetic voice, from
// an address under the service that serves its bytes.
func TestCallPlaysRecording(t *testing.T) {
	t.Parallel()
	env, h := voiceSetup(t, config.VoiceIVR)
	mp3 := append([]byte("ID3\x03\x00\x00\x00\x00\x00\x00"), make([]byte, 400)...)
	files := fstest.MapFS{"audio/fr/main_title.mp3": {Data: mp3}}
	for name, data := range env.Content.Files() {
		files[name] = &fstest.MapFile{Data: data}
	}
	c, err := content.Load(files)
	if err != nil {
		t.Fatal(err)
	}
	env.Dialog.UseVersion(2, c)
	call := newCaller(t, h, "+212612345012", 204)
	call.press("")
	lines := said(call.press("1"))
	i := slices.IndexFunc(lines, func(s string) bool { return strings.HasPrefix(s, "play: ") })
	if i < 0 || i+1 >= len(lines) || !strings.Contains(lines[i+1], "Distributions d'aide : tapez 1.") {
		t.Fatalf("the call says %q; want the recording of the menu's title, then its options", lines)
	}
	if slices.ContainsFunc(lines, func(s string) bool { return strings.Contains(s, "Menu principal.") }) {
		t.Error("the recorded title is also said by the synthetic voice")
	}
	u := strings.TrimPrefix(lines[i], "play: ")
	rec := httptest.NewRecorder()
	Audio(env.Dialog.Content).ServeHTTP(rec, httptest.NewRequest("GET", strings.TrimPrefix(u, publicURL), nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "audio/mpeg" || string(body) != string(mp3) {
		t.Errorf("GET %s: %d %q, %d bytes; want the recording", u, rec.Code, rec.Header().Get("Content-Type"), len(body))
	}
	rec = httptest.NewRecorder()
	Audio(env.Dialog.Content).ServeHTTP(rec, httptest.NewRequest("GET", AudioPath+strings.Repeat("0", 64)+".mp3", nil))
	if rec.Code != 404 {
		t.Errorf("an unknown recording: %d, want 404", rec.Code)
	}
}

// sms-back rejects the call, which costs the caller nothing, and sends by
// SMS what a first message would get — once, however often Twilio asks.
// off rejects it and sends nothing.
func TestCallSMSBackAndOff(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{config.VoiceSMSBack, config.VoiceOff} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			env, h := voiceSetup(t, mode)
			c := newCaller(t, h, "+212612345013", 205)
			for range 2 { // Twilio asking twice about the same call
				c.next = publicURL + VoicePath
				doc := c.press("")
				if names := verbs(doc); !slices.Equal(names, []string{"Reject"}) {
					t.Fatalf("%s answers %v, want only <Reject/>", mode, names)
				}
			}
			replies := env.Replies()
			switch mode {
			case config.VoiceSMSBack:
				if len(replies) != 1 || !strings.Contains(replies[0].Text, env.Text("fr", "language_prompt")) {
					t.Errorf("SMS after a missed call: %+v, want the language choice once", replies)
				}
				if en := env.Entries(outbox.Reply); len(en) != 1 || en[0].Channel != SMS {
					t.Errorf("entries %+v, want one SMS", en)
				}
			default:
				if len(replies) != 0 {
					t.Errorf("off sent %+v", replies)
				}
			}
		})
	}
}

// A withheld number gets the menus all the same, in a conversation of its
// own, and nothing is kept to reach it by SMS.
func TestCallFromAWithheldNumber(t *testing.T) {
	t.Parallel()
	env, h := voiceSetup(t, config.VoiceIVR)
	c := newCaller(t, h, "anonymous", 206)
	c.press("")
	saysAll(t, c.press("1"), "Menu principal.")
	// A person, or notices: neither can reach a hidden number, and the
	// caller is told so instead of a promise.
	saysAll(t, c.press("0"), "fr-FR: "+env.Text("fr", content.MsgVoiceWithheld), "Menu principal.")
	c.press("4")
	c.press("1")
	saysAll(t, c.press("1"), env.Text("fr", content.MsgVoiceWithheld))
	if reqs, err := env.Store.Requests().List(context.Background()); err != nil || len(reqs) != 0 {
		t.Errorf("requests %+v, %v; want none for a hidden number", reqs, err)
	}
	if keys := redistest.KeysUnder(t, env.Redis, env.Prefix); slices.ContainsFunc(keys, func(k string) bool { return strings.Contains(k, ":subscribers") }) {
		t.Errorf("a hidden number subscribed: %v", keys)
	}
	if _, ok := env.State(SMS, "anonymous"); ok {
		t.Error("a withheld caller is kept as the SMS sender \"anonymous\"")
	}
}

func TestParseCall(t *testing.T) {
	t.Parallel()
	sid := "CA" + strings.Repeat("a", 32)
	for _, tc := range []struct {
		form, query url.Values
		ok          bool
	}{
		{url.Values{"CallSid": {sid}, "From": {person}}, nil, true},
		{url.Values{"CallSid": {sid}, "From": {person}, "Digits": {"#"}}, url.Values{"t": {"4"}}, true},
		{url.Values{"CallSid": {"SM" + strings.Repeat("a", 32)}, "From": {person}}, nil, false},
		{url.Values{"CallSid": {sid}, "Digits": {"12"}}, nil, false},
		{url.Values{"CallSid": {sid}, "Digits": {"a"}}, nil, false},
		{url.Values{"CallSid": {sid}}, url.Values{"t": {"-1"}}, false},
		{url.Values{"CallSid": {sid}}, url.Values{"s": {"x"}}, false},
	} {
		if _, err := ParseCall(tc.form, tc.query); (err == nil) != tc.ok {
			t.Errorf("%v %v: %v, want ok %v", tc.form, tc.query, err, tc.ok)
		}
	}
}

// BenchmarkCallKey times one key pressed on a call, through the real
// dialog and Redis: verify, the step, the TwiML answer. Keys alternate
// between the health menu (2) and back (0), each a new turn of the call.
//
//	go test -run '^$' -bench CallKey ./bot/twilio
func BenchmarkCallKey(b *testing.B) {
	_, h := voiceSetup(b, config.VoiceIVR)
	var c *caller
	i := 0
	for b.Loop() {
		if i%500 == 0 { // a call of 500 keys, then the next
			c = newCaller(b, h, "+212612345099", 1000+i)
			c.press("")
			c.press("1")
		}
		c.press([]string{"2", "0"}[i%2])
		i++
	}
}
