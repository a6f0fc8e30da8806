// Package access keeps who may use the admin API: per-person bearer tokens
// with a role, stored hashed in Redis, the bootstrap admin token from the
// environment, and the audit log of every change made through the API.
package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
)

// Role is what a token may do.
type Role string

// The roles.
const (
	// Admin may do everything, tokens included.
	Admin Role = "admin"
	// Staff run distributions, broadcasts, contacts and requests to a person.
	Staff Role = "staff"
	// Partner keep the content right and simulate conversations.
	Partner Role = "partner"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == Admin || r == Staff || r == Partner }

// Allows reports whether a token of role r may act where any of roles is
// needed. Admin may act everywhere.
func (r Role) Allows(roles ...Role) bool {
	if r == Admin {
		return true
	}
	for _, need := range roles {
		if r == need {
			return true
		}
	}
	return false
}

// Principal is who made a request.
type Principal struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// BootstrapName names the holder of OUTREACH_ADMIN_TOKEN in the audit log.
const BootstrapName = "bootstrap-admin"

// Tokens are the API tokens.
type Tokens struct {
	rdb       redis.UniversalClient
	prefix    string
	bootstrap [32]byte
	hasBoot   bool
}

// NewTokens returns the tokens under prefix; bootstrap, if not empty, is an
// admin token that needs no storing (OUTREACH_ADMIN_TOKEN).
func NewTokens(rdb redis.UniversalClient, prefix, bootstrap string) *Tokens {
	t := &Tokens{rdb: rdb, prefix: prefix}
	if bootstrap != "" {
		t.bootstrap, t.hasBoot = sha256.Sum256([]byte(bootstrap)), true
	}
	return t
}

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// ErrExists means a token of that name exists.
var ErrExists = errors.New("access: a token of that name exists")

// ErrNotFound means no token has that name.
var ErrNotFound = errors.New("access: no such token")

// ErrInvalid means a name or role is not acceptable.
var ErrInvalid = errors.New("access: invalid name or role")

func (t *Tokens) byHash(h string) string { return keys.New(t.prefix).APIToken(h) }
func (t *Tokens) names() string          { return keys.New(t.prefix).APITokenNames() }

// Create makes a token for a person and returns it; only its hash is kept,
// so it is shown this once.
func (t *Tokens) Create(ctx context.Context, name string, role Role) (string, error) {
	if !validName.MatchString(name) || name == BootstrapName || !role.Valid() {
		return "", ErrInvalid
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := "otk_" + base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	h := hex.EncodeToString(sum[:])
	ok, err := t.rdb.HSetNX(ctx, t.names(), name, h).Result()
	if err != nil {
		return "", err
	}
	if !ok {
		return "", ErrExists
	}
	err = t.rdb.HSet(ctx, t.byHash(h), "name", name, "role", string(role), "created", time.Now().UTC().Format(time.RFC3339)).Err()
	return token, err
}

// Delete removes a person's token.
func (t *Tokens) Delete(ctx context.Context, name string) error {
	h, err := t.rdb.HGet(ctx, t.names(), name).Result()
	if errors.Is(err, redis.Nil) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	_, err = t.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, t.byHash(h))
		p.HDel(ctx, t.names(), name)
		return nil
	})
	return err
}

// Lookup returns who holds token; ok is false for an unknown token.
func (t *Tokens) Lookup(ctx context.Context, token string) (p Principal, ok bool, err error) {
	sum := sha256.Sum256([]byte(token))
	if t.hasBoot && subtle.ConstantTimeCompare(sum[:], t.bootstrap[:]) == 1 {
		return Principal{Name: BootstrapName, Role: Admin}, true, nil
	}
	vals, err := t.rdb.HMGet(ctx, t.byHash(hex.EncodeToString(sum[:])), "name", "role").Result()
	if err != nil {
		return Principal{}, false, err
	}
	name, _ := vals[0].(string)
	role, _ := vals[1].(string)
	if name == "" {
		return Principal{}, false, nil
	}
	return Principal{Name: name, Role: Role(role)}, true, nil
}

// Audit is the log of changes made through the API and of refused attempts:
// who, what, when — never personal data. It is kept by age (entries older
// than the retention are dropped), not by a count an attacker could roll
// over, and refused attempts are aggregated (see Refused), so that cheap
// requests can neither flush it nor fill it.
//
// Entries are a sorted set of ids scored by time, a hash of the entries by
// id and a hash of the counts of aggregated entries; all share the hash tag
// {audit}.
type Audit struct {
	rdb       redis.UniversalClient
	prefix    string
	retention time.Duration
	now       func() time.Time
}

// DefaultAuditRetention is how long an audit entry is kept by default.
const DefaultAuditRetention = 400 * 24 * time.Hour

// AuditOptions tune the audit log.
type AuditOptions struct {
	// Retention is how long an entry is kept (OUTREACH_AUDIT_RETENTION);
	// zero means DefaultAuditRetention.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewAudit returns the audit log under prefix.
func NewAudit(rdb redis.UniversalClient, prefix string, opts AuditOptions) *Audit {
	return &Audit{rdb: rdb, prefix: prefix, retention: opts.Retention, now: opts.Now}
}

// Event is one audited change, or one minute of refused attempts.
type Event struct {
	At     time.Time `json:"at"`
	Who    string    `json:"who"`
	Role   Role      `json:"role,omitempty"`
	Action string    `json:"action"`
	Target string    `json:"target,omitempty"`
	// Count is how many refused attempts the entry stands for (aggregated
	// entries only; see Audit.Refused).
	Count int64 `json:"count,omitempty"`
}

// NoToken names, in the audit log, who made a request without a valid token.
const NoToken = "(no valid token)"

// Several names, in the audit log, the holders of the refused attempts
// counted together once a minute has too many sources (see Refused).
const Several = "(several)"

// MaxRefusedSources bounds the aggregated entries one action may add in a
// minute: the attempts of further principals or addresses that minute are
// counted in one more entry. So a minute of refused attempts, however
// many and from however many addresses, adds at most MaxRefusedSources+1
// entries an action.
const MaxRefusedSources = 20

// trimBatch bounds the old entries one call removes.
const trimBatch = 100

func (a *Audit) keys(more ...string) []string {
	k := keys.New(a.prefix)
	return append([]string{k.AuditTimes(), k.AuditEntries(), k.AuditCounts()}, more...)
}

// stored is an entry as kept; its time is its score.
type stored struct {
	Who    string `json:"w"`
	Role   Role   `json:"r,omitempty"`
	Action string `json:"a"`
	Target string `json:"t,omitempty"`
}

// clock is the time now: the injected clock, or time.Now.
func (a *Audit) clock() time.Time {
	if a.now == nil {
		return time.Now()
	}
	return a.now()
}

// oldest is the time, in ms, of the oldest entry kept at now.
func (a *Audit) oldest(now time.Time) int64 {
	keep := a.retention
	if keep <= 0 {
		keep = DefaultAuditRetention
	}
	return now.Add(-keep).UnixMilli()
}

// Record appends an event.
func (a *Audit) Record(ctx context.Context, who Principal, action, target string) error {
	entry, err := json.Marshal(stored{Who: who.Name, Role: who.Role, Action: action, Target: target})
	if err != nil {
		return err
	}
	now := a.clock()
	return addScript.Run(ctx, a.rdb, a.keys(keys.New(a.prefix).AuditSeq(), keys.New(a.prefix).AuditNone()),
		now.UnixMilli(), a.oldest(now), entry, "", "", "", 0, 0).Err()
}

// Refused records a refused attempt (a wrong token, a refused publish),
// aggregated: one entry per action, principal and address a minute, with a
// count, and at most MaxRefusedSources of them per action a minute. from
// is the client's address; who may be empty (no valid token).
func (a *Audit) Refused(ctx context.Context, who Principal, action, from string) error {
	if who.Name == "" {
		who.Name = NoToken
	}
	if len(from) > 64 {
		from = from[:64]
	}
	now := a.clock()
	minute := strconv.FormatInt(now.Unix()/60, 10)
	entry, err := json.Marshal(stored{Who: who.Name, Role: who.Role, Action: action, Target: from})
	if err != nil {
		return err
	}
	rest, err := json.Marshal(stored{Who: Several, Action: action, Target: "(other addresses)"})
	if err != nil {
		return err
	}
	id := "r:" + action + ":" + minute + ":" + who.Name + ":" + from
	restID := "r:" + action + ":" + minute + ":*"
	return addScript.Run(ctx, a.rdb, a.keys(keys.New(a.prefix).AuditSeq(), keys.New(a.prefix).AuditMinute(action, minute)),
		now.UnixMilli(), a.oldest(now), entry, id, restID, rest, MaxRefusedSources, (2 * time.Minute).Milliseconds()).Err()
}

// addScript adds one entry and drops up to trimBatch entries past the
// retention.
// KEYS[1] ids by time (sorted set, score = ms), KEYS[2] entries (hash id →
// JSON), KEYS[3] counts of aggregated entries (hash id → n), KEYS[4] id
// sequence, KEYS[5] aggregated entries of this action this minute (counter).
// ARGV[1] now (ms), ARGV[2] oldest time kept (ms), ARGV[3] entry JSON,
// ARGV[4] aggregation id (empty = a plain entry), ARGV[5] id and ARGV[6] JSON
// of the entry counting the sources beyond ARGV[7] in this minute, ARGV[8]
// TTL of KEYS[5] (ms).
var addScript = redis.NewScript(trimLua("ARGV[2]") + `
local id, entry = ARGV[4], ARGV[3]
if id == '' then
  id = ARGV[1] .. '-' .. string.format('%012d', redis.call('INCR', KEYS[4]))
  redis.call('ZADD', KEYS[1], ARGV[1], id)
  redis.call('HSET', KEYS[2], id, entry)
  return #old
end
if redis.call('HEXISTS', KEYS[2], id) == 0 then
  local n = redis.call('INCR', KEYS[5])
  if n == 1 then redis.call('PEXPIRE', KEYS[5], ARGV[8]) end
  if n > tonumber(ARGV[7]) then id, entry = ARGV[5], ARGV[6] end
end
if redis.call('HSETNX', KEYS[2], id, entry) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[1], id)
end
redis.call('HINCRBY', KEYS[3], id, 1)
return #old
`)

// trimLua is the Lua that drops up to trimBatch entries older than the
// time in argv (ms) from the three keys of an entry, into a local "old".
func trimLua(argv string) string {
	return `local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ` + argv + `, 'LIMIT', 0, ` + strconv.Itoa(trimBatch) + `)
if #old > 0 then
  redis.call('ZREM', KEYS[1], unpack(old))
  redis.call('HDEL', KEYS[2], unpack(old))
  redis.call('HDEL', KEYS[3], unpack(old))
end
`
}

// trimScript drops up to trimBatch entries older than ARGV[1] (ms) and
// returns how many. KEYS as addScript's first three.
var trimScript = redis.NewScript(trimLua("ARGV[1]") + "return #old\n")

// Forget drops every entry older than the retention and returns how many
// (each write drops some too; this catches up after a quiet time).
func (a *Audit) Forget(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := trimScript.Run(ctx, a.rdb, a.keys(), a.oldest(a.clock())).Int()
		total += n
		if err != nil || n < trimBatch {
			return total, err
		}
	}
}

// List returns the newest events first, at most n; none older than the
// retention.
func (a *Audit) List(ctx context.Context, n int64) ([]Event, error) {
	k := a.keys()
	zs, err := a.rdb.ZRevRangeByScoreWithScores(ctx, k[0], &redis.ZRangeBy{
		Max: "+inf", Min: strconv.FormatInt(a.oldest(a.clock()), 10), Count: n,
	}).Result()
	if err != nil || len(zs) == 0 {
		return []Event{}, err
	}
	ids := make([]string, len(zs))
	for i, z := range zs {
		ids[i], _ = z.Member.(string)
	}
	var entries, counts *redis.SliceCmd
	if _, err := a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		entries, counts = p.HMGet(ctx, k[1], ids...), p.HMGet(ctx, k[2], ids...)
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(zs))
	for i, z := range zs {
		raw, _ := entries.Val()[i].(string)
		var e stored
		if raw == "" || json.Unmarshal([]byte(raw), &e) != nil {
			continue // dropped between the two reads
		}
		ev := Event{At: time.UnixMilli(int64(z.Score)).UTC(), Who: e.Who, Role: e.Role, Action: e.Action, Target: e.Target}
		if c, _ := counts.Val()[i].(string); c != "" {
			ev.Count, _ = strconv.ParseInt(c, 10, 64)
		}
		out = append(out, ev)
	}
	return out, nil
}

// ImportLegacy moves the audit log of earlier versions (a stream capped
// by count) into this one, keeping the entries within the retention, then
// removes the stream. Running it again, or on two instances at once, does
// no harm.
func (a *Audit) ImportLegacy(ctx context.Context) (int, error) {
	legacy := keys.New(a.prefix).LegacyAudit()
	kind, err := a.rdb.Type(ctx, legacy).Result()
	if err != nil || kind != "stream" {
		return 0, err
	}
	k, oldest, from, moved := a.keys(), a.oldest(a.clock()), "-", 0
	for {
		msgs, err := a.rdb.XRangeN(ctx, legacy, from, "+", 1000).Result()
		if err != nil {
			return moved, err
		}
		if len(msgs) == 0 {
			break
		}
		if _, err := a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, m := range msgs {
				ms, _, err := cutID(m.ID)
				if err != nil || ms < oldest {
					continue
				}
				str := func(k string) string { s, _ := m.Values[k].(string); return s }
				entry, err := json.Marshal(stored{Who: str("who"), Role: Role(str("role")), Action: str("action"), Target: str("target")})
				if err != nil {
					return err
				}
				p.HSet(ctx, k[1], m.ID, entry)
				p.ZAdd(ctx, k[0], redis.Z{Score: float64(ms), Member: m.ID})
				moved++
			}
			return nil
		}); err != nil {
			return moved, err
		}
		from = "(" + msgs[len(msgs)-1].ID
	}
	return moved, a.rdb.Del(ctx, legacy).Err()
}

func cutID(id string) (int64, string, error) {
	for i := 0; i < len(id); i++ {
		if id[i] == '-' {
			ms, err := strconv.ParseInt(id[:i], 10, 64)
			return ms, id[i+1:], err
		}
	}
	return 0, "", fmt.Errorf("bad stream id %q", id)
}

// TokenInfo is what is known of a token: never the token itself, which
// only its holder has (its hash is kept).
type TokenInfo struct {
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Created time.Time `json:"created"`
}

// List returns the stored tokens by name (OUTREACH_ADMIN_TOKEN, which is
// not stored, aside), in two round trips.
func (t *Tokens) List(ctx context.Context) ([]TokenInfo, error) {
	byName, err := t.rdb.HGetAll(ctx, t.names()).Result()
	if err != nil {
		return nil, err
	}
	names := slices.Sorted(maps.Keys(byName))
	cmds := make([]*redis.SliceCmd, len(names))
	if len(names) > 0 {
		if _, err := t.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, n := range names {
				cmds[i] = p.HMGet(ctx, t.byHash(byName[n]), "role", "created")
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	out := make([]TokenInfo, 0, len(names))
	for i, n := range names {
		vals := cmds[i].Val()
		role, _ := vals[0].(string)
		created, _ := vals[1].(string)
		if role == "" {
			continue // deleted between the two reads
		}
		at, _ := time.Parse(time.RFC3339, created)
		out = append(out, TokenInfo{Name: n, Role: Role(role), Created: at})
	}
	return out, nil
}

// AuditQuery chooses entries of the audit log. Empty fields choose all.
type AuditQuery struct {
	// Who is the name of who did it, in any case.
	Who string
	// Action is an action ("site.add") or the start of some ("site.").
	Action string
	// From and Until bound the time: From included, Until excluded.
	From, Until time.Time
	// After is where a previous page ended (AuditPage.Next); empty starts
	// with the newest entry.
	After string
	// Limit bounds the entries of a page; 0 means 50.
	Limit int
}

// AuditPage is one page of chosen entries, newest first.
type AuditPage struct {
	Events []Event
	// Next continues after this page (AuditQuery.After); empty when
	// there is nothing older.
	Next string
	// Searched is set when the page stopped at MaxAuditScan entries looked
	// at, before it was full: Next goes on searching.
	Searched bool
}

// MaxAuditScan bounds the entries one page looks at, so that a filter
// that few entries match still answers quickly; the page then says so
// and offers to search on.
const MaxAuditScan = 5000

// auditBatch is how many entries a page reads at once.
const auditBatch = 200

// Query returns a page of the entries q chooses, newest first. It walks the
// log from q.After (or q.Until) back to q.From, a batch at a time.
func (a *Audit) Query(ctx context.Context, q AuditQuery) (AuditPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	k := a.keys()
	// The cursor is the score (ms) of the last entry shown and how many
	// entries of that score were shown: ties are ordered, so skipping them
	// is exact.
	maxScore, skip := "+inf", int64(0)
	if !q.Until.IsZero() {
		maxScore = "(" + strconv.FormatInt(q.Until.UnixMilli(), 10)
	}
	if q.After != "" {
		ms, n, ok := parseCursor(q.After)
		if !ok {
			return AuditPage{}, ErrInvalid
		}
		maxScore, skip = strconv.FormatInt(ms, 10), n
	}
	minScore := a.oldest(a.clock())
	if !q.From.IsZero() {
		minScore = max(minScore, q.From.UnixMilli())
	}
	var page AuditPage
	scanned := 0
	for {
		zs, err := a.rdb.ZRevRangeByScoreWithScores(ctx, k[0], &redis.ZRangeBy{
			Max: maxScore, Min: strconv.FormatInt(minScore, 10), Offset: skip, Count: auditBatch,
		}).Result()
		if err != nil {
			return AuditPage{}, err
		}
		if len(zs) == 0 {
			return page, nil
		}
		events, err := a.entries(ctx, zs)
		if err != nil {
			return AuditPage{}, err
		}
		for i, z := range zs {
			// Where a page that ends with this entry goes on.
			if ms := int64(z.Score); strconv.FormatInt(ms, 10) == maxScore {
				skip++
			} else {
				maxScore, skip = strconv.FormatInt(ms, 10), 1
			}
			scanned++
			if ev := events[i]; ev != nil && q.matches(*ev) {
				page.Events = append(page.Events, *ev)
			}
			last := i == len(zs)-1 && len(zs) < auditBatch
			if len(page.Events) == q.Limit || scanned >= MaxAuditScan {
				if !last {
					page.Next = maxScore + "." + strconv.FormatInt(skip, 10)
					page.Searched = len(page.Events) < q.Limit
				}
				return page, nil
			}
		}
		if len(zs) < auditBatch {
			return page, nil
		}
	}
}

func (q AuditQuery) matches(e Event) bool {
	return (q.Who == "" || strings.EqualFold(e.Who, q.Who)) && strings.HasPrefix(e.Action, q.Action)
}

// parseCursor reads AuditPage.Next: "<ms>.<skip>".
func parseCursor(s string) (ms, skip int64, ok bool) {
	a, b, found := strings.Cut(s, ".")
	ms, err1 := strconv.ParseInt(a, 10, 64)
	skip, err2 := strconv.ParseInt(b, 10, 64)
	return ms, skip, found && err1 == nil && err2 == nil && skip >= 0
}

// entries reads the entries of ids with their scores; nil for one dropped
// meanwhile.
func (a *Audit) entries(ctx context.Context, zs []redis.Z) ([]*Event, error) {
	k := a.keys()
	ids := make([]string, len(zs))
	for i, z := range zs {
		ids[i], _ = z.Member.(string)
	}
	var entries, counts *redis.SliceCmd
	if _, err := a.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		entries, counts = p.HMGet(ctx, k[1], ids...), p.HMGet(ctx, k[2], ids...)
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]*Event, len(zs))
	for i, z := range zs {
		raw, _ := entries.Val()[i].(string)
		var e stored
		if raw == "" || json.Unmarshal([]byte(raw), &e) != nil {
			continue
		}
		ev := &Event{At: time.UnixMilli(int64(z.Score)).UTC(), Who: e.Who, Role: e.Role, Action: e.Action, Target: e.Target}
		if c, _ := counts.Val()[i].(string); c != "" {
			ev.Count, _ = strconv.ParseInt(c, 10, 64)
		}
		out[i] = ev
	}
	return out, nil
}
