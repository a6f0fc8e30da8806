package twiliotest

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

const (
	testSID   = "AC00000000000000000000000000000001"
	testToken = "0123456789abcdef0123456789abcdef"
)

// rewriteTransport sends every request to the fake, whatever host twilio-go
// aimed at.
type rewriteTransport struct{ target *url.URL }

func (rt rewriteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme = rt.target.Scheme
	req.URL.Host = rt.target.Host
	req.Host = rt.target.Host
	return http.DefaultTransport.RoundTrip(req)
}

// newClient returns a real twilio-go client that reaches srv.
func newClient(t *testing.T, srv *Server, sid, token string, timeout time.Duration) *twilio.RestClient {
	t.Helper()
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cl := &client.Client{
		Credentials: client.NewCredentials(sid, token),
		HTTPClient:  &http.Client{Transport: rewriteTransport{target}, Timeout: timeout},
	}
	cl.SetAccountSid(sid)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: cl})
}

func sms(to, body string) *openapi.CreateMessageParams {
	p := &openapi.CreateMessageParams{}
	p.SetTo(to)
	p.SetFrom("+212522000000")
	p.SetBody(body)
	p.SetStatusCallback("https://bot.example.com/webhooks/twilio/status")
	return p
}

func restError(t *testing.T, err error) *client.TwilioRestError {
	t.Helper()
	var re *client.TwilioRestError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v (%T), want *client.TwilioRestError", err, err)
	}
	return re
}

func TestSignPublishedVector(t *testing.T) {
	t.Parallel()
	params := url.Values{
		"Digits":                {"1234"},
		"CallSid":               {"CA1234567890ABCDE"},
		"To":                    {"+18005551212"},
		"Caller":                {"+14158675309"},
		"From":                  {"+14158675309"},
		"ReasonConferenceEnded": {"test"},
		"Reason":                {"Participant"},
	}
	const u = "https://mycompany.com/myapp.php?foo=1&bar=2"
	got := Sign("12345", u, params)
	if want := "vOEb5UThFn24KEfnOFLQY2AE5FY="; got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
	validator := client.NewRequestValidator("12345")
	if !validator.Validate(u, map[string]string{
		"Digits": "1234", "CallSid": "CA1234567890ABCDE", "To": "+18005551212",
		"Caller": "+14158675309", "From": "+14158675309",
		"ReasonConferenceEnded": "test", "Reason": "Participant",
	}, got) {
		t.Error("twilio-go's RequestValidator rejects Sign's signature")
	}
}

func TestSignMatchesTwilioGo(t *testing.T) {
	t.Parallel()
	params := url.Values{
		"Body":       {"مرحبا & bonjour = 1+1"},
		"From":       {"whatsapp:+212612345678"},
		"MessageSid": {"SM0123456789abcdef0123456789abcdef"},
		"NumMedia":   {"0"},
		"OptOutType": {""},
	}
	flat := map[string]string{}
	for k := range params {
		flat[k] = params.Get(k)
	}
	const u = "https://bot.example.com/webhooks/twilio"
	sig := Sign(testToken, u, params)
	validator := client.NewRequestValidator(testToken)
	if !validator.Validate(u, flat, sig) {
		t.Errorf("twilio-go's RequestValidator rejects Sign's signature %q", sig)
	}
	if other := Sign("another", u, params); other == sig {
		t.Error("Sign ignores the auth token")
	}
}

func TestCreateMessageThroughTwilioGo(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testSID, testToken)
	c := newClient(t, srv, testSID, testToken, 5*time.Second)

	msg, err := c.Api.CreateMessage(sms("+212612345678", "Bonjour"))
	if err != nil {
		t.Fatalf("CreateMessage: %v", err)
	}
	if msg.Sid == nil || !regexp.MustCompile(`^SM[0-9a-f]{32}$`).MatchString(*msg.Sid) {
		t.Fatalf("sid = %v, want SM + 32 lowercase hex", msg.Sid)
	}
	if got, want := *msg.Status, "queued"; got != want {
		t.Errorf("status = %q, want %q", got, want)
	}
	if got, want := *msg.NumSegments, "1"; got != want {
		t.Errorf("num_segments = %q, want %q", got, want)
	}
	if *msg.AccountSid != testSID || *msg.To != "+212612345678" || *msg.Body != "Bonjour" {
		t.Errorf("resource = account %q to %q body %q", *msg.AccountSid, *msg.To, *msg.Body)
	}

	calls := srv.WaitAccepted(t, 1, time.Second)
	want := Call{
		To:             "+212612345678",
		From:           "+212522000000",
		Body:           "Bonjour",
		StatusCallback: "https://bot.example.com/webhooks/twilio/status",
		SID:            *msg.Sid,
		Status:         http.StatusCreated,
	}
	got := calls[0]
	if got.Params.Get("Body") != "Bonjour" {
		t.Errorf("Params = %v, want the form received", got.Params)
	}
	got.Params = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("call = %+v, want %+v", got, want)
	}
}

func TestMessagingServiceAndTemplate(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testSID, testToken)
	c := newClient(t, srv, testSID, testToken, 5*time.Second)

	p := &openapi.CreateMessageParams{}
	p.SetTo("whatsapp:+212612345678")
	p.SetMessagingServiceSid("MG00000000000000000000000000000001")
	p.SetContentSid("HX00000000000000000000000000000001")
	p.SetContentVariables(`{"1":"Amina"}`)
	msg, err := c.Api.CreateMessage(p)
	if err != nil {
		t.Fatalf("CreateMessage: %v", err)
	}
	if *msg.Status != "accepted" || msg.From != nil {
		t.Errorf("status %q from %v, want accepted and no from", *msg.Status, msg.From)
	}
	got := srv.Accepted()[0]
	if got.ContentSid != "HX00000000000000000000000000000001" || got.ContentVariables != `{"1":"Amina"}` ||
		got.MessagingServiceSid != "MG00000000000000000000000000000001" {
		t.Errorf("call = %+v", got)
	}
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testSID, testToken)
	c := newClient(t, srv, testSID, testToken, 5*time.Second)

	srv.FailNext(1, 400, 21610)
	_, err := c.Api.CreateMessage(sms("+212612345678", "Bonjour"))
	re := restError(t, err)
	if re.Code != 21610 || re.Status != 400 || re.MoreInfo != "https://www.twilio.com/docs/errors/21610" {
		t.Errorf("error = %+v, want code 21610 status 400", re)
	}
	if _, err := c.Api.CreateMessage(sms("+212612345678", "Bonjour")); err != nil {
		t.Fatalf("second CreateMessage: %v", err)
	}
	calls := srv.Calls()
	if len(calls) != 2 || calls[0].Status != 400 || calls[0].SID != "" || calls[1].Status != 201 {
		t.Errorf("calls = %+v, want a 400 then a 201", calls)
	}
	if n := len(srv.Accepted()); n != 1 {
		t.Errorf("accepted %d, want 1", n)
	}
}

// TestRateLimitNext: a 429 as Twilio answers it, with its Retry-After
// header, reached through twilio-go.
func TestRateLimitNext(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testSID, testToken)
	var headers []string
	target, _ := url.Parse(srv.URL)
	cl := &client.Client{Credentials: client.NewCredentials(testSID, testToken), HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := rewriteTransport{target}.RoundTrip(r)
		if err == nil {
			headers = append(headers, resp.Header.Get("Retry-After"))
		}
		return resp, err
	})}}
	cl.SetAccountSid(testSID)
	c := twilio.NewRestClientWithParams(twilio.ClientParams{Client: cl})
	srv.RateLimitNext(1, 1500*time.Millisecond)
	srv.RateLimitNext(1, 0)
	for _, want := range []string{"2", ""} {
		_, err := c.Api.CreateMessage(sms("+212612345678", "Bonjour"))
		if re := restError(t, err); re.Code != 20429 || re.Status != 429 || re.Message != "Too Many Requests" {
			t.Errorf("error = %+v, want 429 / 20429", re)
		}
		if got := headers[len(headers)-1]; got != want {
			t.Errorf("Retry-After %q, want %q", got, want)
		}
	}
	if _, err := c.Api.CreateMessage(sms("+212612345678", "Bonjour")); err != nil {
		t.Fatalf("after the rate limits: %v", err)
	}
	if got := headers[len(headers)-1]; got != "" {
		t.Errorf("Retry-After %q on a success", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestFailTo(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testSID, testToken)
	c := newClient(t, srv, testSID, testToken, 5*time.Second)

	srv.FailTo("whatsapp:+212612345678", 400, 63016)
	p := sms("whatsapp:+212612345678", "hello")
	p.SetFrom("whatsapp:+212522000000")
	for range 2 {
		if re := restError(t, func() error { _, err := c.Api.CreateMessage(p); return err }()); re.Code != 63016 {
			t.Errorf("code = %d, want 63016", re.Code)
		}
	}
	if _, err := c.Api.CreateMessage(sms("+212612345679", "other")); err != nil {
		t.Errorf("other recipient: %v", err)
	}
	srv.FailTo("whatsapp:+212612345678", 0, 0)
	if _, err := c.Api.CreateMessage(p); err != nil {
		t.Errorf("after clearing: %v", err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testSID, testToken)
	good := newClient(t, srv, testSID, testToken, 5*time.Second)

	tests := []struct {
		name   string
		client *twilio.RestClient
		params *openapi.CreateMessageParams
		status int
		code   int
	}{
		{"wrong token", newClient(t, srv, testSID, "wrongtoken", 5*time.Second), sms("+212612345678", "x"), 401, 20003},
		{"invalid number", good, sms("0612345678", "x"), 400, 21211},
		{"no body", good, sms("+212612345678", ""), 400, 21602},
		{"too long", good, sms("+212612345678", strings.Repeat("a", 1601)), 400, 21617},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.Api.CreateMessage(tt.params)
			re := restError(t, err)
			if re.Status != tt.status || re.Code != tt.code || re.Message == "" {
				t.Errorf("error = %+v, want status %d code %d", re, tt.status, tt.code)
			}
		})
	}
	if n := len(srv.Accepted()); n != 0 {
		t.Errorf("accepted %d, want 0", n)
	}

	// A path the fake does not serve.
	_, err := good.Api.FetchMessage("SM00000000000000000000000000000000", nil)
	if re := restError(t, err); re.Status != 404 || re.Code != 20404 {
		t.Errorf("fetch = %+v, want 404 code 20404", re)
	}
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testSID, testToken)
	c := newClient(t, srv, testSID, testToken, 5*time.Second)
	for _, code := range []int{21610, 21211, 30005, 30006, 63016, 20429, 20500, 12345} {
		status := 400
		if code == 20429 {
			status = 429
		}
		if code == 20500 {
			status = 500
		}
		srv.FailNext(1, status, code)
		_, err := c.Api.CreateMessage(sms("+212612345678", "x"))
		re := restError(t, err)
		if re.Code != code || re.Status != status || re.Message == "" {
			t.Errorf("code %d: error = %+v", code, re)
		}
		if code == 21211 && !strings.Contains(re.Message, "+212612345678") {
			t.Errorf("21211 message %q does not name the number", re.Message)
		}
	}
}

func TestSegments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		to, body string
		want     int
	}{
		{"+212612345678", "Bonjour", 1},
		{"+212612345678", strings.Repeat("é", 160), 1},
		{"+212612345678", strings.Repeat("a", 161), 2},
		{"+212612345678", strings.Repeat("€", 80), 1},
		{"+212612345678", strings.Repeat("€", 81), 2},
		{"+212612345678", "مرحبا", 1},
		{"+212612345678", strings.Repeat("م", 71), 2},
		{"+212612345678", strings.Repeat("a", 1600), 11},
		{"whatsapp:+212612345678", strings.Repeat("a", 1600), 1},
	}
	for _, tt := range tests {
		if got := segments(tt.to, tt.body); got != tt.want {
			t.Errorf("segments(%q, %d runes) = %d, want %d", tt.to, len([]rune(tt.body)), got, tt.want)
		}
	}
}

func TestDelayStopsWhenClientGoesAway(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testSID, testToken)
	c := newClient(t, srv, testSID, testToken, 50*time.Millisecond)
	srv.SetDelay(time.Minute)

	done := make(chan error, 1)
	go func() {
		_, err := c.Api.CreateMessage(sms("+212612345678", "x"))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("CreateMessage succeeded despite the client timeout")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("CreateMessage did not return")
	}
	// The handler records the call once it sees the client gone.
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Calls()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	calls := srv.Calls()
	if len(calls) != 1 || calls[0].Status != 0 || calls[0].SID != "" {
		t.Errorf("calls = %+v, want one unanswered call", calls)
	}

	// The server answers again. A client of its own, with room for a
	// loaded machine under -race: 50 ms was the bound of the call above,
	// not of this one.
	srv.SetDelay(0)
	again := newClient(t, srv, testSID, testToken, 10*time.Second)
	if _, err := again.Api.CreateMessage(sms("+212612345678", "x")); err != nil {
		t.Errorf("after SetDelay(0): %v", err)
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testSID, testToken)
	c := newClient(t, srv, testSID, testToken, 5*time.Second)
	srv.FailNext(5, 429, 20429)

	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := c.Api.CreateMessage(sms(fmt.Sprintf("+2126123456%02d", i), "x"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if re := restError(t, err); re.Code != 20429 {
				t.Errorf("code = %d, want 20429", re.Code)
			}
			failed++
		}
	}
	if failed != 5 {
		t.Errorf("%d failed, want 5", failed)
	}
	accepted := srv.WaitAccepted(t, n-5, time.Second)
	seen := map[string]bool{}
	for _, c := range accepted {
		if seen[c.SID] {
			t.Errorf("sid %s answered twice", c.SID)
		}
		seen[c.SID] = true
	}
	if len(srv.Calls()) != n {
		t.Errorf("%d calls, want %d", len(srv.Calls()), n)
	}
}

// TestTestdata checks that each payload in ../testdata is one line of form
// parameters with Twilio's common fields and the values its name promises.
func TestTestdata(t *testing.T) {
	t.Parallel()
	inbound := map[string]string{"SmsStatus": "received", "AccountSid": testSID, "ApiVersion": "2010-04-01"}
	status := map[string]string{"AccountSid": testSID, "ApiVersion": "2010-04-01"}
	tests := map[string]struct {
		common map[string]string
		want   map[string]string
	}{
		"inbound_sms_bonjour.form": {inbound, map[string]string{"Body": "Bonjour", "To": "+212522000000", "From": "+212612345678", "NumMedia": "0"}},
		"inbound_sms_arabic.form":  {inbound, map[string]string{"Body": "مرحبا", "NumSegments": "1"}},
		"inbound_sms_digit.form":   {inbound, map[string]string{"Body": "2"}},
		"inbound_sms_stop.form":    {inbound, map[string]string{"Body": "STOP", "OptOutType": "STOP"}},
		"inbound_sms_mms_no_body.form": {inbound, map[string]string{"Body": "", "NumMedia": "1",
			"MediaContentType0": "image/jpeg"}},
		"inbound_sms_long.form": {inbound, map[string]string{"NumSegments": "11"}},
		"inbound_sms_site.form": {inbound, map[string]string{"Body": "NADOR", "NumMedia": "0"}},
		"inbound_whatsapp_location.form": {inbound, map[string]string{"Body": "", "MessageType": "location", "NumMedia": "0",
			"Latitude": "35.168796", "Longitude": "-2.933542", "From": "whatsapp:+212612345678"}},
		"inbound_whatsapp_hello.form": {inbound, map[string]string{"Body": "hello", "From": "whatsapp:+212612345678",
			"To": "whatsapp:+212522000000", "WaId": "212612345678", "ProfileName": "Amina", "MessageType": "text"}},
		"inbound_whatsapp_button.form": {inbound, map[string]string{"Body": "Next distributions", "ButtonText": "Next distributions",
			"ButtonPayload": "1", "MessageType": "button", "From": "whatsapp:+212612345678", "WaId": "212612345678"}},
		"status_sent.form":              {status, map[string]string{"MessageStatus": "sent", "SmsStatus": "sent", "To": "+212612345678"}},
		"status_delivered.form":         {status, map[string]string{"MessageStatus": "delivered"}},
		"status_undelivered_30006.form": {status, map[string]string{"MessageStatus": "undelivered", "ErrorCode": "30006"}},
		"status_failed_21610.form":      {status, map[string]string{"MessageStatus": "failed", "ErrorCode": "21610"}},
		"status_whatsapp_read.form": {status, map[string]string{"MessageStatus": "read", "EventType": "READ",
			"To": "whatsapp:+212612345678", "ChannelPrefix": "whatsapp"}},
		"status_whatsapp_failed_63016.form": {status, map[string]string{"MessageStatus": "failed", "ErrorCode": "63016",
			"From": "whatsapp:+212522000000"}},
	}
	sidPattern := regexp.MustCompile(`^(SM|MM)[0-9a-f]{32}$`)

	files, err := filepath.Glob(filepath.Join("..", "testdata", "*.form"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d files in ../testdata, want %d", len(files), len(tests))
	}
	sids := map[string]string{}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			tt, ok := tests[name]
			if !ok {
				t.Fatalf("no check for %s", name)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.ContainsAny(data, "\r\n ") {
				t.Error("not a single line of encoded parameters")
			}
			form, err := url.ParseQuery(string(data))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			for k, vs := range form {
				if len(vs) != 1 {
					t.Errorf("%s given %d times", k, len(vs))
				}
			}
			sid := form.Get("MessageSid")
			if !sidPattern.MatchString(sid) || form.Get("SmsSid") != sid {
				t.Errorf("MessageSid %q, SmsSid %q", sid, form.Get("SmsSid"))
			}
			if other, dup := sids[sid]; dup {
				t.Errorf("MessageSid also in %s", other)
			}
			sids[sid] = name
			for _, want := range []map[string]string{tt.common, tt.want} {
				for k, v := range want {
					if got, ok := form[k]; !ok || got[0] != v {
						t.Errorf("%s = %q, want %q", k, got, v)
					}
				}
			}
			if strings.HasPrefix(name, "inbound_") && form.Get("SmsMessageSid") != sid {
				t.Errorf("SmsMessageSid %q, want %q", form.Get("SmsMessageSid"), sid)
			}
			if name == "inbound_sms_long.form" {
				if n := utf8.RuneCountInString(form.Get("Body")); n != 1600 {
					t.Errorf("Body has %d characters, want 1600", n)
				}
				if got := segments(form.Get("To"), form.Get("Body")); strconv.Itoa(got) != form.Get("NumSegments") {
					t.Errorf("Body takes %d segments, NumSegments says %s", got, form.Get("NumSegments"))
				}
			}
		})
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message instead of
// stopping the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func TestWaitAcceptedTimeout(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testSID, testToken)
	c := newClient(t, srv, testSID, testToken, 5*time.Second)
	srv.FailNext(1, 400, 21610)
	c.Api.CreateMessage(sms("+212612345678", "Bonjour"))

	rec := &fatalRecorder{TB: t}
	srv.WaitAccepted(rec, 1, 20*time.Millisecond)
	for _, want := range []string{"got 0 of 1 calls", "status 400", `To "+212612345678"`} {
		if !strings.Contains(rec.msg, want) {
			t.Errorf("message %q does not contain %q", rec.msg, want)
		}
	}
}

func TestAnswerDelayCreatesTheMessageAnyway(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testSID, testToken)
	c := newClient(t, srv, testSID, testToken, 50*time.Millisecond)
	srv.SetAnswerDelay(time.Minute)
	if _, err := c.Api.CreateMessage(sms("+212612345678", "late")); err == nil {
		t.Fatal("CreateMessage succeeded despite the client timeout")
	}
	// The message exists at once; the answer finds the client gone.
	accepted := srv.Accepted()
	if len(accepted) != 1 || accepted[0].SID == "" || accepted[0].Body != "late" {
		t.Fatalf("accepted = %+v, want the message created", accepted)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !srv.Calls()[0].Unanswered && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !srv.Calls()[0].Unanswered {
		t.Error("the call is not marked unanswered")
	}
	rows, err := c.Api.ListMessage(&openapi.ListMessageParams{To: ptr("+212612345678")})
	if err != nil || len(rows) != 1 || *rows[0].Sid != accepted[0].SID {
		t.Errorf("list = %v, %v; want the late message", rows, err)
	}

	srv.SetAnswerDelay(0)
	if _, err := c.Api.CreateMessage(sms("+212612345678", "x")); err != nil {
		t.Errorf("after SetAnswerDelay(0): %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestListMessages(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testSID, testToken)
	c := newClient(t, srv, testSID, testToken, 5*time.Second)
	var sids []string
	for i, to := range []string{"+212612345678", "+212612345679", "+212612345678", "+212612345678"} {
		m, err := c.Api.CreateMessage(sms(to, fmt.Sprint("text ", i)))
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, *m.Sid)
	}
	svc := &openapi.CreateMessageParams{}
	svc.SetTo("+212612345678")
	svc.SetMessagingServiceSid("MG00000000000000000000000000000001")
	svc.SetBody("from the service")
	if _, err := c.Api.CreateMessage(svc); err != nil {
		t.Fatal(err)
	}

	// To and From, newest first, through twilio-go's paging (2 a page).
	rows, err := c.Api.ListMessage(&openapi.ListMessageParams{To: ptr("+212612345678"), From: ptr("+212522000000"), PageSize: ptr(2)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, *r.Sid)
		if *r.Body == "" || r.DateCreated == nil || *r.Direction != "outbound-api" {
			t.Errorf("row %+v lacks body, date or direction", r)
		}
	}
	if want := []string{sids[3], sids[2], sids[0]}; !reflect.DeepEqual(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
	// To alone takes the Messaging Service's message too; Limit stops early.
	rows, err = c.Api.ListMessage(&openapi.ListMessageParams{To: ptr("+212612345678"), Limit: ptr(1)})
	if err != nil || len(rows) != 1 || rows[0].MessagingServiceSid == nil || *rows[0].Body != "from the service" {
		t.Errorf("To alone, limit 1: %v, %v", rows, err)
	}
	if l := srv.Lists(); len(l) != 3 {
		t.Errorf("%d list requests, want 3 (two pages, then one)", len(l))
	} else if q := l[2]; q.Get("PageSize") != "1" || q.Get("To") != "+212612345678" || q.Has("From") {
		t.Errorf("list query %v", q)
	}

	// DateSent compares days of date_sent, which a queued message lacks.
	today := time.Now().UTC()
	after := &openapi.ListMessageParams{To: ptr("+212612345678"), DateSentAfter: ptr(today)}
	if rows, err := c.Api.ListMessage(after); err != nil || len(rows) != 0 {
		t.Errorf("DateSent> with nothing sent yet: %d rows, %v; want none", len(rows), err)
	}
	if !srv.SetStatus(sids[2], "sent", today) {
		t.Fatal("SetStatus did not find the message")
	}
	if rows, err := c.Api.ListMessage(after); err != nil || len(rows) != 1 || *rows[0].Sid != sids[2] {
		t.Errorf("DateSent> today: %v, %v; want the message sent", rows, err)
	}
	later := &openapi.ListMessageParams{To: ptr("+212612345678"), DateSentAfter: ptr(today.Add(48 * time.Hour))}
	if rows, err := c.Api.ListMessage(later); err != nil || len(rows) != 0 {
		t.Errorf("DateSent> the day after tomorrow: %d rows, %v", len(rows), err)
	}
	before := &openapi.ListMessageParams{DateSentBefore: ptr(today.Add(-48 * time.Hour))}
	if rows, err := c.Api.ListMessage(before); err != nil || len(rows) != 0 {
		t.Errorf("DateSent< two days ago: %d rows, %v", len(rows), err)
	}

	// Authentication holds for lists too.
	_, err = newClient(t, srv, testSID, "wrongtoken", 5*time.Second).Api.ListMessage(nil)
	if re := restError(t, err); re.Status != 401 {
		t.Errorf("list with a wrong token: %+v", re)
	}
}
