package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/access"
	keyspace "github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/store"
)

// TestEveryKeyHasAFamily exercises every feature against a real Redis
// under its own prefix — conversations on SMS, WhatsApp and Telegram, a
// subscription, a request with a note, a staff reply and an assignee, a
// broadcast, a distribution notice, a dead letter, a content publish and
// a simulation, a console sign-in (and a failed one), an invitation, API
// tokens, audit entries, the daily counts — then reads every key under the
// prefix: each must belong to a family registered in bot/keys. A key
// family nobody registered fails this test: register it, with its tag,
// its expiry and how erasure reaches it. Then it erases one person (DELETE
// /api/v1/contacts/{id}) and checks that no key of a family about people
// names them, holds them or their requests, nor lists them as a member.
func TestEveryKeyHasAFamily(t *testing.T) {
	t.Parallel()
	p := withProviders(t)
	p.vars["OUTREACH_QUIET_HOURS"] = ""
	p.vars["OUTREACH_SEND_MAX_TRIES"] = "1"
	s := startServe(t, p.vars)
	prefix := p.vars["OUTREACH_REDIS_PREFIX"]
	space := keyspace.New(prefix)
	rdb := redisOf(t, p.vars)
	ctx := context.Background()
	ppl := &people{t: t, base: s.base}
	const erased, other, wa, tgChat = "+212611000081", "+212611000082", "whatsapp:+212611000083", int64(611000084)

	// Conversations on the three channels, subscriptions to Nador, two
	// requests to a person, one with a note.
	for _, text := range []string{"Bonjour", "4", "1", "1", "MENU", "0", "Demande KEYSPACE-1", "Je suis à Nador"} {
		ppl.sms(erased, text)
	}
	for _, text := range []string{"Bonjour", "4", "1", "1", "MENU", "0", "Demande KEYSPACE-2"} {
		ppl.sms(other, text)
	}
	for _, text := range []string{"hello", "4", "1", "1"} {
		ppl.sms(wa, text)
	}
	for _, text := range []string{"hello", "4", "1", "1"} {
		ppl.telegram(tgChat, "en", text)
	}
	drained := func() bool {
		return replyLen(rdb, prefix) == 0 && bulkLen(rdb, prefix) == 0 && len(delayed(rdb, prefix)) == 0
	}
	p.twilio.WaitAccepted(t, 15, 15*time.Second)
	p.telegram.WaitSent(t, 4, 15*time.Second)
	waitFor(t, drained)

	// Staff: a reply, an assignee, a broadcast, a distribution notice.
	reqID, otherReq := requestOf(t, s.base, "Demande KEYSPACE-1"), requestOf(t, s.base, "Demande KEYSPACE-2")
	_, reqs := api(t, "GET", s.base+"/api/v1/requests", adminToken, "")
	var contact string
	for _, r := range reqs["requests"].([]any) {
		if r := r.(map[string]any); r["id"] == reqID {
			contact, _ = r["contact"].(string)
		}
	}
	if len(contact) != 32 {
		t.Fatalf("the request names contact %q", contact)
	}
	if code, out := api(t, "POST", s.base+"/api/v1/requests/"+reqID+"/reply", adminToken, `{"text":"Jeudi à 10 h"}`); code != 202 {
		t.Fatalf("reply: %d %v", code, out)
	}
	dataKey, err := base64.StdEncoding.DecodeString(p.vars["OUTREACH_DATA_KEY"])
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(ctx, rdb, store.Options{Prefix: prefix, DataKey: dataKey})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{reqID, otherReq} {
		if err := st.Requests().Assign(ctx, id, "amina"); err != nil {
			t.Fatal(err)
		}
	}
	if code, out := api(t, "POST", s.base+"/api/v1/broadcasts", adminToken, `{"text":{"fr":"Avis","en":"Notice","ar":"إعلان"},"audience":{"sites":["nador"]}}`); code != 202 {
		t.Fatalf("broadcast: %d %v", code, out)
	}
	start := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	body := fmt.Sprintf(`{"site":"nador","starts_at":%q,"ends_at":%q,"place":{"fr":"Terrain de sport","en":"Sports ground"},
		"items":["rice"],"notify":true}`, start.Format(time.RFC3339), start.Add(3*time.Hour).Format(time.RFC3339))
	if code, out := api(t, "POST", s.base+"/api/v1/distributions", adminToken, body); code != 201 {
		t.Fatalf("distribution: %d %v", code, out)
	}
	waitFor(t, drained)
	// A dead letter naming the person: a reply their number refuses for good.
	p.twilio.FailTo(erased, 400, 21617)
	if code, out := api(t, "POST", s.base+"/api/v1/requests/"+reqID+"/reply", adminToken, `{"text":"Vendredi"}`); code != 202 {
		t.Fatalf("reply: %d %v", code, out)
	}
	waitFor(t, func() bool { return rdb.LLen(ctx, space.Dead()).Val() >= 1 && drained() })

	// Content, a simulation, tokens, the console's accounts and sessions.
	if code, out := publish(t, s.base, contentFiles(t)); code != 200 {
		t.Fatalf("publish: %d %v", code, out)
	}
	say(t, s.base, "keyspace-sim", "Bonjour")
	if code, out := api(t, "POST", s.base+"/api/v1/tokens", adminToken, `{"name":"fatima","role":"staff"}`); code != 201 {
		t.Fatalf("token: %d %v", code, out)
	}
	pass := consoleStaff(t, prefix, "amina", "fr")
	signedInClient(t, s.base, "amina", pass)
	if resp, err := http.PostForm(s.base+"/login", url.Values{"username": {"amina"}, "password": {"not the passphrase"}}); err == nil {
		resp.Body.Close()
	}
	if _, err := access.NewPeople(rdb, prefix, "", nil).Invite(ctx, "nadia", access.Staff, "fr"); err != nil {
		t.Fatal(err)
	}
	// The daily counts are written every statsInterval.
	waitFor(t, func() bool {
		found := false
		err := keyspace.Scan(ctx, rdb, space.Glob(keyspace.StatsDayF), func(string) error { found = true; return keyspace.ErrStop })
		return err == nil && found
	})

	seen := map[*keyspace.Family]bool{}
	for k := range contents(t, rdb, prefix) {
		f := space.Family(k)
		if f == nil {
			t.Errorf("%s belongs to no family registered in bot/keys", k)
			continue
		}
		seen[f] = true
	}
	// The features above reached these families (so the checks below
	// check something).
	for _, f := range []*keyspace.Family{keyspace.ContactStateF, keyspace.DialogF, keyspace.SeenF, keyspace.RequestsOfF,
		keyspace.RequestF, keyspace.RequestNotesF, keyspace.RequestRepliesF, keyspace.RequestAssigneeF, keyspace.OpenRequestsF,
		keyspace.SubscribersF, keyspace.DeliveryF, keyspace.DeadF, keyspace.BroadcastF, keyspace.BcRecipientsF, keyspace.BcToldF,
		keyspace.DistributionsF, keyspace.SimStateF, keyspace.ContentVersionF, keyspace.ContentCurrentF, keyspace.APITokenF,
		keyspace.PersonF, keyspace.InviteF, keyspace.SessionF, keyspace.SignInAccountF, keyspace.AuditEntriesF, keyspace.StatsDayF,
		keyspace.KeyringF} {
		if !seen[f] {
			t.Errorf("no key of %s (%s) after exercising every feature", f.Name, f.Pattern)
		}
	}
	if t.Failed() {
		return
	}

	if code, out := api(t, "DELETE", s.base+"/api/v1/contacts/"+contact, adminToken, ""); code != 204 {
		t.Fatalf("erase: %d %v", code, out)
	}
	waitFor(t, drained)
	left := 0
	for k, v := range contents(t, rdb, prefix) {
		f := space.Family(k)
		if f == nil {
			t.Errorf("%s belongs to no family registered in bot/keys", k)
			continue
		}
		if f.Holds != keyspace.Contact {
			continue // staff's audit names the erasure, by the contact id
		}
		for _, about := range []string{contact, reqID} {
			if strings.Contains(k, about) || strings.Contains(v, about) {
				t.Errorf("after erasure, %s (%s, erased: %s) still holds the person: %.200s", k, f.Name, f.Erase, v)
			}
		}
		if strings.Contains(v, otherReq) {
			left++
		}
	}
	if left == 0 {
		t.Error("erasing one person took another's request too")
	}
}
