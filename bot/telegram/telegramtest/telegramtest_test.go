package telegramtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

const testToken = "123456789:AAE-outreach_test-token"

// newBot returns a real tgbotapi client that reaches srv, without the getMe
// call NewBotAPIWithAPIEndpoint makes.
func newBot(srv *Server, token string, client *http.Client) *tgbotapi.BotAPI {
	if client == nil {
		client = &http.Client{}
	}
	bot := &tgbotapi.BotAPI{Token: token, Client: client, Buffer: 100}
	bot.SetAPIEndpoint(srv.URL + "/bot%s/%s")
	return bot
}

func asAPIError(t *testing.T, err error) *tgbotapi.Error {
	t.Helper()
	var te *tgbotapi.Error
	if !errors.As(err, &te) {
		t.Fatalf("err = %v (%T), want *tgbotapi.Error", err, err)
	}
	return te
}

func TestNewBotAPIWithAPIEndpoint(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	bot, err := tgbotapi.NewBotAPIWithAPIEndpoint(testToken, srv.URL+"/bot%s/%s")
	if err != nil {
		t.Fatalf("NewBotAPIWithAPIEndpoint: %v", err)
	}
	if bot.Self.ID != 123456789 || !bot.Self.IsBot || bot.Self.UserName != BotUsername || bot.Self.FirstName == "" {
		t.Errorf("Self = %+v", bot.Self)
	}
	if calls := srv.Calls("getMe"); len(calls) != 1 || !calls[0].OK || calls[0].Status != 200 {
		t.Errorf("getMe calls = %+v", calls)
	}
}

func TestWrongToken(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	_, err := tgbotapi.NewBotAPIWithAPIEndpoint("123456789:wrong", srv.URL+"/bot%s/%s")
	if te := asAPIError(t, err); te.Code != 404 || te.Message != "Not Found" {
		t.Errorf("error = %+v, want 404 Not Found", te)
	}
	if calls := srv.Calls("getMe"); len(calls) != 1 || calls[0].OK || calls[0].Status != 404 {
		t.Errorf("getMe calls = %+v", calls)
	}
}

func TestSendMessage(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	bot := newBot(srv, testToken, nil)

	msg, err := bot.Send(tgbotapi.NewMessage(42, "hi"))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if msg.MessageID != 1 || msg.Chat.ID != 42 || msg.Chat.Type != "private" || msg.Text != "hi" || msg.Date == 0 {
		t.Errorf("message = %+v", msg)
	}
	if msg.From == nil || msg.From.UserName != BotUsername {
		t.Errorf("from = %+v, want the bot", msg.From)
	}
	second, err := bot.Send(tgbotapi.NewMessage(42, "again"))
	if err != nil {
		t.Fatalf("second Send: %v", err)
	}
	if second.MessageID != 2 {
		t.Errorf("second message_id = %d, want 2", second.MessageID)
	}

	sent := srv.WaitSent(t, 2, time.Second)
	if got := sent[0]; got.Method != "sendMessage" || got.Params.Get("chat_id") != "42" ||
		got.Params.Get("text") != "hi" || got.Status != 200 || !got.OK {
		t.Errorf("sent[0] = %+v", got)
	}
}

func TestInlineKeyboardEchoed(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	bot := newBot(srv, testToken, nil)

	m := tgbotapi.NewMessage(111111111, "Que souhaitez-vous faire ?")
	m.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("1", "1"),
		tgbotapi.NewInlineKeyboardButtonData("2", "2"),
	))
	msg, err := bot.Send(m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if msg.ReplyMarkup == nil || len(msg.ReplyMarkup.InlineKeyboard[0]) != 2 {
		t.Errorf("reply_markup = %+v, want the keyboard echoed", msg.ReplyMarkup)
	}
	if got := srv.Sent()[0].Params.Get("reply_markup"); !strings.Contains(got, `"callback_data":"2"`) {
		t.Errorf("reply_markup param = %s", got)
	}

	m.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("long", strings.Repeat("x", 65)),
	))
	_, err = bot.Send(m)
	if te := asAPIError(t, err); te.Code != 400 || te.Message != "Bad Request: BUTTON_DATA_INVALID" {
		t.Errorf("error = %+v, want 400 BUTTON_DATA_INVALID", te)
	}
}

func TestSendMessageValidation(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	bot := newBot(srv, testToken, nil)
	tests := []struct {
		name string
		msg  tgbotapi.MessageConfig
		want string
	}{
		{"empty text", tgbotapi.NewMessage(42, ""), "Bad Request: message text is empty"},
		{"too long", tgbotapi.NewMessage(42, strings.Repeat("a", 4097)), "Bad Request: message is too long"},
		{"too long in UTF-16", tgbotapi.NewMessage(42, strings.Repeat("😀", 2049)), "Bad Request: message is too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bot.Send(tt.msg)
			if te := asAPIError(t, err); te.Code != 400 || te.Message != tt.want {
				t.Errorf("error = %+v, want 400 %q", te, tt.want)
			}
		})
	}
	if _, err := bot.Send(tgbotapi.NewMessage(42, strings.Repeat("a", 4096))); err != nil {
		t.Errorf("4096 characters: %v", err)
	}
	if n := len(srv.Sent()); n != 1 {
		t.Errorf("sent %d, want 1", n)
	}
}

func TestFailNextRetryAfter(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	bot := newBot(srv, testToken, nil)

	srv.FailNext("sendMessage", 1, 429, "Too Many Requests: retry after 3", 3)
	_, err := bot.Send(tgbotapi.NewMessage(42, "hi"))
	te := asAPIError(t, err)
	if te.Code != 429 || te.RetryAfter != 3 || te.Message != "Too Many Requests: retry after 3" {
		t.Errorf("error = %+v, want 429 retry after 3", te)
	}
	if _, err := bot.Send(tgbotapi.NewMessage(42, "hi")); err != nil {
		t.Fatalf("second Send: %v", err)
	}
	calls := srv.Calls("sendMessage")
	if len(calls) != 2 || calls[0].Status != 429 || calls[0].OK || !calls[1].OK {
		t.Errorf("calls = %+v", calls)
	}
	if n := len(srv.Sent()); n != 1 {
		t.Errorf("sent %d, want 1", n)
	}
}

func TestFailNextIsPerMethod(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	bot := newBot(srv, testToken, nil)

	srv.FailNext("answerCallbackQuery", 2, 400, "Bad Request: query is too old and response timeout expired or query ID is invalid", 0)
	if _, err := bot.Send(tgbotapi.NewMessage(42, "hi")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	for range 2 {
		_, err := bot.Request(tgbotapi.NewCallback("4772183665149273031", ""))
		if te := asAPIError(t, err); te.Code != 400 || te.RetryAfter != 0 {
			t.Errorf("error = %+v", te)
		}
	}
	if _, err := bot.Request(tgbotapi.NewCallback("4772183665149273031", "")); err != nil {
		t.Errorf("third answerCallbackQuery: %v", err)
	}
}

func TestFailChat(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	bot := newBot(srv, testToken, nil)

	srv.FailChat(111111111, 403, "Forbidden: bot was blocked by the user")
	for range 2 {
		_, err := bot.Send(tgbotapi.NewMessage(111111111, "hi"))
		if te := asAPIError(t, err); te.Code != 403 || te.Message != "Forbidden: bot was blocked by the user" {
			t.Errorf("error = %+v, want 403", te)
		}
	}
	if _, err := bot.Send(tgbotapi.NewMessage(222222222, "hi")); err != nil {
		t.Errorf("other chat: %v", err)
	}
	srv.FailChat(111111111, 0, "")
	if _, err := bot.Send(tgbotapi.NewMessage(111111111, "hi")); err != nil {
		t.Errorf("after clearing: %v", err)
	}
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	bot := newBot(srv, testToken, nil)

	resp, err := bot.MakeRequest("setWebhook", tgbotapi.Params{
		"url":             "https://bot.example.com/webhooks/telegram",
		"secret_token":    "s",
		"allowed_updates": `["message","callback_query","my_chat_member"]`,
	})
	if err != nil {
		t.Fatalf("setWebhook: %v", err)
	}
	if !resp.Ok || resp.Description != "Webhook was set" {
		t.Errorf("response = %+v", resp)
	}
	u, secret, allowed := srv.Webhook()
	if u != "https://bot.example.com/webhooks/telegram" || secret != "s" ||
		!reflect.DeepEqual(allowed, []string{"message", "callback_query", "my_chat_member"}) {
		t.Errorf("Webhook() = %q, %q, %q", u, secret, allowed)
	}

	srv.SetWebhookError(1767261600, "Wrong response from the webhook: 500 Internal Server Error")
	info, err := bot.GetWebhookInfo()
	if err != nil {
		t.Fatalf("GetWebhookInfo: %v", err)
	}
	if info.URL != u || info.HasCustomCertificate || info.PendingUpdateCount != 0 ||
		info.LastErrorDate != 1767261600 || !strings.HasPrefix(info.LastErrorMessage, "Wrong response") ||
		len(info.AllowedUpdates) != 3 || info.MaxConnections != 40 {
		t.Errorf("info = %+v", info)
	}

	if _, err := bot.Request(tgbotapi.DeleteWebhookConfig{}); err != nil {
		t.Fatalf("deleteWebhook: %v", err)
	}
	if u, secret, allowed := srv.Webhook(); u != "" || secret != "" || allowed != nil {
		t.Errorf("after deleteWebhook Webhook() = %q, %q, %q", u, secret, allowed)
	}
}

func TestSetWebhookRefusals(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	bot := newBot(srv, testToken, nil)
	tests := []struct {
		name   string
		params tgbotapi.Params
		want   string
	}{
		{"http", tgbotapi.Params{"url": "http://bot.example.com/hook"}, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"},
		{"secret", tgbotapi.Params{"url": "https://bot.example.com/hook", "secret_token": "no spaces"}, "Bad Request: secret token contains unallowed characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := bot.MakeRequest("setWebhook", tt.params)
			if te := asAPIError(t, err); te.Code != 400 || te.Message != tt.want {
				t.Errorf("error = %+v, want %q", te, tt.want)
			}
		})
	}
	if u, _, _ := srv.Webhook(); u != "" {
		t.Errorf("webhook set to %q despite the refusals", u)
	}
}

func TestJSONBody(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	body := `{"chat_id": 111111111, "text": "Bonjour", "disable_notification": true,
		"reply_markup": {"inline_keyboard": [[{"text": "1", "callback_data": "1"}]]}, "parse_mode": null}`
	resp, err := http.Post(srv.URL+"/bot"+testToken+"/sendMessage", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		OK     bool `json:"ok"`
		Result struct {
			MessageID int `json:"message_id"`
			Chat      struct {
				ID int64 `json:"id"`
			} `json:"chat"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !got.OK || got.Result.Chat.ID != 111111111 {
		t.Errorf("answer %d %+v", resp.StatusCode, got)
	}
	params := srv.Sent()[0].Params
	want := map[string]string{
		"chat_id":              "111111111",
		"text":                 "Bonjour",
		"disable_notification": "true",
		"reply_markup":         `{"inline_keyboard":[[{"text":"1","callback_data":"1"}]]}`,
		"parse_mode":           "",
	}
	for k, v := range want {
		if params.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, params.Get(k), v)
		}
	}
	if _, ok := params["parse_mode"]; ok {
		t.Error("a null parameter was kept")
	}
}

func TestUnknownMethod(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	bot := newBot(srv, testToken, nil)
	_, err := bot.MakeRequest("editMessageText", tgbotapi.Params{"chat_id": "42"})
	if te := asAPIError(t, err); te.Code != 404 {
		t.Errorf("error = %+v, want 404", te)
	}
	if calls := srv.Calls("editMessageText"); len(calls) != 1 || calls[0].Status != 404 {
		t.Errorf("calls = %+v", calls)
	}
}

func TestDelayStopsWhenClientGoesAway(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	srv.SetDelay(time.Minute)
	bot := newBot(srv, testToken, &http.Client{Timeout: 50 * time.Millisecond})
	if _, err := bot.Send(tgbotapi.NewMessage(42, "hi")); err == nil {
		t.Fatal("Send succeeded despite the client timeout")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Calls("")) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if calls := srv.Calls("sendMessage"); len(calls) != 1 || calls[0].Status != 0 || calls[0].OK {
		t.Errorf("calls = %+v, want one unanswered call", calls)
	}
	if n := len(srv.Sent()); n != 0 {
		t.Errorf("sent %d, want 0", n)
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	bot := newBot(srv, testToken, nil)
	srv.FailNext("sendMessage", 3, 429, "Too Many Requests: retry after 1", 1)

	const n = 40
	var wg sync.WaitGroup
	ids := make(chan int, n)
	for i := range n {
		wg.Go(func() {
			msg, err := bot.Send(tgbotapi.NewMessage(int64(1000+i), fmt.Sprint(i)))
			if err == nil {
				ids <- msg.MessageID
			}
		})
	}
	wg.Wait()
	close(ids)
	seen := map[int]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("message_id %d answered twice", id)
		}
		seen[id] = true
	}
	if len(seen) != n-3 {
		t.Errorf("%d sent, want %d", len(seen), n-3)
	}
	srv.WaitSent(t, n-3, time.Second)
}

// TestTestdata checks that each payload in ../testdata decodes into the
// tgbotapi Update it stands for, with a distinct update_id.
func TestTestdata(t *testing.T) {
	t.Parallel()
	tests := map[string]func(t *testing.T, u tgbotapi.Update){
		"message_text_fr.json": func(t *testing.T, u tgbotapi.Update) {
			m := u.Message
			if m == nil || m.Text != "Bonjour" || m.Chat.ID != 111111111 || m.Chat.Type != "private" || m.From.LanguageCode != "fr" {
				t.Errorf("message = %+v", m)
			}
		},
		"message_text_ar.json": func(t *testing.T, u tgbotapi.Update) {
			if m := u.Message; m == nil || m.Text != "مرحبا" || m.From.LanguageCode != "ar" {
				t.Errorf("message = %+v", m)
			}
		},
		"message_start.json": func(t *testing.T, u tgbotapi.Update) {
			if m := u.Message; m == nil || !m.IsCommand() || m.Command() != "start" || m.From.LanguageCode != "en" {
				t.Errorf("message = %+v", m)
			}
		},
		"message_digit.json": func(t *testing.T, u tgbotapi.Update) {
			if m := u.Message; m == nil || m.Text != "2" {
				t.Errorf("message = %+v", m)
			}
		},
		"callback_query.json": func(t *testing.T, u tgbotapi.Update) {
			q := u.CallbackQuery
			if q == nil || q.ID == "" || q.Data != "2" || q.ChatInstance == "" || q.From.ID != 111111111 ||
				q.Message == nil || q.Message.Chat.ID != 111111111 || !q.Message.From.IsBot || q.Message.ReplyMarkup == nil {
				t.Errorf("callback_query = %+v", q)
			}
		},
		"my_chat_member_kicked.json": func(t *testing.T, u tgbotapi.Update) {
			c := u.MyChatMember
			if c == nil || c.Chat.Type != "private" || c.OldChatMember.Status != "member" || c.NewChatMember.Status != "kicked" {
				t.Errorf("my_chat_member = %+v", c)
			}
		},
		"my_chat_member_member.json": func(t *testing.T, u tgbotapi.Update) {
			c := u.MyChatMember
			if c == nil || c.Chat.Type != "private" || c.OldChatMember.Status != "kicked" || c.NewChatMember.Status != "member" {
				t.Errorf("my_chat_member = %+v", c)
			}
		},
		"edited_message.json": func(t *testing.T, u tgbotapi.Update) {
			if m := u.EditedMessage; u.Message != nil || m == nil || m.EditDate == 0 || m.Text == "" {
				t.Errorf("edited_message = %+v", m)
			}
		},
		"message_photo.json": func(t *testing.T, u tgbotapi.Update) {
			if m := u.Message; m == nil || len(m.Photo) == 0 || m.Text != "" || m.Caption != "" {
				t.Errorf("message = %+v", m)
			}
		},
		"message_start_site.json": func(t *testing.T, u tgbotapi.Update) {
			if m := u.Message; m == nil || m.Text != "/start nador" || m.Command() != "start" || m.CommandArguments() != "nador" {
				t.Errorf("message = %+v", m)
			}
		},
		"message_start_bad_payload.json": func(t *testing.T, u tgbotapi.Update) {
			if m := u.Message; m == nil || m.Command() != "start" || m.CommandArguments() == "" {
				t.Errorf("message = %+v", m)
			}
		},
		"message_voice.json": func(t *testing.T, u tgbotapi.Update) {
			if m := u.Message; m == nil || m.Voice == nil || m.Voice.FileID == "" || m.Text != "" || m.Caption != "" {
				t.Errorf("message = %+v", m)
			}
		},
		"message_location.json": func(t *testing.T, u tgbotapi.Update) {
			if m := u.Message; m == nil || m.Location == nil || m.Location.Latitude == 0 || m.Text != "" {
				t.Errorf("message = %+v", m)
			}
		},
		"group_message.json": func(t *testing.T, u tgbotapi.Update) {
			if m := u.Message; m == nil || m.Chat.Type != "group" || m.Chat.ID >= 0 || m.Text == "" {
				t.Errorf("message = %+v", m)
			}
		},
		"channel_post.json": func(t *testing.T, u tgbotapi.Update) {
			if m := u.ChannelPost; u.Message != nil || m == nil || m.Chat.Type != "channel" || m.From != nil || m.SenderChat == nil {
				t.Errorf("channel_post = %+v", m)
			}
		},
	}

	files, err := filepath.Glob(filepath.Join("..", "testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("%d files in ../testdata, want %d", len(files), len(tests))
	}
	updateIDs := map[int]string{}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			check, ok := tests[name]
			if !ok {
				t.Fatalf("no check for %s", name)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var u tgbotapi.Update
			dec := json.NewDecoder(bytes.NewReader(data))
			if err := dec.Decode(&u); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if u.UpdateID == 0 {
				t.Error("no update_id")
			}
			if other, dup := updateIDs[u.UpdateID]; dup {
				t.Errorf("update_id %d also in %s", u.UpdateID, other)
			}
			updateIDs[u.UpdateID] = name
			check(t, u)
		})
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message instead of
// stopping the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func TestWaitSentTimeout(t *testing.T) {
	t.Parallel()
	srv := NewServer(t, testToken)
	bot := newBot(srv, testToken, nil)
	srv.FailChat(42, 403, "Forbidden: bot was blocked by the user")
	bot.Send(tgbotapi.NewMessage(42, "hi"))

	rec := &fatalRecorder{TB: t}
	srv.WaitSent(rec, 1, 20*time.Millisecond)
	for _, want := range []string{"got 0 of 1 calls", "sendMessage status 403", `chat_id "42"`} {
		if !strings.Contains(rec.msg, want) {
			t.Errorf("message %q does not contain %q", rec.msg, want)
		}
	}
}
