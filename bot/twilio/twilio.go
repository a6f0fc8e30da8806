// Package twilio is the SMS and WhatsApp channel through Twilio: the
// verified webhooks for inbound messages and delivery status, and the sender
// that goes through the twilio-go SDK.
//
// Webhooks: https://www.twilio.com/docs/messaging/guides/webhook-request
// Signatures: https://www.twilio.com/docs/usage/webhooks/webhooks-security
package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	twilio "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/sms"
)

// Channel names.
const (
	SMS      = "sms"
	WhatsApp = "whatsapp"
)

// whatsappPrefix marks WhatsApp addresses in Twilio's From and To.
const whatsappPrefix = "whatsapp:"

// MaxBody is the longest text Twilio takes in one message; longer texts are
// split before sending.
const MaxBody = 1600

// DefaultAPIURL is Twilio's REST API.
const DefaultAPIURL = "https://api.twilio.com"

// NewClient returns a twilio-go client for an account. twilio-go has no base
// URL option, so when apiURL is not Twilio's the client's transport sends
// every request there instead (a test fake, a proxy).
func NewClient(accountSID, authToken, apiURL string, timeout time.Duration) (*twilio.RestClient, error) {
	// Keep a connection per concurrent sender: the default transport keeps
	// two, and every other send would open a new TLS connection.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	hc := &http.Client{
		Timeout:   timeout,
		Transport: transport,
		// As twilio-go's own client: never follow redirects.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if apiURL != "" && apiURL != DefaultAPIURL {
		base, err := url.Parse(apiURL)
		if err != nil || base.Scheme == "" || base.Host == "" {
			return nil, fmt.Errorf("TWILIO_API_URL: want a URL such as https://api.twilio.com, got %q", apiURL)
		}
		hc.Transport = rebase{base: base, next: transport}
	}
	cl := &client.Client{Credentials: client.NewCredentials(accountSID, authToken), HTTPClient: hc}
	cl.SetAccountSid(accountSID)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: cl}), nil
}

// rebase sends requests to another scheme, host and path prefix.
type rebase struct {
	base *url.URL
	next http.RoundTripper
}

func (rb rebase) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.URL.Scheme = rb.base.Scheme
	r.URL.Host = rb.base.Host
	r.URL.Path = strings.TrimSuffix(rb.base.Path, "/") + req.URL.Path
	r.Host = rb.base.Host
	return rb.next.RoundTrip(r)
}

// Sender sends SMS or WhatsApp messages through Twilio's Messages API.
type Sender struct {
	api *twilio.RestClient
	// base is api's client when it is twilio-go's own: each send then goes
	// through a copy of it whose transport reads the answer's Retry-After,
	// which twilio-go's errors do not carry.
	base *client.Client
	// from is the sender number, or messagingService the Messaging Service.
	from             string
	messagingService string
	statusCallback   string
	whatsapp         bool
}

// NewSMSSender returns the SMS sender: from a Messaging Service when
// messagingService is set, else from the number from.
func NewSMSSender(api *twilio.RestClient, messagingService, from, statusCallback string) *Sender {
	return &Sender{api: api, base: baseClient(api), messagingService: messagingService, from: from, statusCallback: statusCallback}
}

// baseClient returns api's twilio-go client, nil when it is another.
func baseClient(api *twilio.RestClient) *client.Client {
	if api == nil || api.RequestHandler == nil {
		return nil
	}
	c, _ := api.RequestHandler.Client.(*client.Client)
	if c == nil || c.HTTPClient == nil {
		return nil
	}
	return c
}

// NewWhatsAppSender returns the WhatsApp sender from "whatsapp:+…".
func NewWhatsAppSender(api *twilio.RestClient, from, statusCallback string) *Sender {
	if !strings.HasPrefix(from, whatsappPrefix) {
		from = whatsappPrefix + from
	}
	return &Sender{api: api, base: baseClient(api), from: from, statusCallback: statusCallback, whatsapp: true}
}

// Send sends one message and returns its Twilio SID. twilio-go takes no
// context: the client's timeout bounds the call.
func (s *Sender) Send(ctx context.Context, m outbox.Message) (string, error) {
	p := &openapi.CreateMessageParams{}
	to := m.To
	if s.whatsapp {
		to = whatsappPrefix + to
	}
	p.SetTo(to)
	if m.Template != "" {
		// Outside WhatsApp's 24-hour window only an approved template goes.
		vars, err := json.Marshal(m.TemplateVars)
		if err != nil {
			return "", &outbox.SendError{Failure: outbox.Permanent, Reason: "template_vars"}
		}
		p.SetContentSid(m.Template)
		p.SetContentVariables(string(vars))
	} else {
		p.SetBody(m.Text)
	}
	if s.messagingService != "" && !s.whatsapp {
		p.SetMessagingServiceSid(s.messagingService)
	} else {
		p.SetFrom(s.from)
	}
	if s.statusCallback != "" {
		p.SetStatusCallback(s.statusCallback)
	}
	api, answer := s.api.Api, &answerHeaders{}
	if s.base != nil {
		api = s.watched(answer)
	}
	msg, err := api.CreateMessage(p)
	if err != nil {
		se := Classify(err)
		if se.RetryAfter > 0 {
			if d, ok := answer.retryAfter(time.Now()); ok {
				se.RetryAfter = d
			}
		}
		return "", se
	}
	if msg.Sid == nil {
		return "", &outbox.SendError{Failure: outbox.Retry, Reason: "twilio_no_sid"}
	}
	return *msg.Sid, nil
}

// watched returns the Messages API on a copy of the client whose transport
// keeps the headers of the answer in answer. twilio-go makes its requests
// without a context, so a transport shared by concurrent sends could not
// tell whose answer it saw.
func (s *Sender) watched(answer *answerHeaders) *openapi.ApiService {
	c := *s.base
	hc := *c.HTTPClient
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = keepHeaders{next: next, into: answer}
	c.HTTPClient = &hc
	rh := *s.api.RequestHandler
	rh.Client = &c
	return openapi.NewApiService(&rh)
}

// answerHeaders holds the headers of one send's answer.
type answerHeaders struct {
	h http.Header
}

// maxRetryAfter bounds a pause asked for: a garbled header must not stop a
// channel for days. A longer wait is asked for again when it ends.
const maxRetryAfter = 10 * time.Minute

// retryAfter reads Retry-After: seconds, or an HTTP date; at least a
// second, at most maxRetryAfter.
// https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
func (a *answerHeaders) retryAfter(now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(a.h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	} else {
		return 0, false
	}
	return min(max(d, time.Second), maxRetryAfter), true
}

// keepHeaders is a transport that keeps the headers of the answer.
type keepHeaders struct {
	next http.RoundTripper
	into *answerHeaders
}

func (k keepHeaders) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := k.next.RoundTrip(req)
	if resp != nil {
		k.into.h = resp.Header
	}
	return resp, err
}

// SMSCost is what a text costs against the SMS rate: its segments.
func SMSCost(text string) float64 {
	return float64(max(1, sms.Measure(text).Segments))
}

// defaultRetryAfter is the pause a 429 without Retry-After asks for.
const defaultRetryAfter = time.Second

// Classify says what a Twilio error means for the message and the person.
// The reason never holds Twilio's message, which can quote the number. A
// rate limit (HTTP 429, error 20429) asks the channel to pause: for
// defaultRetryAfter here, for its Retry-After when Send read one.
// https://www.twilio.com/docs/api/errors
func Classify(err error) *outbox.SendError {
	var te *client.TwilioRestError
	if errors.As(err, &te) {
		reason := fmt.Sprintf("twilio_%d", te.Code)
		if te.Status == http.StatusTooManyRequests || te.Code == 20429 {
			return &outbox.SendError{Failure: outbox.Retry, Reason: reason, RetryAfter: defaultRetryAfter}
		}
		switch te.Code {
		case 21610: // the recipient sent STOP
			return &outbox.SendError{Failure: outbox.OptedOut, Reason: reason}
		case 21211, 21614, 30005, 30006: // invalid, not mobile, unknown, landline
			return &outbox.SendError{Failure: outbox.Undeliverable, Reason: reason}
		case 63016: // WhatsApp outside the 24-hour window
			return &outbox.SendError{Failure: outbox.NeedsTemplate, Reason: reason}
		case 30003: // unreachable for now
			return &outbox.SendError{Failure: outbox.Retry, Reason: reason}
		}
		if te.Status >= 500 || te.Status == http.StatusUnauthorized {
			return &outbox.SendError{Failure: outbox.Retry, Reason: reason}
		}
		return &outbox.SendError{Failure: outbox.Permanent, Reason: reason}
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		// No connection, no request: nothing reached Twilio.
		return &outbox.SendError{Failure: outbox.Retry, Reason: "network"}
	}
	// Below, no answer of Twilio's said what became of the request: it may
	// have taken the message (a timeout, a connection cut, a proxy's 502).
	var ne net.Error
	if errors.As(err, &ne) {
		return &outbox.SendError{Failure: outbox.Retry, Reason: "network", MaybeSent: true}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return &outbox.SendError{Failure: outbox.Retry, Reason: "network", MaybeSent: true}
	}
	// An error answer that is not Twilio's JSON (a proxy's 502 page).
	return &outbox.SendError{Failure: outbox.Retry, Reason: "twilio_bad_answer", MaybeSent: true}
}

// lookupRows bounds the messages read in one lookup. The list is newest
// first and what went to one person since a send was attempted is a few
// messages, so one page holds it.
const lookupRows = 50

// clockSlack widens a lookup's window before the attempt: Twilio's
// date_created is in whole seconds, by Twilio's clock, not ours.
const clockSlack = 2 * time.Second

// Lookup asks Twilio whether it took m at or after since, for a send whose
// answer never came: the Messages list to m's address from our sender,
// newest first, matched on the body as sent; the oldest match, the first
// copy, is returned. From a Messaging Service, whose numbers Twilio picks,
// the list is asked by To alone and matched on the service's sid.
//
// The list is not filtered by DateSent: that filter matches days, and on
// date_sent, which a message still queued at Twilio does not have yet — the
// very message looked for. date_created, read from each row, bounds the
// window instead. A template's body is written by Twilio: for one, any
// message from our sender to the address since the attempt matches.
// twilio-go takes no context: the client's timeout bounds the call.
func (s *Sender) Lookup(ctx context.Context, m outbox.Message, since time.Time) (string, bool, error) {
	if m.Callback != "" {
		return "", false, nil
	}
	to := m.To
	if s.whatsapp {
		to = whatsappPrefix + to
	}
	p := &openapi.ListMessageParams{}
	p.SetTo(to)
	service := ""
	if s.messagingService != "" && !s.whatsapp {
		service = s.messagingService
	} else {
		p.SetFrom(s.from)
	}
	p.SetPageSize(lookupRows)
	p.SetLimit(lookupRows)
	rows, err := s.api.Api.ListMessage(p)
	if err != nil {
		return "", false, Classify(err)
	}
	sid, ok := pick(rows, m, since.Truncate(time.Second).Add(-clockSlack), service)
	return sid, ok, nil
}

// pick returns the oldest row created at or after from that is m as sent.
func pick(rows []openapi.ApiV2010Message, m outbox.Message, from time.Time, service string) (string, bool) {
	var sid string
	var oldest time.Time
	for _, r := range rows {
		if r.Sid == nil || r.DateCreated == nil {
			continue
		}
		if r.Direction != nil && !strings.HasPrefix(*r.Direction, "outbound") {
			continue
		}
		if service != "" && (r.MessagingServiceSid == nil || *r.MessagingServiceSid != service) {
			continue
		}
		created, err := time.Parse(time.RFC1123Z, *r.DateCreated)
		if err != nil || created.Before(from) {
			continue
		}
		if m.Template == "" && (r.Body == nil || normalBody(*r.Body) != normalBody(m.Text)) {
			continue
		}
		if sid == "" || !created.After(oldest) {
			sid, oldest = *r.Sid, created
		}
	}
	return sid, sid != ""
}

// normalBody is a body as compared: line ends and surrounding spaces do
// not count.
func normalBody(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}
