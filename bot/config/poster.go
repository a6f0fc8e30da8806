package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Poster is what the printed poster of a site needs beyond the channels'
// senders (outreach poster, the console's distributions page).
type Poster struct {
	// TelegramBot is the Telegram bot's username, without "@"
	// (TELEGRAM_BOT_USERNAME): the poster's t.me link. Empty, it is asked
	// of Telegram (getMe) when TELEGRAM_BOT_TOKEN is set.
	TelegramBot string
}

// botUsername is a Telegram bot's username: 5 to 32 of a-z, 0-9 and _,
// ending in "bot" (https://core.telegram.org/bots/features#botfather).
var botUsername = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{2,29}[Bb][Oo][Tt]$`)

func loadPoster(c *Config, getenv func(string) string) error {
	c.Poster.TelegramBot = strings.TrimPrefix(strings.TrimSpace(getenv("TELEGRAM_BOT_USERNAME")), "@")
	if u := c.Poster.TelegramBot; u != "" && !botUsername.MatchString(u) {
		return fmt.Errorf("TELEGRAM_BOT_USERNAME: %q is not a bot's username (5 to 32 letters, digits or _, ending in bot, as in t.me/<username>)", u)
	}
	return nil
}
