package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	_ "time/tzdata" // dates are shown in Africa/Casablanca even where the system has no zone data

	"github.com/outreach-org/outreach/bot/config"
	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/stats"
	"github.com/outreach-org/outreach/bot/store"
	"github.com/outreach-org/outreach/bot/telegram"
	"github.com/outreach-org/outreach/bot/twilio"
)

const usage = `usage: outreach <command> [flags]

commands:
  serve            run the webhook service, outbox worker and admin API
  chat             talk to the bot in this terminal (same engine and content)
  validate [DIR]   check flows/ and locales/ (the built-in content, or DIR)
  telegram-webhook [set]
                   show the Telegram webhook's status, or set it to
                   OUTREACH_PUBLIC_URL/webhooks/telegram with the secret token
  poster --site ID [--lang L] [--out FILE]
                   write a site's printable A4 poster (PDF, or PNG by --out's
                   extension; --out - to stdout) with QR codes for SMS,
                   WhatsApp and Telegram, the call number and the scam warning

staff commands (talk to a running service: OUTREACH_URL or --url, OUTREACH_TOKEN):
  distributions list | create …      announce and list distributions
  broadcast send | status ID | cancel ID [--follow] [--json]
                                     (or "broadcasts"); flags before or after ID

Every command takes --help.

Configuration is read from the environment; see README.md.
`

// errUsage is returned for a command line that cannot be run.
var errUsage = errors.New("see usage above")

// run is the whole program; main only wires it to the process. Asking a
// command for help (-h, --help) succeeds.
func run(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	err := command(ctx, args, lookupEnv, stdin, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func command(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], lookupEnv, stderr)
	case "chat":
		return chat(ctx, args[1:], lookupEnv, stdin, stdout, stderr)
	case "validate":
		return validate(args[1:], stdout, stderr)
	case "telegram-webhook":
		return telegramWebhook(args[1:], lookupEnv, stdout, stderr)
	case "poster":
		return posterCmd(ctx, args[1:], lookupEnv, stdout, stderr)
	case "distributions":
		return distributions(ctx, args[1:], lookupEnv, stdout, stderr)
	case "broadcast", "broadcasts":
		return broadcastCmd(ctx, args[1:], lookupEnv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q: %w", args[0], errUsage)
}

// statsInterval is how often serve writes the daily counts: the default of
// package stats. It is a variable so that this package's tests, which wait
// for the counts to reach Redis and the dashboard, can have them written
// more often than every few seconds.
var statsInterval = stats.DefaultInterval

// app is what serve and chat share: configuration, store, content, dialog.
type app struct {
	cfg     config.Config
	log     *slog.Logger
	store   *store.Store
	metrics *metrics.Metrics
	dialog  *dialog.Service
	outbox  *outbox.Outbox
	// stats are the dashboard's daily counts; serve writes them (Run).
	stats *stats.Stats
	close func()
}

func newApp(ctx context.Context, lookupEnv func(string) (string, bool), contentDir string, log *slog.Logger) (*app, error) {
	cfg, err := config.Load(lookupEnv)
	if err != nil {
		return nil, err
	}
	if contentDir == "" {
		contentDir = cfg.ContentDir
	}
	fsys := content.Embedded()
	if contentDir != "" {
		fsys = content.Dir(contentDir)
	}
	c, err := content.Load(fsys)
	if err != nil {
		return nil, fmt.Errorf("content is not valid:\n%w", err)
	}
	rdb, closeRedis, err := store.Connect(ctx, cfg.RedisURL, cfg.Outbox.Readers(), log)
	if err != nil {
		return nil, err
	}
	m := metrics.New()
	rdb.AddHook(m.RedisHook())
	m.WatchPool(rdb.PoolStats)
	// Keys of a former version under their former names (before the keys
	// about people were sharded, or before requests, API tokens and
	// content versions had hash tags) move to the new ones.
	if n, err := keys.Migrate(ctx, rdb, keys.New(cfg.KeyPrefix).WithShards(cfg.RedisShards)); err != nil {
		closeRedis()
		return nil, err
	} else if n > 0 {
		log.Info("keys of a former version moved to the current layout", "component", "keys", "count", n)
	}
	st, err := store.New(ctx, rdb, store.Options{Prefix: cfg.KeyPrefix, DataKey: cfg.DataKey, PreviousDataKey: cfg.PreviousDataKey, Retention: cfg.Retention, Replicas: cfg.RedisReplicas, Shards: cfg.RedisShards})
	if err != nil {
		closeRedis()
		return nil, err
	}
	if st.Rotated() {
		log.Warn("the data key was rotated: the keys kept in Redis are now sealed with OUTREACH_DATA_KEY; restart the other instances with it, then remove OUTREACH_DATA_KEY_PREVIOUS", "component", "store")
	}
	counts := stats.New(rdb, cfg.KeyPrefix, stats.Options{Location: cfg.Timezone, Interval: statsInterval, Log: log})
	ob := outbox.New(rdb, st.Keys()).WithRetention(cfg.Retention).WithStats(counts)
	var deliver []string
	if cfg.Twilio.SMS() {
		deliver = append(deliver, twilio.SMS)
	}
	if cfg.Twilio.WhatsApp() {
		deliver = append(deliver, twilio.WhatsApp)
	}
	if cfg.Telegram.On() {
		deliver = append(deliver, telegram.Channel)
	}
	d := dialog.New(st, c, m, log, dialog.Options{
		Location:       cfg.Timezone,
		IdleAfter:      cfg.IdleAfter,
		MaxReplies:     cfg.MaxReplies,
		NearestSiteKm:  cfg.Locations.NearestSiteKm,
		FloodPerMinute: cfg.FloodPerMinute,
		Outbox:         ob,
		Deliver:        deliver,
		Org:            cfg.OrgName,
		CallNumber:     cfg.CallNumber(),
		Retention:      cfg.Retention,
		Stats:          counts,
	})
	return &app{cfg: cfg, log: log, store: st, metrics: m, dialog: d, outbox: ob, stats: counts, close: closeRedis}, nil
}

// newFlagSet returns a flag set that reports its errors to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
