package broadcast_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/engine"
)

func TestFieldsNameEachProblem(t *testing.T) {
	t.Parallel()
	err := broadcast.CheckSite(engine.Site{ID: "Bad Id", Names: map[string]string{"ar": " ناظور", "fr": "Nador"}, ExactPlace: "all"}, []string{"fr", "en", "ar"})
	if got, want := broadcast.Fields(err), []string{"id", "names.ar", "exact_place"}; !slices.Equal(got, want) {
		t.Errorf("Fields = %q, want %q", got, want)
	}
	if got := broadcast.Fields(errors.New("other")); got != nil {
		t.Errorf("Fields of another error = %q, want nil", got)
	}
	if got := broadcast.Fields(nil); got != nil {
		t.Errorf("Fields(nil) = %q", got)
	}
}
