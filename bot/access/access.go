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
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
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

func (t *Tokens) byHash(h string) string { return t.prefix + "token:" + h }
func (t *Tokens) names() string          { return t.prefix + "tokens" }

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

// Audit is the log of changes made through the API: who, what, when —
// never personal data.
type Audit struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewAudit returns the audit log under prefix.
func NewAudit(rdb redis.UniversalClient, prefix string) *Audit {
	return &Audit{rdb: rdb, prefix: prefix}
}

// Event is one audited change.
type Event struct {
	At     time.Time `json:"at"`
	Who    string    `json:"who"`
	Role   Role      `json:"role"`
	Action string    `json:"action"`
	Target string    `json:"target,omitempty"`
}

// maxAudit bounds the audit log.
const maxAudit = 100000

// Record appends an event.
func (a *Audit) Record(ctx context.Context, who Principal, action, target string) error {
	return a.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: a.prefix + "audit", MaxLen: maxAudit, Approx: true,
		Values: []any{"who", who.Name, "role", string(who.Role), "action", action, "target", target},
	}).Err()
}

// List returns the newest events first, at most n.
func (a *Audit) List(ctx context.Context, n int64) ([]Event, error) {
	msgs, err := a.rdb.XRevRangeN(ctx, a.prefix+"audit", "+", "-", n).Result()
	if err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(msgs))
	for _, m := range msgs {
		ms, _, _ := cutID(m.ID)
		str := func(k string) string { s, _ := m.Values[k].(string); return s }
		out = append(out, Event{At: time.UnixMilli(ms).UTC(), Who: str("who"), Role: Role(str("role")), Action: str("action"), Target: str("target")})
	}
	return out, nil
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
