package telegram

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/dialog"
)

func TestParseStartAndMedia(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		file, text, start string
		media             bool
	}{
		{"message_start.json", "MENU", "", false},
		{"message_start_site.json", "MENU", "nador", false},
		{"message_start_bad_payload.json", "MENU", "", false},
		{"message_photo.json", "", "", true},
		{"message_voice.json", "", "", true},
		{"message_location.json", "", "", false},
		{"message_text_fr.json", "Bonjour", "", false},
	} {
		ev, err := Parse(update(t, tt.file))
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if ev.Text != tt.text || ev.Start != tt.start || ev.Media != tt.media {
			t.Errorf("%s: text %q, start %q, media %v; want %q, %q, %v", tt.file, ev.Text, ev.Start, ev.Media, tt.text, tt.start, tt.media)
		}
	}
	long := `{"update_id":1,"message":{"message_id":1,"chat":{"id":5,"type":"private"},"text":"/start ` + strings.Repeat("a", 65) + `"}}`
	if ev, _ := Parse([]byte(long)); ev.Start != "" {
		t.Errorf("a 65-character payload was taken")
	}
	caption := `{"update_id":1,"message":{"message_id":1,"chat":{"id":5,"type":"private"},"photo":[{"file_id":"x","file_unique_id":"y","width":1,"height":1}],"caption":"2"}}`
	if ev, _ := Parse([]byte(caption)); ev.Text != "2" || ev.Media {
		t.Errorf("a photo's caption: text %q, media %v; want \"2\", false", ev.Text, ev.Media)
	}
}

func TestSiteLinkAndMedia(t *testing.T) {
	t.Parallel()
	channeltest.Run(t, []channeltest.Case{
		{Label: "a site link answers for the site", Request: post("message_start_site.json", secret),
			Status: 200, Replies: 3, ReplyHas: "Ici ", Channel: Channel, Address: chat, Lang: "fr",
			Sends: []string{chat + " Ici ", chat + " Pas de distribution annoncée à Nador", `"callback_data":"2"`},
			Check: func(t testing.TB, env *channeltest.Env) {
				// 2 then subscribes to Nador: the site was preset.
				subscribes(t, env, "nador")
				env.NoTrace(t, chat)
			}},
		// A location near Nador (under a km away), through the real
		// tgbotapi to the fake Telegram API, is answered as a link to Nador
		// is, after the line that names it; the coordinates are stored and
		// logged nowhere.
		{Label: "a location is answered with the nearest site", Request: post("message_location.json", secret),
			Status: 200, Replies: 3, ReplyHas: "Ici ", Channel: Channel, Address: chat, Lang: "fr",
			Sends: []string{chat + " Ici ", chat + " La ville la plus proche de vous : Nador, à environ 1 km.\nPas de distribution annoncée à Nador", `"callback_data":"2"`},
			Check: func(t testing.TB, env *channeltest.Env) {
				subscribes(t, env, "nador")
				env.NoTrace(t, chat, "35.16", "2.93", "168796", "933542")
			}},
		{Label: "a payload Telegram would not send is a plain /start", Request: post("message_start_bad_payload.json", secret),
			Status: 200, Replies: 2, ReplyHas: "This is", Channel: Channel, Address: chat, Lang: "en",
			Check: func(t testing.TB, env *channeltest.Env) { env.NoTrace(t, "passwd") }},
		{Label: "a voice note is told text only, in the app's language", Request: post("message_voice.json", secret),
			Status: 200, Replies: 3, ReplyHas: "أقرأ النص فقط", Channel: Channel, Address: chat, Lang: "ar",
			Check: func(t testing.TB, env *channeltest.Env) {
				env.NoTrace(t, chat, "AwACAgQAAxkBAAIBaGmAyVoiceFileIdForTests0001", "AgADvoiceUniq1", "audio/ogg")
			}},
	}, setup)
}

// A voice note mid-conversation: the note only, and the menu still works.
func TestMediaMidConversation(t *testing.T) {
	t.Parallel()
	env, h := setup(t)
	for _, file := range []string{"message_text_fr.json", "message_photo.json"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, post(file, secret)(t))
		if rec.Code != 200 {
			t.Fatalf("%s: %d", file, rec.Code)
		}
	}
	replies := env.Replies()
	if len(replies) != 3 || replies[2].Text != env.Text("fr", "media_only") {
		t.Fatalf("replies %+v, want welcome, menu, then only media_only", replies)
	}
	out, err := env.Dialog.Handle(context.Background(), dialog.Message{Channel: Channel, Address: chat, Text: "2"})
	if err != nil || len(out.Replies) == 0 || !strings.HasPrefix(out.Replies[0].Text, env.Text("fr", "health_title")) {
		t.Errorf("2 after the photo: %+v, %v; want the health menu", out.Replies, err)
	}
}
