package twilio

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

func TestMain(m *testing.M) { os.Exit(redistest.MainParallel(m, 8)) }

const (
	accountSID = "AC00000000000000000000000000000001"
	authToken  = "0123456789abcdef0123456789abcdef"
	publicURL  = "https://bot.example.org"
	ourNumber  = "+212522000000"
	person     = "+212612345678"
)

// TestPublishedVector checks the signature the handler verifies, through
// twilio-go's validator, against the vector twilio-go publishes, and the
// tests' own signer against it too.
func TestPublishedVector(t *testing.T) {
	t.Parallel()
	params := url.Values{
		"Digits": {"1234"}, "CallSid": {"CA1234567890ABCDE"}, "To": {"+18005551212"},
		"Caller": {"+14158675309"}, "From": {"+14158675309"}, "ReasonConferenceEnded": {"test"}, "Reason": {"Participant"},
	}
	const u, want = "https://mycompany.com/myapp.php?foo=1&bar=2", "vOEb5UThFn24KEfnOFLQY2AE5FY="
	if got := twiliotest.Sign("12345", u, params); got != want {
		t.Errorf("test signer: %s, want %s", got, want)
	}
	v := client.NewRequestValidator("12345")
	flat := map[string]string{}
	for k := range params {
		flat[k] = params.Get(k)
	}
	if !v.Validate(u, flat, want) {
		t.Error("twilio-go's validator refuses the published vector")
	}
}

func form(t testing.TB, name string) url.Values {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	f, err := url.ParseQuery(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// signed builds a webhook request as Twilio sends it, signed over the public
// URL; token "" leaves the signature out, and tamper changes a field after
// signing.
func signed(path, file, token string, tamper func(url.Values)) func(t testing.TB) *http.Request {
	return func(t testing.TB) *http.Request {
		f := form(t, file)
		sig := ""
		if token != "" {
			sig = twiliotest.Sign(token, publicURL+path, f)
		}
		if tamper != nil {
			tamper(f)
		}
		r := httptest.NewRequest("POST", path, strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			r.Header.Set("X-Twilio-Signature", sig)
		}
		return r
	}
}

func newHandler(env *channeltest.Env) *Handler {
	return NewHandler(authToken, publicURL+"/", env.Dialog, env.Outbox, env.Dialog.People(), []string{SMS, WhatsApp}, env.Metrics, env.Log)
}

func inboundSetup(t *testing.T) (*channeltest.Env, http.Handler) {
	env := channeltest.New(t, SMS, WhatsApp)
	env.Outbound = func(t testing.TB, n int) []string {
		fake := twiliotest.NewServer(t, accountSID, authToken)
		worker(t.(*testing.T), env, fake, outbox.Options{})
		var bodies []string
		for _, c := range fake.WaitAccepted(t, n, 10*time.Second) {
			bodies = append(bodies, c.To+" "+c.Body)
		}
		return bodies
	}
	return env, http.HandlerFunc(newHandler(env).Inbound)
}

func TestInbound(t *testing.T) {
	t.Parallel()
	channeltest.Run(t, []channeltest.Case{
		{Label: "SMS Bonjour gets French", Request: signed("/webhooks/twilio", "inbound_sms_bonjour.form", authToken, nil),
			Status: 200, Replies: 2, ReplyHas: "Ici ", Channel: SMS, Address: person, Lang: "fr",
			Sends: []string{person + " Ici ", person + " Menu - répondez par un numéro"}},
		{Label: "SMS in Arabic gets Arabic", Request: signed("/webhooks/twilio", "inbound_sms_arabic.form", authToken, nil),
			Status: 200, Replies: 2, Channel: SMS, Address: "+212612345679", Lang: "ar"},
		{Label: "WhatsApp hello gets English on WhatsApp", Request: signed("/webhooks/twilio", "inbound_whatsapp_hello.form", authToken, nil),
			Status: 200, Replies: 2, Channel: WhatsApp, Address: person, Lang: "en",
			Sends: []string{"whatsapp:" + person + " This is", "whatsapp:" + person + " Menu - reply with a number"},
			Check: func(t testing.TB, env *channeltest.Env) {
				for _, e := range env.Entries(outbox.Reply) {
					if e.Channel != WhatsApp {
						t.Errorf("reply on %q, want whatsapp", e.Channel)
					}
				}
			}},
		{Label: "a digit first asks the language", Request: signed("/webhooks/twilio", "inbound_sms_digit.form", authToken, nil),
			Status: 200, Replies: 1, ReplyHas: "Choisissez votre langue", Channel: SMS, Address: person},
		{Label: "STOP opts out", Request: signed("/webhooks/twilio", "inbound_sms_stop.form", authToken, nil),
			Status: 200, Replies: 1, Channel: SMS, Address: person,
			Check: func(t testing.TB, env *channeltest.Env) {
				if st, _ := env.State(SMS, person); !st.OptedOut {
					t.Error("not opted out")
				}
			}},
		{Label: "picture without text gets the language question", Request: signed("/webhooks/twilio", "inbound_sms_mms_no_body.form", authToken, nil),
			Status: 200, Replies: 1, Channel: SMS, Address: person},
		{Label: "1600 characters are handled", Request: signed("/webhooks/twilio", "inbound_sms_long.form", authToken, nil),
			Status: 200, Replies: 2, Channel: SMS, Address: person, Lang: "fr"},
		{Label: "forged signature", Request: signed("/webhooks/twilio", "inbound_sms_bonjour.form", "not-the-token", nil),
			Status: 403, Replies: 0, Channel: SMS, Address: person, NoState: true},
		{Label: "no signature", Request: signed("/webhooks/twilio", "inbound_sms_bonjour.form", "", nil),
			Status: 403, Replies: 0, Channel: SMS, Address: person, NoState: true},
		{Label: "body changed after signing", Request: signed("/webhooks/twilio", "inbound_sms_bonjour.form", authToken, func(f url.Values) { f.Set("Body", "STOP") }),
			Status: 403, Replies: 0, Channel: SMS, Address: person, NoState: true},
		{Label: "a field added after signing", Request: signed("/webhooks/twilio", "inbound_sms_bonjour.form", authToken, func(f url.Values) { f.Set("Extra", "1") }),
			Status: 403, Replies: 0, Channel: SMS, Address: person, NoState: true},
		{Label: "signed but no MessageSid", Request: signedForm(url.Values{"From": {person}, "Body": {"hi"}}),
			Status: 400, Replies: 0, Channel: SMS, Address: person, NoState: true},
		{Label: "signed but not a form", Request: func(t testing.TB) *http.Request {
			r := httptest.NewRequest("POST", "/webhooks/twilio", strings.NewReader("%zz"))
			r.Header.Set("X-Twilio-Signature", "x")
			return r
		}, Status: 403},
		{Label: "WhatsApp prefix twice", Request: signedForm(url.Values{"MessageSid": {"SM00000000000000000000000000000009"}, "From": {"whatsapp:whatsapp:+1555"}, "Body": {"hi"}}),
			Status: 400},
	}, inboundSetup)
}

func signedForm(f url.Values) func(t testing.TB) *http.Request {
	return func(t testing.TB) *http.Request {
		r := httptest.NewRequest("POST", "/webhooks/twilio", strings.NewReader(f.Encode()))
		r.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, publicURL+"/webhooks/twilio", f))
		return r
	}
}

func TestQueryStringIsSigned(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, SMS)
	h := newHandler(env)
	f := form(t, "inbound_sms_bonjour.form")
	r := httptest.NewRequest("POST", "/webhooks/twilio?site=nador", strings.NewReader(f.Encode()))
	r.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, publicURL+"/webhooks/twilio?site=nador", f))
	rec := httptest.NewRecorder()
	h.Inbound(rec, r)
	if rec.Code != 200 {
		t.Fatalf("signed with the query: %d", rec.Code)
	}
	r = httptest.NewRequest("POST", "/webhooks/twilio?site=oujda", strings.NewReader(f.Encode()))
	r.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, publicURL+"/webhooks/twilio?site=nador", f))
	rec = httptest.NewRecorder()
	h.Inbound(rec, r)
	if rec.Code != 403 {
		t.Fatalf("query changed after signing: %d, want 403", rec.Code)
	}
}

func TestAnswerIsEmptyTwiML(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, SMS)
	rec := httptest.NewRecorder()
	newHandler(env).Inbound(rec, signed("/webhooks/twilio", "inbound_sms_bonjour.form", authToken, nil)(t))
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Errorf("Content-Type %q, want text/xml", ct)
	}
	if !strings.Contains(rec.Body.String(), "<Response/>") {
		t.Errorf("body %q, want <Response/>", rec.Body.String())
	}
}

// TestRetryHandledOnce sends one MessageSid twice in a row and twice at
// once: each time the person gets one set of replies.
func TestRetryHandledOnce(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, SMS)
	h := newHandler(env)
	req := signed("/webhooks/twilio", "inbound_sms_bonjour.form", authToken, nil)
	for range 2 {
		rec := httptest.NewRecorder()
		h.Inbound(rec, req(t))
		if rec.Code != 200 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if n := len(env.Replies()); n != 2 {
		t.Fatalf("%d replies after a retry, want 2 (one welcome, one menu)", n)
	}

	// Two copies of another message at the same moment.
	env = channeltest.New(t, SMS)
	h = newHandler(env)
	done := make(chan int, 2)
	for range 2 {
		go func() {
			rec := httptest.NewRecorder()
			h.Inbound(rec, req(t))
			done <- rec.Code
		}()
	}
	if a, b := <-done, <-done; a != 200 || b != 200 {
		t.Fatalf("statuses %d %d, want 200 200", a, b)
	}
	if n := len(env.Replies()); n != 2 {
		t.Fatalf("%d replies after two copies at once, want 2", n)
	}
}

func TestRedisDownAnswers503(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, SMS)
	h := newHandler(env)
	env.Redis.Close() // the store is gone
	rec := httptest.NewRecorder()
	h.Inbound(rec, signed("/webhooks/twilio", "inbound_sms_bonjour.form", authToken, nil)(t))
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d with Redis down, want 503 so that Twilio retries", rec.Code)
	}
}

func TestChannelOffIsIgnored(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, SMS)
	h := NewHandler(authToken, publicURL, env.Dialog, env.Outbox, env.Dialog.People(), []string{SMS}, env.Metrics, env.Log)
	rec := httptest.NewRecorder()
	h.Inbound(rec, signed("/webhooks/twilio", "inbound_whatsapp_hello.form", authToken, nil)(t))
	if rec.Code != 200 || len(env.Entries(outbox.Reply)) != 0 {
		t.Fatalf("WhatsApp off: status %d, %d replies; want 200 and none", rec.Code, len(env.Entries(outbox.Reply)))
	}
}

// worker starts an outbox worker sending SMS and WhatsApp to the fake API.
// worker starts an outbox worker sending to the fake through gates of 1000
// a second, made with gate (a clock of their own, say).
func worker(t *testing.T, env *channeltest.Env, fake *twiliotest.Server, opts outbox.Options, gate ...outbox.GateOption) {
	api, err := NewClient(accountSID, authToken, fake.URL, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	status := publicURL + "/webhooks/twilio/status"
	env.StartWorker(map[string]*outbox.Channel{
		SMS:      {Sender: NewSMSSender(api, "", ourNumber, status), MaxLen: MaxBody, Cost: SMSCost, Gate: outbox.NewGate(1000, 1000, gate...)},
		WhatsApp: {Sender: NewWhatsAppSender(api, "whatsapp:"+ourNumber, status), MaxLen: MaxBody, Gate: outbox.NewGate(1000, 1000, gate...)},
	}, opts)
}

func TestRepliesReachTwilio(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, SMS, WhatsApp)
	fake := twiliotest.NewServer(t, accountSID, authToken)
	h := newHandler(env)
	for _, file := range []string{"inbound_sms_bonjour.form", "inbound_whatsapp_hello.form"} {
		rec := httptest.NewRecorder()
		h.Inbound(rec, signed("/webhooks/twilio", file, authToken, nil)(t))
	}
	worker(t, env, fake, outbox.Options{})
	calls := fake.WaitAccepted(t, 4, 10*time.Second)
	var sms, wa int
	for _, c := range calls {
		switch {
		case c.To == person && c.From == ourNumber:
			sms++
		case c.To == "whatsapp:"+person && c.From == "whatsapp:"+ourNumber:
			wa++
		default:
			t.Errorf("unexpected call To=%q From=%q", c.To, c.From)
		}
		if c.StatusCallback != publicURL+"/webhooks/twilio/status" {
			t.Errorf("StatusCallback %q", c.StatusCallback)
		}
	}
	if sms != 2 || wa != 2 {
		t.Errorf("%d SMS and %d WhatsApp sends, want 2 and 2", sms, wa)
	}
	if !strings.Contains(calls[0].Body+calls[1].Body+calls[2].Body+calls[3].Body, env.Text("fr", "main_title")) {
		t.Error("the French menu did not reach Twilio")
	}
	time.Sleep(100 * time.Millisecond) // let the worker acknowledge
	if n := len(fake.Calls()); n != 4 {
		t.Errorf("%d calls to Twilio, want 4", n)
	}
	if strings.Contains(env.Logs.String(), "612345678") {
		t.Error("the log holds the phone number")
	}
}

func TestSendErrorsAct(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		file   string
		status int
		code   int
		check  func(t *testing.T, env *channeltest.Env)
	}{
		{"63016 on WhatsApp is recorded as needing a template", "inbound_whatsapp_hello.form", 400, 63016, func(t *testing.T, env *channeltest.Env) {
			tpl, err := env.Redis.HGet(context.Background(), env.Store.Keys().ContactState(env.Store.ContactKey(WhatsApp, person)), "tpl").Result()
			if err != nil || tpl == "" {
				t.Errorf("needs-template mark = %q, %v", tpl, err)
			}
		}},
		{"21610 opts the person out", "inbound_sms_bonjour.form", 400, 21610, func(t *testing.T, env *channeltest.Env) {
			if st, _ := env.State(SMS, person); !st.OptedOut {
				t.Error("not opted out")
			}
		}},
		{"30006 stops sending", "inbound_sms_bonjour.form", 400, 30006, func(t *testing.T, env *channeltest.Env) {
			reason, err := env.Dialog.People().Suppressed(context.Background(), env.Store.ContactKey(SMS, person), false)
			if err != nil || reason != "undeliverable" {
				t.Errorf("suppressed = %q, %v; want undeliverable", reason, err)
			}
		}},
		{"21211 stops sending", "inbound_sms_bonjour.form", 400, 21211, func(t *testing.T, env *channeltest.Env) {
			reason, _ := env.Dialog.People().Suppressed(context.Background(), env.Store.ContactKey(SMS, person), false)
			if reason != "undeliverable" {
				t.Errorf("suppressed = %q, want undeliverable", reason)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := channeltest.New(t, SMS, WhatsApp)
			fake := twiliotest.NewServer(t, accountSID, authToken)
			fake.FailTo(person, tt.status, tt.code)
			fake.FailTo("whatsapp:"+person, tt.status, tt.code)
			rec := httptest.NewRecorder()
			newHandler(env).Inbound(rec, signed("/webhooks/twilio", tt.file, authToken, nil)(t))
			worker(t, env, fake, outbox.Options{})
			channeltest.WaitFor(t, func() bool { return len(env.Entries(outbox.Reply)) == 0 })
			tt.check(t, env)
			if n := len(fake.Accepted()); n != 0 {
				t.Errorf("%d messages accepted, want none", n)
			}
		})
	}
}

func TestRetriesThenDeadLetter(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, SMS)
	fake := twiliotest.NewServer(t, accountSID, authToken)
	fake.FailNext(1, 429, 20429)
	fake.FailNext(1, 503, 20500) // failures queue: 429, then 503, then success
	rec := httptest.NewRecorder()
	newHandler(env).Inbound(rec, signed("/webhooks/twilio", "inbound_sms_digit.form", authToken, nil)(t))
	// The 429 pauses the channel: on a clock of the gates' own, so that the
	// pause passes without real time passing. One message, so one sender
	// waits on the clock at a time.
	clock := &jumpClock{now: time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)}
	worker(t, env, fake, outbox.Options{Backoff: func(int) time.Duration { return 10 * time.Millisecond }}, outbox.WithClock(clock))
	calls := fake.WaitAccepted(t, 1, 10*time.Second)
	if len(calls) != 1 || len(fake.Calls()) != 3 {
		t.Errorf("accepted %d of %d calls; want 1 accepted after two failures", len(calls), len(fake.Calls()))
	}
	if waited := clock.Now().Sub(time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)); waited < time.Second {
		t.Errorf("the channel waited %v on its clock after the 429, want the pause Twilio asks for (at least 1 s)", waited)
	}

	// A provider that always fails: bounded tries, then the dead-letter list.
	env = channeltest.New(t, SMS)
	fake = twiliotest.NewServer(t, accountSID, authToken)
	fake.FailTo(person, 500, 20500)
	rec = httptest.NewRecorder()
	newHandler(env).Inbound(rec, signed("/webhooks/twilio", "inbound_sms_digit.form", authToken, nil)(t))
	worker(t, env, fake, outbox.Options{MaxTries: 3, Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	var dead []outbox.DeadLetter
	channeltest.WaitFor(t, func() bool {
		dead, _ = env.Outbox.Dead(context.Background(), 10)
		return len(dead) == 1
	})
	if len(fake.Calls()) != 3 {
		t.Errorf("%d tries, want 3", len(fake.Calls()))
	}
	if dead[0].Reason != "gave_up:twilio_20500" || dead[0].Entry.Tries != 3 {
		t.Errorf("dead letter = %+v", dead[0])
	}
}

func TestLongTextSplitAtCharacters(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, SMS)
	fake := twiliotest.NewServer(t, accountSID, authToken)
	long := strings.Repeat("توزيع المساعدات مجاني ", 120) // 2640 characters, 4800+ bytes
	e := outbox.NewEntry(SMS, env.Store.Seal(person), "", outbox.Reply)
	e.Messages = []outbox.Text{{Text: long}}
	if err := env.Outbox.Enqueue(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	worker(t, env, fake, outbox.Options{})
	calls := fake.WaitAccepted(t, 2, 10*time.Second)
	var joined []string
	for _, c := range calls {
		if n := len([]rune(c.Body)); n > MaxBody {
			t.Errorf("a part of %d characters, over %d", n, MaxBody)
		}
		joined = append(joined, c.Body)
	}
	if got := strings.Join(joined, " "); got != strings.TrimSpace(long) {
		t.Errorf("parts do not join back into the text")
	}
}

func TestStatusCallbacks(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, SMS, WhatsApp)
	h := newHandler(env)
	ctx := context.Background()
	contact := env.Store.ContactKey(SMS, person)
	// A message the outbox sent, as the worker records it.
	post := func(file string, tamper func(url.Values)) int {
		rec := httptest.NewRecorder()
		h.Status(rec, signed("/webhooks/twilio/status", file, authToken, tamper)(t))
		return rec.Code
	}
	f := form(t, "status_delivered.form")
	sid := f.Get("MessageSid")
	d, _, err := env.Outbox.UpdateStatus(ctx, sid, "queued", "")
	if err != nil || d.Status != "queued" {
		t.Fatalf("queued: %+v %v", d, err)
	}
	if code := post("status_delivered.form", nil); code != 200 {
		t.Fatalf("delivered: %d", code)
	}
	// "sent" arriving after "delivered" does not move the state back.
	if code := post("status_sent.form", func(f url.Values) { f.Set("MessageSid", sid); f.Set("SmsSid", sid) }); code != 403 {
		t.Fatalf("a field changed after signing: %d, want 403", code)
	}
	rec := httptest.NewRecorder()
	sent := form(t, "status_sent.form")
	sent.Set("MessageSid", sid)
	r := httptest.NewRequest("POST", "/webhooks/twilio/status", strings.NewReader(sent.Encode()))
	r.Header.Set("X-Twilio-Signature", twiliotest.Sign(authToken, publicURL+"/webhooks/twilio/status", sent))
	h.Status(rec, r)
	d, _, _ = env.Outbox.UpdateStatus(ctx, sid, "queued", "")
	if rec.Code != 200 || d.Status != "delivered" {
		t.Errorf("after sent-after-delivered: %d, status %q; want 200 and delivered", rec.Code, d.Status)
	}

	// 21610 on a failed message opts its person out.
	env.Dialog.Handle(ctx, dialogMessage("Bonjour"))
	failed := form(t, "status_failed_21610.form")
	if err := recordSent(env, failed.Get("MessageSid"), contact); err != nil {
		t.Fatal(err)
	}
	if code := post("status_failed_21610.form", nil); code != 200 {
		t.Fatalf("failed 21610: %d", code)
	}
	if st, _ := env.State(SMS, person); !st.OptedOut {
		t.Error("21610 did not opt the person out")
	}
	// An unknown status is acknowledged and ignored; a forged one refused.
	if code := post("status_delivered.form", func(f url.Values) {}); code != 200 {
		t.Errorf("replayed callback: %d", code)
	}
	if code := post("status_delivered.form", func(f url.Values) { f.Set("MessageStatus", "read") }); code != 403 {
		t.Errorf("forged status: %d, want 403", code)
	}
}

func dialogMessage(text string) dialog.Message {
	return dialog.Message{Channel: SMS, Address: person, Text: text}
}

func recordSent(env *channeltest.Env, sid, contact string) error {
	_, _, err := env.Outbox.UpdateStatus(context.Background(), sid, "queued", "")
	if err != nil {
		return err
	}
	return env.Redis.HSet(context.Background(), env.Store.Keys().Delivery(sid), "ck", contact).Err()
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want outbox.Failure
	}{
		{&client.TwilioRestError{Code: 21610, Status: 400}, outbox.OptedOut},
		{&client.TwilioRestError{Code: 30005, Status: 400}, outbox.Undeliverable},
		{&client.TwilioRestError{Code: 63016, Status: 400}, outbox.NeedsTemplate},
		{&client.TwilioRestError{Code: 20429, Status: 429}, outbox.Retry},
		{&client.TwilioRestError{Code: 20500, Status: 500}, outbox.Retry},
		{&client.TwilioRestError{Code: 21617, Status: 400}, outbox.Permanent},
		{fmt.Errorf("wrapped: %w", &url.Error{Op: "Post", URL: "x", Err: context.DeadlineExceeded}), outbox.Retry},
	}
	for _, tt := range tests {
		got := Classify(tt.err)
		if got.Failure != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got.Failure, tt.want)
		}
		if strings.Contains(got.Reason, "+") {
			t.Errorf("reason %q may hold a number", got.Reason)
		}
	}
}
