package config

import (
	"strings"
	"testing"
)

func TestPoster(t *testing.T) {
	t.Parallel()
	twilio := map[string]string{"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_SMS_FROM": "+212600000001"}
	with := func(extra map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range twilio {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	for _, c := range []struct {
		name      string
		vars      map[string]string
		bot, mode string
	}{
		{"nothing", nil, "", "off"},
		{"twilio: calls get the voice menu", twilio, "", "ivr"},
		{"sms-back", with(map[string]string{"OUTREACH_VOICE": "sms-back"}), "", "sms-back"},
		{"calls off", with(map[string]string{"OUTREACH_VOICE": "off"}), "", "off"},
		{"bot with @", map[string]string{"TELEGRAM_BOT_USERNAME": "@Outreach_Nador_bot"}, "Outreach_Nador_bot", "off"},
	} {
		cfg, err := Load(env(c.vars))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if cfg.Poster.TelegramBot != c.bot || cfg.Voice.Mode != c.mode {
			t.Errorf("%s: poster config %+v, want bot %q and voice %q", c.name, cfg.Poster, c.bot, c.mode)
		}
	}
	for name, vars := range map[string]map[string]string{
		"TELEGRAM_BOT_USERNAME": {"TELEGRAM_BOT_USERNAME": "t.me/nadorbot"},
		"OUTREACH_VOICE":        with(map[string]string{"OUTREACH_VOICE": "on"}),
	} {
		if _, err := Load(env(vars)); err == nil || !strings.HasPrefix(err.Error(), name+":") {
			t.Errorf("%v: error %v, want one naming %s", vars, err, name)
		}
	}
}
