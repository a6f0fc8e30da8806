// Package metrics holds the service's Prometheus metrics, in a registry of
// its own so that tests and several instances in one process never collide.
// Labels never carry a phone number, chat id or message text.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the service's metrics.
type Metrics struct {
	Registry *prometheus.Registry

	// Inbound counts messages handled, by channel.
	Inbound *prometheus.CounterVec
	// Replies counts replies produced, by channel.
	Replies *prometheus.CounterVec
	// Step times one handled message: load, engine step and save.
	Step prometheus.Histogram
	// Conflicts counts state writes retried because the same contact wrote
	// twice at once.
	Conflicts prometheus.Counter
	// Guarded counts steps stopped by the loop guard.
	Guarded prometheus.Counter
	// Errors counts failures, by stage.
	Errors *prometheus.CounterVec

	// Webhooks counts webhook requests, by route and status code.
	Webhooks *prometheus.CounterVec
	// Duplicates counts provider retries of messages already handled.
	Duplicates *prometheus.CounterVec
	// Sent counts messages the provider accepted, by channel.
	Sent *prometheus.CounterVec
	// SendFailures counts failed sends, by channel and reason.
	SendFailures *prometheus.CounterVec
	// SendSeconds times provider calls, by channel.
	SendSeconds *prometheus.HistogramVec
	// Skipped counts messages not sent, by channel and reason (opted out,
	// undeliverable, needs a template).
	Skipped *prometheus.CounterVec
	// DeadLetters counts messages given up, by channel and reason.
	DeadLetters *prometheus.CounterVec
	// Claimed counts entries taken over from a worker that stopped.
	Claimed prometheus.Counter
	// Statuses counts delivery status callbacks, by status.
	Statuses *prometheus.CounterVec
	// Calls counts calls to the voice number, by what was done: answered
	// (ivr), sms_back, rejected (off), silent (hung up after silences).
	Calls *prometheus.CounterVec
	// Urgent counts messages in which words of danger were heard, by
	// category (the content's category names; never the text).
	Urgent *prometheus.CounterVec
	// RoundTrips counts round trips to Redis, by path (inbound, outbox,
	// other); see RedisHook.
	RoundTrips *prometheus.CounterVec
}

// New makes the metrics and registers them with the Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Inbound: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outreach_inbound_messages_total", Help: "Messages received and handled, by channel.",
		}, []string{"channel"}),
		Replies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outreach_replies_total", Help: "Replies produced by the engine, by channel.",
		}, []string{"channel"}),
		Step: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "outreach_step_seconds", Help: "Time to handle one message: load state, engine step, save.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		Conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outreach_state_conflicts_total", Help: "State writes retried because one contact's messages arrived at once.",
		}),
		Guarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outreach_loop_guard_total", Help: "Steps stopped by the loop guard.",
		}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "outreach_errors_total", Help: "Failures, by stage.",
		}, []string{"stage"}),
	}
	m.Urgent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outreach_urgent_total", Help: "Messages with words of danger, answered with emergency numbers, by category.",
	}, []string{"category"})
	m.Webhooks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outreach_webhook_requests_total", Help: "Webhook requests, by route and status code.",
	}, []string{"route", "code"})
	m.Duplicates = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outreach_duplicates_total", Help: "Provider retries of messages already handled, by channel.",
	}, []string{"channel"})
	m.Sent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outreach_sent_total", Help: "Messages the provider accepted, by channel.",
	}, []string{"channel"})
	m.SendFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outreach_send_failures_total", Help: "Failed sends, by channel and reason.",
	}, []string{"channel", "reason"})
	m.SendSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "outreach_send_seconds", Help: "Time of one provider call, by channel.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
	}, []string{"channel"})
	m.Skipped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outreach_skipped_total", Help: "Messages not sent, by channel and reason.",
	}, []string{"channel", "reason"})
	m.DeadLetters = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outreach_dead_letters_total", Help: "Messages given up to the dead-letter list, by channel and reason.",
	}, []string{"channel", "reason"})
	m.Claimed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "outreach_outbox_claimed_total", Help: "Outbox entries taken over from a worker that stopped.",
	})
	m.Statuses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outreach_delivery_status_total", Help: "Delivery status callbacks, by status.",
	}, []string{"status"})
	m.Calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outreach_calls_total", Help: "Calls to the voice number, by outcome: answered, sms_back, rejected, silent.",
	}, []string{"outcome"})
	m.RoundTrips = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "outreach_redis_round_trips_total", Help: "Round trips to Redis (a pipeline counts one), by path: inbound, outbox, other.",
	}, []string{"path"})
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.Inbound, m.Replies, m.Step, m.Conflicts, m.Guarded, m.Errors,
		m.Webhooks, m.Duplicates, m.Sent, m.SendFailures, m.SendSeconds, m.Skipped, m.DeadLetters, m.Claimed, m.Statuses, m.RoundTrips, m.Urgent, m.Calls,
	)
	return m
}
