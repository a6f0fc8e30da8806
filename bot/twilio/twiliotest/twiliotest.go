// Package twiliotest provides a fake of Twilio's Messages REST API, to be
// reached through the real twilio-go SDK, and an implementation of Twilio's
// request signature written independently of twilio-go.
//
// The fake answers what Twilio answers: a message resource with status 201, or
// Twilio's error JSON with the matching HTTP status
// (https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions).
// twilio-go has no base-URL option, so a test reaches the fake through an
// *http.Client whose Transport rewrites the request's scheme and host to those
// of Server.URL.
package twiliotest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Server is a fake Twilio REST API. It serves
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json (create a message)
// and GET on the same path (list the messages created, newest first,
// filtered by To, From and DateSent) with HTTP basic authentication, and
// answers 404 to anything else. It is safe for concurrent use.
type Server struct {
	// URL is the base URL of the fake, such as http://127.0.0.1:12345.
	URL string

	accountSID string
	authToken  string

	mu       sync.Mutex
	calls    []Call
	sids     map[string]bool
	failNext []twilioError
	failTo   map[string]twilioError
	delay    time.Duration
	// answerDelay holds back the answer to a message already created.
	answerDelay time.Duration
	// messages are the messages created, oldest first, for the list.
	messages []*messageResource
	lists    []url.Values
}

// Call is one request to Messages.json, as received and as answered.
type Call struct {
	To                  string
	From                string
	MessagingServiceSid string
	Body                string
	StatusCallback      string
	ContentSid          string
	ContentVariables    string
	// Params holds every form parameter received, MediaUrl included.
	Params url.Values

	// SID is the SM… sid of the message created, empty when the request was
	// answered with an error.
	SID string
	// Status is the HTTP status answered: 201 when the message was accepted,
	// 0 when the client went away before the answer.
	Status int
	// Unanswered is set on a message created whose answer, held back by
	// SetAnswerDelay, found the client gone: the message exists at Twilio,
	// but the client never learned its SID.
	Unanswered bool
}

// twilioError is the body of a Twilio REST API error.
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`

	// retryAfter, when set, is sent as the Retry-After header.
	retryAfter string
}

// maxBody bounds a request body; Twilio's own limit on a message is far lower.
const maxBody = 1 << 20

// NewServer starts a fake Twilio REST API that accepts the basic-auth
// credentials accountSID:authToken. t.Cleanup closes it.
func NewServer(t testing.TB, accountSID, authToken string) *Server {
	t.Helper()
	s := &Server{
		accountSID: accountSID,
		authToken:  authToken,
		sids:       make(map[string]bool),
		failTo:     make(map[string]twilioError),
	}
	ts := httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// Calls returns every POST to a Messages.json path received so far, in the
// order they were answered.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Accepted returns the calls answered 201, in order.
func (s *Server) Accepted() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var accepted []Call
	for _, c := range s.calls {
		if c.Status == http.StatusCreated {
			accepted = append(accepted, c)
		}
	}
	return accepted
}

// WaitAccepted polls until at least n calls were answered 201 and returns all
// the accepted calls. After timeout it fails the test with what was received.
// Like t.Fatalf, it must be called from the goroutine running the test.
func (s *Server) WaitAccepted(t testing.TB, n int, timeout time.Duration) []Call {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if accepted := s.Accepted(); len(accepted) >= n {
			return accepted
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	calls := s.Calls()
	var b strings.Builder
	for i, c := range calls {
		fmt.Fprintf(&b, "\n  %d: status %d, To %q, From %q, MessagingServiceSid %q, Body %q",
			i, c.Status, c.To, c.From, c.MessagingServiceSid, c.Body)
	}
	accepted := s.Accepted()
	t.Fatalf("twiliotest: waited %v for %d accepted messages, got %d of %d calls:%s",
		timeout, n, len(accepted), len(calls), b.String())
	return accepted
}

// FailNext makes the next n requests answer the Twilio error code with the
// HTTP status, before any other check but authentication. Calls add up: the
// failures queued by an earlier call are answered first.
func (s *Server) FailNext(n, status, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext = append(s.failNext, newError(status, code, ""))
	}
}

// RateLimitNext makes the next n requests answer as Twilio does when the
// account sends too fast: HTTP 429, error 20429, and a Retry-After header
// of retryAfter, in whole seconds rounded up (none when retryAfter is 0).
// Like FailNext's, the answers queue after those already queued.
func (s *Server) RateLimitNext(n int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := newError(http.StatusTooManyRequests, 20429, "")
	if retryAfter > 0 {
		e.retryAfter = strconv.FormatInt(int64((retryAfter+time.Second-1)/time.Second), 10)
	}
	for range n {
		s.failNext = append(s.failNext, e)
	}
}

// FailTo makes every request whose To is to answer the Twilio error code with
// the HTTP status, until FailTo is called again for to with status 0.
func (s *Server) FailTo(to string, status, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if status == 0 {
		delete(s.failTo, to)
		return
	}
	s.failTo[to] = newError(status, code, to)
}

// SetDelay makes each request wait d before it is answered. A request whose
// client goes away while it waits is recorded with Status 0 and creates
// nothing.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetAnswerDelay makes each accepted message wait d before its answer, as a
// slow provider does: the message is created (Accepted lists it) when the
// request arrives, whether or not the client is still there to read the
// answer. A client that gives up first sees a timeout; the call is marked
// Unanswered.
func (s *Server) SetAnswerDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answerDelay = d
}

// Lists returns the query of every list request (GET Messages.json)
// received so far, in order.
func (s *Server) Lists() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]url.Values, len(s.lists))
	for i, q := range s.lists {
		out[i] = cloneValues(q)
	}
	return out
}

// SetStatus moves a message created to status, as Twilio does when it
// sends or delivers it; a message sent gets its date_sent, at, the only
// date the DateSent filters match. It reports false when no message has
// the sid.
func (s *Server) SetStatus(sid, status string, at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.SID == sid {
			m.Status = status
			date := at.UTC().Format(time.RFC1123Z)
			m.DateUpdated = date
			if m.DateSent == nil && status != "queued" && status != "accepted" && status != "scheduled" {
				m.DateSent = &date
			}
			return true
		}
	}
	return false
}

// Sign computes the X-Twilio-Signature header Twilio sends with a webhook
// request to fullURL with the form params: base64 of the HMAC-SHA1, keyed with
// the auth token, of the URL followed by each parameter's key and first value,
// keys sorted. See https://www.twilio.com/docs/usage/security#validating-requests.
func Sign(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(params.Get(k))
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	pathSID, isMessages := messagesPath(r.URL.Path)
	isList := isMessages && r.Method == http.MethodGet
	isMessages = isMessages && r.Method == http.MethodPost

	// A Messages.json request is recorded whatever its answer, so its form
	// is read first.
	var call *Call
	if isMessages {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		if err := r.ParseForm(); err != nil {
			e := newError(http.StatusBadRequest, 0, "")
			e.Message = "Unable to parse request: " + err.Error()
			s.answerError(w, &Call{Params: url.Values{}}, e)
			return
		}
		c := callFromForm(r.PostForm)
		call = &c
	}

	if !s.wait(r) {
		if call != nil {
			s.record(*call) // Status 0: nothing was answered.
		}
		return
	}

	user, pass, ok := r.BasicAuth()
	if !ok || user != s.accountSID || pass != s.authToken {
		e := newError(http.StatusUnauthorized, 20003, "")
		if !ok {
			e.Message = "Authentication Error - No credentials provided"
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		s.answerError(w, call, e)
		return
	}
	if isList && pathSID == s.accountSID {
		s.list(w, r.URL.Query())
		return
	}
	if call == nil || pathSID != s.accountSID {
		e := newError(http.StatusNotFound, 20404, "")
		e.Message = fmt.Sprintf("The requested resource %s was not found", r.URL.Path)
		s.answerError(w, call, e)
		return
	}

	s.mu.Lock()
	if e, failed := s.check(*call); failed {
		s.mu.Unlock()
		s.answerError(w, call, e)
		return
	}
	call.SID = s.newSID()
	call.Status = http.StatusCreated
	s.calls = append(s.calls, *call)
	at := len(s.calls) - 1
	m := s.resource(*call, time.Now())
	s.messages = append(s.messages, &m)
	answer := m
	delay := s.answerDelay
	s.mu.Unlock()

	if delay > 0 && !sleepUnlessGone(r, delay) {
		s.mu.Lock()
		s.calls[at].Unanswered = true
		s.mu.Unlock()
		return
	}
	writeJSON(w, http.StatusCreated, answer)
}

// sleepUnlessGone waits d and reports false if the client went away
// meanwhile.
func sleepUnlessGone(r *http.Request, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// list answers a list request: the messages created, newest first, that
// match every filter given, a page at a time
// (https://www.twilio.com/docs/messaging/api/message-resource#read-multiple-message-resources).
// DateSent, DateSent< and DateSent> (twilio-go's DateSent, DateSentBefore,
// DateSentAfter; "DateSent>=" on the wire) compare days, in GMT, as Twilio
// documents: a value with a time of day counts for its day. They match
// date_sent, which a message only has once sent (SetStatus): a message
// still queued matches none of them.
func (s *Server) list(w http.ResponseWriter, q url.Values) {
	s.mu.Lock()
	s.lists = append(s.lists, cloneValues(q))
	s.mu.Unlock()

	size, page := 50, 0
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			s.answerError(w, nil, newError(http.StatusBadRequest, 20001, ""))
			return
		}
		size = n
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.answerError(w, nil, newError(http.StatusBadRequest, 20001, ""))
			return
		}
		page = n
	}
	type dayFilter struct {
		day time.Time
		cmp func(sent, day time.Time) bool
	}
	var days []dayFilter
	for _, f := range []struct {
		keys []string
		cmp  func(sent, day time.Time) bool
	}{
		{[]string{"DateSent"}, func(sent, day time.Time) bool { return sent.Equal(day) }},
		{[]string{"DateSent>", "DateSent>="}, func(sent, day time.Time) bool { return !sent.Before(day) }},
		{[]string{"DateSent<", "DateSent<="}, func(sent, day time.Time) bool { return !sent.After(day) }},
	} {
		for _, k := range f.keys {
			if v := q.Get(k); v != "" {
				day, ok := parseDay(v)
				if !ok {
					e := newError(http.StatusBadRequest, 20001, "")
					e.Message = "Invalid date value."
					s.answerError(w, nil, e)
					return
				}
				days = append(days, dayFilter{day: day, cmp: f.cmp})
			}
		}
	}

	s.mu.Lock()
	var match []messageResource
	for i := len(s.messages) - 1; i >= 0; i-- {
		m := s.messages[i]
		if to := q.Get("To"); to != "" && m.To != to {
			continue
		}
		if from := q.Get("From"); from != "" && (m.From == nil || *m.From != from) {
			continue
		}
		ok := true
		for _, f := range days {
			sent, err := time.Parse(time.RFC1123Z, deref(m.DateSent))
			ok = ok && err == nil && f.cmp(sent.UTC().Truncate(24*time.Hour), f.day)
		}
		if ok {
			match = append(match, *m)
		}
	}
	s.mu.Unlock()

	base := "/2010-04-01/Accounts/" + s.accountSID + "/Messages.json"
	uri := func(p int) string {
		v := url.Values{}
		for _, k := range []string{"To", "From", "DateSent", "DateSent>", "DateSent>=", "DateSent<", "DateSent<="} {
			if q.Has(k) {
				v.Set(k, q.Get(k))
			}
		}
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(p))
		return base + "?" + v.Encode()
	}
	start := min(page*size, len(match))
	end := min(start+size, len(match))
	resp := listPage{
		Messages: match[start:end], Page: page, PageSize: size, Start: start, End: max(end-1, start),
		URI: uri(page), FirstPageURI: uri(0),
	}
	if resp.Messages == nil {
		resp.Messages = []messageResource{}
	}
	if end < len(match) {
		next := uri(page + 1)
		resp.NextPageURI = &next
	}
	if page > 0 {
		prev := uri(page - 1)
		resp.PreviousPageURI = &prev
	}
	writeJSON(w, http.StatusOK, resp)
}

// listPage is the JSON of a page of the Messages list.
type listPage struct {
	End             int               `json:"end"`
	FirstPageURI    string            `json:"first_page_uri"`
	NextPageURI     *string           `json:"next_page_uri"`
	Page            int               `json:"page"`
	PageSize        int               `json:"page_size"`
	PreviousPageURI *string           `json:"previous_page_uri"`
	Start           int               `json:"start"`
	URI             string            `json:"uri"`
	Messages        []messageResource `json:"messages"`
}

// parseDay reads a DateSent value: YYYY-MM-DD, or a time (twilio-go sends
// RFC 3339) standing for its day in GMT.
func parseDay(v string) (time.Time, bool) {
	if d, err := time.Parse("2006-01-02", v); err == nil {
		return d, true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC().Truncate(24 * time.Hour), true
	}
	return time.Time{}, false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// wait waits the delay set by SetDelay and reports false if the client went
// away meanwhile.
func (s *Server) wait(r *http.Request) bool {
	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	if delay <= 0 {
		return true
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// check decides, under s.mu, whether call is answered with an error: queued
// failures first, then failures by recipient, then Twilio's own validation.
func (s *Server) check(call Call) (twilioError, bool) {
	if len(s.failNext) > 0 {
		e := s.failNext[0]
		s.failNext = s.failNext[1:]
		e.Message = errorMessage(e.Code, call.To)
		return e, true
	}
	if e, ok := s.failTo[call.To]; ok {
		return e, true
	}
	return validate(call)
}

// validate applies the checks Twilio makes on a new message
// (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource).
func validate(c Call) (twilioError, bool) {
	switch {
	case c.To == "":
		return newError(http.StatusBadRequest, 21604, ""), true
	case !addressPattern.MatchString(c.To):
		return newError(http.StatusBadRequest, 21211, c.To), true
	case c.From == "" && c.MessagingServiceSid == "":
		return newError(http.StatusBadRequest, 21603, ""), true
	case c.Body == "" && c.ContentSid == "" && len(c.Params["MediaUrl"]) == 0:
		return newError(http.StatusBadRequest, 21602, ""), true
	case utf8.RuneCountInString(c.Body) > 1600:
		return newError(http.StatusBadRequest, 21617, ""), true
	case c.ContentVariables != "" && !json.Valid([]byte(c.ContentVariables)):
		return newError(http.StatusBadRequest, 21656, ""), true
	}
	return twilioError{}, false
}

// addressPattern matches an E.164 number, optionally on the WhatsApp channel.
var addressPattern = regexp.MustCompile(`^(whatsapp:)?\+[1-9][0-9]{6,14}$`)

// answerError answers e and records call, if any, as answered with it.
func (s *Server) answerError(w http.ResponseWriter, call *Call, e twilioError) {
	if call != nil {
		c := *call
		c.Status = e.Status
		s.record(c)
	}
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	writeJSON(w, e.Status, e)
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// newSID returns a message sid not answered before, under s.mu.
func (s *Server) newSID() string {
	for {
		var b [16]byte
		rand.Read(b[:])
		sid := "SM" + hex.EncodeToString(b[:])
		if !s.sids[sid] {
			s.sids[sid] = true
			return sid
		}
	}
}

// messageResource is the JSON of a Message resource
// (https://www.twilio.com/docs/messaging/api/message-resource#message-properties).
type messageResource struct {
	AccountSID          string            `json:"account_sid"`
	APIVersion          string            `json:"api_version"`
	Body                string            `json:"body"`
	DateCreated         string            `json:"date_created"`
	DateSent            *string           `json:"date_sent"`
	DateUpdated         string            `json:"date_updated"`
	Direction           string            `json:"direction"`
	ErrorCode           *int              `json:"error_code"`
	ErrorMessage        *string           `json:"error_message"`
	From                *string           `json:"from"`
	MessagingServiceSID *string           `json:"messaging_service_sid"`
	NumMedia            string            `json:"num_media"`
	NumSegments         string            `json:"num_segments"`
	Price               *string           `json:"price"`
	PriceUnit           string            `json:"price_unit"`
	SID                 string            `json:"sid"`
	Status              string            `json:"status"`
	SubresourceURIs     map[string]string `json:"subresource_uris"`
	To                  string            `json:"to"`
	URI                 string            `json:"uri"`
}

// resource builds the answer to an accepted call. Like Twilio, a message sent
// through a Messaging Service without a From is "accepted" with num_segments
// "0" (the service picks the sender later); otherwise it is "queued".
func (s *Server) resource(c Call, now time.Time) messageResource {
	date := now.UTC().Format(time.RFC1123Z)
	base := "/2010-04-01/Accounts/" + s.accountSID + "/Messages/" + c.SID
	m := messageResource{
		AccountSID:      s.accountSID,
		APIVersion:      "2010-04-01",
		Body:            c.Body,
		DateCreated:     date,
		DateUpdated:     date,
		Direction:       "outbound-api",
		NumMedia:        strconv.Itoa(len(c.Params["MediaUrl"])),
		NumSegments:     strconv.Itoa(segments(c.To, c.Body)),
		PriceUnit:       "USD",
		SID:             c.SID,
		Status:          "queued",
		SubresourceURIs: map[string]string{"media": base + "/Media.json"},
		To:              c.To,
		URI:             base + ".json",
	}
	if c.From != "" {
		m.From = &c.From
	}
	if c.MessagingServiceSid != "" {
		m.MessagingServiceSID = &c.MessagingServiceSid
		if c.From == "" {
			m.Status = "accepted"
			m.NumSegments = "0"
		}
	}
	return m
}

// segments counts the SMS segments of body: 160 GSM-7 characters or 70 UCS-2
// code units in one segment, 153 or 67 per segment when concatenated
// (https://www.twilio.com/docs/glossary/what-sms-character-limit).
// A WhatsApp message is one segment.
func segments(to, body string) int {
	if strings.HasPrefix(to, "whatsapp:") || body == "" {
		return 1
	}
	single, multi := 160, 153
	n, ok := gsm7Length(body)
	if !ok {
		single, multi = 70, 67
		n = len(utf16.Encode([]rune(body)))
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

// gsm7Basic and gsm7Extension are the GSM 03.38 alphabet and its extension
// table, whose characters take two septets.
const (
	gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Extension = "^{}\\[~]|€\f"
)

// gsm7Length returns the number of septets body takes in GSM-7, and false when
// body needs UCS-2.
func gsm7Length(body string) (int, bool) {
	n := 0
	for _, r := range body {
		switch {
		case strings.ContainsRune(gsm7Basic, r):
			n++
		case strings.ContainsRune(gsm7Extension, r):
			n += 2
		default:
			return 0, false
		}
	}
	return n, true
}

// callFromForm reads a Call from the form of a Messages.json request.
func callFromForm(form url.Values) Call {
	return Call{
		To:                  form.Get("To"),
		From:                form.Get("From"),
		MessagingServiceSid: form.Get("MessagingServiceSid"),
		Body:                form.Get("Body"),
		StatusCallback:      form.Get("StatusCallback"),
		ContentSid:          form.Get("ContentSid"),
		ContentVariables:    form.Get("ContentVariables"),
		Params:              cloneValues(form),
	}
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// messagesPath reports whether path is /2010-04-01/Accounts/{sid}/Messages.json
// and returns the sid.
func messagesPath(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/2010-04-01/Accounts/")
	if !ok {
		return "", false
	}
	sid, ok := strings.CutSuffix(rest, "/Messages.json")
	if !ok || sid == "" || strings.Contains(sid, "/") {
		return "", false
	}
	return sid, true
}

// newError builds Twilio's error answer for code; to is the recipient, named
// in some messages.
func newError(status, code int, to string) twilioError {
	e := twilioError{
		Code:     code,
		Message:  errorMessage(code, to),
		MoreInfo: fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code),
		Status:   status,
	}
	if code == 20003 {
		e.Detail = "Your AccountSid or AuthToken was incorrect."
	}
	return e
}

// errorMessage returns the message Twilio gives with an error code
// (https://www.twilio.com/docs/api/errors).
func errorMessage(code int, to string) string {
	switch code {
	case 20003:
		return "Authentication Error - invalid username"
	case 20404:
		return "The requested resource was not found"
	case 20429:
		return "Too Many Requests"
	case 20500:
		return "An internal server error has occurred"
	case 21211:
		return fmt.Sprintf("The 'To' number %s is not a valid phone number.", to)
	case 21408:
		return fmt.Sprintf("Permission to send an SMS has not been enabled for the region indicated by the 'To' number: %s.", to)
	case 21602:
		return "Message body is required."
	case 21603:
		return "A 'From' phone number is required."
	case 21604:
		return "A 'To' phone number is required."
	case 21610:
		return "Attempt to send to unsubscribed recipient"
	case 21614:
		return fmt.Sprintf("'To' number %s is not a valid mobile number", to)
	case 21617:
		return "The concatenated message body exceeds the 1600 character limit."
	case 21656:
		return "The ContentVariables Parameter is invalid."
	case 30003:
		return "Unreachable destination handset"
	case 30005:
		return "Unknown destination handset"
	case 30006:
		return "Landline or unreachable carrier"
	case 30007:
		return "Message filtered"
	case 63016:
		return "Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp, please use a Message Template."
	}
	return fmt.Sprintf("Twilio error %d", code)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}
