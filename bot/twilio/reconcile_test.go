package twilio

import (
	"context"
	"testing"
	"time"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

// TestSlowTwilioSendsOnce: Twilio takes every message but answers after the
// send timeout, so that no send learns its SID. Each message is created
// once at Twilio all the same: before it is tried again, the outbox asks
// Twilio for it, finds it, and records it as sent under its SID, so that its
// status callbacks still match. From a number, from a Messaging Service
// (whose sender Twilio picks), and on WhatsApp.
func TestSlowTwilioSendsOnce(t *testing.T) {
	t.Parallel()
	const service = "MG00000000000000000000000000000001"
	for _, tt := range []struct {
		name, channel, service, to string
	}{
		{"sms from a number", SMS, "", person},
		{"sms from a messaging service", SMS, service, person},
		{"whatsapp", WhatsApp, "", "whatsapp:" + person},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := channeltest.New(t, tt.channel)
			fake := twiliotest.NewServer(t, accountSID, authToken)
			const timeout = 300 * time.Millisecond
			fake.SetAnswerDelay(4 * timeout)
			api, err := NewClient(accountSID, authToken, fake.URL, timeout)
			if err != nil {
				t.Fatal(err)
			}
			sender := NewSMSSender(api, tt.service, ourNumber, publicURL+"/webhooks/twilio/status")
			if tt.channel == WhatsApp {
				sender = NewWhatsAppSender(api, ourNumber, publicURL+"/webhooks/twilio/status")
			}
			e := outbox.NewEntry(tt.channel, env.Store.Seal(person), "", outbox.Reply)
			e.Messages = []outbox.Text{{Text: "Première partie."}, {Text: "Deuxième partie."}}
			if err := env.Outbox.Enqueue(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			env.StartWorker(map[string]*outbox.Channel{
				tt.channel: {Sender: sender, MaxLen: MaxBody, Gate: outbox.NewGate(1000, 1000)},
			}, outbox.Options{SendTimeout: timeout, MaxTries: 4, Backoff: func(int) time.Duration { return 10 * time.Millisecond }})

			channeltest.WaitFor(t, func() bool {
				d, err := env.Outbox.Depth(context.Background())
				return err == nil && d["reply"]+d["delayed"] == 0
			})
			accepted := fake.Accepted()
			copies := map[string]int{}
			unanswered := 0
			for _, c := range accepted {
				copies[c.Body]++
				if c.Unanswered {
					unanswered++
				}
			}
			t.Logf("%d messages created at Twilio for 2 sent, %d of them answered too late", len(accepted), unanswered)
			if unanswered == 0 {
				t.Fatal("every answer came in time: the test proves nothing")
			}
			for _, body := range []string{"Première partie.", "Deuxième partie."} {
				if copies[body] != 1 {
					t.Errorf("%q created %d times at Twilio, want once", body, copies[body])
				}
			}
			if dead, _ := env.Outbox.Dead(context.Background(), 10); len(dead) != 0 {
				t.Errorf("dead letters %+v, want none", dead)
			}
			// Each is recorded under its SID: its status callback matches.
			for _, c := range accepted {
				if c.To != tt.to {
					t.Errorf("sent to %q", c.To)
				}
				d, _, err := env.Outbox.UpdateStatus(context.Background(), c.SID, "delivered", "")
				if err != nil || d.ID != e.ID || d.Channel != tt.channel {
					t.Errorf("status callback for %s: %+v, %v; want entry %s", c.SID, d, err, e.ID)
				}
			}
			if len(fake.Lists()) == 0 {
				t.Error("Twilio was never asked")
			}
		})
	}
}

func TestLookupMatchesTheSendOnly(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 12, 1, 10, 0, 0, 500e6, time.UTC)
	row := func(sid, dir, body, service string, at time.Time) openapi.ApiV2010Message {
		date := at.Format(time.RFC1123Z)
		r := openapi.ApiV2010Message{Sid: &sid, Direction: &dir, Body: &body, DateCreated: &date}
		if service != "" {
			r.MessagingServiceSid = &service
		}
		return r
	}
	m := outbox.Message{To: person, Text: "Bonjour\nici"}
	rows := []openapi.ApiV2010Message{ // newest first, as Twilio lists
		row("SMlater", "outbound-api", "Bonjour\r\nici ", "", since.Add(3*time.Second)),
		row("SMother", "outbound-api", "Autre chose", "", since.Add(2*time.Second)),
		row("SMin", "inbound", "Bonjour\nici", "", since.Add(time.Second)),
		row("SMfirst", "outbound-api", "Bonjour\nici", "", since.Add(-time.Second)), // Twilio's clock, a little behind
		row("SMyesterday", "outbound-api", "Bonjour\nici", "", since.Add(-24*time.Hour)),
	}
	from := since.Truncate(time.Second).Add(-clockSlack)
	if sid, ok := pick(rows, m, from, ""); !ok || sid != "SMfirst" {
		t.Errorf("picked %q, %v; want the first copy since the attempt", sid, ok)
	}
	if sid, ok := pick(rows[1:3], m, from, ""); ok {
		t.Errorf("picked %q among other words and an inbound message", sid)
	}
	if sid, ok := pick(rows[4:], m, from, ""); ok {
		t.Errorf("picked %q, sent the day before the attempt", sid)
	}
	// From a Messaging Service, only its messages count.
	svc := []openapi.ApiV2010Message{row("SMsvc", "outbound-api", "Bonjour\nici", "MG1", since), rows[0]}
	if sid, ok := pick(svc, m, from, "MG1"); !ok || sid != "SMsvc" {
		t.Errorf("picked %q, %v; want the service's message", sid, ok)
	}
	// A template's words are Twilio's: any message since the attempt.
	if sid, ok := pick(rows[1:2], outbox.Message{To: person, Template: "HX1"}, from, ""); !ok || sid != "SMother" {
		t.Errorf("template: picked %q, %v", sid, ok)
	}
}
