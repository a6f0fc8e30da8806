package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// posterEnv is a configuration with every channel, and the embedded store.
func posterEnv(extra map[string]string) func(string) (string, bool) {
	vars := map[string]string{
		"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "token", "TWILIO_SMS_FROM": "+212600000001",
		"TWILIO_WHATSAPP_FROM": "whatsapp:+212600000002", "TELEGRAM_BOT_USERNAME": "OutreachNadorBot", "OUTREACH_VOICE": "sms-back",
	}
	for k, v := range extra {
		vars[k] = v
	}
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok && v != "" }
}

func TestPosterCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A PNG here, a PDF below (to stdout): each render is seconds of CPU
	// under -race, and bot/poster tests the rendering itself.
	for _, out := range []string{"nador-ar.png"} {
		var stdout, stderr bytes.Buffer
		lang := strings.TrimSuffix(strings.Split(out, "-")[1], filepath.Ext(out))
		file := filepath.Join(dir, out)
		if err := run(context.Background(), []string{"poster", "--site", "nador", "--lang", lang, "--out", file}, posterEnv(nil), nil, &stdout, &stderr); err != nil {
			t.Fatalf("%s: %v\n%s", out, err, stderr.String())
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		magic := map[string]string{".png": "\x89PNG", ".pdf": "%PDF-"}[filepath.Ext(out)]
		if !bytes.HasPrefix(data, []byte(magic)) {
			t.Errorf("%s starts %q", out, data[:8])
		}
		for _, want := range []string{"sms:+212600000001?body=NADOR", "https://wa.me/212600000002?text=NADOR", "https://t.me/OutreachNadorBot?start=nador", "(sms-back)"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%s: the report does not say %q:\n%s", out, want, stdout.String())
			}
		}
	}
	// --out - writes the PDF to stdout, the report to stderr.
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"poster", "--site", "oujda", "--out", "-"}, posterEnv(nil), nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(stdout.Bytes(), []byte("%PDF-")) || !strings.Contains(stderr.String(), "poster of Oujda (fr)") {
		t.Errorf("stdout %q…, stderr %q", stdout.Bytes()[:min(8, stdout.Len())], stderr.String())
	}
}

func TestPosterCommandErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown site", []string{"--site", "atlantis"}, nil, `no such site "atlantis": the sites are nador, oujda, rabat, casablanca, tanger`},
		{"unknown language", []string{"--site", "nador", "--lang", "de"}, nil, `no such language "de"`},
		{"no site", nil, nil, "--site is required"},
		{"bad extension", []string{"--site", "nador", "--out", "poster.jpg"}, nil, "want a .pdf or .png file"},
		{"nothing configured", []string{"--site", "nador"}, map[string]string{"TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "", "TWILIO_SMS_FROM": "", "TWILIO_WHATSAPP_FROM": "", "TELEGRAM_BOT_USERNAME": "", "OUTREACH_VOICE": ""},
			"no channel is configured; set TWILIO_SMS_FROM"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"poster"}, c.args...), posterEnv(c.env), nil, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

// Without TELEGRAM_BOT_USERNAME, the bot's username is asked of Telegram.
func TestPosterCommandAsksTelegram(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/getMe") {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"ok":true,"result":{"id":42,"is_bot":true,"first_name":"Outreach","username":"FakeOutreachBot"}}`))
	}))
	defer api.Close()
	var stdout, stderr bytes.Buffer
	env := posterEnv(map[string]string{"TELEGRAM_BOT_USERNAME": "", "TELEGRAM_BOT_TOKEN": "42:secret", "TELEGRAM_WEBHOOK_SECRET": "s3cret", "TELEGRAM_API_URL": api.URL})
	if err := run(context.Background(), []string{"poster", "--site", "rabat", "--out", filepath.Join(t.TempDir(), "p.png")}, env, nil, &stdout, &stderr); err != nil {
		t.Fatal(err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "https://t.me/FakeOutreachBot?start=rabat") {
		t.Errorf("report:\n%s", stdout.String())
	}
}
