package outbox

import (
	"testing"

	"github.com/outreach-org/outreach/bot/keys"
	"time"
)

func TestWithRetentionBoundsWhatIsKept(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ retention, status, done time.Duration }{
		{180 * 24 * time.Hour, statusTTL, doneTTL},
		{10 * 24 * time.Hour, 10 * 24 * time.Hour, doneTTL},
		{48 * time.Hour, 48 * time.Hour, 48 * time.Hour},
		{0, statusTTL, doneTTL},
	} {
		o := New(nil, keys.New("p:")).WithRetention(tt.retention)
		if o.statusTTL != tt.status || o.doneTTL != tt.done {
			t.Errorf("retention %v: delivery states kept %v, sent parts %v; want %v and %v", tt.retention, o.statusTTL, o.doneTTL, tt.status, tt.done)
		}
	}
}
