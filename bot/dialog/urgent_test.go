package dialog

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/store"
)

// urgentCount reads outreach_urgent_total for a category.
func (f *fixture) urgentCount(t *testing.T, category string) float64 {
	t.Helper()
	families, err := f.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != "outreach_urgent_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "category" && l.GetValue() == category {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestDangerIsRecordedAndCounted: words of danger at a menu are counted by
// category; "1" to the offer records an urgent request; a protection case
// is recorded at once, urgent, with what the person wrote. Nothing of the
// words or the person reaches the log, at any level.
func TestDangerIsRecordedAndCounted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const phone = "+212600000090"
	f.send(t, phone, "Bonjour")
	f.send(t, phone, "2")
	replies := f.send(t, phone, "ma femme saigne")
	if replies[0].Text != f.content.Text("fr", "urgent_medical", nil) {
		t.Fatalf("first reply %q, want the emergency numbers", replies[0].Text)
	}
	if got := f.urgentCount(t, "medical"); got != 1 {
		t.Errorf("outreach_urgent_total{medical} = %v, want 1", got)
	}
	if reqs, err := f.store.Requests().List(ctx); err != nil || len(reqs) != 0 {
		t.Fatalf("before yes: %d requests (%v), want none", len(reqs), err)
	}
	f.send(t, phone, "1")
	reqs, err := f.store.Requests().List(ctx)
	if err != nil || len(reqs) != 1 || !reqs[0].Urgent {
		t.Fatalf("after yes: %+v (%v), want one urgent request", reqs, err)
	}

	const other = "+212600000091"
	f.send(t, other, "Hello")
	f.send(t, other, "1")
	f.send(t, other, "my husband beats me")
	reqs, err = f.store.Requests().List(ctx)
	// Requests().List has no order: find the English one.
	i := slices.IndexFunc(reqs, func(r store.Request) bool { return r.Lang == "en" })
	if err != nil || len(reqs) != 2 || i < 0 || !reqs[i].Urgent {
		t.Fatalf("violence: %+v (%v), want a second urgent request at once", reqs, err)
	}
	if got := f.urgentCount(t, "violence"); got != 1 {
		t.Errorf("outreach_urgent_total{violence} = %v, want 1", got)
	}
	// Counted, never logged with the words or the person.
	logs := f.logs.String()
	for _, secret := range []string{"saigne", "beats", "600000090", "600000091"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
}

// TestDangerInAnOpenRequestFlagsIt: a request recorded as not urgent
// becomes urgent when the person then writes words of danger into it, so
// that staff see it first; the words are kept as a note.
func TestDangerInAnOpenRequestFlagsIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	const phone = "+212600000092"
	f.send(t, phone, "Bonjour")
	f.send(t, phone, "0")
	f.send(t, phone, "j'ai une question sur l'ecole")
	reqs, err := f.store.Requests().List(ctx)
	if err != nil || len(reqs) != 1 || reqs[0].Urgent {
		t.Fatalf("after the request: %+v (%v), want one request, not urgent", reqs, err)
	}
	f.send(t, phone, "mon fils a disparu")
	reqs, err = f.store.Requests().List(ctx)
	if err != nil || len(reqs) != 1 || !reqs[0].Urgent {
		t.Fatalf("after danger in the request: %+v (%v), want it urgent", reqs, err)
	}
	_, notes, err := f.store.Requests().Get(ctx, reqs[0].ID)
	if err != nil || len(notes) != 1 {
		t.Fatalf("notes %d (%v), want the danger kept as one note", len(notes), err)
	}
	if text, err := f.store.Open(notes[0]); err != nil || text != "mon fils a disparu" {
		t.Errorf("note %q (%v)", text, err)
	}
}
