package poster

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-text/typesetting/di"
	"github.com/makiuchi-d/gozxing"
	multiqr "github.com/makiuchi-d/gozxing/multi/qrcode"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
)

var all = Channels{SMS: "+212600000001", WhatsApp: "+212600000002", Telegram: "OutreachNadorBot", Voice: VoiceSMSBack}

// compose writes the poster of Nador in lang from the built-in content.
func compose(t *testing.T, lang string, ch Channels) Poster {
	t.Helper()
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	name := c.Text(lang, content.PrefixSite+"nador", nil)
	text := func(id string) string {
		if !c.Has(lang, id) {
			t.Fatalf("message %s missing in %s", id, lang)
		}
		return c.Text(lang, id, map[string]any{"Site": name})
	}
	return Compose(text, Site{ID: "nador", Name: name}, ch)
}

// decodeAll reads every QR code of a PNG image: the whole page first,
// then each place a code was drawn, should the page hide one.
func decodeAll(t *testing.T, data []byte, places []image.Rectangle) []string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	if results, err := multiqr.NewQRCodeMultiReader().DecodeMultiple(bmp, nil); err == nil {
		for _, r := range results {
			got = append(got, r.GetText())
		}
	}
	if len(got) == len(places) {
		slices.Sort(got)
		return got
	}
	t.Logf("the page gives %d codes of %d; reading each place", len(got), len(places))
	got = nil
	for _, r := range places {
		crop := img.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(r.Inset(-10))
		bmp, err := gozxing.NewBinaryBitmapFromImage(crop)
		if err != nil {
			t.Fatal(err)
		}
		res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("the code at %v does not read: %v", r, err)
		}
		got = append(got, res.GetText())
	}
	slices.Sort(got)
	return got
}

func TestPosterQRCodesReadBack(t *testing.T) {
	t.Parallel()
	want := []string{"https://t.me/OutreachNadorBot?start=nador", "https://wa.me/212600000002?text=NADOR", "sms:+212600000001?body=NADOR"}
	for _, lang := range []string{"fr", "en", "ar"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			p := compose(t, lang, all)
			data, err := PNG(p)
			if err != nil {
				t.Fatal(err)
			}
			_, places, err := layout(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := decodeAll(t, data, places); !slices.Equal(got, want) {
				t.Errorf("codes read %q, want %q", got, want)
			}
		})
	}
}

func TestPosterLinks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ got, want string }{
		{SMSLink("+212600000001", "NADOR"), "sms:+212600000001?body=NADOR"},
		{WhatsAppLink("+212600000002", Keyword("nador")), "https://wa.me/212600000002?text=NADOR"},
		{TelegramLink("OutreachBot", "casablanca"), "https://t.me/OutreachBot?start=casablanca"},
		{Display("+212612345678"), "+212 6 12 34 56 78"},
		{Display("+33612345678"), "+33612345678"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestPosterPDFIsOneA4Page(t *testing.T) {
	t.Parallel()
	data, err := PDF(compose(t, "fr", all), "Nador")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("%PDF-1.")) || !bytes.HasSuffix(bytes.TrimSpace(data), []byte("%%EOF")) {
		t.Fatalf("not a PDF: %q … %q", data[:min(len(data), 16)], data[max(0, len(data)-16):])
	}
	if n := len(regexp.MustCompile(`/Type /Page\b[^s]`).FindAll(data, -1)); n != 1 {
		t.Errorf("%d pages, want 1", n)
	}
	m := regexp.MustCompile(`/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]`).FindSubmatch(data)
	if m == nil {
		t.Fatal("no MediaBox")
	}
	w, _ := strconv.ParseFloat(string(m[1]), 64)
	h, _ := strconv.ParseFloat(string(m[2]), 64)
	if int(w+0.5) != 595 || int(h+0.5) != 842 {
		t.Errorf("page of %v × %v points, want A4 (595 × 842)", w, h)
	}
	if !regexp.MustCompile(`/Subtype /Image\s*/Width 1654\s*/Height 2339`).Match(data) {
		t.Error("the page's image is not 1654 × 2339 (A4 at 200 dpi)")
	}
	// Where the image goes: "595.28 0 0 841.89 0 0 cm", the whole page.
	if !regexp.MustCompile(`595\.280* 0 0 841\.890* 0(\.0+)? 0(\.0+)? cm /\w+ Do`).Match(data) {
		t.Error("the image does not cover the page")
	}
}

func TestPosterArabicIsShapedRightToLeft(t *testing.T) {
	t.Parallel()
	ts, err := newTypesetter()
	if err != nil {
		t.Fatal(err)
	}
	// سلام: four letters that join; drawn right to left, the first one
	// (س, the initial form) is the rightmost glyph.
	word := "سلام"
	p := ts.set(word, false, 20, true, 1000)
	if len(p.lines) != 1 || len(p.lines[0]) != 1 {
		t.Fatalf("%d lines, want one run on one line", len(p.lines))
	}
	run := p.lines[0][0]
	if run.Direction.Progression() != di.TowardTopLeft {
		t.Errorf("run direction %v, want right to left", run.Direction)
	}
	x, firstX, lastX := 0, -1, -1
	for _, g := range run.Glyphs {
		switch g.TextIndex() {
		case 0:
			firstX = x
		case len([]rune(word)) - 1:
			lastX = x
		}
		x += g.Advance.Round()
	}
	if firstX <= lastX {
		t.Errorf("first letter at x=%d, last at x=%d: want the first to the right", firstX, lastX)
	}
	// Joined: the shaped glyphs are the contextual forms, not the letters'
	// isolated glyphs the font maps them to.
	same := 0
	for _, g := range run.Glyphs {
		r := []rune(word)[g.TextIndex()]
		if iso, _ := ts.regular.arabic.NominalGlyph(r); iso == g.GlyphID {
			same++
		}
	}
	if same > 1 { // the final م may keep a form of its own; the others join
		t.Errorf("%d of %d glyphs are isolated forms: Arabic is not shaped", same, len(run.Glyphs))
	}

	// A whole Arabic poster mirrors the French one: its codes stand on the
	// right half of the page, the French ones on the left.
	for lang, right := range map[string]bool{"ar": true, "fr": false} {
		img, places, err := layout(compose(t, lang, all))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range places {
			if onRight := r.Min.X > img.Bounds().Dx()/2; onRight != right {
				t.Errorf("%s: QR code at %v, want it on the right: %v", lang, r, right)
			}
		}
	}
	fr, err := PNG(compose(t, "fr", all))
	if err != nil {
		t.Fatal(err)
	}
	ar, err := PNG(compose(t, "ar", all))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(fr, ar) {
		t.Error("the Arabic poster is the French one")
	}
}

func TestPosterLeavesChannelsOff(t *testing.T) {
	t.Parallel()
	channels := func(p Poster) []string {
		var out []string
		for _, b := range p.Blocks {
			out = append(out, b.Channel)
		}
		return out
	}
	for _, c := range []struct {
		name string
		ch   Channels
		want []string
	}{
		{"all", all, []string{ChannelSMS, ChannelWhatsApp, ChannelTelegram, ChannelCall}},
		{"telegram only", Channels{Telegram: "OutreachBot", Voice: VoiceIVR}, []string{ChannelTelegram}},
		{"calls off", Channels{SMS: "+212600000001", Voice: VoiceOff}, []string{ChannelSMS}},
		{"whatsapp and calls", Channels{SMS: "+212600000001", WhatsApp: "+212600000001", Voice: VoiceIVR}, []string{ChannelSMS, ChannelWhatsApp, ChannelCall}},
	} {
		if got := channels(compose(t, "fr", c.ch)); !slices.Equal(got, c.want) {
			t.Errorf("%s: blocks %v, want %v", c.name, got, c.want)
		}
	}
	ivr := compose(t, "en", Channels{SMS: "+212600000001", Voice: VoiceIVR})
	back := compose(t, "en", Channels{SMS: "+212600000001", Voice: VoiceSMSBack})
	if a, b := ivr.Blocks[1].Lines[0].Text, back.Blocks[1].Lines[0].Text; a == b {
		t.Errorf("ivr and sms-back say the same of calls: %q", a)
	}
	if (Channels{Voice: VoiceIVR}).Empty() != true || all.Empty() {
		t.Error("Empty is wrong")
	}
}

// Every language's poster, with every channel, fits one page.
func TestPosterFitsInEveryLanguage(t *testing.T) {
	t.Parallel()
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	long := all
	long.Telegram = "Outreach_Casablanca_Aid_Team_bot"
	long.Voice = VoiceIVR
	for _, lang := range c.Languages {
		for _, id := range Messages {
			if !c.Has(lang, id) {
				t.Errorf("%s: message %s missing", lang, id)
			}
		}
		if _, _, err := layout(compose(t, lang, long)); err != nil {
			t.Errorf("%s: %v", lang, err)
		}
	}
}

func TestPosterForASite(t *testing.T) {
	t.Parallel()
	c, err := content.Load(content.Embedded())
	if err != nil {
		t.Fatal(err)
	}
	sites := []engine.Site{{ID: "nador", Names: map[string]string{"fr": "Nador-centre"}}, {ID: "oujda", Retired: true}, {ID: "rabat"}}
	p, err := For(c, sites, "nador", "fr", all)
	if err != nil || p.Heading != "Nador-centre" {
		t.Errorf("poster of nador: %q, %v; want the staff's name", p.Heading, err)
	}
	if _, err := For(c, sites, "oujda", "fr", all); !errors.Is(err, ErrRetired) {
		t.Errorf("retired: %v", err)
	}
	if _, err := For(c, sites, "tanger", "fr", all); !errors.Is(err, ErrUnknownSite) || !strings.Contains(err.Error(), "the sites are nador, rabat") {
		t.Errorf("unknown: %v", err)
	}
	if _, err := For(c, sites, "rabat", "de", all); !errors.Is(err, ErrLanguage) {
		t.Errorf("language: %v", err)
	}
	if _, err := For(c, sites, "rabat", "", Channels{Voice: VoiceIVR}); !errors.Is(err, ErrNoChannel) {
		t.Errorf("no channel: %v", err)
	}
}
