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
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
	"golang.org/x/crypto/argon2"
)

// People are the console's accounts: a username, a role, a language and a
// passphrase (kept as an argon2id hash). An admin invites a person with a
// one-time link; the person chooses the passphrase there. The holder of
// OUTREACH_ADMIN_TOKEN signs in as BootstrapUser with the token as
// passphrase, so that a new deployment has someone to invite the others.
//
// A person is a hash under {people}; invites are single keys that expire.
type People struct {
	rdb       redis.UniversalClient
	prefix    string
	bootstrap [32]byte
	hasBoot   bool
	now       func() time.Time
	// hashing bounds the argon2id computations in flight: each takes
	// argonMemory KiB, so many sign-ins at once must not take the memory.
	hashing chan struct{}
}

// BootstrapUser is the username of the holder of OUTREACH_ADMIN_TOKEN.
const BootstrapUser = "admin"

// InviteTTL is how long an invitation link works.
const InviteTTL = 48 * time.Hour

// MinPassphrase is the shortest passphrase accepted, in characters.
const MinPassphrase = 10

// maxPassphrase bounds a passphrase, so that hashing stays cheap to ask for.
const maxPassphrase = 256

// argon2id parameters: OWASP's recommended minimum (19 MiB, 2 passes).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// Person is one account.
type Person struct {
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Lang     string    `json:"lang"`
	Disabled bool      `json:"disabled,omitempty"`
	Created  time.Time `json:"created"`
	// Invited is true while the person has not yet chosen a passphrase.
	Invited bool `json:"invited,omitempty"`
}

// Principal returns who the person is, for the audit log and the routes.
func (p Person) Principal() Principal { return Principal{Name: p.Name, Role: p.Role} }

// Invite is an invitation: the link's secret is shown once, to the admin
// who made it.
type Invite struct {
	Token   string
	Person  Person
	Expires time.Time
}

// Errors of People.
var (
	ErrPersonExists   = errors.New("access: a person of that name exists")
	ErrNoPerson       = errors.New("access: no such person")
	ErrInviteInvalid  = errors.New("access: the invitation is unknown, used or expired")
	ErrWeakPassphrase = fmt.Errorf("access: the passphrase must have at least %d characters", MinPassphrase)
)

// NewPeople returns the accounts under prefix; bootstrap, if not empty, is
// the passphrase of BootstrapUser (OUTREACH_ADMIN_TOKEN). now may be nil.
func NewPeople(rdb redis.UniversalClient, prefix, bootstrap string, now func() time.Time) *People {
	p := &People{rdb: rdb, prefix: prefix, now: now, hashing: make(chan struct{}, 2)}
	if now == nil {
		p.now = time.Now
	}
	if bootstrap != "" {
		p.bootstrap, p.hasBoot = sha256.Sum256([]byte(bootstrap)), true
	}
	return p
}

func (p *People) key(name string) string {
	return keys.New(p.prefix).Person(strings.ToLower(name))
}
func (p *People) names() string             { return keys.New(p.prefix).PeopleNames() }
func (p *People) invite(hash string) string { return keys.New(p.prefix).Invite(hash) }

// ValidName reports whether name can be a username: letters, digits and
// . _ @ -, at most 64, starting with a letter or digit.
func ValidName(name string) bool { return validName.MatchString(name) }

// Invite makes an invitation for a new person with role and language; the
// person exists (unable to sign in) until the link is used or expires.
func (p *People) Invite(ctx context.Context, name string, role Role, lang string) (Invite, error) {
	if !ValidName(name) || strings.EqualFold(name, BootstrapUser) || strings.EqualFold(name, BootstrapName) || !role.Valid() {
		return Invite{}, ErrInvalid
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return Invite{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	now := p.now().UTC()
	person := Person{Name: name, Role: role, Lang: lang, Created: now, Invited: true}
	added, err := p.rdb.HSetNX(ctx, p.key(name), "name", name).Result()
	if err != nil {
		return Invite{}, err
	}
	if !added {
		// A person invited before whose link was never used may be invited
		// again; anyone else exists.
		old, err := p.Get(ctx, name)
		if err != nil {
			return Invite{}, err
		}
		if !old.Invited {
			return Invite{}, ErrPersonExists
		}
	}
	_, err = p.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, p.key(name), "name", name, "role", string(role), "lang", lang,
			"created", now.Format(time.RFC3339), "invited", "1", "disabled", "0")
		pipe.SAdd(ctx, p.names(), strings.ToLower(name))
		pipe.Set(ctx, p.invite(hashToken(token)), strings.ToLower(name), InviteTTL)
		return nil
	})
	if err != nil {
		return Invite{}, err
	}
	return Invite{Token: token, Person: person, Expires: now.Add(InviteTTL)}, nil
}

// Invited returns the person an invitation link is for, without using it.
func (p *People) Invited(ctx context.Context, token string) (Person, error) {
	name, err := p.rdb.Get(ctx, p.invite(hashToken(token))).Result()
	if errors.Is(err, redis.Nil) {
		return Person{}, ErrInviteInvalid
	} else if err != nil {
		return Person{}, err
	}
	person, err := p.Get(ctx, name)
	if errors.Is(err, ErrNoPerson) || (err == nil && person.Disabled) {
		return Person{}, ErrInviteInvalid
	}
	return person, err
}

// Accept uses an invitation link: the person's passphrase is set and the
// link stops working.
func (p *People) Accept(ctx context.Context, token, passphrase string) (Person, error) {
	if err := checkPassphrase(passphrase); err != nil {
		return Person{}, err
	}
	person, err := p.Invited(ctx, token)
	if err != nil {
		return Person{}, err
	}
	hash, err := p.hash(ctx, passphrase)
	if err != nil {
		return Person{}, err
	}
	// GETDEL makes the link single-use even when two tabs race.
	name, err := p.rdb.GetDel(ctx, p.invite(hashToken(token))).Result()
	if errors.Is(err, redis.Nil) {
		return Person{}, ErrInviteInvalid
	} else if err != nil {
		return Person{}, err
	}
	if err := p.rdb.HSet(ctx, p.key(name), "hash", hash, "invited", "0").Err(); err != nil {
		return Person{}, err
	}
	person.Invited = false
	return person, nil
}

func checkPassphrase(pass string) error {
	if n := utf8.RuneCountInString(pass); n < MinPassphrase || len(pass) > maxPassphrase {
		return ErrWeakPassphrase
	}
	return nil
}

// Get returns one person.
func (p *People) Get(ctx context.Context, name string) (Person, error) {
	if strings.EqualFold(name, BootstrapUser) && p.hasBoot {
		return p.bootstrapPerson(ctx)
	}
	vals, err := p.rdb.HGetAll(ctx, p.key(name)).Result()
	if err != nil {
		return Person{}, err
	}
	if vals["name"] == "" || vals["role"] == "" {
		return Person{}, ErrNoPerson
	}
	return decodePerson(vals), nil
}

// bootstrapPerson is BootstrapUser, with the language they chose if any.
func (p *People) bootstrapPerson(ctx context.Context) (Person, error) {
	lang, err := p.rdb.HGet(ctx, p.key(BootstrapUser), "lang").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return Person{}, err
	}
	return Person{Name: BootstrapUser, Role: Admin, Lang: lang}, nil
}

func decodePerson(vals map[string]string) Person {
	created, _ := time.Parse(time.RFC3339, vals["created"])
	return Person{
		Name: vals["name"], Role: Role(vals["role"]), Lang: vals["lang"], Created: created,
		Disabled: vals["disabled"] == "1", Invited: vals["invited"] == "1",
	}
}

// List returns every person but BootstrapUser, by name.
func (p *People) List(ctx context.Context) ([]Person, error) {
	names, err := p.rdb.SMembers(ctx, p.names()).Result()
	if err != nil {
		return nil, err
	}
	pipe := p.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(names))
	for i, n := range names {
		cmds[i] = pipe.HGetAll(ctx, p.key(n))
	}
	if len(names) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]Person, 0, len(names))
	for _, c := range cmds {
		if vals := c.Val(); vals["name"] != "" {
			out = append(out, decodePerson(vals))
		}
	}
	sortPeople(out)
	return out, nil
}

func sortPeople(ps []Person) {
	slices.SortFunc(ps, func(a, b Person) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
}

// SetDisabled disables or enables a person. A disabled person cannot sign
// in, and their open sessions end at their next request (the console checks
// the person on every request).
func (p *People) SetDisabled(ctx context.Context, name string, disabled bool) error {
	if strings.EqualFold(name, BootstrapUser) {
		return ErrInvalid
	}
	if _, err := p.Get(ctx, name); err != nil {
		return err
	}
	v := "0"
	if disabled {
		v = "1"
	}
	return p.rdb.HSet(ctx, p.key(name), "disabled", v).Err()
}

// SetLang records the console language a person chose.
func (p *People) SetLang(ctx context.Context, name, lang string) error {
	if strings.EqualFold(name, BootstrapUser) {
		return p.rdb.HSet(ctx, p.key(BootstrapUser), "lang", lang).Err()
	}
	if _, err := p.Get(ctx, name); err != nil {
		return err
	}
	return p.rdb.HSet(ctx, p.key(name), "lang", lang).Err()
}

// SignIn checks a username and passphrase. ok is false for a wrong pair, a
// disabled person or one who has not yet accepted their invitation; err is
// only for a failure of the store.
func (p *People) SignIn(ctx context.Context, name, passphrase string) (person Person, ok bool, err error) {
	if len(passphrase) > maxPassphrase || name == "" {
		return Person{}, false, nil
	}
	if strings.EqualFold(name, BootstrapUser) {
		if !p.hasBoot {
			return Person{}, false, nil
		}
		sum := sha256.Sum256([]byte(passphrase))
		if subtle.ConstantTimeCompare(sum[:], p.bootstrap[:]) != 1 {
			return Person{}, false, nil
		}
		person, err := p.bootstrapPerson(ctx)
		return person, err == nil, err
	}
	hash, err := p.rdb.HGet(ctx, p.key(name), "hash").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return Person{}, false, err
	}
	if hash == "" {
		// Spend the same work as a real check, so that timing does not
		// tell which usernames exist.
		_, err := p.verify(ctx, "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", passphrase)
		return Person{}, false, err
	}
	match, err := p.verify(ctx, hash, passphrase)
	if err != nil || !match {
		return Person{}, false, err
	}
	person, err = p.Get(ctx, name)
	if err != nil {
		return Person{}, false, err
	}
	if person.Disabled || person.Invited {
		return Person{}, false, nil
	}
	return person, true, nil
}

// hash returns the argon2id hash of pass in the PHC string format.
func (p *People) hash(ctx context.Context, pass string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key, err := p.argon(ctx, pass, salt, argonTime, argonMemory, argonThreads)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// verify reports whether pass matches a hash made by hash.
func (p *People) verify(ctx context.Context, encoded, pass string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("access: a stored passphrase hash is malformed")
	}
	var m, t uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &threads); err != nil || m > 256*1024 || t > 16 || threads == 0 {
		return false, errors.New("access: a stored passphrase hash is malformed")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false, errors.New("access: a stored passphrase hash is malformed")
	}
	got, err := p.argon(ctx, pass, salt, t, m, threads)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// argon computes one argon2id key, waiting for a free slot.
func (p *People) argon(ctx context.Context, pass string, salt []byte, t, m uint32, threads uint8) ([]byte, error) {
	select {
	case p.hashing <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.hashing }()
	return argon2.IDKey([]byte(pass), salt, t, m, threads, argonKeyLen), nil
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Failures slows down guessing: each failed sign-in is counted for the
// account and for the address for a quarter of an hour, and Delay says how
// long the next attempt from them waits before it is checked. The right
// passphrase is never refused, only slowed, so nobody can lock a person
// out by guessing in their name.
type Failures struct {
	rdb    redis.UniversalClient
	prefix string
}

// FailureWindow is how long a failed sign-in counts.
const FailureWindow = 15 * time.Minute

// NewFailures returns the failed sign-in counts under prefix.
func NewFailures(rdb redis.UniversalClient, prefix string) *Failures {
	return &Failures{rdb: rdb, prefix: prefix}
}

func (f *Failures) keys(name, addr string) (string, string) {
	k := keys.New(f.prefix)
	return k.SignInAccount(hashToken(strings.ToLower(name))), k.SignInAddress(hashToken(addr))
}

// Delay is how long an attempt for name from addr waits: nothing for the
// first three failures, then doubling from half a second to ten seconds.
func (f *Failures) Delay(ctx context.Context, name, addr string) (time.Duration, error) {
	ka, kb := f.keys(name, addr)
	vals, err := f.rdb.MGet(ctx, ka, kb).Result()
	if err != nil {
		return 0, err
	}
	n := int64(0)
	for _, v := range vals {
		s, _ := v.(string)
		c, _ := strconv.ParseInt(s, 10, 64)
		n = max(n, c)
	}
	return failureDelay(n), nil
}

func failureDelay(n int64) time.Duration {
	if n < 3 {
		return 0
	}
	d := 500 * time.Millisecond << min(n-3, 5)
	return min(d, 10*time.Second)
}

// Failed counts a failed sign-in for name and addr.
func (f *Failures) Failed(ctx context.Context, name, addr string) error {
	ka, kb := f.keys(name, addr)
	pipe := f.rdb.Pipeline()
	for _, k := range []string{ka, kb} {
		pipe.Incr(ctx, k)
		pipe.Expire(ctx, k, FailureWindow)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Succeeded forgets the failures of the account (not of the address).
func (f *Failures) Succeeded(ctx context.Context, name string) error {
	ka, _ := f.keys(name, "")
	return f.rdb.Del(ctx, ka).Err()
}
