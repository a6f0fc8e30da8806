package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/store"
	"github.com/outreach-org/outreach/bot/telegram/telegramtest"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

// location is a Telegram message's location field (and a venue's, when
// venue is set), as Telegram sends it.
func location(lat, lon float64, venue string) map[string]any {
	loc := map[string]any{"latitude": lat, "longitude": lon}
	m := map[string]any{"location": loc}
	if venue != "" {
		m["venue"] = map[string]any{"location": loc, "title": venue, "address": venue}
	}
	return m
}

// TestLocationsAreNeverKept: locations shared on WhatsApp and Telegram
// (and one during a request to staff, and one simulated) are answered with
// the nearest site, and then neither the coordinates as sent nor a place's
// address or label are anywhere: not in any key or value under the
// service's prefix (strings, hashes, sets, sorted sets, lists, streams),
// not in the plaintext of the people's state and conversation, not in the
// requests staff read, and not in the service's log.
func TestLocationsAreNeverKept(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	s := startServe(t, p.vars)
	prefix := p.vars["OUTREACH_REDIS_PREFIX"]
	rdb := redisOf(t, p.vars)
	ctx := context.Background()
	ppl := &people{t: t, base: s.base}
	const wa, tgChat, tgHelp = "+212611000071", int64(611000072), int64(611000073)
	secret := []string{
		"34.6937", "1.8712", // WhatsApp, near Oujda
		"35.7702", "5.8101", // Telegram, near Tanger
		"33.5912", "7.6033", // Telegram venue, near Casablanca
		"34.7011", "1.9299", // Telegram, during a request
		"34.0301", "6.8299", // simulated, near Rabat
		"Boulevard Mohammed V", "Chez Amina", "Cafe du Port",
	}

	ppl.sms("whatsapp:"+wa, "Bonjour")
	ppl.sms("whatsapp:"+wa, "", "MessageType", "location", "Latitude", "34.6937", "Longitude", "-1.8712", "Address", "Boulevard Mohammed V, Oujda", "Label", "Chez Amina")
	ppl.telegram(tgChat, "fr", "Bonjour")
	ppl.telegram(tgChat, "fr", "", location(35.7702, -5.8101, ""))
	ppl.telegram(tgChat, "fr", "", location(33.5912, -7.6033, "Cafe du Port"))
	for _, text := range []string{"Bonjour", "0", "Mon enfant est malade, aidez-nous"} {
		ppl.telegram(tgHelp, "fr", text)
	}
	ppl.telegram(tgHelp, "fr", "", location(34.7011, -1.9299, ""))
	if code, out := api(t, "POST", s.base+"/api/v1/simulate", adminToken, `{"contact":"sim-loc","text":"Bonjour"}`); code != 200 {
		t.Fatalf("simulate Bonjour: %d %v", code, out)
	}
	code, out := api(t, "POST", s.base+"/api/v1/simulate", adminToken, `{"contact":"sim-loc","location":{"lat":34.0301,"lon":-6.8299}}`)
	if code != 200 || !strings.Contains(fmt.Sprint(out), "La ville la plus proche de vous : Rabat, à environ 1 km.") {
		t.Errorf("simulate a location: %d %v", code, out)
	}

	// The answers: the nearest site, named with its distance.
	p.twilio.WaitAccepted(t, 4, 10*time.Second) // welcome, menu; then the line with Oujda's list, its menu
	twilioHas := func(text string) bool {
		return slices.ContainsFunc(p.twilio.Accepted(), func(c twiliotest.Call) bool { return strings.Contains(c.Body, text) })
	}
	telegramHas := func(chat int64, text string) bool {
		return slices.ContainsFunc(p.telegram.Sent(), func(c telegramtest.Call) bool {
			return c.Params.Get("chat_id") == fmt.Sprint(chat) && strings.Contains(c.Params.Get("text"), text)
		})
	}
	waitFor(t, func() bool {
		return twilioHas("La ville la plus proche de vous : Oujda, à environ 4 km.") &&
			telegramHas(tgChat, "La ville la plus proche de vous : Tanger, à environ 2 km.") &&
			telegramHas(tgChat, "La ville la plus proche de vous : Casablanca, à environ 2 km.") &&
			telegramHas(tgHelp, "Votre position n'est ni gardée ni transmise")
	})

	// Every key and value under the prefix.
	stored := contents(t, rdb, prefix)
	if len(stored) == 0 {
		t.Fatal("nothing stored under the prefix: the scan reads the wrong place")
	}
	for k, v := range stored {
		for _, w := range secret {
			if strings.Contains(k, w) || strings.Contains(v, w) {
				t.Errorf("%s holds %q: %.300s", k, w, v)
			}
		}
	}
	// The plaintext of the people's state and conversation (sealed at rest).
	key, err := base64.StdEncoding.DecodeString(p.vars["OUTREACH_DATA_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix, DataKey: key})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ channel, address, site string }{
		{"whatsapp", wa, "oujda"}, {"telegram", fmt.Sprint(tgChat), "casablanca"}, {"telegram", fmt.Sprint(tgHelp), ""},
	} {
		state, err := st.LoadState(ctx, st.ContactKey(c.channel, c.address), "")
		if err != nil || state.Data == nil {
			t.Fatalf("%s state: %v, %q", c.channel, err, state.Data)
		}
		plain := string(state.Data) + string(state.Dialog)
		var conv struct {
			Vars map[string]string `json:"vars"`
		}
		if err := json.Unmarshal(state.Dialog, &conv); err != nil || conv.Vars["site"] != c.site {
			t.Errorf("%s %s: conversation %s (%v); want the site %q chosen", c.channel, c.address, state.Dialog, err, c.site)
		}
		for _, w := range secret {
			if strings.Contains(plain, w) {
				t.Errorf("%s %s: the state holds %q: %s", c.channel, c.address, w, plain)
			}
		}
	}
	// What staff read of the request: no note of the location.
	code, out = api(t, "GET", s.base+"/api/v1/requests", adminToken, "")
	if reqs := fmt.Sprint(out); code != 200 || !strings.Contains(reqs, "Mon enfant est malade") {
		t.Fatalf("requests: %d %v", code, out)
	}
	id := requestOf(t, s.base, "Mon enfant est malade, aidez-nous")
	code, out = api(t, "GET", s.base+"/api/v1/requests/"+id, adminToken, "")
	for _, w := range append(secret, "position", "location") {
		if strings.Contains(fmt.Sprint(out), w) {
			t.Errorf("request %s (%d) holds %q: %v", id, code, w, out)
		}
	}
	// The log.
	logs := s.logs.String()
	for _, w := range secret {
		if strings.Contains(logs, w) {
			t.Errorf("the log holds %q", w)
		}
	}
}
