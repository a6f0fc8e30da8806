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
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.Inbound, m.Replies, m.Step, m.Conflicts, m.Guarded, m.Errors,
	)
	return m
}
