package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/config"
	// Aliased: this package's load test has a type named poster.
	posters "github.com/outreach-org/outreach/bot/poster"
	"github.com/outreach-org/outreach/bot/telegram"
	"github.com/outreach-org/outreach/bot/versions"
)

const posterUsage = `usage: outreach poster --site ID [--lang L] [--out FILE] [--telegram BOT]
writes a site's printable A4 poster: the SMS number and keyword, WhatsApp and
Telegram as QR codes, the number to call, and the line against scams.`

// posterCmd writes a site's poster, a PDF or a PNG by the extension of
// --out, from the sites and the content the service uses.
func posterCmd(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	flags := newFlagSet("poster", stderr)
	site := flags.String("site", "", "the site's id, e.g. nador (required)")
	lang := flags.String("lang", "", "the poster's language, e.g. fr, en or ar (default: the content's first)")
	out := flags.String("out", "", "the file to write, .pdf or .png; - writes the PDF to standard output (default poster-<site>-<lang>.pdf)")
	tg := flags.String("telegram", "", "the Telegram bot's username (default TELEGRAM_BOT_USERNAME, else asked of Telegram)")
	rest, err := parseFlags(flags, args, posterUsage, stdout)
	if err != nil {
		return err
	}
	if len(rest) > 0 || *site == "" {
		fmt.Fprintln(stderr, posterUsage)
		return fmt.Errorf("poster: --site is required, and takes no other argument: %w", errUsage)
	}
	format := strings.ToLower(filepath.Ext(*out))
	if *out != "" && *out != "-" && format != ".pdf" && format != ".png" {
		return fmt.Errorf("poster: --out %s: want a .pdf or .png file", *out)
	}
	// Quiet: the embedded store's warning says nothing about a poster.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	a, err := newApp(ctx, lookupEnv, "", log)
	if err != nil {
		return err
	}
	defer a.close()
	cfg := a.cfg
	if *tg != "" {
		cfg.Poster.TelegramBot = strings.TrimPrefix(*tg, "@")
	}
	// The published content, if any, names the sites, as serve uses it.
	if n, c, err := versions.New(a.store.Client(), cfg.KeyPrefix, a.dialog.Content().Files()).Load(ctx); err == nil {
		a.dialog.UseVersion(n, c)
	}
	sites, err := broadcast.New(a.store.Client(), a.store, a.dialog.Content, log, broadcast.Options{Location: cfg.Timezone}).Sites(ctx)
	if err != nil {
		return err
	}
	ch, err := newPosterChannels(cfg, stderr)(ctx)
	if err != nil {
		return err
	}
	c := a.dialog.Content()
	if *lang == "" {
		*lang = c.Languages[0]
	}
	p, err := posters.For(c, sites, *site, *lang, ch)
	if errors.Is(err, posters.ErrNoChannel) {
		return fmt.Errorf("poster: no channel is configured; set TWILIO_SMS_FROM (SMS and calls, with TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN), TWILIO_WHATSAPP_FROM (WhatsApp), or TELEGRAM_BOT_USERNAME or TELEGRAM_BOT_TOKEN (Telegram)")
	} else if err != nil {
		return fmt.Errorf("poster: %w", err)
	}
	if *out == "" {
		*out = "poster-" + *site + "-" + *lang + ".pdf"
		format = ".pdf"
	}
	var data []byte
	if format == ".png" {
		data, err = posters.PNG(p)
	} else {
		data, err = posters.PDF(p, p.Heading)
	}
	if err != nil {
		return err
	}
	report := stdout
	if *out == "-" {
		if _, err := stdout.Write(data); err != nil {
			return err
		}
		report = stderr
	} else if err := os.WriteFile(*out, data, 0o644); err != nil {
		return fmt.Errorf("poster: %w", err)
	}
	fmt.Fprintf(report, "%s: poster of %s (%s), A4, %d KB\n", *out, p.Heading, *lang, len(data)/1024)
	for _, b := range p.Blocks {
		fmt.Fprintf(report, "  %-9s %s\n", b.Title, posterSays(b, ch))
	}
	return nil
}

// posterSays is what a block of the poster shows, for the report.
func posterSays(b posters.Block, ch posters.Channels) string {
	switch b.Channel {
	case posters.ChannelSMS:
		return ch.SMS + " (QR " + b.QR + ")"
	case posters.ChannelCall:
		return ch.SMS + " (" + string(ch.Voice) + ")"
	}
	return b.QR
}

// newPosterChannels returns what reads the channels a poster shows from
// the service's configuration. The Telegram bot's username, when not
// configured, is asked of Telegram (getMe) the first time, and kept once
// known. Channels that cannot be shown are told on warn and left off.
func newPosterChannels(cfg config.Config, warn io.Writer) func(context.Context) (posters.Channels, error) {
	var mu sync.Mutex
	bot := cfg.Poster.TelegramBot
	return func(ctx context.Context) (posters.Channels, error) {
		tw := cfg.Twilio
		ch := posters.Channels{Voice: posters.Voice(cfg.Voice.Mode)}
		if tw.SMS() && tw.SMSFrom != "" {
			if posters.IsNumber(tw.SMSFrom) {
				ch.SMS = tw.SMSFrom
			} else {
				fmt.Fprintln(warn, "poster: TWILIO_SMS_FROM is not a phone number (+212…): SMS and calls are left off the poster")
			}
		}
		if wa := strings.TrimPrefix(tw.WhatsAppFrom, "whatsapp:"); tw.WhatsApp() {
			if posters.IsNumber(wa) {
				ch.WhatsApp = wa
			} else {
				fmt.Fprintln(warn, "poster: TWILIO_WHATSAPP_FROM is not whatsapp:+<number>: WhatsApp is left off the poster")
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if bot == "" && cfg.Telegram.On() {
			api := telegram.NewBot(cfg.Telegram.BotToken, cfg.Telegram.APIURL, 10*time.Second)
			me, err := api.GetMe()
			if err != nil {
				return ch, fmt.Errorf("poster: asking Telegram the bot's username (getMe): %s; or set TELEGRAM_BOT_USERNAME", telegram.Classify(err).Reason)
			}
			bot = me.UserName
		}
		ch.Telegram = bot
		return ch, nil
	}
}
