// Package versions keeps the published versions of the content in Redis,
// so that partners can publish, and roll back, without a deploy, and every
// instance of the service switches to the new version within a second.
//
// Version 1 is the content built into the binary. Each publish adds the
// next version; a rollback makes an earlier one current again. The last
// DefaultKeep published versions are kept (Store.WithKeep), so that
// publishing cannot fill Redis; older ones are deleted as a publish comes.
package versions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"

	"github.com/outreach-org/outreach/bot/content"
)

// Meta says who published a version, and when.
type Meta struct {
	Version     int       `json:"version"`
	PublishedBy string    `json:"published_by"`
	PublishedAt time.Time `json:"published_at"`
	// Note says what the version is: the publisher's note, or, for a
	// rollback, the version it brings back.
	Note string `json:"note,omitempty"`
}

// Version is one complete content set.
type Version struct {
	Meta
	Files map[string]string `json:"files"`
	// Audio names the recordings (audio/<lang>/<id>.mp3 or .wav) by the
	// SHA-256 of their bytes, which are kept once however many versions
	// name them.
	Audio map[string]string `json:"audio,omitempty"`
}

// DefaultKeep is how many published versions a Store keeps unless told.
const DefaultKeep = 50

// Store keeps the versions.
type Store struct {
	rdb      redis.UniversalClient
	keys     keys.Space
	embedded map[string][]byte
	keep     int
}

// New returns the versions under prefix, keeping the last DefaultKeep;
// embedded is version 1.
func New(rdb redis.UniversalClient, prefix string, embedded map[string][]byte) *Store {
	return &Store{rdb: rdb, keys: keys.New(prefix), embedded: embedded, keep: DefaultKeep}
}

// WithKeep sets how many published versions are kept, the last ones (at
// least 1), and returns s. The built-in version 1 is always there besides.
func (s *Store) WithKeep(n int) *Store {
	s.keep = max(n, 1)
	return s
}

func (s *Store) current() string      { return s.keys.ContentCurrent() }
func (s *Store) seq() string          { return s.keys.ContentSeq() }
func (s *Store) list() string         { return s.keys.ContentVersions() }
func (s *Store) version(n int) string { return s.keys.ContentVersion(strconv.Itoa(n)) }
func (s *Store) channel() string      { return s.keys.ContentChanged() }

// ErrInvalid is returned, with the problems, for content that does not validate.
type ErrInvalid struct{ Problems content.Problems }

func (e *ErrInvalid) Error() string { return "content is not valid:\n" + e.Problems.Error() }

// ErrNotFound means no such version.
var ErrNotFound = errors.New("versions: no such version")

// ErrNotKept means a version that was published but is no longer kept:
// only the last ones are. It is also an ErrNotFound.
var ErrNotKept = fmt.Errorf("%w: it is no longer kept", ErrNotFound)

// Check validates a content set given as files, within the bounds of a
// content set (content.CheckFiles).
func Check(files map[string]string) (*content.Content, content.Problems) {
	raw := make(map[string][]byte, len(files))
	for name, text := range files {
		raw[name] = []byte(text)
	}
	return content.CheckFiles(raw)
}

// Publish validates files and, when valid, makes them the new current
// version. Invalid content is refused with *ErrInvalid, listing every
// problem, and nothing changes.
func (s *Store) Publish(ctx context.Context, files map[string]string, by string) (Meta, *content.Content, content.Problems, error) {
	return s.PublishNote(ctx, files, by, "")
}

// PublishNote is Publish with a note kept in the version's Meta: what
// changed and why, in the publisher's words.
// The current version's recordings are kept (see PublishSet).
func (s *Store) PublishNote(ctx context.Context, files map[string]string, by, note string) (Meta, *content.Content, content.Problems, error) {
	return s.PublishSet(ctx, files, nil, by, note)
}

// PublishSet is PublishNote with the recordings: audio by path
// (audio/<lang>/<message-id>.mp3 or .wav), which replace the current
// version's. With audio nil the current version's are kept — but for those
// whose message the new files no longer have, which are left out with a
// warning.
func (s *Store) PublishSet(ctx context.Context, files map[string]string, audio map[string][]byte, by, note string) (Meta, *content.Content, content.Problems, error) {
	carried := audio == nil
	var before *content.Content // the current version, whose recordings are carried
	var missing content.Problems
	if carried {
		cur, err := s.Current(ctx)
		if err != nil {
			return Meta{}, nil, nil, err
		}
		if audio, missing, err = s.recordings(ctx, cur.Audio); err != nil {
			return Meta{}, nil, nil, err
		}
		if len(audio) > 0 {
			before, _ = checkSet(cur.Files, audio)
		}
	}
	c, problems := checkSet(files, audio)
	if carried && c != nil && before != nil {
		// A recording says its message's words as they were: one whose
		// message now reads otherwise is left out, to be recorded again.
		var changed content.Problems
		for _, rec := range c.Recordings() {
			old, _ := before.SpokenText(rec.Lang, rec.ID)
			if now, ok := c.SpokenText(rec.Lang, rec.ID); ok && now != old {
				delete(audio, rec.Path)
				changed = append(changed, content.Problem{File: rec.Path, Warning: true, Msg: "recording left out: the text of " + rec.ID + " changed; record it again"})
			}
		}
		if len(changed) > 0 {
			c, problems = checkSet(files, audio)
			problems = append(problems, changed...)
		}
	}
	problems = append(problems, missing...)
	if carried && c != nil && problems.HasErrors() {
		// A recording kept from the current version whose message is gone:
		// left out, said as a warning, rather than refusing the texts.
		var dropped content.Problems
		for _, p := range problems.Errors() {
			if _, ok := audio[p.File]; ok {
				delete(audio, p.File)
				dropped = append(dropped, content.Problem{File: p.File, Warning: true, Msg: "recording left out: " + p.Msg})
			}
		}
		if len(dropped) > 0 {
			c, problems = checkSet(files, audio)
			problems = append(problems, dropped...)
		}
	}
	if c == nil || problems.HasErrors() {
		return Meta{}, nil, problems, &ErrInvalid{Problems: problems.Errors()}
	}
	n, err := s.rdb.Incr(ctx, s.seq()).Result()
	if err != nil {
		return Meta{}, nil, problems, err
	}
	if n == 1 { // version 1 is the built-in content
		if n, err = s.rdb.Incr(ctx, s.seq()).Result(); err != nil {
			return Meta{}, nil, problems, err
		}
	}
	v := Version{Meta: Meta{Version: int(n), PublishedBy: by, PublishedAt: time.Now().UTC(), Note: note}, Files: files, Audio: map[string]string{}}
	for _, rec := range c.Recordings() {
		v.Audio[rec.Path] = rec.Sum
	}
	if err := s.storeAudio(ctx, c.Recordings()); err != nil {
		return Meta{}, nil, problems, err
	}
	return v.Meta, c, problems, s.store(ctx, v)
}

// storeScript keeps a version and makes it current unless a newer one
// already is: when two publishes race, the higher number wins everywhere.
// Then it deletes the versions given beyond the ones to keep (never the
// current one). Every key it touches is declared; the channel told of a
// new current version is not a key.
//
// KEYS[1] the new version, KEYS[2] the versions kept (sorted set), KEYS[3]
// the current version's number, KEYS[4..] versions to delete.
// ARGV[1] the new version's number, ARGV[2] its JSON, ARGV[3] the channel
// to publish the new current number on, ARGV[4..] the numbers of KEYS[4..].
var storeScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[3]) or '1')
if tonumber(ARGV[1]) > cur then
  cur = tonumber(ARGV[1])
  redis.call('SET', KEYS[3], ARGV[1])
  redis.call('PUBLISH', ARGV[3], ARGV[1])
end
for i = 4, #KEYS do
  if tonumber(ARGV[i]) ~= cur and ARGV[i] ~= ARGV[1] then
    redis.call('DEL', KEYS[i])
    redis.call('ZREM', KEYS[2], ARGV[i])
  end
end
return 1`)

func (s *Store) store(ctx context.Context, v Version) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// The oldest beyond the ones to keep, counting the new one.
	kept, err := s.rdb.ZRevRange(ctx, s.list(), 0, -1).Result()
	if err != nil {
		return err
	}
	ks := []string{s.version(v.Version), s.list(), s.current()}
	args := []any{v.Version, data, s.channel()}
	for i, n := range kept {
		if i+1 < s.keep { // the new one is kept too
			continue
		}
		num, err := strconv.Atoi(n)
		if err != nil || num == v.Version {
			continue
		}
		ks = append(ks, s.version(num))
		args = append(args, n)
	}
	if err := storeScript.Run(ctx, s.rdb, ks, args...).Err(); err != nil {
		return err
	}
	// The version is kept; recordings no version names any more are
	// deleted as a publish comes, as old versions are. A failure here
	// leaves them to the next publish.
	s.forgetAudio(ctx)
	return nil
}

// Load returns the current version's number and content, for a start.
func (s *Store) Load(ctx context.Context) (int, *content.Content, error) {
	v, err := s.Current(ctx)
	if err != nil {
		return 0, nil, err
	}
	c, problems, err := s.Content(ctx, v)
	if err != nil {
		return v.Version, nil, err
	}
	if c == nil || problems.HasErrors() {
		return v.Version, nil, &ErrInvalid{Problems: problems.Errors()}
	}
	return v.Version, c, nil
}

// Rollback makes an earlier version current again, as a new version that
// says where it came from, so that the history only grows.
func (s *Store) Rollback(ctx context.Context, to int, by string) (Meta, *content.Content, error) {
	old, err := s.Get(ctx, to)
	if err != nil {
		return Meta{}, nil, err
	}
	c, problems, err := s.Content(ctx, old)
	if err != nil {
		return Meta{}, nil, err
	}
	if c == nil || problems.HasErrors() {
		return Meta{}, nil, &ErrInvalid{Problems: problems.Errors()}
	}
	// Stored again, so that a publish racing this one does not forget them
	// before the new version names them.
	if err := s.storeAudio(ctx, c.Recordings()); err != nil {
		return Meta{}, nil, err
	}
	n, err := s.rdb.Incr(ctx, s.seq()).Result()
	if err != nil {
		return Meta{}, nil, err
	}
	if n == 1 {
		if n, err = s.rdb.Incr(ctx, s.seq()).Result(); err != nil {
			return Meta{}, nil, err
		}
	}
	v := Version{Meta: Meta{Version: int(n), PublishedBy: by, PublishedAt: time.Now().UTC(), Note: fmt.Sprintf("rollback to version %d", to)}, Files: old.Files, Audio: map[string]string{}}
	for _, rec := range c.Recordings() {
		v.Audio[rec.Path] = rec.Sum
	}
	return v.Meta, c, s.store(ctx, v)
}

// checkSet checks text files and recordings together.
func checkSet(files map[string]string, audio map[string][]byte) (*content.Content, content.Problems) {
	raw := make(map[string][]byte, len(files)+len(audio))
	for name, text := range files {
		raw[name] = []byte(text)
	}
	for name, data := range audio {
		if !content.AudioPath(name) {
			return nil, content.Problems{{File: name, Msg: "not a recording: audio/<lang>/<message-id>.mp3 or .wav"}}
		}
		raw[name] = data
	}
	return content.CheckFiles(raw)
}

// Content checks and loads a version, with its recordings.
// A recording that is not in Redis any more is left out, with a warning:
// the version still loads, and calls say that message.
func (s *Store) Content(ctx context.Context, v Version) (*content.Content, content.Problems, error) {
	audio, missing, err := s.recordings(ctx, v.Audio)
	if err != nil {
		return nil, nil, err
	}
	c, problems := checkSet(v.Files, audio)
	return c, append(problems, missing...), nil
}

// recordings reads the recordings a version names, by path; those not in
// Redis are returned as warnings.
func (s *Store) recordings(ctx context.Context, named map[string]string) (map[string][]byte, content.Problems, error) {
	out := map[string][]byte{}
	if len(named) == 0 {
		return out, nil, nil
	}
	paths := make([]string, 0, len(named))
	ks := make([]string, 0, len(named))
	for path, sum := range named {
		paths = append(paths, path)
		ks = append(ks, s.keys.ContentAudio(sum))
	}
	vals, err := s.rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return nil, nil, err
	}
	var missing content.Problems
	for i, v := range vals {
		data, ok := v.(string)
		if !ok {
			missing = append(missing, content.Problem{File: paths[i], Warning: true, Msg: "recording left out: it is no longer kept (" + named[paths[i]] + "); add it again"})
			continue
		}
		out[paths[i]] = []byte(data)
	}
	return out, missing, nil
}

// audioGrace is how long a recording no kept version names is kept still:
// a publish under way may have stored it and not yet its version.
const audioGrace = time.Hour

// storeAudio keeps recordings, each once, by its SHA-256.
func (s *Store) storeAudio(ctx context.Context, recs []*content.Recording) error {
	if len(recs) == 0 {
		return nil
	}
	now := float64(time.Now().UnixMilli())
	pipe := s.rdb.Pipeline()
	for _, rec := range recs {
		// Its time first, then its bytes: a forgetting that runs between
		// the two finds it recent and leaves it (forgetScript).
		pipe.ZAdd(ctx, s.keys.ContentAudios(), redis.Z{Score: now, Member: rec.Sum})
		pipe.Set(ctx, s.keys.ContentAudio(rec.Sum), rec.Data, 0)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// forgetAudio deletes the recordings that no version kept names, once
// they are older than audioGrace.
func (s *Store) forgetAudio(ctx context.Context) error {
	old, err := s.rdb.ZRangeByScore(ctx, s.keys.ContentAudios(), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(time.Now().Add(-audioGrace).UnixMilli(), 10)}).Result()
	if err != nil || len(old) == 0 {
		return err
	}
	nums, err := s.rdb.ZRange(ctx, s.list(), 0, -1).Result()
	if err != nil {
		return err
	}
	named := map[string]bool{}
	for _, x := range nums {
		data, err := s.rdb.Get(ctx, s.keys.ContentVersion(x)).Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		} else if err != nil {
			return err
		}
		var v struct {
			Audio map[string]string `json:"audio"`
		}
		if err := json.Unmarshal(data, &v); err != nil {
			return err
		}
		for _, sum := range v.Audio {
			named[sum] = true
		}
	}
	cutoff := time.Now().Add(-audioGrace).UnixMilli()
	pipe := s.rdb.Pipeline()
	for _, sum := range old {
		if !named[sum] {
			forgetScript.Eval(ctx, pipe, []string{s.keys.ContentAudios(), s.keys.ContentAudio(sum)}, sum, cutoff)
		}
	}
	_, err = pipe.Exec(ctx)
	return err
}

// forgetScript deletes a recording unless it was stored again since the
// cutoff (by a publish under way, whose version is not kept yet).
//
// KEYS[1] the recordings kept (sorted set), KEYS[2] the recording.
// ARGV[1] its SHA-256, ARGV[2] the cutoff (Unix milliseconds).
var forgetScript = redis.NewScript(`
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if at and tonumber(at) < tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0`)

// Current returns the current version (1, the built-in content, until a
// first publish).
func (s *Store) Current(ctx context.Context) (Version, error) {
	n, err := s.rdb.Get(ctx, s.current()).Int()
	if errors.Is(err, redis.Nil) {
		return s.Get(ctx, 1)
	} else if err != nil {
		return Version{}, err
	}
	return s.Get(ctx, n)
}

// CurrentNumber returns the number of the current version.
func (s *Store) CurrentNumber(ctx context.Context) (int, error) {
	n, err := s.rdb.Get(ctx, s.current()).Int()
	if errors.Is(err, redis.Nil) {
		return 1, nil
	}
	return n, err
}

// Get returns one version.
func (s *Store) Get(ctx context.Context, n int) (Version, error) {
	if n == 1 {
		files := make(map[string]string, len(s.embedded))
		for name, data := range s.embedded {
			files[name] = string(data)
		}
		return Version{Meta: Meta{Version: 1, PublishedBy: "built-in"}, Files: files}, nil
	}
	// A version beyond the last kept is refused even before a publish
	// deletes it (the number kept may have been lowered).
	pipe := s.rdb.Pipeline()
	get := pipe.Get(ctx, s.version(n))
	rank := pipe.ZRevRank(ctx, s.list(), strconv.Itoa(n))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Version{}, err
	}
	data, err := get.Result()
	if r, rerr := rank.Result(); errors.Is(err, redis.Nil) || rerr != nil || r >= int64(s.keep) {
		return Version{}, s.missing(ctx, n)
	} else if err != nil {
		return Version{}, err
	}
	var v Version
	err = json.Unmarshal([]byte(data), &v)
	return v, err
}

// missing tells why version n is not there: ErrNotKept for a version
// that was published (its number was given), else ErrNotFound.
func (s *Store) missing(ctx context.Context, n int) error {
	seq, err := s.rdb.Get(ctx, s.seq()).Int()
	switch {
	case errors.Is(err, redis.Nil):
		return ErrNotFound
	case err != nil:
		return err
	case n > 1 && n <= seq:
		return fmt.Errorf("%w (version %d; the last %d are kept, and version 1)", ErrNotKept, n, s.keep)
	}
	return ErrNotFound
}

// List returns the meta of every version kept, newest first, version 1
// last.
func (s *Store) List(ctx context.Context) ([]Meta, error) {
	nums, err := s.rdb.ZRevRange(ctx, s.list(), 0, int64(s.keep)-1).Result()
	if err != nil {
		return nil, err
	}
	var out []Meta
	for _, x := range nums {
		n, _ := strconv.Atoi(x)
		v, err := s.Get(ctx, n)
		if err != nil {
			continue
		}
		out = append(out, v.Meta)
	}
	return append(out, Meta{Version: 1, PublishedBy: "built-in"}), nil
}

// Follow keeps apply fed with the current content: at once, then on each
// publish (Redis pub/sub), and every poll as a safety net. loaded tells the
// version in use; apply must ignore a version older than it. It returns
// when ctx ends.
func (s *Store) Follow(ctx context.Context, poll time.Duration, log *slog.Logger, loaded func() int, apply func(n int, c *content.Content)) {
	bad := 0 // a version that does not load, not to try again
	check := func() {
		n, err := s.CurrentNumber(ctx)
		if err != nil || n == loaded() || n == bad {
			return
		}
		v, err := s.Get(ctx, n)
		if err != nil {
			log.Warn("reading the content version failed", "version", n, "err", err)
			return
		}
		c, problems, err := s.Content(ctx, v)
		if err != nil {
			log.Warn("reading the content version's recordings failed", "version", n, "err", err)
			return
		}
		if c == nil || problems.HasErrors() {
			log.Error("the current content version does not load; keeping the one in use", "version", n)
			bad = n
			return
		}
		apply(n, c)
		log.Info("content version in use", "version", n)
	}
	sub := s.rdb.Subscribe(ctx, s.channel())
	defer sub.Close()
	check()
	t := time.NewTicker(poll)
	defer t.Stop()
	msgs := sub.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case <-msgs:
			check()
		case <-t.C:
			check()
		}
	}
}
