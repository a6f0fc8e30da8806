// Package config reads the service's configuration once, from the
// environment, into one struct with defaults, and checks it.
package config

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/outreach-org/outreach/bot/keys"
)

// Config is the service's configuration. See README.md for each variable.
type Config struct {
	Addr       string // OUTREACH_ADDR
	RedisURL   string // REDIS_URL; empty = embedded store
	PublicURL  string // OUTREACH_PUBLIC_URL
	AdminToken string // OUTREACH_ADMIN_TOKEN; empty = admin API closed
	// MetricsAddr, when set, serves /metrics on a listen address of its own
	// instead of OUTREACH_ADDR (OUTREACH_METRICS_ADDR).
	MetricsAddr string
	// MetricsToken, when set, is the bearer token /metrics asks for
	// (OUTREACH_METRICS_TOKEN).
	MetricsToken string
	// DataKey opens the keys kept in Redis that hash contacts and seal
	// addresses (OUTREACH_DATA_KEY, base64 of 32 bytes).
	DataKey []byte
	// PreviousDataKey is the data key being rotated away from
	// (OUTREACH_DATA_KEY_PREVIOUS): it opens the stored keys once, and
	// they are sealed again with DataKey.
	PreviousDataKey []byte
	// RedisReplicas is how many replicas must hold a message's turn before
	// its webhook is answered (OUTREACH_REDIS_REPLICAS; Redis WAIT): with
	// Sentinel, 1 means a failover cannot lose an accepted message.
	RedisReplicas int
	// RedisShards is how many shards the keys about people are spread
	// over (OUTREACH_REDIS_SHARDS, 1 to 256): on a Redis Cluster, each is
	// one hash slot. It is recorded with the data and cannot change.
	RedisShards int
	// KeyPrefix starts every Redis key (OUTREACH_REDIS_PREFIX).
	KeyPrefix string
	// Timezone is where dates and times are shown (OUTREACH_TIMEZONE).
	Timezone *time.Location
	// IdleAfter ends a conversation after a silence (OUTREACH_IDLE_AFTER).
	IdleAfter time.Duration
	// Retention is how long a silent contact is kept (OUTREACH_RETENTION).
	Retention time.Duration
	// AuditRetention is how long an audit log entry is kept
	// (OUTREACH_AUDIT_RETENTION).
	AuditRetention time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (OUTREACH_TRUSTED_PROXIES); none = the peer is the client.
	TrustedProxies []netip.Prefix
	// MaxReplies bounds the messages one step may send (OUTREACH_MAX_REPLIES).
	MaxReplies int
	// FloodPerMinute bounds one person's messages a minute (OUTREACH_FLOOD_PER_MINUTE).
	FloodPerMinute int
	// ContentDir, when set, loads flows/ and locales/ from this directory
	// instead of the content built into the binary (OUTREACH_CONTENT_DIR).
	ContentDir string
	// ContentVersions is how many published content versions are kept,
	// the last ones; older ones are deleted on publish
	// (OUTREACH_CONTENT_VERSIONS, default 50).
	ContentVersions int
	// ShutdownTimeout bounds a graceful stop (OUTREACH_SHUTDOWN_TIMEOUT).
	ShutdownTimeout time.Duration
	// RequestTimeout is every HTTP request's deadline (OUTREACH_REQUEST_TIMEOUT):
	// when Redis hangs, a webhook answers 503 by then and the provider
	// retries. It is under MaxRequestTimeout.
	RequestTimeout time.Duration

	Twilio   Twilio
	Telegram Telegram
	// Voice is how calls to the Twilio number are answered.
	Voice     Voice
	Outbox    Outbox
	Locations Locations

	// QuietHours hold bulk traffic (OUTREACH_QUIET_HOURS, default 21:00-08:00).
	QuietHours QuietHours
	// RemindBefore is when a distribution's reminder goes (OUTREACH_REMINDER_BEFORE).
	RemindBefore time.Duration
	// Templates are WhatsApp content templates by notice kind (OUTREACH_WHATSAPP_TEMPLATES).
	Templates map[string]string
	// OrgName is the organisation that runs the service, named by the
	// welcome and the privacy notice in every language (OUTREACH_ORG_NAME);
	// empty, the content names it in neutral words.
	OrgName string
	// Prices are the cost of one message segment by channel, for the
	// console's estimates (OUTREACH_PRICES, "sms=0.09,whatsapp=0.01");
	// a channel without a price shows segments only.
	Prices map[string]float64
	// Currency names the prices' currency (OUTREACH_CURRENCY, default USD).
	Currency string
	// Poster is what a site's printed poster needs (poster.go).
	Poster Poster
}

// MaxRequestTimeout bounds OUTREACH_REQUEST_TIMEOUT: Twilio waits 15 s for a
// webhook's answer, and an answer must come, a 503 at worst, before that.
const MaxRequestTimeout = 15 * time.Second

// Load reads the configuration through lookupEnv (os.LookupEnv) and checks
// it. The error names the variable at fault. A variable set empty counts as
// unset, except OUTREACH_QUIET_HOURS, where empty means none.
func Load(lookupEnv func(string) (string, bool)) (Config, error) {
	getenv := func(k string) string { v, _ := lookupEnv(k); return v }
	c := Config{
		Addr:         or(getenv("OUTREACH_ADDR"), ":8080"),
		RedisURL:     getenv("REDIS_URL"),
		PublicURL:    or(getenv("OUTREACH_PUBLIC_URL"), "http://localhost:8080"),
		AdminToken:   getenv("OUTREACH_ADMIN_TOKEN"),
		MetricsAddr:  getenv("OUTREACH_METRICS_ADDR"),
		MetricsToken: getenv("OUTREACH_METRICS_TOKEN"),
		KeyPrefix:    or(getenv("OUTREACH_REDIS_PREFIX"), "outreach:"),
		ContentDir:   getenv("OUTREACH_CONTENT_DIR"),
	}
	var err error
	for _, k := range []struct {
		name string
		dst  *[]byte
	}{{"OUTREACH_DATA_KEY", &c.DataKey}, {"OUTREACH_DATA_KEY_PREVIOUS", &c.PreviousDataKey}} {
		if v := getenv(k.name); v != "" {
			key, derr := base64.StdEncoding.DecodeString(v)
			if derr != nil || len(key) != 32 {
				return c, fmt.Errorf("%s: want the base64 of 32 random bytes (e.g. openssl rand -base64 32)", k.name)
			}
			*k.dst = key
		}
	}
	if c.PreviousDataKey != nil && c.DataKey == nil {
		return c, fmt.Errorf("OUTREACH_DATA_KEY_PREVIOUS: set only with OUTREACH_DATA_KEY, the key rotated to")
	}
	if c.RedisURL != "" && c.DataKey == nil {
		return c, fmt.Errorf("OUTREACH_DATA_KEY: required with REDIS_URL, to seal addresses at rest; make one with: openssl rand -base64 32")
	}
	if c.MetricsAddr != "" && c.MetricsAddr == c.Addr && !strings.HasSuffix(c.Addr, ":0") {
		return c, fmt.Errorf("OUTREACH_METRICS_ADDR: must differ from OUTREACH_ADDR (%s); leave it unset to serve /metrics there", c.Addr)
	}
	if t := c.MetricsToken; t != "" && len(t) < 16 {
		return c, fmt.Errorf("OUTREACH_METRICS_TOKEN: at least 16 characters (e.g. openssl rand -hex 32)")
	}
	tz := or(getenv("OUTREACH_TIMEZONE"), "Africa/Casablanca")
	if c.Timezone, err = time.LoadLocation(tz); err != nil {
		return c, fmt.Errorf("OUTREACH_TIMEZONE: %w", err)
	}
	if c.IdleAfter, err = duration(getenv, "OUTREACH_IDLE_AFTER", time.Hour); err != nil {
		return c, err
	}
	if c.Retention, err = duration(getenv, "OUTREACH_RETENTION", 180*24*time.Hour); err != nil {
		return c, err
	}
	if c.AuditRetention, err = duration(getenv, "OUTREACH_AUDIT_RETENTION", 400*24*time.Hour); err != nil {
		return c, err
	}
	if c.TrustedProxies, err = parseProxies(getenv("OUTREACH_TRUSTED_PROXIES")); err != nil {
		return c, err
	}
	if c.ShutdownTimeout, err = duration(getenv, "OUTREACH_SHUTDOWN_TIMEOUT", 20*time.Second); err != nil {
		return c, err
	}
	if c.RequestTimeout, err = duration(getenv, "OUTREACH_REQUEST_TIMEOUT", 5*time.Second); err != nil {
		return c, err
	}
	if c.RequestTimeout >= MaxRequestTimeout {
		return c, fmt.Errorf("OUTREACH_REQUEST_TIMEOUT: want less than %s (Twilio gives up on a webhook after 15 s and counts it failed), got %s", MaxRequestTimeout, c.RequestTimeout)
	}
	if err := loadChannels(&c, getenv); err != nil {
		return c, err
	}
	if err := loadVoice(&c, getenv); err != nil {
		return c, err
	}
	if err := loadLocations(&c, getenv); err != nil {
		return c, err
	}
	quiet, ok := lookupEnv("OUTREACH_QUIET_HOURS")
	if !ok {
		quiet = "21:00-08:00"
	}
	if c.QuietHours, err = parseQuietHours(quiet, c.Timezone); err != nil {
		return c, err
	}
	if c.RemindBefore, err = duration(getenv, "OUTREACH_REMINDER_BEFORE", 24*time.Hour); err != nil {
		return c, err
	}
	if c.Templates, err = parseTemplates(getenv("OUTREACH_WHATSAPP_TEMPLATES")); err != nil {
		return c, err
	}
	if v := getenv("OUTREACH_REDIS_REPLICAS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 5 {
			return c, fmt.Errorf("OUTREACH_REDIS_REPLICAS: %q is not a number of replicas from 0 to 5", v)
		}
		if n > 0 && c.RedisURL == "" {
			return c, fmt.Errorf("OUTREACH_REDIS_REPLICAS: the embedded store (REDIS_URL unset) has no replicas to wait for; unset it or set REDIS_URL to a Sentinel")
		}
		c.RedisReplicas = n
	}
	if c.RedisShards, err = positive(getenv, "OUTREACH_REDIS_SHARDS", keys.DefaultShards); err != nil {
		return c, err
	}
	if c.RedisShards > keys.MaxShards {
		return c, fmt.Errorf("OUTREACH_REDIS_SHARDS: %d is more than %d shards", c.RedisShards, keys.MaxShards)
	}
	if c.FloodPerMinute, err = positive(getenv, "OUTREACH_FLOOD_PER_MINUTE", 30); err != nil {
		return c, err
	}
	if c.ContentVersions, err = positive(getenv, "OUTREACH_CONTENT_VERSIONS", 50); err != nil {
		return c, err
	}
	if c.Prices, err = parsePrices(getenv("OUTREACH_PRICES")); err != nil {
		return Config{}, err
	}
	c.Currency = or(getenv("OUTREACH_CURRENCY"), "USD")
	if c.OrgName, err = parseOrgName(getenv("OUTREACH_ORG_NAME")); err != nil {
		return c, err
	}
	if err := loadPoster(&c, getenv); err != nil {
		return c, err
	}
	c.MaxReplies = 6
	if v := getenv("OUTREACH_MAX_REPLIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, fmt.Errorf("OUTREACH_MAX_REPLIES: want a whole number of at least 1, got %q", v)
		}
		c.MaxReplies = n
	}
	return c, nil
}

// duration reads a Go duration such as "90m"; days may be written "180d".
func duration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	bad := fmt.Errorf("%s: want a positive duration such as 30m, 2h or 180d, got %q", name, v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		const maxDays = 100 * 365
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > maxDays {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

// parseProxies reads a comma-separated list of IP addresses and CIDR
// prefixes ("10.0.0.1, 172.16.0.0/12, fd00::/8").
func parseProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		p, ok := parseProxy(item)
		if !ok {
			return nil, fmt.Errorf("OUTREACH_TRUSTED_PROXIES: %q is not an IP address or CIDR prefix (e.g. 10.0.0.1, 10.0.0.0/8, fd00::/8)", item)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseProxy(item string) (netip.Prefix, bool) {
	if strings.Contains(item, "/") {
		p, err := netip.ParsePrefix(item)
		return p.Masked(), err == nil
	}
	a, err := netip.ParseAddr(item)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// parsePrices reads OUTREACH_PRICES: channel=price pairs, comma-separated.
func parsePrices(v string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		ch, price, ok := strings.Cut(pair, "=")
		ch = strings.TrimSpace(ch)
		f, err := strconv.ParseFloat(strings.TrimSpace(price), 64)
		if !ok || err != nil || f < 0 || (ch != "sms" && ch != "whatsapp" && ch != "telegram") {
			return nil, fmt.Errorf("OUTREACH_PRICES: %q is not channel=price (channels sms, whatsapp, telegram; a price of 0 or more)", pair)
		}
		out[ch] = f
	}
	return out, nil
}
