package twilio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twilio/twilio-go/client"

	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
)

// MaxFields bounds the fields of a webhook form; a form with more is
// refused before its signature is checked, since twilio-go's validator
// copies the whole signed string once per field (quadratic in the form).
// The largest form Twilio documents is a WhatsApp message with 10 media
// (MediaUrl0-9, MediaContentType0-9: 20 fields), an ad referral (10
// Referral* fields) and a reply context (OriginalRepliedMessageSid and
// Sender: 2), besides the 12 fields every message has (MessageSid, SmsSid,
// SmsMessageSid, AccountSid, MessagingServiceSid, From, To, Body, NumMedia,
// NumSegments, SmsStatus, ApiVersion) and WhatsApp's 8 (ProfileName, WaId,
// Forwarded, FrequentlyForwarded, ButtonText, ButtonPayload, MessageType,
// ChannelMetadata): 52. An SMS or MMS has at most 40 (8 From/To geography
// fields instead of WhatsApp's), a location 4 more than a plain WhatsApp
// message (Latitude, Longitude, Address, Label), a status callback about
// 20, a voice call's webhook under 40. Twilio adds fields without notice:
// 64 leaves a margin of 12 over the largest.
const MaxFields = 64

// Inbound is one message a person sent, as Twilio posts it.
type Inbound struct {
	MessageSID string
	// Channel is SMS or WhatsApp; Address the person's number, without the
	// "whatsapp:" prefix.
	Channel string
	Address string
	Body    string
	// Media is set when the message carried media (NumMedia > 0) or a
	// WhatsApp place that cannot be read: nothing of them is kept.
	Media bool
	// Location is a WhatsApp place (Latitude, Longitude): answered with the
	// nearest site, never kept. Its Address and Label are not read.
	Location *engine.Point
}

// ErrMalformed means a webhook's fields are missing or wrong.
var ErrMalformed = errors.New("twilio: malformed webhook")

// ParseInbound reads an inbound message webhook's fields. A WhatsApp
// quick-reply button pressed is read as its payload (ButtonPayload, the
// answer the button stands for, such as a menu number), else as its text
// (ButtonText): Body then holds the button's text, which may be worded
// otherwise than the answer.
func ParseInbound(form url.Values) (Inbound, error) {
	body := form.Get("Body")
	if p := form.Get("ButtonPayload"); p != "" {
		body = p
	} else if bt := form.Get("ButtonText"); bt != "" {
		body = bt
	}
	in := Inbound{MessageSID: form.Get("MessageSid"), Channel: SMS, Address: form.Get("From"), Body: dialog.Clean(body)}
	if n, err := strconv.Atoi(form.Get("NumMedia")); err == nil && n > 0 || form.Get("Latitude") != "" {
		in.Media = true
	}
	if p, ok := location(form); ok && in.Body == "" {
		in.Location, in.Media = &p, false
	}
	if !validSID(in.MessageSID) || in.Address == "" || len(in.Address) > 64 {
		return Inbound{}, ErrMalformed
	}
	if rest, ok := strings.CutPrefix(in.Address, whatsappPrefix); ok {
		in.Channel, in.Address = WhatsApp, rest
	}
	if in.Address == "" || strings.Contains(in.Address, ":") {
		return Inbound{}, ErrMalformed
	}
	return in, nil
}

// location reads a WhatsApp location's Latitude and Longitude (decimal
// degrees, https://www.twilio.com/docs/messaging/guides/webhook-request).
func location(form url.Values) (engine.Point, bool) {
	lat, err1 := strconv.ParseFloat(form.Get("Latitude"), 64)
	lon, err2 := strconv.ParseFloat(form.Get("Longitude"), 64)
	p := engine.Point{Lat: lat, Lon: lon}
	return p, err1 == nil && err2 == nil && p.Valid()
}

// Status is one delivery status callback.
type Status struct {
	MessageSID string
	Status     string
	ErrorCode  string
}

// ParseStatus reads a status callback's fields.
func ParseStatus(form url.Values) (Status, error) {
	st := Status{MessageSID: form.Get("MessageSid"), Status: strings.ToLower(form.Get("MessageStatus")), ErrorCode: form.Get("ErrorCode")}
	if !validSID(st.MessageSID) || st.Status == "" || len(st.Status) > 32 || len(st.ErrorCode) > 16 {
		return Status{}, ErrMalformed
	}
	for _, r := range st.ErrorCode {
		if r < '0' || r > '9' {
			return Status{}, ErrMalformed
		}
	}
	return st, nil
}

// validSID accepts Twilio SIDs: two letters then 32 hex digits.
func validSID(sid string) bool {
	if len(sid) != 34 {
		return false
	}
	for i, r := range sid {
		switch {
		case i < 2 && r >= 'A' && r <= 'Z':
		case i >= 2 && (r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F'):
		default:
			return false
		}
	}
	return true
}

// Dialog handles a message and records provider-side opt-outs.
type Dialog interface {
	Handle(ctx context.Context, msg dialog.Message) (dialog.Outcome, error)
}

// Deliveries moves delivery states and acts on what they say.
type Deliveries interface {
	UpdateStatus(ctx context.Context, providerID, status, errorCode string) (outbox.Delivery, bool, error)
}

// Contacts records what delivery errors say about a person.
type Contacts interface {
	MarkOptedOut(ctx context.Context, contact string) error
	MarkUndeliverable(ctx context.Context, contact string) error
	MarkNeedsTemplate(ctx context.Context, contact string) error
}

// Handler serves Twilio's webhooks.
type Handler struct {
	validator  client.RequestValidator
	publicURL  string
	dialog     Dialog
	deliveries Deliveries
	contacts   Contacts
	channels   map[string]bool
	statuses   *prometheus.CounterVec
	log        *slog.Logger
}

// NewHandler returns the webhook handler. publicURL is the base URL Twilio
// calls (OUTREACH_PUBLIC_URL): signatures are checked against it, not against
// the Host the request arrived with, which a proxy may have changed.
// channels lists the enabled channels (SMS, WhatsApp); messages on another
// are acknowledged and ignored.
func NewHandler(authToken, publicURL string, d Dialog, deliveries Deliveries, contacts Contacts, channels []string, m *metrics.Metrics, log *slog.Logger) *Handler {
	h := &Handler{
		validator: client.NewRequestValidator(authToken), publicURL: strings.TrimSuffix(publicURL, "/"),
		dialog: d, deliveries: deliveries, contacts: contacts, channels: map[string]bool{},
		statuses: m.Statuses, log: log.With("component", "twilio"),
	}
	for _, c := range channels {
		h.channels[c] = true
	}
	return h
}

// verify reads and checks a webhook request; it answers the error itself and
// returns false when the request must go no further.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "cannot read body", http.StatusBadRequest)
		}
		return nil, false
	}
	if n := bytes.Count(body, []byte("&")) + 1; n > MaxFields {
		// Counted before anything is parsed or signed: checking a
		// signature costs twilio-go a copy of the form per field.
		h.log.Warn("webhook form has more fields than Twilio sends; refused unchecked", "path", r.URL.Path, "fields", n)
		http.Error(w, "too many form fields", http.StatusBadRequest)
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		// A body that is not a form cannot carry a valid signature.
		h.log.Warn("webhook body is not a form: signature cannot be valid", "path", r.URL.Path)
		http.Error(w, "invalid signature", http.StatusForbidden)
		return nil, false
	}
	sig := r.Header.Get("X-Twilio-Signature")
	u := h.publicURL + r.URL.Path
	if r.URL.RawQuery != "" {
		u += "?" + r.URL.RawQuery
	}
	if sig == "" || !h.signatureValid(u, form, sig) {
		h.log.Warn("webhook signature is missing or wrong", "path", r.URL.Path)
		http.Error(w, "invalid signature", http.StatusForbidden)
		return nil, false
	}
	return form, true
}

// signatureValid checks a webhook's signature with twilio-go's validator.
// The validator signs the URL followed by each field's name and first
// value, names sorted; it joins them by appending each to the whole string
// so far, which costs a copy of the form per field. So the fields are
// joined here, once, in the same order, and handed to the validator as one
// field with an empty name: it signs the same string, in linear time.
func (h *Handler) signatureValid(u string, form url.Values, sig string) bool {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(form)) {
		b.WriteString(k)
		b.WriteString(form[k][0])
	}
	return h.validator.Validate(u, map[string]string{"": b.String()}, sig)
}

// emptyResponse is the TwiML that sends nothing back: replies leave through
// the REST API, where they get an id, retries and status callbacks.
const emptyResponse = `<?xml version="1.0" encoding="UTF-8"?><Response/>`

func emptyTwiML(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	io.WriteString(w, emptyResponse)
}

// Inbound serves POST /webhooks/twilio: verify, parse, handle (deduplicated
// by MessageSid), answer. Only a store failure answers 5xx, so that Twilio
// tries again.
func (h *Handler) Inbound(w http.ResponseWriter, r *http.Request) {
	form, ok := h.verify(w, r)
	if !ok {
		return
	}
	in, err := ParseInbound(form)
	if err != nil {
		h.log.Warn("inbound webhook without a valid MessageSid or From")
		http.Error(w, "missing or invalid MessageSid or From", http.StatusBadRequest)
		return
	}
	if !h.channels[in.Channel] {
		h.log.Info("message on a channel that is off, ignored", "channel", in.Channel)
		emptyTwiML(w)
		return
	}
	_, err = h.dialog.Handle(r.Context(), dialog.Message{Channel: in.Channel, Address: in.Address, Text: in.Body, ProviderID: in.MessageSID, Media: in.Media, Location: in.Location})
	if err != nil {
		h.log.Error("handling an inbound message failed; Twilio will retry", "channel", in.Channel, "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	emptyTwiML(w)
}

// Status serves POST /webhooks/twilio/status: the delivery state moves
// forward only, and a final error acts on the contact (acting twice is
// harmless, so a retried callback acts again).
func (h *Handler) Status(w http.ResponseWriter, r *http.Request) {
	form, ok := h.verify(w, r)
	if !ok {
		return
	}
	st, err := ParseStatus(form)
	if err != nil {
		h.log.Warn("status callback without a valid MessageSid or MessageStatus")
		http.Error(w, "missing or invalid MessageSid or MessageStatus", http.StatusBadRequest)
		return
	}
	d, changed, err := h.deliveries.UpdateStatus(r.Context(), st.MessageSID, st.Status, st.ErrorCode)
	if changed {
		h.statuses.WithLabelValues(st.Status).Inc()
	}
	if errors.Is(err, outbox.ErrUnknownStatus) {
		emptyTwiML(w)
		return
	}
	if err != nil {
		h.log.Error("recording a delivery status failed; Twilio will retry", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	if d.Contact != "" && (st.Status == "failed" || st.Status == "undelivered") {
		var act error
		switch classifyCode(st.ErrorCode) {
		case outbox.OptedOut:
			act = h.contacts.MarkOptedOut(r.Context(), d.Contact)
		case outbox.Undeliverable:
			act = h.contacts.MarkUndeliverable(r.Context(), d.Contact)
		case outbox.NeedsTemplate:
			act = h.contacts.MarkNeedsTemplate(r.Context(), d.Contact)
		}
		if act != nil {
			h.log.Error("acting on a delivery error failed; Twilio will retry", "err", act)
			http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
			return
		}
	}
	emptyTwiML(w)
}

// classifyCode says what an error code of a status callback means.
func classifyCode(code string) outbox.Failure {
	switch code {
	case "21610":
		return outbox.OptedOut
	case "21211", "21614", "30005", "30006":
		return outbox.Undeliverable
	case "63016":
		return outbox.NeedsTemplate
	}
	return outbox.Permanent
}
