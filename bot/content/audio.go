package content

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
)

// Bounds on the recordings of one content set. A recording is a message
// spoken by a person, played on calls instead of the synthetic voice: a
// minute of MP3 at 64 kbit/s is 480 KB.
const (
	// MaxAudioFiles bounds the recordings of a content set.
	MaxAudioFiles = 400
	// MaxAudioBytes bounds one recording.
	MaxAudioBytes = 512 << 10
	// MaxAudioTotalBytes bounds the recordings of a set together.
	MaxAudioTotalBytes = 16 << 20
)

// AudioDir holds the recordings: audio/<lang>/<message-id>.mp3 or .wav.
const AudioDir = "audio"

// Recording is one recorded message, in one language.
type Recording struct {
	// Path is where it is in the content: audio/<lang>/<id>.<ext>.
	Path string
	Lang string
	// ID is the message it says.
	ID string
	// Type is its media type: audio/mpeg or audio/wav.
	Type string
	Data []byte
	// Sum is the SHA-256 of Data, in hex: the name it is served under, so
	// that a changed recording is a new address.
	Sum string
}

// Ext returns the recording's file extension, with its dot.
func (r *Recording) Ext() string { return path.Ext(r.Path) }

// recordings are a content set's recordings, found by path, by sum, and by
// the text they say.
type recordings struct {
	byPath map[string]*Recording
	bySum  map[string]*Recording
	// byText maps language, then the text a call says for the message
	// (its spoken variant if any), to the recording of that message.
	byText map[string]map[string]*Recording
}

// AudioPath reports whether name is where a recording may be:
// audio/<lang>/<id>.mp3 or .wav.
func AudioPath(name string) bool {
	_, _, _, ok := splitAudioPath(name)
	return ok
}

func splitAudioPath(name string) (lang, id, ext string, ok bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 3 || parts[0] != AudioDir || !fs.ValidPath(name) {
		return "", "", "", false
	}
	ext = path.Ext(parts[2])
	id = strings.TrimSuffix(parts[2], ext)
	if ext != ".mp3" && ext != ".wav" || id == "" || parts[1] == "" || strings.HasPrefix(id, ".") {
		return "", "", "", false
	}
	return parts[1], id, ext, true
}

// audioType tells a recording's media type from its first bytes: MP3 (an
// ID3 tag or an MPEG audio frame) or WAV (RIFF … WAVE). The extension must
// agree.
func audioType(ext string, data []byte) (string, error) {
	switch ext {
	case ".mp3":
		if bytes.HasPrefix(data, []byte("ID3")) || len(data) >= 2 && data[0] == 0xFF && data[1]&0xE0 == 0xE0 {
			return "audio/mpeg", nil
		}
		return "", fmt.Errorf("not an MP3 file (no ID3 tag or MPEG frame at the start)")
	case ".wav":
		if len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WAVE" {
			return "audio/wav", nil
		}
		return "", fmt.Errorf("not a WAV file (no RIFF … WAVE header)")
	}
	return "", fmt.Errorf("a recording is .mp3 or .wav")
}

// readAudio reads the recordings of fsys within their bounds; a file over
// them or of another kind is a problem, and is left out.
func readAudio(fsys fs.FS) (map[string]*Recording, Problems) {
	var ps Problems
	names, _ := fs.Glob(fsys, AudioDir+"/*/*")
	if len(names) > MaxAudioFiles {
		ps.add(Problem{File: AudioDir, Msg: fmt.Sprintf("%d recordings: a content set holds at most %d", len(names), MaxAudioFiles)})
		return nil, ps
	}
	out := map[string]*Recording{}
	total := 0
	for _, name := range names {
		lang, id, ext, ok := splitAudioPath(name)
		if !ok {
			ps.add(Problem{File: name, Msg: "not a recording: audio/<lang>/<message-id>.mp3 or .wav"})
			continue
		}
		data, err := readBounded(fsys, name, MaxAudioBytes)
		if errors.Is(err, errTooBig) {
			ps.add(Problem{File: name, Msg: fmt.Sprintf("over %d KiB: a recording holds at most %d KiB (about a minute of MP3)", MaxAudioBytes>>10, MaxAudioBytes>>10)})
			continue
		} else if err != nil {
			ps.add(Problem{File: name, Msg: err.Error()})
			continue
		}
		if total += len(data); total > MaxAudioTotalBytes {
			ps.add(Problem{File: name, Msg: fmt.Sprintf("the recordings pass %d MiB here: a content set holds at most %d MiB of them", MaxAudioTotalBytes>>20, MaxAudioTotalBytes>>20)})
			return nil, ps
		}
		typ, err := audioType(ext, data)
		if err != nil {
			ps.add(Problem{File: name, Msg: err.Error()})
			continue
		}
		sum := sha256.Sum256(data)
		out[name] = &Recording{Path: name, Lang: lang, ID: id, Type: typ, Data: data, Sum: hex.EncodeToString(sum[:])}
	}
	return out, ps
}

// errTooBig is a file over the bound readBounded was given.
var errTooBig = errors.New("content: file over its bound")

// readBounded reads a file of at most max bytes, never more than one byte
// past it; a larger one is errTooBig.
func readBounded(fsys fs.FS, name string, max int) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > max {
		return nil, errTooBig
	}
	return data, nil
}

// checkAudio checks each recording against the messages: it says a
// message of its language that reads the same whatever the data — a
// recording of a message with dates, places or names would say the ones it
// was recorded with.
func (c *Content) checkAudio() Problems {
	var ps Problems
	for _, name := range slices.Sorted(maps.Keys(c.audio.byPath)) {
		rec := c.audio.byPath[name]
		loc := c.locales[rec.Lang]
		switch {
		case loc == nil:
			ps.add(Problem{File: name, Msg: fmt.Sprintf("no message file locales/%s.yaml for this recording's language", rec.Lang)})
		case strings.HasSuffix(rec.ID, VoiceSuffix):
			ps.add(Problem{File: name, Msg: fmt.Sprintf("name the message, %s: a recording stands for what a call says of it", strings.TrimSuffix(rec.ID, VoiceSuffix))})
		case loc.Messages[rec.ID] == nil:
			ps.add(Problem{File: name, Msg: fmt.Sprintf("no message %q in %s", rec.ID, rec.Lang)})
		default:
			for _, id := range []string{rec.ID, rec.ID + VoiceSuffix} {
				m := loc.Messages[id]
				if m == nil {
					continue
				}
				if vars, err := messageVars(m); err == nil && len(slices.DeleteFunc(vars, func(v string) bool { return v == "Hours" })) > 0 {
					ps.add(Problem{File: name, Msg: fmt.Sprintf("%s fills {{%s}}: a recording would say the same whatever they are; record only messages without fields", id, strings.Join(dotted(vars), "}} {{"))})
					break
				}
			}
		}
	}
	return ps
}

// index finds each recording by sum and by the text a call says for its
// message. It runs once the plain messages are rendered.
func (a *recordings) index(c *Content) {
	a.bySum = map[string]*Recording{}
	a.byText = map[string]map[string]*Recording{}
	for _, rec := range a.byPath {
		a.bySum[rec.Sum] = rec
		text, ok := c.SpokenText(rec.Lang, rec.ID)
		if !ok {
			continue
		}
		if a.byText[rec.Lang] == nil {
			a.byText[rec.Lang] = map[string]*Recording{}
		}
		a.byText[rec.Lang][text] = rec
	}
}

// SpokenText returns what a call says for message id in lang when the
// message reads the same whatever the data (its spoken variant if any):
// what a recording of it must say.
func (c *Content) SpokenText(lang, id string) (string, bool) {
	if text, ok := c.plain[lang][id+VoiceSuffix]; ok {
		return text, true
	}
	text, ok := c.plain[lang][id]
	return text, ok
}

// Recordings returns the content's recordings, by path.
func (c *Content) Recordings() []*Recording {
	return slices.SortedFunc(maps.Values(c.audio.byPath), func(a, b *Recording) int { return strings.Compare(a.Path, b.Path) })
}

// RecordingBySum returns the recording whose SHA-256 is sum.
func (c *Content) RecordingBySum(sum string) (*Recording, bool) {
	rec, ok := c.audio.bySum[sum]
	return rec, ok
}

// RecordingOf returns the recording of the message a call says as text in
// lang, if the content has one.
func (c *Content) RecordingOf(lang, text string) (*Recording, bool) {
	rec, ok := c.audio.byText[lang][text]
	return rec, ok
}

// anyHas reports whether any language has message id.
func (c *Content) anyHas(id string) bool {
	for _, loc := range c.locales {
		if _, ok := loc.Messages[id]; ok {
			return true
		}
	}
	return false
}
