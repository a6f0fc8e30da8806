package twilio

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/outreach-org/outreach/bot/channeltest"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/twilio/twiliotest"
)

// jumpClock is a clock for one sender at a time: a wait moves it forward
// at once, so that a pause of seconds passes without real time passing.
type jumpClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *jumpClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// attempt is one send as the worker made it, on the clock.
type attempt struct {
	at  time.Time
	err error
}

// stamped is a sender that notes each attempt's time on the clock.
type stamped struct {
	next  outbox.Sender
	clock *jumpClock
	mu    sync.Mutex
	log   []attempt
}

func (s *stamped) Send(ctx context.Context, m outbox.Message) (string, error) {
	at := s.clock.Now()
	id, err := s.next.Send(ctx, m)
	s.mu.Lock()
	s.log = append(s.log, attempt{at, err})
	s.mu.Unlock()
	return id, err
}

// TestRateLimitPausesTheChannel: Twilio answers 429 with Retry-After: 7
// five times in a row, more than the tries a message has. The channel
// pauses 7 seconds (on the gate's clock) after each, through the real SDK
// and the shared gate, and then every reply leaves, none dead-lettered.
func TestRateLimitPausesTheChannel(t *testing.T) {
	t.Parallel()
	env := channeltest.New(t, SMS)
	fake := twiliotest.NewServer(t, accountSID, authToken)
	fake.RateLimitNext(5, 7*time.Second)
	ctx := context.Background()
	const people = 3
	for i := range people {
		e := outbox.NewEntry(SMS, env.Store.Seal("+21261234560"+strconv.Itoa(i)), "", outbox.Reply)
		e.Messages = []outbox.Text{{Text: "reply " + strconv.Itoa(i)}}
		if err := env.Outbox.Enqueue(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	api, err := NewClient(accountSID, authToken, fake.URL, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	clock := &jumpClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	rec := &stamped{next: NewSMSSender(api, "", ourNumber, ""), clock: clock}
	gate := outbox.NewSharedGate(env.Redis, env.Prefix, SMS, 100, 1, env.Log, outbox.WithClock(clock))
	env.StartWorker(map[string]*outbox.Channel{SMS: {Sender: rec, MaxLen: MaxBody, Cost: SMSCost, Gate: gate}},
		outbox.Options{ReplyWorkers: 1, MaxTries: 2, Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	fake.WaitAccepted(t, people, 10*time.Second)
	channeltest.WaitFor(t, func() bool {
		return len(env.Entries(outbox.Reply)) == 0
	})
	if dead, _ := env.Outbox.Dead(ctx, 10); len(dead) != 0 {
		t.Errorf("%d replies dead-lettered, first %q", len(dead), dead[0].Reason)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	limited := 0
	for i, a := range rec.log {
		var se *outbox.SendError
		if errors.As(a.err, &se) {
			limited++
			if se.Reason != "twilio_20429" || se.RetryAfter != 7*time.Second {
				t.Errorf("attempt %d: %s, Retry-After %v; want twilio_20429 and 7s", i, se.Reason, se.RetryAfter)
			}
			if i+1 < len(rec.log) && rec.log[i+1].at.Sub(a.at) < 7*time.Second {
				t.Errorf("attempt %d came %v after a 429 asking for 7s", i+1, rec.log[i+1].at.Sub(a.at))
			}
		} else if a.err != nil {
			t.Errorf("attempt %d: %v", i, a.err)
		}
	}
	if limited != 5 || len(rec.log) != 5+people {
		t.Errorf("%d attempts, %d answered 429; want %d and 5", len(rec.log), limited, 5+people)
	}
	if n := len(fake.Accepted()); n != people {
		t.Errorf("%d accepted, want %d", n, people)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"7", 7 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", time.Second, true},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{"99999999999", maxRetryAfter, true},
		{"-5", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	} {
		a := &answerHeaders{h: http.Header{}}
		if tt.header != "" {
			a.h.Set("Retry-After", tt.header)
		}
		if got, ok := a.retryAfter(now); got != tt.want || ok != tt.ok {
			t.Errorf("Retry-After %q: %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
	// Without the header a rate limit still pauses the channel, briefly.
	if se := Classify(&client.TwilioRestError{Code: 20429, Status: 429}); se.Failure != outbox.Retry || se.RetryAfter != defaultRetryAfter {
		t.Errorf("a 429 without Retry-After: %+v", se)
	}
	if se := Classify(&client.TwilioRestError{Code: 20500, Status: 500}); se.RetryAfter != 0 {
		t.Errorf("a 500 asks to pause: %+v", se)
	}
}
