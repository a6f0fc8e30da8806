package telegram

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/engine"
)

// Kind is what an update asks for.
type Kind int

// Event kinds of an update.
const (
	// KindIgnore: nothing to do (an edit, a group, a channel post).
	KindIgnore Kind = iota
	// KindMessage: a person wrote, or pressed a button.
	KindMessage
	// KindBlocked and KindUnblocked: the person blocked or unblocked the bot.
	KindBlocked
	KindUnblocked
)

// Event is what one update asks of the bot.
type Event struct {
	Kind     Kind
	UpdateID int
	// ChatID is the private chat with the person.
	ChatID string
	Text   string
	// Lang is the language of the person's Telegram app.
	Lang string
	// Start is the payload of a link t.me/<bot>?start=<payload>, which
	// arrives as "/start <payload>": a site's id on a poster.
	Start string
	// Media is set for a message with no text but a photo, a voice note,
	// a sticker, a file, a place…: nothing of it is kept.
	Media bool
	// Location is a place the person shared (message.location, also sent
	// with a venue), when the message has no text: answered with the
	// nearest site, never kept. A venue's title and address are not read.
	Location *engine.Point
	// Callback is the id of the button press to answer.
	Callback string
}

// ErrMalformed means an update is not valid JSON or lacks what it needs.
var ErrMalformed = errors.New("telegram: malformed update")

// command returns the word the flows understand for a bot command.
func command(cmd string) (string, bool) {
	switch strings.ToLower(cmd) {
	case "/start", "/menu":
		return "MENU", true
	case "/help":
		return "HELP", true
	case "/aide":
		return "AIDE", true
	case "/stop":
		return "STOP", true
	case "/language":
		return "LANGUAGE", true
	case "/langue":
		return "LANGUE", true
	}
	return "", false
}

// maxPayload is the longest payload Telegram allows in a start link.
const maxPayload = 64

// validPayload reports whether s is a start link's payload as Telegram
// allows it: 1 to 64 of A-Z, a-z, 0-9, _ and -.
func validPayload(s string) bool {
	if s == "" || len(s) > maxPayload {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// hasMedia reports whether a message carries what the bot cannot read.
func hasMedia(m *tgbotapi.Message) bool {
	return len(m.Photo) > 0 || m.Voice != nil || m.Audio != nil || m.Sticker != nil || m.Document != nil ||
		m.Video != nil || m.VideoNote != nil || m.Animation != nil || m.Location != nil || m.Venue != nil || m.Contact != nil
}

// location returns the place a message shares: message.location, which
// Telegram also sets for a venue (https://core.telegram.org/bots/api#message).
func location(m *tgbotapi.Message) (engine.Point, bool) {
	loc := m.Location
	if loc == nil && m.Venue != nil {
		loc = &m.Venue.Location
	}
	if loc == nil {
		return engine.Point{}, false
	}
	p := engine.Point{Lat: loc.Latitude, Lon: loc.Longitude}
	return p, p.Valid()
}

// Parse reads one update.
func Parse(body []byte) (Event, error) {
	var u tgbotapi.Update
	if err := json.Unmarshal(body, &u); err != nil {
		return Event{}, ErrMalformed
	}
	ev := Event{UpdateID: u.UpdateID}
	switch {
	case u.Message != nil:
		m := u.Message
		if m.Chat == nil || m.Chat.Type != "private" {
			return ev, nil
		}
		text := m.Text
		if text == "" {
			text = m.Caption // a photo's caption is what the person wrote
		}
		ev.Kind, ev.ChatID, ev.Text = KindMessage, strconv.FormatInt(m.Chat.ID, 10), dialog.Clean(text)
		ev.Media = ev.Text == "" && hasMedia(m)
		if p, ok := location(m); ok && ev.Text == "" {
			ev.Location, ev.Media = &p, false
		}
		if m.From != nil {
			ev.Lang = m.From.LanguageCode
		}
		if cmd, arg, _ := strings.Cut(ev.Text, " "); strings.HasPrefix(cmd, "/") {
			cmd, _, _ = strings.Cut(cmd, "@") // "/start@outreach_bot"
			if word, ok := command(cmd); ok {
				ev.Text = word
				if strings.EqualFold(cmd, "/start") && validPayload(arg) {
					ev.Start = arg
				}
			}
		}
	case u.CallbackQuery != nil:
		q := u.CallbackQuery
		if q.Message == nil || q.Message.Chat == nil || q.Message.Chat.Type != "private" || q.ID == "" {
			return ev, nil
		}
		ev.Kind, ev.ChatID, ev.Text, ev.Callback = KindMessage, strconv.FormatInt(q.Message.Chat.ID, 10), dialog.Clean(q.Data), q.ID
		if q.From != nil {
			ev.Lang = q.From.LanguageCode
		}
	case u.MyChatMember != nil:
		cm := u.MyChatMember
		if cm.Chat.Type != "private" {
			return ev, nil
		}
		ev.ChatID = strconv.FormatInt(cm.Chat.ID, 10)
		switch cm.NewChatMember.Status {
		case "kicked":
			ev.Kind = KindBlocked
		case "member":
			ev.Kind = KindUnblocked
		}
	}
	if ev.Kind != KindIgnore && (ev.ChatID == "0" || ev.ChatID == "") {
		return Event{}, ErrMalformed
	}
	return ev, nil
}

// Dialog handles messages and records blocks.
type Dialog interface {
	Handle(ctx context.Context, msg dialog.Message) (dialog.Outcome, error)
	ContactKey(channel, address string) string
}

// People records that a person blocked the bot, or started it again.
type People interface {
	SetBlocked(ctx context.Context, contact string, blocked bool) error
}

// Handler serves POST /webhooks/telegram.
type Handler struct {
	secret [32]byte
	dialog Dialog
	people People
	log    *slog.Logger
}

// NewHandler returns the webhook handler for the secret token given to
// setWebhook.
func NewHandler(secret string, d Dialog, people People, log *slog.Logger) *Handler {
	return &Handler{secret: sha256.Sum256([]byte(secret)), dialog: d, people: people, log: log.With("component", "telegram")}
}

// ServeHTTP checks the secret token (in constant time), parses the update and
// handles it, deduplicated by update_id. Only a store failure answers 5xx,
// so that Telegram tries again.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	got := sha256.Sum256([]byte(r.Header.Get("X-Telegram-Bot-Api-Secret-Token")))
	if subtle.ConstantTimeCompare(got[:], h.secret[:]) != 1 {
		h.log.Warn("webhook secret token is missing or wrong")
		http.Error(w, "invalid secret token", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, "cannot read body", http.StatusBadRequest)
		}
		return
	}
	ev, err := Parse(body)
	if err != nil {
		h.log.Warn("update is not valid", "bytes", len(body))
		http.Error(w, "invalid update", http.StatusBadRequest)
		return
	}
	switch ev.Kind {
	case KindMessage:
		_, err = h.dialog.Handle(r.Context(), dialog.Message{
			Channel: Channel, Address: ev.ChatID, Text: ev.Text, LangHint: ev.Lang, Site: ev.Start, Media: ev.Media, Location: ev.Location,
			ProviderID: "u" + strconv.Itoa(ev.UpdateID), Callback: ev.Callback,
		})
	case KindBlocked, KindUnblocked:
		err = h.people.SetBlocked(r.Context(), h.dialog.ContactKey(Channel, ev.ChatID), ev.Kind == KindBlocked)
	}
	if err != nil {
		h.log.Error("handling an update failed; Telegram will retry", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}
