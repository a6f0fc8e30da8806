package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/console"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/distribution"
	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/server"
	"github.com/outreach-org/outreach/bot/store"
	"github.com/outreach-org/outreach/bot/telegram"
	"github.com/outreach-org/outreach/bot/twilio"
	"github.com/outreach-org/outreach/bot/versions"
)

// serve runs the HTTP service and the outbox worker until ctx is cancelled,
// then stops in reverse order: it stops accepting and finishes the requests
// in hand, lets the worker finish its sends in hand, writes the last daily
// counts, then closes Redis.
func serve(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	contentDir := fs.String("content", "", "load flows/ and locales/ from this directory instead of the built-in content")
	setWebhook := fs.Bool("set-telegram-webhook", false, "register the Telegram webhook at start (as OUTREACH_TELEGRAM_SET_WEBHOOK=true)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	a, err := newApp(ctx, lookupEnv, *contentDir, log)
	if err != nil {
		return err
	}
	defer a.close()
	cfg := a.cfg

	broadcasts := broadcast.New(a.store.Client(), a.store, a.dialog.Content, log, broadcast.Options{
		Location: cfg.Timezone, Templates: cfg.Templates,
	})
	distributions := distribution.New(a.store, broadcasts, a.dialog.Content, cfg.RemindBefore, nil, a.dialog.Refresh, log.With("component", "distribution"))
	contentVersions := versions.New(a.store.Client(), cfg.KeyPrefix, a.dialog.Content().Files()).WithKeep(cfg.ContentVersions)
	// The published content, if any, is in use before the first message.
	if n, c, err := contentVersions.Load(ctx); err != nil {
		log.Error("the published content does not load; using the built-in content", "component", "content", "version", n, "err", err)
	} else {
		a.dialog.UseVersion(n, c)
	}
	audit := access.NewAudit(a.store.Client(), cfg.KeyPrefix, access.AuditOptions{Retention: cfg.AuditRetention})
	if n, err := audit.ImportLegacy(ctx); err != nil {
		log.Error("moving the audit log of an earlier version failed; it is tried again at the next start", "component", "audit", "moved", n, "err", err)
	} else if n > 0 {
		log.Info("moved the audit log of an earlier version", "component", "audit", "moved", n)
	}
	opts := server.Options{
		Versions:   contentVersions,
		Broadcasts: broadcasts, Distributions: distributions, Requests: a.store.Requests(),
		Dialog: a.dialog, Store: a.store, Metrics: a.metrics, Log: log, Outbox: a.outbox,
		Tokens: access.NewTokens(a.store.Client(), cfg.KeyPrefix, cfg.AdminToken),
		Audit:  audit, TrustedProxies: cfg.TrustedProxies,
		MetricsToken: cfg.MetricsToken, MetricsElsewhere: cfg.MetricsAddr != "",
	}
	web, err := console.New(console.Options{
		People:   access.NewPeople(a.store.Client(), cfg.KeyPrefix, cfg.AdminToken, nil),
		Failures: access.NewFailures(a.store.Client(), cfg.KeyPrefix),
		Sessions: access.NewSessions(a.store.Client(), cfg.KeyPrefix),
		Audit:    audit, Tokens: opts.Tokens,
		Dialog: a.dialog, Broadcasts: broadcasts, Distributions: distributions,
		Versions: contentVersions, Requests: a.store.Requests(), Sites: a.store, Outbox: a.outbox, Stats: a.stats,
		Log: log, PublicURL: cfg.PublicURL, Location: cfg.Timezone,
		Prices: cfg.Prices, Currency: cfg.Currency,
		Quiet:         cfg.QuietHours,
		Refresh:       consoleRefresh,
		ClientAddress: func(r *http.Request) string { return server.ClientAddress(r, cfg.TrustedProxies) },
		// content
		Drafts:      console.NewContentDrafts(a.store.Client(), cfg.KeyPrefix),
		Subscribers: a.store.Contacts(),
		Census:      a.store.Contacts(),
		Poster:      newPosterChannels(cfg, io.Discard),
	})
	if err != nil {
		return err
	}
	opts.Console = web.Handler()
	a.metrics.Registry.MustRegister(a.outbox.Collector())
	channels := map[string]*outbox.Channel{}
	rdb, outboxLog := a.store.Client(), log.With("component", "outbox")
	statusURL := strings.TrimSuffix(cfg.PublicURL, "/") + "/webhooks/twilio/status"
	if tw := cfg.Twilio; tw.AccountSID != "" {
		api, err := twilio.NewClient(tw.AccountSID, tw.AuthToken, tw.APIURL, cfg.Outbox.SendTimeout)
		if err != nil {
			return err
		}
		var on []string
		if tw.SMS() {
			on = append(on, twilio.SMS)
			channels[twilio.SMS] = &outbox.Channel{
				Sender: twilio.NewSMSSender(api, tw.MessagingServiceSID, tw.SMSFrom, statusURL),
				MaxLen: twilio.MaxBody, Cost: twilio.SMSCost, Gate: outbox.NewSharedGate(rdb, cfg.KeyPrefix, twilio.SMS, cfg.Outbox.RateSMS, max(cfg.Outbox.RateSMS, 1), outboxLog),
			}
		}
		if tw.WhatsApp() {
			on = append(on, twilio.WhatsApp)
			channels[twilio.WhatsApp] = &outbox.Channel{
				Sender: twilio.NewWhatsAppSender(api, tw.WhatsAppFrom, statusURL),
				MaxLen: twilio.MaxBody, Gate: outbox.NewSharedGate(rdb, cfg.KeyPrefix, twilio.WhatsApp, cfg.Outbox.RateWhatsApp, max(cfg.Outbox.RateWhatsApp, 1), outboxLog),
			}
		}
		h := twilio.NewHandler(tw.AuthToken, cfg.PublicURL, a.dialog, a.outbox, a.dialog.People(), on, a.metrics, log)
		opts.TwilioInbound, opts.TwilioStatus = http.HandlerFunc(h.Inbound), http.HandlerFunc(h.Status)
		opts.TwilioVoice = h.NewVoice(twilio.VoiceOptions{Mode: cfg.Voice.Mode, Voices: cfg.Voice.Voices, Content: a.dialog.Content, SMS: tw.SMS()}, a.metrics.Calls)
		opts.Audio = twilio.Audio(a.dialog.Content)
	}
	var bot *tgbotapi.BotAPI
	if tg := cfg.Telegram; tg.On() {
		bot = telegram.NewBot(tg.BotToken, tg.APIURL, cfg.Outbox.SendTimeout)
		channels[telegram.Channel] = &outbox.Channel{
			Sender: telegram.NewSender(bot), MaxLen: telegram.MaxText,
			Gate:    outbox.NewSharedGate(rdb, cfg.KeyPrefix, telegram.Channel, cfg.Outbox.RateTelegram, max(cfg.Outbox.RateTelegram, 1), outboxLog),
			PerChat: outbox.NewGate(cfg.Outbox.RateTelegramChat, 3),
		}
		opts.Telegram = telegram.NewHandler(tg.WebhookSecret, a.dialog, a.dialog.People(), log)
	}

	srv := server.New(opts)
	httpServer := &http.Server{
		Handler:           withDeadline(srv.Handler(), cfg.RequestTimeout),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("OUTREACH_ADDR: %w", err)
	}
	var metricsServer *http.Server
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("OUTREACH_METRICS_ADDR: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.MetricsHandler())
		metricsServer = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go metricsServer.Serve(mln)
		defer metricsServer.Close()
		log.Info("metrics listening", "component", "serve", "metrics_addr", mln.Addr().String())
	}
	log.Info("listening", "component", "serve", "addr", ln.Addr().String(), "admin_api", cfg.AdminToken != "",
		"sms", cfg.Twilio.SMS(), "whatsapp", cfg.Twilio.WhatsApp(), "telegram", cfg.Telegram.On(), "calls", cfg.Voice.Mode)
	if cfg.OrgName == "" {
		log.Warn("OUTREACH_ORG_NAME is not set: the welcome and the privacy notice do not name who runs the service", "component", "serve")
	}

	if bot != nil && (cfg.Telegram.SetWebhook || *setWebhook) {
		u := strings.TrimSuffix(cfg.PublicURL, "/") + "/webhooks/telegram"
		if err := telegram.SetWebhook(bot, u, cfg.Telegram.WebhookSecret); err != nil {
			log.Error("registering the Telegram webhook failed; run outreach telegram-webhook set later", "component", "telegram", "err", err)
		} else {
			log.Info("Telegram webhook registered", "component", "telegram", "url", u)
		}
	}

	// The daily counts are written from before the first message is
	// handled until after the last send: they stop after the worker.
	statsCtx, stopStats := context.WithCancel(context.Background())
	statsDone := make(chan struct{})
	go func() {
		defer close(statsDone)
		a.stats.Run(statsCtx)
	}()
	workerCtx, stopWorker := context.WithCancel(context.Background())
	var workerDone sync.WaitGroup
	if len(channels) > 0 {
		w := a.outbox.NewWorker(channels, a.dialog.People(), a.store, a.metrics, log, outbox.Options{
			ReplyWorkers: cfg.Outbox.Workers, BulkWorkers: cfg.Outbox.BulkWorkers(),
			ClaimIdle: cfg.Outbox.ClaimIdle, MaxTries: cfg.Outbox.MaxTries, SendTimeout: cfg.Outbox.SendTimeout,
			Quiet: cfg.QuietHours.Quiet,
		})
		workerDone.Add(1)
		go func() {
			defer workerDone.Done()
			if err := w.Run(workerCtx); err != nil {
				log.Error("outbox worker stopped", "component", "outbox", "err", err)
			}
		}()
	}
	workerDone.Add(4)
	go func() {
		defer workerDone.Done()
		broadcasts.Run(workerCtx)
	}()
	go func() {
		defer workerDone.Done()
		countPeople(workerCtx, censusEvery, a.store.Contacts(), log.With("component", "census"))
	}()
	go func() {
		defer workerDone.Done()
		keepRetention(workerCtx, time.Hour, cfg.Retention, a, broadcasts, audit, log.With("component", "retention"))
	}()
	go func() {
		defer workerDone.Done()
		contentVersions.Follow(workerCtx, 5*time.Second, log.With("component", "content"), a.dialog.Version, func(n int, c *content.Content) {
			a.dialog.UseVersion(n, c)
		})
	}()

	errc := make(chan error, 1)
	go func() { errc <- httpServer.Serve(ln) }()
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	log.Info("shutting down", "component", "serve")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if shutErr := httpServer.Shutdown(shutdownCtx); shutErr != nil && err == nil {
		err = fmt.Errorf("shutdown: %w", shutErr)
	}
	stopWorker()
	waitOrTimeout(&workerDone, shutdownCtx)
	stopStats() // the last counts are written before Redis closes
	select {
	case <-statsDone:
	case <-shutdownCtx.Done():
	}
	if err == nil {
		if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
			err = serveErr
		}
	}
	return err
}

// waitOrTimeout waits for wg until ctx ends.
func waitOrTimeout(wg *sync.WaitGroup, ctx context.Context) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// consoleRefresh is how often the console's pages that follow a job under
// way reload their live part: console.DefaultRefresh. It is a variable so
// that this package's browser tests, which wait for a broadcast or a
// notice to show as done, can have the pages reload more often.
var consoleRefresh = console.DefaultRefresh

// censusEvery is how often the people are counted by site and language
// for the dashboard.
const censusEvery = time.Hour

// countPeople counts the people by site and language at start and then
// every interval (store.Contacts.CountPeople): one instance an interval,
// the first to find the last count older than that.
func countPeople(ctx context.Context, every time.Duration, contacts store.Contacts, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if c, err := contacts.CountPeople(ctx, time.Now(), every-5*time.Minute); err != nil && ctx.Err() == nil {
			log.Warn("counting the people by site and language failed", "err", err)
		} else if err == nil {
			log.Debug("people counted by site and language", "people", c.Total)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// keepRetention removes, at start and then every interval, what is older
// than the retention period: what outlived silent contacts (their keys
// expire by themselves), who old broadcasts reached, old dead letters, and
// audit entries older than their own retention. It first moves any key an
// instance of a former version wrote since (keys.Migrate), so that
// erasure and the purge find it.
func keepRetention(ctx context.Context, every, retention time.Duration, a *app, broadcasts *broadcast.Service, audit *access.Audit, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		before := time.Now().Add(-retention)
		for _, job := range []struct {
			what string
			run  func() (int, error)
		}{
			// Keys an instance of a former version wrote since the start
			// (a rolling upgrade) move to the current layout.
			{"keys of a former layout (moved)", func() (int, error) { return keys.Migrate(ctx, a.store.Client(), a.store.Keys()) }},
			{"entries of silent contacts", func() (int, error) { return a.dialog.People().Purge(ctx) }},
			{"recipient lists of old broadcasts", func() (int, error) { return broadcasts.Forget(ctx, before) }},
			{"old dead letters", func() (int, error) { return a.outbox.ForgetDead(ctx, before) }},
			{"old audit entries", func() (int, error) { return audit.Forget(ctx) }},
		} {
			n, err := job.run()
			if err != nil && ctx.Err() == nil {
				log.Warn("retention: removing "+job.what+" failed", "err", err)
			} else if n > 0 {
				log.Info("retention: removed "+job.what, "removed", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
