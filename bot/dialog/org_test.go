package dialog

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/metrics"
)

// TestOrgReachesTheWelcome: the organisation of Options.Org (OUTREACH_ORG_NAME)
// is named by the welcome, through the data the engine is given.
func TestOrgReachesTheWelcome(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	svc := New(f.store, f.content, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Org: "Caritas Nador"})
	out, err := svc.Handle(context.Background(), Message{Channel: "sms", Address: "+212600000001", Text: "bonjour"})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Replies) == 0 || !strings.Contains(out.Replies[0].Text, "Ici Caritas Nador.") {
		t.Errorf("welcome does not name the organisation: %+v", out.Replies)
	}
}

func TestRetentionInMonths(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		days int
		want int
	}{{0, 6}, {180, 6}, {365, 12}, {90, 3}, {10, 1}, {44, 1}, {46, 2}} {
		if got := months(time.Duration(c.days) * 24 * time.Hour); got != c.want {
			t.Errorf("months(%dd) = %d, want %d", c.days, got, c.want)
		}
	}
}
