package config

import (
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.RedisURL != "" || c.PublicURL != "http://localhost:8080" || c.AdminToken != "" ||
		c.IdleAfter != time.Hour || c.Retention != 180*24*time.Hour || c.Timezone.String() != "Africa/Casablanca" || c.MaxReplies != 6 || c.ContentVersions != 50 ||
		c.RequestTimeout != 5*time.Second {
		t.Errorf("defaults = %+v", c)
	}
}

func TestValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"OUTREACH_IDLE_AFTER": "90m", "OUTREACH_RETENTION": "30d", "OUTREACH_MAX_REPLIES": "3", "OUTREACH_CONTENT_VERSIONS": "7",
		"OUTREACH_DATA_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "OUTREACH_ADMIN_TOKEN": "short",
		"OUTREACH_REQUEST_TIMEOUT": "8s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.IdleAfter != 90*time.Minute || c.Retention != 30*24*time.Hour || c.MaxReplies != 3 || c.ContentVersions != 7 || len(c.DataKey) != 32 || c.AdminToken != "short" ||
		c.RequestTimeout != 8*time.Second {
		t.Errorf("config = %+v", c)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	for name, value := range map[string]string{
		"OUTREACH_IDLE_AFTER":        "soon",
		"OUTREACH_RETENTION":         "0",
		"OUTREACH_SHUTDOWN_TIMEOUT":  "-1s",
		"OUTREACH_MAX_REPLIES":       "0",
		"OUTREACH_CONTENT_VERSIONS":  "0",
		"OUTREACH_DATA_KEY":          "c2hvcnQ=",
		"OUTREACH_DATA_KEY_PREVIOUS": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", // without OUTREACH_DATA_KEY
		"OUTREACH_TIMEZONE":          "Mars/Olympus",
		"OUTREACH_AUDIT_RETENTION":   "forever",
		"OUTREACH_TRUSTED_PROXIES":   "10.0.0.1, proxy.local",
		"OUTREACH_REQUEST_TIMEOUT":   "0s",
		"OUTREACH_REDIS_REPLICAS":    "1", // with the embedded store: no replica to wait for
		"OUTREACH_REDIS_SHARDS":      "300",
	} {
		_, err := Load(env(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: error %v, want one naming the variable", name, value, err)
		}
	}
	if _, err := Load(env(map[string]string{"REDIS_URL": "redis://x:6379/0"})); err == nil || !strings.Contains(err.Error(), "OUTREACH_DATA_KEY") {
		t.Errorf("REDIS_URL without a data key: %v", err)
	}
	for _, long := range []string{"15s", "1m"} { // a webhook would go unanswered past Twilio's 15 s
		if _, err := Load(env(map[string]string{"OUTREACH_REQUEST_TIMEOUT": long})); err == nil || !strings.Contains(err.Error(), "OUTREACH_REQUEST_TIMEOUT") {
			t.Errorf("OUTREACH_REQUEST_TIMEOUT=%s: %v, want a refusal naming it", long, err)
		}
	}
	if _, err := Load(env(map[string]string{"OUTREACH_RETENTION": "99999999999d"})); err == nil {
		t.Error("a retention that overflows was accepted")
	}
}

func TestTrustedProxiesAndAuditRetention(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.TrustedProxies != nil || c.AuditRetention != 400*24*time.Hour {
		t.Errorf("defaults: proxies %v, audit retention %v; want none and 400 days", c.TrustedProxies, c.AuditRetention)
	}
	c, err = Load(env(map[string]string{"OUTREACH_TRUSTED_PROXIES": " 10.0.0.1, 172.16.0.0/12,fd00::7 ,192.168.1.9/24", "OUTREACH_AUDIT_RETENTION": "30d"}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.TrustedProxies {
		got = append(got, p.String())
	}
	if want := "10.0.0.1/32 172.16.0.0/12 fd00::7/128 192.168.1.0/24"; strings.Join(got, " ") != want || c.AuditRetention != 30*24*time.Hour {
		t.Errorf("proxies %v, audit retention %v; want %s and 30 days", got, c.AuditRetention, want)
	}
	for _, bad := range []string{"10.0.0.300", "10.0.0.0/33", "fe80::1%eth0", "*", "10.0.0.1;10.0.0.2"} {
		if _, err := Load(env(map[string]string{"OUTREACH_TRUSTED_PROXIES": bad})); err == nil || !strings.Contains(err.Error(), "OUTREACH_TRUSTED_PROXIES") || !strings.Contains(err.Error(), bad) {
			t.Errorf("OUTREACH_TRUSTED_PROXIES=%s: error %v, want one naming the variable and the entry", bad, err)
		}
	}
}

func TestQuietHours(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	at := func(h, m int) time.Time { return time.Date(2026, 12, 1, h, m, 0, 0, c.Timezone) }
	for _, tt := range []struct {
		t    time.Time
		want bool
	}{{at(21, 0), true}, {at(23, 59), true}, {at(3, 0), true}, {at(7, 59), true}, {at(8, 0), false}, {at(12, 0), false}, {at(20, 59), false}} {
		if got := c.QuietHours.Quiet(tt.t); got != tt.want {
			t.Errorf("default quiet at %s = %v, want %v", tt.t.Format("15:04"), got, tt.want)
		}
	}
	none, err := Load(env(map[string]string{"OUTREACH_QUIET_HOURS": ""}))
	if err != nil || none.QuietHours.Quiet(at(23, 0)) {
		t.Errorf("OUTREACH_QUIET_HOURS empty: %v, quiet at 23:00 %v; want none", err, none.QuietHours.Quiet(at(23, 0)))
	}
	day, err := Load(env(map[string]string{"OUTREACH_QUIET_HOURS": "12:00-14:00"}))
	if err != nil || !day.QuietHours.Quiet(at(13, 0)) || day.QuietHours.Quiet(at(15, 0)) {
		t.Errorf("12:00-14:00: %v", err)
	}
	for _, bad := range []string{"21-08", "25:00-08:00", "night"} {
		if _, err := Load(env(map[string]string{"OUTREACH_QUIET_HOURS": bad})); err == nil || !strings.Contains(err.Error(), "OUTREACH_QUIET_HOURS") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	tpl, err := Load(env(map[string]string{"OUTREACH_WHATSAPP_TEMPLATES": "notice_new=HX123,message=HX456"}))
	if err != nil || tpl.Templates["notice_new"] != "HX123" || tpl.Templates["message"] != "HX456" {
		t.Errorf("templates: %v %v", tpl.Templates, err)
	}
}

func TestOrgName(t *testing.T) {
	c, err := Load(env(map[string]string{"OUTREACH_ORG_NAME": "  Caritas Nador "}))
	if err != nil {
		t.Fatal(err)
	}
	if c.OrgName != "Caritas Nador" {
		t.Errorf("OrgName = %q, want it trimmed", c.OrgName)
	}
	if c, err := Load(env(nil)); err != nil || c.OrgName != "" {
		t.Errorf("unset: %q, %v; want empty (the content's neutral words)", c.OrgName, err)
	}
	if _, err := Load(env(map[string]string{"OUTREACH_ORG_NAME": strings.Repeat("a", MaxOrgName)})); err != nil {
		t.Errorf("a name of %d characters: %v", MaxOrgName, err)
	}
	for _, bad := range []string{
		strings.Repeat("a", MaxOrgName+1),
		"Fondation «OO»", // « forces UCS-2
		"Aide\nMigrants", // two lines
		"جمعية",          // Arabic script: UCS-2
	} {
		_, err := Load(env(map[string]string{"OUTREACH_ORG_NAME": bad}))
		if err == nil || !strings.Contains(err.Error(), "OUTREACH_ORG_NAME") {
			t.Errorf("OUTREACH_ORG_NAME=%q: error %v, want one naming the variable", bad, err)
		}
	}
}

// Console broadcasts: when held bulk traffic leaves, and the hours as shown.
func TestQuietHoursEnd(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	q := c.QuietHours
	at := func(d, h, m int) time.Time { return time.Date(2026, 12, d, h, m, 0, 0, c.Timezone) }
	for _, tt := range []struct{ t, want time.Time }{
		{at(1, 12, 0), at(1, 12, 0)}, // not quiet: at once
		{at(1, 22, 30), at(2, 8, 0)}, // before midnight: tomorrow morning
		{at(2, 3, 15), at(2, 8, 0)},  // after midnight: this morning
		{at(1, 8, 0), at(1, 8, 0)},
	} {
		if got := q.End(tt.t); !got.Equal(tt.want) {
			t.Errorf("End(%s) = %s, want %s", tt.t, got, tt.want)
		}
	}
	if from, to := q.Span(); from != "21:00" || to != "08:00" {
		t.Errorf("Span = %s-%s, want 21:00-08:00", from, to)
	}
	day, _ := Load(env(map[string]string{"OUTREACH_QUIET_HOURS": "12:00-14:30"}))
	if got := day.QuietHours.End(at(1, 13, 0)); !got.Equal(at(1, 14, 30)) {
		t.Errorf("12:00-14:30: End(13:00) = %s", got)
	}
	none, _ := Load(env(map[string]string{"OUTREACH_QUIET_HOURS": ""}))
	if from, to := none.QuietHours.Span(); from != "" || to != "" || !none.QuietHours.End(at(1, 23, 0)).Equal(at(1, 23, 0)) {
		t.Errorf("no quiet hours: Span %q-%q", from, to)
	}
}
