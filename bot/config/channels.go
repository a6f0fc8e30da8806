package config

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Twilio is the Twilio account and senders; off when AccountSID is empty.
type Twilio struct {
	AccountSID, AuthToken string // TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN
	MessagingServiceSID   string // TWILIO_MESSAGING_SERVICE_SID
	SMSFrom               string // TWILIO_SMS_FROM
	WhatsAppFrom          string // TWILIO_WHATSAPP_FROM
	APIURL                string // TWILIO_API_URL
}

// SMS reports whether SMS is on.
func (t Twilio) SMS() bool {
	return t.AccountSID != "" && (t.MessagingServiceSID != "" || t.SMSFrom != "")
}

// WhatsApp reports whether WhatsApp is on.
func (t Twilio) WhatsApp() bool { return t.AccountSID != "" && t.WhatsAppFrom != "" }

// Telegram is the Telegram bot; off when BotToken is empty.
type Telegram struct {
	BotToken      string // TELEGRAM_BOT_TOKEN
	WebhookSecret string // TELEGRAM_WEBHOOK_SECRET
	APIURL        string // TELEGRAM_API_URL
	// SetWebhook registers the webhook at start (OUTREACH_TELEGRAM_SET_WEBHOOK).
	SetWebhook bool
}

// On reports whether Telegram is on.
func (t Telegram) On() bool { return t.BotToken != "" }

// Outbox tunes sending.
type Outbox struct {
	// RateSMS is in SMS segments a second; RateWhatsApp and RateTelegram in
	// messages a second; RateTelegramChat per chat.
	RateSMS, RateWhatsApp, RateTelegram, RateTelegramChat float64
	// Workers read the reply stream; the bulk stream has twice as many
	// (BulkWorkers).
	Workers int
	// ClaimIdle is how long an unacknowledged entry waits before another
	// worker takes it over.
	ClaimIdle time.Duration
	// MaxTries bounds the attempts at one message.
	MaxTries int
	// SendTimeout bounds one provider call.
	SendTimeout time.Duration
}

// BulkWorkers is the number of goroutines reading the bulk stream.
func (o Outbox) BulkWorkers() int { return 2 * o.Workers }

// Readers is the number of goroutines blocked reading the outbox, each
// holding a Redis connection while it waits.
func (o Outbox) Readers() int { return o.Workers + o.BulkWorkers() }

var (
	alnum       = regexp.MustCompile(`^[A-Za-z0-9]+$`)
	secretToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

func loadChannels(c *Config, getenv func(string) string) error {
	c.Twilio = Twilio{
		AccountSID: getenv("TWILIO_ACCOUNT_SID"), AuthToken: getenv("TWILIO_AUTH_TOKEN"),
		MessagingServiceSID: getenv("TWILIO_MESSAGING_SERVICE_SID"), SMSFrom: getenv("TWILIO_SMS_FROM"),
		WhatsAppFrom: getenv("TWILIO_WHATSAPP_FROM"), APIURL: or(getenv("TWILIO_API_URL"), "https://api.twilio.com"),
	}
	t := c.Twilio
	switch {
	case t.AccountSID == "" && t.AuthToken != "", t.AccountSID != "" && t.AuthToken == "":
		return fmt.Errorf("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN go together: set both, or neither to keep Twilio off")
	case t.AccountSID != "" && !alnum.MatchString(t.AccountSID):
		return fmt.Errorf("TWILIO_ACCOUNT_SID: letters and digits only (AC…)")
	case t.AuthToken != "" && !alnum.MatchString(t.AuthToken):
		return fmt.Errorf("TWILIO_AUTH_TOKEN: letters and digits only")
	case t.AccountSID != "" && !t.SMS() && !t.WhatsApp():
		return fmt.Errorf("TWILIO_ACCOUNT_SID is set but no sender: set TWILIO_MESSAGING_SERVICE_SID or TWILIO_SMS_FROM for SMS, TWILIO_WHATSAPP_FROM for WhatsApp")
	}
	c.Telegram = Telegram{
		BotToken: getenv("TELEGRAM_BOT_TOKEN"), WebhookSecret: getenv("TELEGRAM_WEBHOOK_SECRET"),
		APIURL: or(getenv("TELEGRAM_API_URL"), "https://api.telegram.org"),
	}
	if c.Telegram.On() && !secretToken.MatchString(c.Telegram.WebhookSecret) {
		return fmt.Errorf("TELEGRAM_WEBHOOK_SECRET: required with TELEGRAM_BOT_TOKEN; 1 to 256 of A-Z a-z 0-9 _ - (e.g. openssl rand -hex 32)")
	}
	var err error
	if c.Telegram.SetWebhook, err = boolean(getenv, "OUTREACH_TELEGRAM_SET_WEBHOOK"); err != nil {
		return err
	}

	o := &c.Outbox
	for _, r := range []struct {
		name string
		dst  *float64
		def  float64
	}{
		{"OUTREACH_RATE_SMS", &o.RateSMS, 10},
		{"OUTREACH_RATE_WHATSAPP", &o.RateWhatsApp, 20},
		{"OUTREACH_RATE_TELEGRAM", &o.RateTelegram, 30},
		{"OUTREACH_RATE_TELEGRAM_CHAT", &o.RateTelegramChat, 1},
	} {
		*r.dst = r.def
		if v := getenv(r.name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 || f > 100000 {
				return fmt.Errorf("%s: want a positive number per second, got %q", r.name, v)
			}
			*r.dst = f
		}
	}
	if o.Workers, err = positive(getenv, "OUTREACH_OUTBOX_WORKERS", 4); err != nil {
		return err
	}
	if o.MaxTries, err = positive(getenv, "OUTREACH_SEND_MAX_TRIES", 8); err != nil {
		return err
	}
	if o.ClaimIdle, err = duration(getenv, "OUTREACH_OUTBOX_CLAIM_IDLE", 30*time.Second); err != nil {
		return err
	}
	if o.SendTimeout, err = duration(getenv, "OUTREACH_SEND_TIMEOUT", 10*time.Second); err != nil {
		return err
	}
	return nil
}

func positive(getenv func(string) string, name string, def int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, fmt.Errorf("%s: want a whole number from 1 to 10000, got %q", name, v)
	}
	return n, nil
}

func boolean(getenv func(string) string, name string) (bool, error) {
	switch v := getenv(name); v {
	case "", "0", "false", "no":
		return false, nil
	case "1", "true", "yes":
		return true, nil
	default:
		return false, fmt.Errorf("%s: want true or false, got %q", name, v)
	}
}
