package console

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/poster"
)

// TestDistributionPosters: the distributions page links each site's poster
// in each language; a link gives the PDF to download, to staff only; an
// unknown site is not found, and without a channel the page says what to
// set.
func TestDistributionPosters(t *testing.T) {
	t.Parallel()
	ch := poster.Channels{SMS: "+212600000001", Telegram: "OutreachNadorBot", Voice: poster.VoiceIVR}
	withPoster := func(o *Options) {
		o.Poster = func(context.Context) (poster.Channels, error) { return ch, nil }
	}
	e := newDistEnv(t, access.Staff, withPoster)
	status, body := e.get(t, "/distributions")
	if status != http.StatusOK || !strings.Contains(body, `href="/distributions/poster?lang=ar&amp;site=nador" download>العربية (PDF)</a>`) {
		t.Fatalf("/distributions: %d, no link to the Arabic poster of Nador\n%s", status, body)
	}
	resp, err := e.client.Get(e.srv.URL + "/distributions/poster?site=nador&lang=ar")
	if err != nil {
		t.Fatal(err)
	}
	pdf, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="poster-nador-ar.pdf"` || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("poster: %d %v, %d bytes starting %q", resp.StatusCode, resp.Header, len(pdf), pdf[:min(8, len(pdf))])
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if status, _ := e.get(t, "/distributions/poster?site=atlantis&lang=fr"); status != http.StatusNotFound {
		t.Errorf("unknown site: %d, want 404", status)
	}
	if status, _ := e.get(t, "/distributions/poster?site=nador&lang=xx"); status != http.StatusNotFound {
		t.Errorf("unknown language: %d, want 404", status)
	}

	// Signed out: no poster.
	resp, err = http.Get(e.srv.URL + "/distributions/poster?site=nador&lang=fr")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Type") == "application/pdf" || resp.Request.URL.Path != "/login" {
		t.Errorf("signed out: %d %s at %s, want the sign-in page", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Request.URL.Path)
	}
	// A partner is not staff.
	partner := newDistEnv(t, access.Partner, withPoster)
	if status, _ := partner.get(t, "/distributions/poster?site=nador&lang=fr"); status != http.StatusForbidden {
		t.Errorf("partner: %d, want 403", status)
	}
	// No channel configured.
	none := newDistEnv(t, access.Staff, func(o *Options) {
		o.Poster = func(context.Context) (poster.Channels, error) { return poster.Channels{}, nil }
	})
	if status, body := none.get(t, "/distributions/poster?site=nador&lang=en"); status != http.StatusConflict || !strings.Contains(body, "TELEGRAM_BOT_USERNAME") {
		t.Errorf("no channel: %d\n%s", status, body)
	}
	// Posters off: no links, no route.
	off := newDistEnv(t, access.Staff)
	if _, body := off.get(t, "/distributions"); strings.Contains(body, "/distributions/poster") {
		t.Error("posters off, yet linked")
	}
}
