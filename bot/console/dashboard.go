package console

import (
	"context"
	"net/http"
	"time"
)

// Stats are the daily counts of messages, for the dashboard: nothing that
// identifies a person.
type Stats interface {
	// Days returns, for each of the n days up to now, the counts by name
	// ("in.sms", "out.telegram", "delivered", "failed"…).
	Days(ctx context.Context, n int, now time.Time) ([]Day, error)
}

// Day is one day's counts.
type Day struct {
	Date   time.Time
	Counts map[string]int64
}

// dashboardData is what the dashboard shows.
type dashboardData struct {
	ContentVersion int
	OpenRequests   int
	UrgentRequests int
	Outbox         map[string]int64
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request) error {
	var d dashboardData
	if c.opts.Dialog != nil {
		d.ContentVersion = c.opts.Dialog.Version()
	}
	if c.opts.Requests != nil {
		reqs, err := c.opts.Requests.OpenRequests(r.Context())
		if err != nil {
			return err
		}
		d.OpenRequests = len(reqs)
		for _, q := range reqs {
			if q.Urgent {
				d.UrgentRequests++
			}
		}
	}
	if c.opts.Outbox != nil {
		depth, err := c.opts.Outbox.Depth(r.Context())
		if err != nil {
			return err
		}
		d.Outbox = depth
	}
	c.render(w, r, http.StatusOK, "dashboard", c.newPage(r, "dashboard_title", d))
	return nil
}
