// Package telegramtest provides a fake of the Telegram Bot API, to be reached
// through the real tgbotapi client (github.com/go-telegram-bot-api/telegram-bot-api/v5).
//
// It serves {URL}/bot{token}/{method} for getMe, sendMessage,
// answerCallbackQuery, setWebhook, getWebhookInfo and deleteWebhook, taking
// parameters as a query string, a form (url-encoded or multipart) or a JSON
// object, as the Bot API does (https://core.telegram.org/bots/api#making-requests).
// Every answer is the Bot API's envelope: {"ok":true,"result":…} or
// {"ok":false,"error_code":N,"description":"…"} with HTTP status N.
package telegramtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// BotUsername is the username getMe answers.
const BotUsername = "outreach_test_bot"

// Server is a fake Telegram Bot API. It is safe for concurrent use.
type Server struct {
	// URL is the base URL of the fake; tgbotapi's endpoint is
	// URL + "/bot%s/%s".
	URL string

	token string
	bot   user

	mu            sync.Mutex
	calls         []Call
	nextMessageID int
	failNext      map[string][]apiError
	failChat      map[int64]apiError
	delay         time.Duration
	webhook       webhook
}

// webhook is the state setWebhook sets and getWebhookInfo reports.
type webhook struct {
	url              string
	secretToken      string
	allowedUpdates   []string
	maxConnections   int
	lastErrorDate    int64
	lastErrorMessage string
}

// Call is one Bot API request, as received and as answered.
type Call struct {
	// Method is the Bot API method, such as "sendMessage".
	Method string
	// Params are the parameters received. Values of a JSON body are
	// flattened to strings; nested objects and arrays, such as reply_markup,
	// are kept as their JSON text.
	Params url.Values
	// Status is the HTTP status answered, 0 when the client went away
	// before the answer.
	Status int
	// OK is the "ok" field answered.
	OK bool
}

// apiError is a Bot API error answer.
type apiError struct {
	code        int
	description string
	retryAfter  int
}

// user is the Bot API User object (https://core.telegram.org/bots/api#user).
type user struct {
	ID                      int64  `json:"id"`
	IsBot                   bool   `json:"is_bot"`
	FirstName               string `json:"first_name"`
	Username                string `json:"username,omitempty"`
	CanJoinGroups           bool   `json:"can_join_groups,omitempty"`
	CanReadAllGroupMessages bool   `json:"can_read_all_group_messages,omitempty"`
	SupportsInlineQueries   bool   `json:"supports_inline_queries,omitempty"`
}

// chat is the Bot API Chat object (https://core.telegram.org/bots/api#chat).
type chat struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

// message is the Bot API Message object (https://core.telegram.org/bots/api#message).
type message struct {
	MessageID   int             `json:"message_id"`
	From        user            `json:"from"`
	Chat        chat            `json:"chat"`
	Date        int64           `json:"date"`
	Text        string          `json:"text"`
	ReplyMarkup json.RawMessage `json:"reply_markup,omitempty"`
}

// webhookInfo is the Bot API WebhookInfo object
// (https://core.telegram.org/bots/api#webhookinfo).
type webhookInfo struct {
	URL                  string   `json:"url"`
	HasCustomCertificate bool     `json:"has_custom_certificate"`
	PendingUpdateCount   int      `json:"pending_update_count"`
	LastErrorDate        int64    `json:"last_error_date,omitempty"`
	LastErrorMessage     string   `json:"last_error_message,omitempty"`
	MaxConnections       int      `json:"max_connections,omitempty"`
	AllowedUpdates       []string `json:"allowed_updates,omitempty"`
}

// response is the Bot API envelope (https://core.telegram.org/bots/api#making-requests).
type response struct {
	OK          bool                `json:"ok"`
	Result      any                 `json:"result,omitempty"`
	Description string              `json:"description,omitempty"`
	ErrorCode   int                 `json:"error_code,omitempty"`
	Parameters  *responseParameters `json:"parameters,omitempty"`
}

type responseParameters struct {
	RetryAfter int `json:"retry_after"`
}

// maxBody bounds a request body.
const maxBody = 10 << 20

// NewServer starts a fake Bot API for the bot token. t.Cleanup closes it.
// The bot's id is the token's number before the colon, as in Telegram's
// tokens ("123456:ABC…"), or 7000000001 when there is none.
func NewServer(t testing.TB, token string) *Server {
	t.Helper()
	id, err := strconv.ParseInt(strings.SplitN(token, ":", 2)[0], 10, 64)
	if err != nil || id <= 0 {
		id = 7000000001
	}
	s := &Server{
		token: token,
		bot: user{
			ID:            id,
			IsBot:         true,
			FirstName:     "Outreach Test",
			Username:      BotUsername,
			CanJoinGroups: true,
		},
		nextMessageID: 1,
		failNext:      make(map[string][]apiError),
		failChat:      make(map[int64]apiError),
	}
	ts := httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(ts.Close)
	s.URL = ts.URL
	return s
}

// Calls returns every call of method received so far, in the order they were
// answered; method "" returns every call, those with a wrong token or an
// unknown method included.
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var calls []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			calls = append(calls, c)
		}
	}
	return calls
}

// Sent returns the sendMessage calls answered ok, in order.
func (s *Server) Sent() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var sent []Call
	for _, c := range s.calls {
		if c.Method == "sendMessage" && c.OK {
			sent = append(sent, c)
		}
	}
	return sent
}

// WaitSent polls until at least n messages were sent and returns them all.
// After timeout it fails the test with the calls received. Like t.Fatalf, it
// must be called from the goroutine running the test.
func (s *Server) WaitSent(t testing.TB, n int, timeout time.Duration) []Call {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if sent := s.Sent(); len(sent) >= n {
			return sent
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	calls := s.Calls("")
	var b strings.Builder
	for i, c := range calls {
		fmt.Fprintf(&b, "\n  %d: %s status %d ok %t, chat_id %q, text %q",
			i, c.Method, c.Status, c.OK, c.Params.Get("chat_id"), c.Params.Get("text"))
	}
	sent := s.Sent()
	t.Fatalf("telegramtest: waited %v for %d sent messages, got %d of %d calls:%s",
		timeout, n, len(sent), len(calls), b.String())
	return sent
}

// FailNext makes the next n calls of method answer the error code with the
// description, and "parameters":{"retry_after":retryAfter} when retryAfter is
// positive, as Telegram's flood control does. Calls add up: the failures
// queued by an earlier call are answered first.
func (s *Server) FailNext(method string, n, code int, description string, retryAfter int) {
	if canonical, ok := methods[strings.ToLower(method)]; ok {
		method = canonical
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext[method] = append(s.failNext[method], apiError{code, description, retryAfter})
	}
}

// FailChat makes every sendMessage to chatID answer the error code with the
// description, such as 403 "Forbidden: bot was blocked by the user", until
// FailChat is called again for chatID with code 0.
func (s *Server) FailChat(chatID int64, code int, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if code == 0 {
		delete(s.failChat, chatID)
		return
	}
	s.failChat[chatID] = apiError{code: code, description: description}
}

// SetDelay makes each call wait d before it is answered. A call whose client
// goes away while it waits is recorded with Status 0 and has no effect.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Webhook returns the webhook as set by the last successful setWebhook, or
// empty values when none is set or deleteWebhook removed it.
func (s *Server) Webhook() (url, secretToken string, allowedUpdates []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook.url, s.webhook.secretToken, slices.Clone(s.webhook.allowedUpdates)
}

// SetWebhookError sets the last delivery error getWebhookInfo reports, as
// Telegram does after your webhook failed to answer an update.
func (s *Server) SetWebhookError(unix int64, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook.lastErrorDate = unix
	s.webhook.lastErrorMessage = msg
}

// methods maps the lower-cased name of each method served to its canonical
// name: the Bot API matches method names case-insensitively.
var methods = map[string]string{
	"getme":               "getMe",
	"sendmessage":         "sendMessage",
	"answercallbackquery": "answerCallbackQuery",
	"setwebhook":          "setWebhook",
	"getwebhookinfo":      "getWebhookInfo",
	"deletewebhook":       "deleteWebhook",
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	token, method, ok := splitPath(r.URL.Path)
	if !ok {
		writeResponse(w, http.StatusNotFound, errorResponse(apiError{code: 404, description: "Not Found"}))
		return
	}
	if canonical, known := methods[strings.ToLower(method)]; known {
		method = canonical
	}
	call := Call{Method: method}

	params, err := readParams(w, r)
	call.Params = params
	if !s.wait(r) {
		s.record(call) // Status 0: nothing was answered.
		return
	}

	var status int
	var resp response
	switch {
	case token != s.token:
		status, resp = failure(apiError{code: 404, description: "Not Found"})
	case err != nil:
		status, resp = failure(apiError{code: 400, description: "Bad Request: " + err.Error()})
	default:
		status, resp = s.answer(method, params)
	}
	call.Status, call.OK = status, resp.OK
	s.record(call)
	writeResponse(w, status, resp)
}

// answer answers one call with a valid token, and records its effect.
func (s *Server) answer(method string, params url.Values) (int, response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if queue := s.failNext[method]; len(queue) > 0 {
		s.failNext[method] = queue[1:]
		return failure(queue[0])
	}
	switch method {
	case "getMe":
		return success(s.bot, "")
	case "sendMessage":
		return s.sendMessage(params)
	case "answerCallbackQuery":
		if params.Get("callback_query_id") == "" {
			return badRequest("query is too old and response timeout expired or query ID is invalid")
		}
		return success(true, "")
	case "setWebhook":
		return s.setWebhook(params)
	case "getWebhookInfo":
		info := webhookInfo{
			URL:              s.webhook.url,
			LastErrorDate:    s.webhook.lastErrorDate,
			LastErrorMessage: s.webhook.lastErrorMessage,
			AllowedUpdates:   s.webhook.allowedUpdates,
		}
		if s.webhook.url != "" {
			info.MaxConnections = s.webhook.maxConnections
		}
		return success(info, "")
	case "deleteWebhook":
		return s.deleteWebhook()
	}
	return failure(apiError{code: 404, description: "Not Found"})
}

// sendMessage answers sendMessage (https://core.telegram.org/bots/api#sendmessage),
// under s.mu.
func (s *Server) sendMessage(params url.Values) (int, response) {
	rawChat := params.Get("chat_id")
	if rawChat == "" {
		return badRequest("chat_id is empty")
	}
	chatID, err := strconv.ParseInt(rawChat, 10, 64)
	if err != nil {
		return badRequest("chat not found")
	}
	if e, ok := s.failChat[chatID]; ok {
		return failure(e)
	}
	text := params.Get("text")
	switch n := len(utf16.Encode([]rune(text))); {
	case strings.TrimSpace(text) == "":
		return badRequest("message text is empty")
	case n > 4096:
		return badRequest("message is too long")
	}
	var markup json.RawMessage
	if raw := params.Get("reply_markup"); raw != "" {
		inline, err := inlineKeyboard(raw)
		if err != nil {
			return badRequest(err.Error())
		}
		markup = inline
	}
	msg := message{
		MessageID:   s.nextMessageID,
		From:        s.bot,
		Chat:        chat{ID: chatID, Type: chatType(chatID)},
		Date:        time.Now().Unix(),
		Text:        text,
		ReplyMarkup: markup,
	}
	s.nextMessageID++
	return success(msg, "")
}

// inlineKeyboard checks a reply_markup and returns it when it is an inline
// keyboard, which Telegram echoes in the sent Message; it returns nil for the
// other kinds of markup.
func inlineKeyboard(raw string) (json.RawMessage, error) {
	var markup struct {
		InlineKeyboard [][]struct {
			Text         string  `json:"text"`
			CallbackData *string `json:"callback_data"`
		} `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(raw), &markup); err != nil {
		return nil, fmt.Errorf("can't parse reply keyboard markup JSON object")
	}
	if markup.InlineKeyboard == nil {
		return nil, nil
	}
	for _, row := range markup.InlineKeyboard {
		for _, button := range row {
			if button.Text == "" {
				return nil, fmt.Errorf("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			}
			// callback_data is 1-64 bytes
			// (https://core.telegram.org/bots/api#inlinekeyboardbutton).
			if d := button.CallbackData; d != nil && (len(*d) == 0 || len(*d) > 64) {
				return nil, fmt.Errorf("BUTTON_DATA_INVALID")
			}
		}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(raw)); err != nil {
		return nil, err
	}
	return compact.Bytes(), nil
}

// chatType tells a chat's type from its id: users have positive ids,
// supergroups and channels ids below -10^12, basic groups other negative ids.
func chatType(id int64) string {
	switch {
	case id > 0:
		return "private"
	case id < -1_000_000_000_000:
		return "supergroup"
	}
	return "group"
}

// secretTokenPattern is the form of setWebhook's secret_token
// (https://core.telegram.org/bots/api#setwebhook).
var secretTokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// setWebhook answers setWebhook, under s.mu. Like Telegram, it refuses a URL
// that is not HTTPS.
func (s *Server) setWebhook(params url.Values) (int, response) {
	u := params.Get("url")
	if u == "" {
		return s.deleteWebhook()
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme != "https" || parsed.Host == "" {
		return badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	secret := params.Get("secret_token")
	if secret != "" && !secretTokenPattern.MatchString(secret) {
		return badRequest("secret token contains unallowed characters")
	}
	var allowed []string
	if raw := params.Get("allowed_updates"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &allowed); err != nil {
			return badRequest("can't parse allowed updates JSON array")
		}
	}
	maxConnections := 40
	if raw := params.Get("max_connections"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 100 {
			return badRequest("invalid max_connections specified")
		}
		maxConnections = n
	}
	s.webhook = webhook{
		url:              u,
		secretToken:      secret,
		allowedUpdates:   allowed,
		maxConnections:   maxConnections,
		lastErrorDate:    s.webhook.lastErrorDate,
		lastErrorMessage: s.webhook.lastErrorMessage,
	}
	return success(true, "Webhook was set")
}

// deleteWebhook removes the webhook, under s.mu; the last delivery error
// stays reported.
func (s *Server) deleteWebhook() (int, response) {
	wasSet := s.webhook.url != ""
	s.webhook = webhook{lastErrorDate: s.webhook.lastErrorDate, lastErrorMessage: s.webhook.lastErrorMessage}
	if wasSet {
		return success(true, "Webhook was deleted")
	}
	return success(true, "Webhook is already deleted")
}

// wait waits the delay set by SetDelay and reports false if the client went
// away meanwhile.
func (s *Server) wait(r *http.Request) bool {
	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	if delay <= 0 {
		return true
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// splitPath splits /bot{token}/{method}.
func splitPath(path string) (token, method string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/bot")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 || i == len(rest)-1 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

// readParams reads a call's parameters from the query string and from a
// url-encoded, multipart or JSON body. It returns the parameters read so far
// with any error.
func readParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	params := r.URL.Query()
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var body url.Values
	var err error
	switch mediaType {
	case "application/json":
		body, err = jsonParams(r)
	case "multipart/form-data":
		if err = r.ParseMultipartForm(maxBody); err == nil {
			body = r.MultipartForm.Value
		}
	default:
		if err = r.ParseForm(); err == nil {
			body = r.PostForm
		}
	}
	for k, vs := range body {
		params[k] = append(params[k], vs...)
	}
	return params, err
}

// jsonParams flattens a JSON object body: strings become their value, other
// scalars their JSON text, objects and arrays their compact JSON text; nulls
// are left out.
func jsonParams(r *http.Request) (url.Values, error) {
	var fields map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&fields); err != nil {
		return nil, fmt.Errorf("can't parse JSON object")
	}
	params := url.Values{}
	for k, raw := range fields {
		raw = bytes.TrimSpace(raw)
		switch {
		case bytes.Equal(raw, []byte("null")):
		case len(raw) > 0 && raw[0] == '"':
			var str string
			if err := json.Unmarshal(raw, &str); err != nil {
				return nil, fmt.Errorf("can't parse JSON object")
			}
			params.Set(k, str)
		default:
			var compact bytes.Buffer
			if err := json.Compact(&compact, raw); err != nil {
				return nil, fmt.Errorf("can't parse JSON object")
			}
			params.Set(k, compact.String())
		}
	}
	return params, nil
}

func success(result any, description string) (int, response) {
	return http.StatusOK, response{OK: true, Result: result, Description: description}
}

func badRequest(description string) (int, response) {
	return failure(apiError{code: 400, description: "Bad Request: " + description})
}

func failure(e apiError) (int, response) {
	return e.code, errorResponse(e)
}

func errorResponse(e apiError) response {
	resp := response{ErrorCode: e.code, Description: e.description}
	if e.retryAfter > 0 {
		resp.Parameters = &responseParameters{RetryAfter: e.retryAfter}
	}
	return resp
}

func writeResponse(w http.ResponseWriter, status int, resp response) {
	body, err := json.Marshal(resp)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}
