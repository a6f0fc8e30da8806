package main

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/outreach-org/outreach/bot/waitfor"
)

// TestSentinelFailoverLosesNoAcceptedMessage: the service on a Sentinel
// setup (a master, a replica, a sentinel) with OUTREACH_REDIS_REPLICAS=1
// takes first messages from 120 people while the master is failed over.
// Webhooks are retried as Telegram does until they get a 200; every
// person whose message was answered 200 gets the bot's answer: nothing
// accepted is lost in the failover.
func TestSentinelFailoverLosesNoAcceptedMessage(t *testing.T) {
	t.Parallel()
	sen := redistest.StartSentinel(t)
	p := withProviders(t)
	p.vars["REDIS_URL"] = sen.URL
	p.vars["OUTREACH_REDIS_REPLICAS"] = "1"
	// The answers are checked, not the rates: lift them.
	p.vars["OUTREACH_RATE_TELEGRAM"] = "100000"
	p.vars["OUTREACH_RATE_TELEGRAM_CHAT"] = "100000"
	svc := startServe(t, p.vars)
	p.telegram.WaitSent(t, 0, time.Second) // the webhook is set

	// Eight senders, each a first message every 50 ms, from before the
	// failover until 2 seconds after it (at most 3,000 people).
	var next, retried atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				i := int(next.Add(1)) - 1
				if i >= 3000 {
					return
				}
				// Telegram retries a webhook until it answers 2xx; so do
				// we, for at most a minute.
				deadline := time.Now().Add(time.Minute)
				for {
					resp, err := client.Do(telegramPost(svc.base, int64(1000+i), i))
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							break
						}
					}
					retried.Add(1)
					if time.Now().After(deadline) {
						t.Errorf("person %d: no 200 in a minute (last: %v)", i, err)
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	before := next.Load()
	newMaster := sen.Failover(t)
	time.Sleep(2 * time.Second)
	stop.Store(true)
	wg.Wait()
	people := int(min(next.Load(), 3000))
	t.Logf("failed over to %s after %d people; %d people in all; %d webhook retries", newMaster, before, people, retried.Load())

	// Every accepted first message gets its answer. The wait is long: on a
	// busy machine (the race detector, tests in parallel) the workers take
	// a while to find the new master and drain the outbox.
	answered := func() bool {
		chats := map[string]bool{}
		for _, c := range p.telegram.Sent() {
			chats[c.Params.Get("chat_id")] = true
		}
		return len(chats) >= people
	}
	if !waitfor.Within(time.Minute, answered) {
		code, depth := api(t, "GET", svc.base+"/api/v1/outbox", adminToken, "")
		t.Logf("outbox after a minute: %d %v", code, depth)
	}
	chats := map[string]int{}
	for _, c := range p.telegram.Sent() {
		chats[c.Params.Get("chat_id")]++
	}
	for i := range people {
		if chats[strconv.Itoa(200000+i)] == 0 {
			t.Errorf("person %d got no answer", i)
		}
	}
}
