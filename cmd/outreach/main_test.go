package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// parallel is how many of this package's tests run at once when the
// command line does not say (-parallel): most of them wait on timers, Redis,
// the fake providers or a process of their own, not on the CPU, so more of
// them than the machine has cores keep it busy. The browser tests are
// limited apart (browserTests).
const parallel = 16

func TestMain(m *testing.M) {
	runAsService()
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(parallel))
	}
	// The services the tests start in this process write their daily
	// counts often: a test that reads them waits for the write.
	statsInterval = 100 * time.Millisecond
	// The console's live parts reload often: a browser test that waits for
	// a job to show as done waits for the job.
	consoleRefresh = 200 * time.Millisecond
	code := redistest.Main(m)
	removeBinary()
	stopChromium()
	os.Exit(code)
}

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func chatWith(t *testing.T, input string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"chat"}, env(nil), strings.NewReader(input), &out, &errOut)
	if err != nil {
		t.Fatalf("chat: %v\n%s", err, errOut.String())
	}
	if n := strings.Count(errOut.String(), "embedded"); n != 1 {
		t.Errorf("chat without REDIS_URL warned %d times about the embedded store, want once:\n%s", n, errOut.String())
	}
	return out.String()
}

func shipped(t *testing.T) *content.Content {
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// welcome is the welcome in lang as the bot says it with no organisation
// configured (OUTREACH_ORG_NAME unset).
func welcome(c *content.Content, lang string) string {
	return c.Text(lang, "welcome", map[string]any{"Org": c.Text(lang, content.MsgOrgDefault, nil)})
}

// TestChatNamesTheOrg: OUTREACH_ORG_NAME reaches the welcome.
func TestChatNamesTheOrg(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"chat"}, env(map[string]string{"OUTREACH_ORG_NAME": "Caritas Nador"}), strings.NewReader("hello\n"), &out, &errOut)
	if err != nil {
		t.Fatalf("chat: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "This is Caritas Nador.") {
		t.Errorf("the welcome does not name OUTREACH_ORG_NAME:\n%s", out.String())
	}
}

func TestChat(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	tests := []struct {
		input string
		want  []string
	}{
		{"Bonjour\n2\n", []string{c.Text("fr", "main_title", nil), c.Text("fr", "health_title", nil)}},
		{"مرحبا\n", []string{welcome(c, "ar"), c.Text("ar", "main_title", nil)}},
		{"hello\n", []string{welcome(c, "en"), c.Text("en", "main_title", nil)}},
		{"hello\nSTOP\n", []string{c.Text("en", "stop_ack", nil)}},
		{"Bonjour\nARRÊT\n", []string{c.Text("fr", "stop_ack", nil)}},
		{"مرحبا\nتوقف\n", []string{c.Text("ar", "stop_ack", nil)}},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.input, "\n", "|"), func(t *testing.T) {
			out := chatWith(t, tt.input)
			for _, want := range tt.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

// copyContent writes the built-in content to a directory a test can change.
func copyContent(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range shipped(t).Files() {
		path := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func replaceIn(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("%s lacks %q", path, old)
	}
	os.WriteFile(path, bytes.Replace(data, []byte(old), []byte(new), 1), 0o644)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"validate"}, env(nil), nil, &out, &errOut); err != nil {
		t.Fatalf("validate of the shipped content: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"SMS cost", "as sent: main", "as sent: health_where (oujda)", "GSM-7", "UCS-2", "valid"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("validate output lacks %q:\n%s", want, out.String())
		}
	}

	t.Run("missing Arabic message", func(t *testing.T) {
		dir := copyContent(t)
		replaceIn(t, filepath.Join(dir, "locales", "ar.yaml"), "school_documents:", "school_documentz:")
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"validate", dir}, env(nil), nil, &out, &errOut)
		if err == nil {
			t.Fatal("validate passed content with a missing Arabic message")
		}
		if !strings.Contains(errOut.String(), "locales/ar.yaml: school_documents: missing in ar") {
			t.Errorf("stderr does not name the file and key:\n%s", errOut.String())
		}
	})
	t.Run("goto to nowhere", func(t *testing.T) {
		dir := copyContent(t)
		replaceIn(t, filepath.Join(dir, "flows", "main.yaml"), "goto: language_set", "goto: language_sett")
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"validate", dir}, env(nil), nil, &out, &errOut)
		if err == nil {
			t.Fatal("validate passed a goto to nowhere")
		}
		if !regexp.MustCompile(`flows/main\.yaml:\d+: language_apply: goto "language_sett": no such node`).MatchString(errOut.String()) {
			t.Errorf("stderr does not name the file, line and node:\n%s", errOut.String())
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a server's log and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// service is a running "outreach serve".
type service struct {
	base string
	logs *syncBuffer
	stop func() error
}

func startServe(t testing.TB, vars map[string]string) *service {
	t.Helper()
	vars["OUTREACH_ADDR"] = "127.0.0.1:0"
	if vars["REDIS_URL"] != "" && vars["OUTREACH_DATA_KEY"] == "" {
		vars["OUTREACH_DATA_KEY"] = "dGVzdC1kYXRhLWtleS0zMi1ieXRlcy1sb25nLW9rISE=" // "test-data-key-32-bytes-long-ok!!"
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env(vars), nil, io.Discard, logs) }()
	addr := regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`)
	// A bound on a start that hangs, not a speed figure: a start reads
	// Redis (a new prefix's keyring scans the keyspace), which is slow
	// when the shared Redis holds many keys of other tests.
	deadline := time.Now().Add(waitfor.Default)
	for {
		if m := addr.FindStringSubmatch(logs.String()); m != nil {
			s := &service{base: "http://" + m[1], logs: logs}
			stopped := false
			s.stop = func() error {
				if stopped {
					return nil
				}
				stopped = true
				cancel()
				return <-done
			}
			t.Cleanup(func() { s.stop() })
			waitHealthy(t, s.base)
			return s
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve stopped: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitHealthy(t testing.TB, base string) {
	t.Helper()
	waitfor.Cond(t, waitfor.Default, "/healthz to answer 200", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

const adminToken = "test-admin-token-0123456789abcdef"

func simulate(t *testing.T, base, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/api/v1/simulate", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if lower, ok := strings.CutPrefix(token, "lower:"); ok {
		req.Header.Set("Authorization", "bearer "+lower)
	} else if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func say(t *testing.T, base, contact, text string) []string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"contact": contact, "text": text})
	status, resp := simulate(t, base, adminToken, string(body))
	if status != http.StatusOK {
		t.Fatalf("simulate %q: %d %s", text, status, resp)
	}
	var out struct {
		Replies []struct {
			Text string `json:"text"`
		} `json:"replies"`
	}
	if err := json.Unmarshal([]byte(resp), &out); err != nil {
		t.Fatalf("simulate answer %s: %v", resp, err)
	}
	texts := make([]string, len(out.Replies))
	for i, r := range out.Replies {
		texts[i] = r.Text
	}
	return texts
}

func TestServeKeepsConversationAcrossRestart(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	vars := map[string]string{
		"REDIS_URL":             redistest.URL(t),
		"OUTREACH_REDIS_PREFIX": redistest.Prefix(t),
		"OUTREACH_ADMIN_TOKEN":  adminToken,
	}
	const contact = "restart-test-person"
	s := startServe(t, vars)
	say(t, s.base, contact, "Bonjour")
	got := say(t, s.base, contact, "3") // school
	if !strings.Contains(strings.Join(got, "\n"), c.Text("fr", "school_title", nil)) {
		t.Fatalf("3 did not open the school menu: %q", got)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}

	s = startServe(t, vars)
	got = say(t, s.base, contact, "2")
	if !strings.Contains(strings.Join(got, "\n"), c.Text("fr", "school_documents", nil)) {
		t.Fatalf("after restart, 2 in the school menu did not give the documents: %q", got)
	}
	if strings.Contains(s.logs.String(), contact) {
		t.Error("the log shows the contact's address")
	}
}

func TestServeRoutes(t *testing.T) {
	t.Parallel()
	s := startServe(t, map[string]string{
		"REDIS_URL":             redistest.URL(t),
		"OUTREACH_REDIS_PREFIX": redistest.Prefix(t),
		"OUTREACH_ADMIN_TOKEN":  adminToken,
	})
	tests := []struct {
		name, token, body string
		status            int
		want              string
	}{
		{"no token", "", `{"contact":"a","text":"hi"}`, 401, `"error"`},
		{"wrong token", "wrong-token-0123456789abcdef", `{"contact":"a","text":"hi"}`, 401, `"error"`},
		{"bad JSON", adminToken, `{"contact":`, 400, `"error"`},
		{"unknown field", adminToken, `{"contact":"a","txt":"hi"}`, 400, `"error"`},
		{"no contact", adminToken, `{"text":"hi"}`, 400, `contact`},
		{"too long", adminToken, fmt.Sprintf(`{"contact":"a","text":%q}`, strings.Repeat("x", 1601)), 400, `1600`},
		{"too big", adminToken, fmt.Sprintf(`{"contact":"a","text":%q}`, strings.Repeat("x", 3<<20)), 413, `"error"`},
		{"two JSON values", adminToken, `{"contact":"a","text":"hi"} {}`, 400, `"error"`},
		{"ok", adminToken, `{"contact":"a","text":"hello"}`, 200, `"replies":[{"text":"`},
		{"lowercase scheme", "lower:" + adminToken, `{"contact":"a","text":"1"}`, 200, `"replies":[{"text":"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := simulate(t, s.base, tt.token, tt.body)
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Errorf("got %d %s, want %d with %q", status, body, tt.status, tt.want)
			}
		})
	}
	if code, _ := api(t, "POST", s.base+"/api/v1/tokens", adminToken, fmt.Sprintf(`{"name":%q,"role":"staff"}`, strings.Repeat("x", 70000))); code != 413 {
		t.Errorf("a 70 kB body on a route bounded at 64 KiB: %d, want 413", code)
	}
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ok",
		"/metrics": `outreach_inbound_messages_total{channel="simulate"} 2`,
	} {
		resp, err := http.Get(s.base + path)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(data), want) {
			t.Errorf("GET %s = %d, want 200 with %q:\n%.500s", path, resp.StatusCode, want, data)
		}
	}
}

func TestServeWithoutAdminTokenClosesAPI(t *testing.T) {
	t.Parallel()
	s := startServe(t, map[string]string{"REDIS_URL": redistest.URL(t), "OUTREACH_REDIS_PREFIX": redistest.Prefix(t)})
	if status, _ := simulate(t, s.base, "anything-at-all-0123456789", `{"contact":"a","text":"hi"}`); status != 401 {
		t.Errorf("simulate with no admin token configured = %d, want 401", status)
	}
}

func TestServeEmbeddedStore(t *testing.T) {
	t.Parallel()
	s := startServe(t, map[string]string{"OUTREACH_ADMIN_TOKEN": adminToken})
	if got := say(t, s.base, "x", "hello"); len(got) != 2 {
		t.Errorf("embedded store: %d replies, want 2", len(got))
	}
	if n := strings.Count(s.logs.String(), "embedded in-process store"); n != 1 {
		t.Errorf("warned %d times about the embedded store, want once", n)
	}
}

func TestCommandLine(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), nil, env(nil), nil, &out, &errOut); err == nil || !strings.Contains(errOut.String(), "usage") {
		t.Errorf("no command: err %v, stderr %q", err, errOut.String())
	}
	if err := run(context.Background(), []string{"frobnicate"}, env(nil), nil, &out, &errOut); err == nil {
		t.Error("unknown command accepted")
	}
	err := run(context.Background(), []string{"serve"}, env(map[string]string{"OUTREACH_IDLE_AFTER": "soon"}), nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "OUTREACH_IDLE_AFTER") {
		t.Errorf("bad OUTREACH_IDLE_AFTER: %v, want an error naming it", err)
	}
	err = run(context.Background(), []string{"serve"}, env(map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0"}), nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "OUTREACH_DATA_KEY") {
		t.Errorf("REDIS_URL without OUTREACH_DATA_KEY: %v, want a refusal naming the key", err)
	}
}

func api(t testing.TB, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	return apiWith(t, method, url, token, body, nil)
}

// apiWith is api with more request headers.
func apiWith(t testing.TB, method, url, token, body string, headers map[string]string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestTokensAndRoles(t *testing.T) {
	t.Parallel()
	s := startServe(t, map[string]string{
		"REDIS_URL":             redistest.URL(t),
		"OUTREACH_REDIS_PREFIX": redistest.Prefix(t),
		"OUTREACH_ADMIN_TOKEN":  adminToken,
	})
	newToken := func(name, role string) string {
		code, out := api(t, "POST", s.base+"/api/v1/tokens", adminToken, fmt.Sprintf(`{"name":%q,"role":%q}`, name, role))
		if code != 201 {
			t.Fatalf("create %s token: %d %v", role, code, out)
		}
		return out["token"].(string)
	}
	staff, partner := newToken("fatima", "staff"), newToken("caritas-rabat", "partner")
	sim := `{"contact":"c1","text":"hello"}`
	for _, tt := range []struct {
		token  string
		method string
		path   string
		body   string
		want   int
	}{
		{partner, "POST", "/api/v1/simulate", sim, 200},
		{staff, "POST", "/api/v1/simulate", sim, 403},
		{staff, "POST", "/api/v1/tokens", `{"name":"x","role":"admin"}`, 403},
		{partner, "GET", "/api/v1/audit", "", 403},
		{staff, "GET", "/api/v1/outbox/dead", "", 200},
		{partner, "GET", "/api/v1/outbox", "", 403},
		{adminToken, "POST", "/api/v1/tokens", `{"name":"fatima","role":"staff"}`, 409},
		{adminToken, "POST", "/api/v1/tokens", `{"name":"x","role":"king"}`, 400},
		{"otk_forged", "POST", "/api/v1/simulate", sim, 401},
	} {
		if code, out := api(t, tt.method, s.base+tt.path, tt.token, tt.body); code != tt.want {
			t.Errorf("%s %s: %d %v, want %d", tt.method, tt.path, code, out, tt.want)
		}
	}
	if code, _ := api(t, "DELETE", s.base+"/api/v1/tokens/caritas-rabat", adminToken, ""); code != 204 {
		t.Errorf("delete token: %d", code)
	}
	if code, _ := api(t, "POST", s.base+"/api/v1/simulate", partner, sim); code != 401 {
		t.Errorf("deleted token still works: %d", code)
	}
	code, out := api(t, "GET", s.base+"/api/v1/audit", adminToken, "")
	if code != 200 {
		t.Fatalf("audit: %d", code)
	}
	data, _ := json.Marshal(out)
	for _, want := range []string{`"action":"token.create"`, `"action":"token.delete"`, `"who":"bootstrap-admin"`, `caritas-rabat`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("audit lacks %s: %s", want, data)
		}
	}
	if strings.Contains(string(data), staff) || strings.Contains(string(data), "otk_") {
		t.Error("the audit log holds a token")
	}
}

func TestChatWithContentDir(t *testing.T) {
	t.Parallel()
	dir := copyContent(t)
	replaceIn(t, filepath.Join(dir, "locales", "fr.yaml"), `main_title: "`, `main_title: "BROUILLON - `)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"chat", "--content", dir}, env(nil), strings.NewReader("Bonjour\n"), &out, &errOut); err != nil {
		t.Fatalf("chat --content: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "BROUILLON - ") {
		t.Errorf("chat --content did not use the draft:\n%s", out.String())
	}
}
