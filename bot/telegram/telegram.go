// Package telegram is the Telegram channel: the webhook that receives
// updates, checked by their secret token, and the sender that goes through
// tgbotapi.
//
// https://core.telegram.org/bots/api#setwebhook
package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/outreach-org/outreach/bot/outbox"
)

// Channel is the channel's name.
const Channel = "telegram"

// MaxText is the longest text sent in one message: Telegram takes 4096
// characters counted in UTF-16 code units (after entity parsing; no parse
// mode is used, so the text is sent as it is). The sender is an
// outbox.UnitCounter, so the outbox cuts texts in those units.
// https://core.telegram.org/bots/api#sendmessage
const MaxText = 4096

// DefaultAPIURL is the Bot API.
const DefaultAPIURL = "https://api.telegram.org"

// NewBot returns a Bot API client. Unlike tgbotapi.NewBotAPI it does not call
// getMe, so that the service starts even while Telegram cannot be reached.
func NewBot(token, apiURL string, timeout time.Duration) *tgbotapi.BotAPI {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	// Keep a connection per concurrent sender: the default transport keeps
	// two, and every other send would open a new TLS connection.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	bot := &tgbotapi.BotAPI{Token: token, Client: &http.Client{Timeout: timeout, Transport: transport}, Buffer: 100}
	bot.SetAPIEndpoint(apiURL + "/bot%s/%s")
	return bot
}

// Sender sends Telegram messages and answers button presses.
type Sender struct {
	bot *tgbotapi.BotAPI
}

// NewSender returns the sender.
func NewSender(bot *tgbotapi.BotAPI) *Sender { return &Sender{bot: bot} }

var _ outbox.UnitCounter = (*Sender)(nil)

// Units is what a character counts for against MaxText: its UTF-16 code
// units, two for a character outside the Basic Multilingual Plane.
func (s *Sender) Units(r rune) int { return max(1, utf16.RuneLen(r)) }

// Send sends one message, with a button for each choice, or answers a
// callback query. Telegram has no delivery callbacks, so no id is returned.
// tgbotapi takes no context: the client's timeout bounds the call.
func (s *Sender) Send(ctx context.Context, m outbox.Message) (string, error) {
	if m.Callback != "" {
		if _, err := s.bot.Request(tgbotapi.NewCallback(m.Callback, "")); err != nil {
			return "", Classify(err)
		}
		return "", nil
	}
	chatID, err := strconv.ParseInt(m.To, 10, 64)
	if err != nil {
		return "", &outbox.SendError{Failure: outbox.Undeliverable, Reason: "telegram_bad_chat_id"}
	}
	msg := tgbotapi.NewMessage(chatID, m.Text)
	if len(m.Choices) > 0 {
		rows := make([][]tgbotapi.InlineKeyboardButton, 0, len(m.Choices))
		for _, c := range m.Choices {
			rows = append(rows, tgbotapi.NewInlineKeyboardRow(tgbotapi.NewInlineKeyboardButtonData(c.Key+". "+c.Label, c.Key)))
		}
		msg.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(rows...)
	}
	if _, err := s.bot.Send(msg); err != nil {
		return "", Classify(err)
	}
	return "", nil
}

// maxRetryAfter bounds a pause Telegram asks for, as Twilio's is bounded.
const maxRetryAfter = 10 * time.Minute

// Classify says what a Bot API error means for the message and the person.
// The reason never holds Telegram's description or a URL (which holds the
// bot token).
func Classify(err error) *outbox.SendError {
	var te *tgbotapi.Error
	if errors.As(err, &te) {
		reason := fmt.Sprintf("telegram_%d", te.Code)
		switch {
		case te.Code == http.StatusTooManyRequests:
			// A 429 is a pause asked for, never a failed try: without
			// retry_after, a second; never more than maxRetryAfter.
			wait := time.Duration(min(max(te.RetryAfter, 1), int(maxRetryAfter/time.Second))) * time.Second
			return &outbox.SendError{Failure: outbox.Retry, Reason: reason, RetryAfter: wait}
		case te.Code == http.StatusForbidden && containsFold(te.Message, "deactivated"):
			return &outbox.SendError{Failure: outbox.Undeliverable, Reason: reason}
		case te.Code == http.StatusForbidden: // blocked by the user
			return &outbox.SendError{Failure: outbox.Blocked, Reason: reason}
		case te.Code == http.StatusBadRequest && containsFold(te.Message, "chat not found"):
			return &outbox.SendError{Failure: outbox.Undeliverable, Reason: reason}
		case te.Code >= 500 || te.Code == http.StatusUnauthorized || te.Code == 0:
			return &outbox.SendError{Failure: outbox.Retry, Reason: reason}
		}
		return &outbox.SendError{Failure: outbox.Permanent, Reason: reason}
	}
	return &outbox.SendError{Failure: outbox.Retry, Reason: "network"}
}

// AllowedUpdates are the update kinds the bot asks Telegram for.
const AllowedUpdates = `["message","callback_query","my_chat_member"]`

// SetWebhook tells Telegram where to post updates and the secret token to
// send with them. tgbotapi's WebhookConfig has no field for the secret, so
// the request is made by hand.
func SetWebhook(bot *tgbotapi.BotAPI, url, secret string) error {
	_, err := bot.MakeRequest("setWebhook", tgbotapi.Params{
		"url": url, "secret_token": secret, "allowed_updates": AllowedUpdates,
	})
	if err != nil {
		return fmt.Errorf("telegram setWebhook: %s", Classify(err).Reason)
	}
	return nil
}

// containsFold reports whether s contains sub, ignoring case.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
