package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
)

func TestMain(m *testing.M) { os.Exit(redistest.MainParallel(m, 8)) }

const (
	secret = "s3cret_token-for-tests"
	token  = "7000000001:AAtesttokentesttokentesttoken"
	chat   = "111111111"
)

func update(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func post(file, secretToken string) func(t testing.TB) *http.Request {
	return func(t testing.TB) *http.Request {
		r := httptest.NewRequest("POST", "/webhooks/telegram", strings.NewReader(string(update(t, file))))
		r.Header.Set("Content-Type", "application/json")
		if secretToken != "" {
			r.Header.Set("X-Telegram-Bot-Api-Secret-Token", secretToken)
		}
		return r
	}
}

func setup(t *testing.T) (*channeltest.Env, http.Handler) {
	env := channeltest.New(t, Channel)
	env.Outbound = func(t testing.TB, n int) []string {
		fake := telegramtest.NewServer(t, token)
		startWorker(t.(*testing.T), env, fake, outbox.Options{})
		var texts []string
		for _, c := range fake.WaitSent(t, n, 10*time.Second) {
			texts = append(texts, c.Params.Get("chat_id")+" "+c.Params.Get("text")+" "+c.Params.Get("reply_markup"))
		}
		return texts
	}
	return env, NewHandler(secret, env.Dialog, env.Dialog.People(), env.Log)
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	channeltest.Run(t, []channeltest.Case{
		{Label: "French text", Request: post("message_text_fr.json", secret),
			Status: 200, Replies: 2, ReplyHas: "Ici ", Channel: Channel, Address: chat, Lang: "fr"},
		{Label: "Arabic text", Request: post("message_text_ar.json", secret),
			Status: 200, Replies: 2, Channel: Channel, Address: chat, Lang: "ar",
			Sends: []string{chat + " هنا ", chat + " القائمة - أرسل رقما"}},
		{Label: "/start uses the app's language", Request: post("message_start.json", secret),
			Status: 200, Replies: 2, ReplyHas: "This is", Channel: Channel, Address: chat, Lang: "en",
			Sends: []string{"This is", `"callback_data":"0"`}},
		{Label: "a digit first uses the app's language", Request: post("message_digit.json", secret),
			Status: 200, Replies: 2, Channel: Channel, Address: chat, Lang: "fr"},
		{Label: "a photo gets an answer", Request: post("message_photo.json", secret),
			Status: 200, Replies: 3, Channel: Channel, Address: chat, Lang: "fr", ReplyHas: "Je lis seulement le texte"},
		{Label: "button press is handled and answered", Request: post("callback_query.json", secret),
			Status: 200, Replies: 2, Channel: Channel, Address: chat,
			Check: func(t testing.TB, env *channeltest.Env) {
				entries := env.Entries(outbox.Reply)
				if len(entries) == 0 || entries[0].Callback != "4772183665149273031" {
					t.Errorf("the callback query is not answered first: %+v", entries)
				}
			}},
		{Label: "menus carry buttons", Request: post("message_text_fr.json", secret),
			Status: 200, Replies: 2, Channel: Channel, Address: chat,
			Check: func(t testing.TB, env *channeltest.Env) {
				replies := env.Replies()
				if len(replies[1].Choices) != 7 || replies[1].Choices[0].Key != "1" || replies[1].Choices[6].Key != "0" {
					t.Errorf("menu choices = %+v", replies[1].Choices)
				}
			}},
		{Label: "edited message ignored", Request: post("edited_message.json", secret),
			Status: 200, Replies: 0, Channel: Channel, Address: chat, NoState: true},
		{Label: "group message ignored", Request: post("group_message.json", secret),
			Status: 200, Replies: 0},
		{Label: "channel post ignored", Request: post("channel_post.json", secret),
			Status: 200, Replies: 0},
		{Label: "wrong secret", Request: post("message_text_fr.json", "wrong"),
			Status: 403, Replies: 0, Channel: Channel, Address: chat, NoState: true},
		{Label: "no secret", Request: post("message_text_fr.json", ""),
			Status: 403, Replies: 0, Channel: Channel, Address: chat, NoState: true},
		{Label: "not JSON", Request: func(t testing.TB) *http.Request {
			r := httptest.NewRequest("POST", "/webhooks/telegram", strings.NewReader("{not json"))
			r.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
			return r
		}, Status: 400},
	}, setup)
}

func TestBlockAndUnblock(t *testing.T) {
	t.Parallel()
	env, h := setup(t)
	serve := func(file string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, post(file, secret)(t))
		if rec.Code != 200 {
			t.Fatalf("%s: %d", file, rec.Code)
		}
	}
	serve("message_text_fr.json")
	// Subscribe to Nador's notices: 4, 1, 1.
	for _, text := range []string{"4", "1", "1"} {
		if _, err := env.Dialog.Handle(context.Background(), dialog.Message{Channel: Channel, Address: chat, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	subs := func() int {
		n, _ := env.Store.Contacts().SubscriberCounts(context.Background(), []string{"nador"})
		return int(n["nador"])
	}
	if subs() != 1 {
		t.Fatal("not subscribed")
	}
	serve("my_chat_member_kicked.json")
	if st, _ := env.State(Channel, chat); !st.Blocked || subs() != 1 {
		t.Errorf("after blocking: blocked %v, %d subscribers; want true, 1 (kept, not sent to)", st.Blocked, subs())
	}
	if reason, _ := env.Dialog.People().Suppressed(context.Background(), env.Store.ContactKey(Channel, chat), true); reason != "blocked" {
		t.Errorf("a blocked person is not suppressed from notices: %q", reason)
	}
	serve("my_chat_member_member.json")
	if st, _ := env.State(Channel, chat); st.Blocked || subs() != 1 {
		t.Errorf("after unblocking: blocked %v, %d subscribers; want false, 1", st.Blocked, subs())
	}
	// STOP, then block and unblock: the STOP stands.
	if _, err := env.Dialog.Handle(context.Background(), dialog.Message{Channel: Channel, Address: chat, Text: "STOP"}); err != nil {
		t.Fatal(err)
	}
	serve("my_chat_member_kicked.json")
	serve("my_chat_member_member.json")
	if st, _ := env.State(Channel, chat); !st.OptedOut {
		t.Errorf("STOP then block and unblock: opted out %v; want true", st.OptedOut)
	}
	if reason, _ := env.Dialog.People().Suppressed(context.Background(), env.Store.ContactKey(Channel, chat), true); reason != "opted_out" {
		t.Errorf("suppressed %q, want opted_out", reason)
	}
}

func TestUpdateHandledOnce(t *testing.T) {
	t.Parallel()
	env, h := setup(t)
	done := make(chan int, 3)
	for range 3 {
		go func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, post("message_text_ar.json", secret)(t))
			done <- rec.Code
		}()
	}
	for range 3 {
		if code := <-done; code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if n := len(env.Replies()); n != 2 {
		t.Fatalf("%d replies for one update sent three times, want 2", n)
	}
}

func startWorker(t *testing.T, env *channeltest.Env, fake *telegramtest.Server, opts outbox.Options) {
	bot := NewBot(token, fake.URL, 2*time.Second)
	env.StartWorker(map[string]*outbox.Channel{
		Channel: {Sender: NewSender(bot), MaxLen: MaxText, Gate: outbox.NewGate(1000, 1000), PerChat: outbox.NewGate(1000, 1000)},
	}, opts)
}

func TestRepliesReachTelegram(t *testing.T) {
	t.Parallel()
	env, h := setup(t)
	fake := telegramtest.NewServer(t, token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, post("callback_query.json", secret)(t))
	startWorker(t, env, fake, outbox.Options{})
	sent := fake.WaitSent(t, 2, 10*time.Second)
	if sent[0].Params.Get("chat_id") != chat {
		t.Errorf("chat_id %q", sent[0].Params.Get("chat_id"))
	}
	menu := sent[1]
	if !strings.Contains(menu.Params.Get("text"), "1 ") || !strings.Contains(menu.Params.Get("reply_markup"), `"callback_data":"1"`) {
		t.Errorf("menu without numbers and buttons: %v", menu.Params)
	}
	channeltest.WaitFor(t, func() bool { return len(fake.Calls("answerCallbackQuery")) == 1 })
	if id := fake.Calls("answerCallbackQuery")[0].Params.Get("callback_query_id"); id != "4772183665149273031" {
		t.Errorf("answered callback %q", id)
	}
	if strings.Contains(env.Logs.String(), chat) {
		t.Error("the log holds the chat id")
	}
}

func TestRetryAfterAndBlocked(t *testing.T) {
	t.Parallel()
	env, h := setup(t)
	fake := telegramtest.NewServer(t, token)
	fake.FailNext("sendMessage", 1, 429, "Too Many Requests: retry after 1", 1)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, post("message_text_fr.json", secret)(t))
	startWorker(t, env, fake, outbox.Options{Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	fake.WaitSent(t, 2, 10*time.Second)
	if n := len(fake.Calls("sendMessage")); n != 3 {
		t.Errorf("%d sendMessage calls, want 3 (one refused with 429, then two)", n)
	}

	// A person who blocked the bot: 403 marks them blocked; nothing is retried.
	env, h = setup(t)
	fake = telegramtest.NewServer(t, token)
	fake.FailChat(111111111, 403, "Forbidden: bot was blocked by the user")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, post("message_text_fr.json", secret)(t))
	startWorker(t, env, fake, outbox.Options{})
	channeltest.WaitFor(t, func() bool { st, _ := env.State(Channel, chat); return st.Blocked })
	channeltest.WaitFor(t, func() bool { return len(env.Entries(outbox.Reply)) == 0 })
}

func TestSetWebhook(t *testing.T) {
	t.Parallel()
	fake := telegramtest.NewServer(t, token)
	bot := NewBot(token, fake.URL, 2*time.Second)
	if err := SetWebhook(bot, "https://bot.example.org/webhooks/telegram", secret); err != nil {
		t.Fatal(err)
	}
	u, s, allowed := fake.Webhook()
	if u != "https://bot.example.org/webhooks/telegram" || s != secret || strings.Join(allowed, ",") != "message,callback_query,my_chat_member" {
		t.Errorf("webhook = %q %q %v", u, s, allowed)
	}
	if err := SetWebhook(bot, "http://insecure.example.org/x", secret); err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("plain HTTP: %v; want an error without the token", err)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want outbox.Failure
	}{
		{&tgbotapi.Error{Code: 429, Message: "Too Many Requests", ResponseParameters: tgbotapi.ResponseParameters{RetryAfter: 7}}, outbox.Retry},
		{&tgbotapi.Error{Code: 403, Message: "Forbidden: bot was blocked by the user"}, outbox.Blocked},
		{&tgbotapi.Error{Code: 403, Message: "Forbidden: user is deactivated"}, outbox.Undeliverable},
		{&tgbotapi.Error{Code: 400, Message: "Bad Request: chat not found"}, outbox.Undeliverable},
		{&tgbotapi.Error{Code: 400, Message: "Bad Request: message text is empty"}, outbox.Permanent},
		{&tgbotapi.Error{Code: 502, Message: "Bad Gateway"}, outbox.Retry},
		{errors.New(`Post "https://api.telegram.org/bot` + token + `/sendMessage": dial tcp: timeout`), outbox.Retry},
	}
	for _, tt := range tests {
		got := Classify(tt.err)
		if got.Failure != tt.want {
			t.Errorf("Classify(%v) = %v, want %v", tt.err, got.Failure, tt.want)
		}
		if strings.Contains(got.Reason, token) {
			t.Errorf("reason holds the token")
		}
	}
	if got := Classify(tests[0].err); got.RetryAfter != 7*time.Second {
		t.Errorf("retry after %v, want 7s", got.RetryAfter)
	}
	// A 429 is always a pause (which costs no try), bounded as Twilio's.
	for _, tt := range []struct {
		retryAfter int
		want       time.Duration
	}{{0, time.Second}, {86400, maxRetryAfter}} {
		err := &tgbotapi.Error{Code: 429, Message: "Too Many Requests", ResponseParameters: tgbotapi.ResponseParameters{RetryAfter: tt.retryAfter}}
		if got := Classify(err).RetryAfter; got != tt.want {
			t.Errorf("429 with retry_after %d: pause %v, want %v", tt.retryAfter, got, tt.want)
		}
	}
}

// TestEraseLeavesNothing: a person subscribes, asks for a person, gets a
// broadcast, then asks to erase everything. Afterwards no Redis key or value
// holds their chat id or their contact key, and the confirmation still
// reaches them.
func TestEraseLeavesNothing(t *testing.T) {
	t.Parallel()
	env, h := setup(t)
	fake := telegramtest.NewServer(t, token)
	ctx := context.Background()
	const chatID = "111111111"
	ck := env.Store.ContactKey(Channel, chatID)
	serve := func(text string) {
		t.Helper()
		if _, err := env.Dialog.Handle(ctx, dialog.Message{Channel: Channel, Address: chatID, Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	for _, text := range []string{"Bonjour", "4", "1", "1", "0", "J'ai besoin d'aide pour mon fils", "MENU"} {
		serve(text)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, post("message_digit.json", secret)(t))
	if err := env.Outbox.Enqueue(ctx, outbox.Entry{ID: "b1", Channel: Channel, To: env.Store.Seal(chatID), Contact: ck, Priority: outbox.Bulk, Broadcast: "x", Messages: []outbox.Text{{Text: "notice"}}}); err != nil {
		t.Fatal(err)
	}
	env.Redis.SAdd(ctx, env.Store.Keys().BroadcastTold("x", env.Store.Shard(ck)), ck)
	serve("EFFACER")
	serve("1") // confirm
	keys, _ := env.Redis.Keys(ctx, env.Prefix+"*").Result()
	for _, k := range keys {
		if strings.Contains(k, ck) || strings.Contains(k, chatID) {
			t.Errorf("key %q remains", k)
		}
		if typ, _ := env.Redis.Type(ctx, k).Result(); typ == "stream" {
			// XDEL leaves a deleted entry's bytes in the stream's nodes
			// until Redis frees them: the live entries are what is checked.
			msgs, _ := env.Redis.XRange(ctx, k, "-", "+").Result()
			for _, m := range msgs {
				if v := fmt.Sprint(m.Values); strings.Contains(v, ck) || strings.Contains(v, chatID) {
					t.Errorf("an entry of %q still names the person", k)
				}
			}
			continue
		}
		dump, _ := env.Redis.Dump(ctx, k).Result()
		if strings.Contains(dump, ck) || strings.Contains(dump, chatID) {
			t.Errorf("value of %q still names the person", k)
		}
	}
	if reqs, _ := env.Store.Requests().List(ctx); len(reqs) != 0 {
		t.Errorf("%d requests remain", len(reqs))
	}
	startWorker(t, env, fake, outbox.Options{})
	sent := fake.WaitSent(t, 1, 10*time.Second)
	if !strings.Contains(sent[len(sent)-1].Params.Get("text"), env.Text("fr", "erased")) {
		t.Errorf("the confirmation did not go out: %q", sent[len(sent)-1].Params.Get("text"))
	}
}
