package versions

import (
	"bytes"
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/outreach-org/outreach/bot/redistest"
	"github.com/redis/go-redis/v9"
)

// mp3 is a recording as far as the content checks: an ID3 tag, then n
// bytes of silence.
func mp3(n int) []byte {
	return append([]byte("ID3\x03\x00\x00\x00\x00\x00\x00"), bytes.Repeat([]byte{seed(n)}, n)...)
}

func seed(n int) byte { return byte(n % 251) }

// Recordings are published, versioned and rolled back with the texts;
// their bytes are kept once, by SHA-256; a publish of texts alone keeps
// them; and a recording no version kept names any more is deleted.
func TestRecordingsAreVersioned(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	raw, files := shipped(t)
	s := New(rdb, prefix, raw).WithKeep(2)
	ctx := context.Background()
	title, menu := mp3(1000), mp3(2000)

	m2, c2, _, err := s.PublishSet(ctx, files, map[string][]byte{"audio/fr/main_title.mp3": title, "audio/ar/main_title.mp3": menu}, "t", "recordings")
	if err != nil || len(c2.Recordings()) != 2 {
		t.Fatalf("publish with recordings: %v, %v", m2, err)
	}
	// Texts alone (the console's publish): the recordings are kept.
	m3, c3, _, err := s.PublishNote(ctx, files, "t", "texts")
	if err != nil || len(c3.Recordings()) != 2 {
		t.Fatalf("publish of texts: %v, %d recordings, %v; want 2 kept", m3, len(c3.Recordings()), err)
	}
	n, loaded, err := s.Load(ctx)
	if err != nil || n != m3.Version || len(loaded.Recordings()) != 2 {
		t.Fatalf("load: %d, %v", n, err)
	}
	if rec, ok := loaded.RecordingOf("fr", loaded.Spoken().Text("fr", "main_title", nil)); !ok || !bytes.Equal(rec.Data, title) {
		t.Errorf("the loaded content does not play the French title's recording")
	}
	var blobs []string
	for _, k := range redistest.KeysUnder(t, rdb, prefix) {
		if strings.HasPrefix(k, prefix+"{content}:audio:") {
			blobs = append(blobs, k)
		}
	}
	if len(blobs) != 2 {
		t.Errorf("%d recordings kept for 2 versions naming the same 2", len(blobs))
	}
	// The same texts without recordings; with 2 versions kept, version 2 is
	// gone, and 3 still names them.
	if _, _, _, err := s.PublishSet(ctx, files, map[string][]byte{}, "t", "none"); err != nil {
		t.Fatal(err)
	}
	if _, c, err := s.Rollback(ctx, m3.Version, "t"); err != nil || len(c.Recordings()) != 2 {
		t.Fatalf("rollback to %d: %v", m3.Version, err)
	}
	// Nothing names them after two publishes without: deleted, once past
	// the grace for publishes under way (moved back here).
	for range 2 {
		if _, _, _, err := s.PublishSet(ctx, files, map[string][]byte{}, "t", "none"); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := rdb.Exists(ctx, blobs...).Result(); n != 2 {
		t.Errorf("%d of the recordings kept within the grace, want 2", n)
	}
	old := float64(time.Now().Add(-2 * audioGrace).UnixMilli())
	for _, b := range blobs {
		rdb.ZAdd(ctx, s.keys.ContentAudios(), redisZ(old, strings.TrimPrefix(b, prefix+"{content}:audio:")))
	}
	if _, _, _, err := s.PublishSet(ctx, files, map[string][]byte{}, "t", "none"); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.Exists(ctx, blobs...).Result(); n != 0 {
		t.Errorf("%d recordings kept that no version names", n)
	}
	if n, _ := rdb.ZCard(ctx, s.keys.ContentAudios()).Result(); n != 0 {
		t.Errorf("%d recordings still listed", n)
	}
}

// A recording that names no message, is not audio, or is too big is
// refused with the texts; one kept from the current version whose message
// the new texts drop is left out, with a warning.
func TestRecordingsAreChecked(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	raw, files := shipped(t)
	s := New(rdb, prefix, raw)
	ctx := context.Background()
	for name, tc := range map[string]struct {
		path string
		data []byte
		want string
	}{
		"no such message": {"audio/fr/no_such.mp3", mp3(10), `no message "no_such" in fr`},
		"not MP3":         {"audio/fr/main_title.mp3", []byte("<html>"), "not an MP3 file"},
		"not WAV":         {"audio/fr/main_title.wav", mp3(10), "not a WAV file"},
		"too big":         {"audio/fr/main_title.mp3", mp3(600 << 10), "at most 512 KiB"},
		"with fields":     {"audio/fr/dist_none.mp3", mp3(10), "a recording would say the same whatever they are"},
		"no language":     {"audio/de/main_title.mp3", mp3(10), "no message file locales/de.yaml"},
		"not a path":      {"audio/main_title.mp3", mp3(10), "not a recording"},
	} {
		_, _, problems, err := s.PublishSet(ctx, files, map[string][]byte{tc.path: tc.data}, "t", "")
		if err == nil || !strings.Contains(problems.Error(), tc.want) {
			t.Errorf("%s: %v, problems %v; want %q", name, err, problems, tc.want)
		}
	}
	if _, _, _, err := s.PublishSet(ctx, files, map[string][]byte{"audio/fr/help_title.mp3": mp3(10)}, "t", ""); err != nil {
		t.Fatal(err)
	}
	fewer := map[string]string{}
	for k, v := range files {
		fewer[k] = v
	}
	for _, lang := range []string{"fr", "en", "ar"} {
		name := "locales/" + lang + ".yaml"
		fewer[name] = strings.Replace(fewer[name], "\nhelp_title:", "\nhelp_title_was:", 1)
		fewer[name] = strings.ReplaceAll(fewer[name], "help_title.voice", "help_title_was.voice")
	}
	fewer["flows/main.yaml"] = strings.Replace(files["flows/main.yaml"], "text: help_title", "text: help_title_was", 1)
	_, c, problems, err := s.PublishNote(ctx, fewer, "t", "")
	if err != nil || len(c.Recordings()) != 0 || !strings.Contains(problems.Error(), "recording left out") {
		t.Errorf("texts without the recorded message: %v, problems %v", err, problems)
	}
}

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }

// A recording carried by a publish of texts says its message as it was:
// when that message now reads otherwise, it is left out. One no longer in
// Redis is left out too, and the version still loads.
func TestRecordingsFollowTheirText(t *testing.T) {
	t.Parallel()
	rdb, prefix := redistest.New(t)
	raw, files := shipped(t)
	s := New(rdb, prefix, raw)
	ctx := context.Background()
	if _, _, _, err := s.PublishSet(ctx, files, map[string][]byte{"audio/fr/main_title.mp3": mp3(10), "audio/fr/help_title.mp3": mp3(20)}, "t", ""); err != nil {
		t.Fatal(err)
	}
	edited := maps.Clone(files)
	edited["locales/fr.yaml"] = strings.Replace(files["locales/fr.yaml"], `main_title.voice: "Menu principal."`, `main_title.voice: "Le menu."`, 1)
	_, c, problems, err := s.PublishNote(ctx, edited, "t", "")
	if err != nil || len(c.Recordings()) != 1 || c.Recordings()[0].ID != "help_title" || !strings.Contains(problems.Error(), "the text of main_title changed") {
		t.Fatalf("after main_title changed: %v, %d recordings, problems %v", err, len(c.Recordings()), problems)
	}
	cur, _ := s.Current(ctx)
	rdb.Del(ctx, s.keys.ContentAudio(cur.Audio["audio/fr/help_title.mp3"]))
	_, loaded, err := s.Load(ctx)
	if err != nil || len(loaded.Recordings()) != 0 {
		t.Errorf("a version whose recording is gone: %v; want it loaded without it", err)
	}
}
