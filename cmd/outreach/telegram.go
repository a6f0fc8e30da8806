package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/outreach-org/outreach/bot/config"
	"github.com/outreach-org/outreach/bot/telegram"
)

// telegramWebhook shows the Telegram webhook's status, or with "set"
// registers it at OUTREACH_PUBLIC_URL/webhooks/telegram.
func telegramWebhook(args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	if slices.ContainsFunc(args, isHelp) {
		fmt.Fprintln(stdout, "usage: outreach telegram-webhook [set]\n"+
			"shows the Telegram webhook's status; with set, registers it at OUTREACH_PUBLIC_URL/webhooks/telegram")
		return nil
	}
	cfg, err := config.Load(lookupEnv)
	if err != nil {
		return err
	}
	if !cfg.Telegram.On() {
		return fmt.Errorf("TELEGRAM_BOT_TOKEN is not set: Telegram is off")
	}
	bot := telegram.NewBot(cfg.Telegram.BotToken, cfg.Telegram.APIURL, 15*time.Second)
	switch {
	case len(args) == 1 && args[0] == "set":
		u := strings.TrimSuffix(cfg.PublicURL, "/") + "/webhooks/telegram"
		if err := telegram.SetWebhook(bot, u, cfg.Telegram.WebhookSecret); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "webhook set: %s\n", u)
	case len(args) > 0:
		fmt.Fprintln(stderr, "usage: outreach telegram-webhook [set]")
		return errUsage
	}
	info, err := bot.GetWebhookInfo()
	if err != nil {
		return fmt.Errorf("telegram getWebhookInfo: %s", telegram.Classify(err).Reason)
	}
	fmt.Fprintf(stdout, "url:                  %s\n", orNone(info.URL))
	fmt.Fprintf(stdout, "pending updates:      %d\n", info.PendingUpdateCount)
	fmt.Fprintf(stdout, "max connections:      %d\n", info.MaxConnections)
	if info.LastErrorDate != 0 {
		fmt.Fprintf(stdout, "last error:           %s: %s\n", time.Unix(int64(info.LastErrorDate), 0).UTC().Format(time.RFC3339), info.LastErrorMessage)
	} else {
		fmt.Fprintln(stdout, "last error:           none")
	}
	if want := strings.TrimSuffix(cfg.PublicURL, "/") + "/webhooks/telegram"; info.URL != want {
		fmt.Fprintf(stdout, "note: the webhook is not %s; run: outreach telegram-webhook set\n", want)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
