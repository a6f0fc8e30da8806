package outbox

import (
	"fmt"
	"time"
)

// Failure says what a failed send means for the message and the person.
type Failure int

// What a failed send can mean.
const (
	// Retry: try again later (rate limit, provider error, network).
	Retry Failure = iota
	// OptedOut: the person stopped the messages (SMS STOP at the provider).
	OptedOut
	// Blocked: the person blocked the bot (Telegram); unblocking undoes it.
	Blocked
	// Undeliverable: the address cannot receive (invalid, unknown, landline).
	Undeliverable
	// NeedsTemplate: WhatsApp outside the 24-hour window; free text refused.
	NeedsTemplate
	// Permanent: the provider refused this message; do not try again.
	Permanent
)

// SendError is a failed send, classified by the channel that tried it.
type SendError struct {
	Failure Failure
	// Reason is short and free of personal data, e.g. "twilio_21610",
	// "http_503", "network": it labels metrics and the dead-letter list.
	Reason string
	// RetryAfter is how long the provider asked to wait, if it said.
	RetryAfter time.Duration
	// MaybeSent is set when no answer said what became of the message (a
	// timeout, a connection cut mid-request): the provider may have taken
	// it. Before such a send goes again, a channel that is a Reconciler is
	// asked whether it did. An error that is not a *SendError counts as
	// MaybeSent.
	MaybeSent bool
}

func (e *SendError) Error() string {
	return fmt.Sprintf("send failed: %s", e.Reason)
}
