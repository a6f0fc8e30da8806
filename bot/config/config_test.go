package config

import (
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.RedisURL != "" || c.PublicURL != "http://localhost:8080" || c.AdminToken != "" ||
		c.IdleAfter != time.Hour || c.Retention != 180*24*time.Hour || c.Timezone.String() != "Africa/Casablanca" || c.MaxReplies != 6 {
		t.Errorf("defaults = %+v", c)
	}
}

func TestValues(t *testing.T) {
	c, err := Load(env(map[string]string{
		"OUTREACH_IDLE_AFTER": "90m", "OUTREACH_RETENTION": "30d", "OUTREACH_MAX_REPLIES": "3",
		"OUTREACH_DATA_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "OUTREACH_ADMIN_TOKEN": "short",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.IdleAfter != 90*time.Minute || c.Retention != 30*24*time.Hour || c.MaxReplies != 3 || len(c.DataKey) != 32 || c.AdminToken != "short" {
		t.Errorf("config = %+v", c)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	for name, value := range map[string]string{
		"OUTREACH_IDLE_AFTER":       "soon",
		"OUTREACH_RETENTION":        "0",
		"OUTREACH_SHUTDOWN_TIMEOUT": "-1s",
		"OUTREACH_MAX_REPLIES":      "0",
		"OUTREACH_DATA_KEY":         "c2hvcnQ=",
		"OUTREACH_TIMEZONE":         "Mars/Olympus",
	} {
		_, err := Load(env(map[string]string{name: value}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: error %v, want one naming the variable", name, value, err)
		}
	}
	if _, err := Load(env(map[string]string{"REDIS_URL": "redis://x:6379/0"})); err == nil || !strings.Contains(err.Error(), "OUTREACH_DATA_KEY") {
		t.Errorf("REDIS_URL without a data key: %v", err)
	}
	if _, err := Load(env(map[string]string{"OUTREACH_RETENTION": "99999999999d"})); err == nil {
		t.Error("a retention that overflows was accepted")
	}
}
