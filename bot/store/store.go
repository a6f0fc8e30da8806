// Package store keeps the bot's state in Redis through redis.UniversalClient.
// Its keys are named by bot/keys. The turn script writes the contact's keys,
// the outbox stream, subscriber sets and requests at once, across hash tags:
// it needs one node or Sentinel: Redis Cluster is not supported yet.
//
// Keys of one contact share the hash tag {c:<contact key>}; the contact key is
// a keyed hash (HMAC-SHA256) of channel and address, so no key, log line or
// metric shows a phone number or a chat id.
package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/seal"
	"github.com/redis/go-redis/v9"
)

// Store is the bot's data in Redis.
type Store struct {
	rdb  redis.UniversalClient
	keys keys.Space
	// base is the space of real data (keys is the simulations' in the
	// store of simulations).
	base      keys.Space
	hashKey   []byte
	box       *seal.Box
	retention time.Duration
	rotated   bool
	// simulation is set on the store of simulations (see Simulation).
	simulation bool
	// replicas and replicaWait: see Options.Replicas.
	replicas    int
	replicaWait time.Duration
}

// Rotated reports whether this start sealed the keyring again with a new
// data key (OUTREACH_DATA_KEY_PREVIOUS opened it).
func (s *Store) Rotated() bool { return s.rotated }

// Options configures a Store.
type Options struct {
	// Prefix starts every key, e.g. "outreach:".
	Prefix string
	// DataKey is the 32-byte key that opens the keyring kept in Redis: the
	// root key from which the contact hash and the address seal derive (see
	// keyring.go). Empty: a random key is made once and kept in Redis in
	// clear, so that contact keys stay the same across restarts — weaker,
	// since whoever reads the data also reads the key.
	DataKey []byte
	// PreviousDataKey, when set, opens a keyring still sealed with the key
	// being rotated away from; the keyring is then sealed with DataKey.
	PreviousDataKey []byte
	// Retention is how long a silent contact's state is kept.
	Retention time.Duration
	// Replicas, when above zero, is how many replicas must hold a turn
	// before Commit returns (OUTREACH_REDIS_REPLICAS, for Sentinel): Redis
	// WAIT, on the connection that wrote the turn, so that a failover
	// cannot lose a message whose webhook was answered. Fewer in time is
	// ErrNotReplicated.
	Replicas int
	// ReplicaTimeout bounds that wait; zero means a second.
	ReplicaTimeout time.Duration
}

// New returns a Store over rdb.
func New(ctx context.Context, rdb redis.UniversalClient, opts Options) (*Store, error) {
	s := &Store{rdb: rdb, keys: keys.New(opts.Prefix), base: keys.New(opts.Prefix), retention: opts.Retention,
		replicas: opts.Replicas, replicaWait: opts.ReplicaTimeout}
	if s.retention <= 0 {
		s.retention = 180 * 24 * time.Hour
	}
	if s.replicaWait <= 0 {
		s.replicaWait = time.Second
	}
	var master []byte
	var err error
	if len(opts.DataKey) == 0 {
		master, err = s.storedKey(ctx)
	} else {
		master, err = s.keyring(ctx, opts.DataKey, opts.PreviousDataKey)
	}
	if err != nil {
		return nil, err
	}
	if len(master) != 32 {
		return nil, fmt.Errorf("store: data key is %d bytes, want 32", len(master))
	}
	s.hashKey = seal.Derive(master, "contact-hash")
	box, err := seal.New(seal.Derive(master, "address-seal"))
	if err != nil {
		return nil, err
	}
	s.box = box
	return s, nil
}

// storedKey returns the master key kept in Redis, making it on first use.
func (s *Store) storedKey(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	k := s.keys.DataKey()
	if err := s.rdb.SetNX(ctx, k, hex.EncodeToString(fresh), 0).Err(); err != nil {
		return nil, fmt.Errorf("store: data key: %w", err)
	}
	v, err := s.rdb.Get(ctx, k).Result()
	if err != nil {
		return nil, fmt.Errorf("store: data key: %w", err)
	}
	return hex.DecodeString(v)
}

// SimulationSpace is what the keys of simulations start with, after the
// prefix: "<prefix>sim:{c:…}:state" (see keys.SimulationSpace).
const SimulationSpace = keys.SimulationSpace

// Simulation returns the store of simulations (POST /api/v1/simulate,
// previews, outreach chat): the same Redis and keys (a simulated contact
// gets the contact key a real one would), but every key under
// <prefix>sim: and every key it writes expiring within ttl. It keeps a
// simulated conversation's state only: a turn with outbox entries or other
// writes (subscriptions, requests) is refused, so that a simulation can
// reach no provider, no staff view and no subscriber set.
func (s *Store) Simulation(ttl time.Duration) *Store {
	if ttl <= 0 {
		ttl = time.Hour
	}
	sim := *s
	sim.keys = s.keys.Simulation()
	sim.retention = ttl
	sim.simulation = true
	return &sim
}

// IsSimulation reports whether this is the store of simulations.
func (s *Store) IsSimulation() bool { return s.simulation }

// ErrSimulationWrite means a simulated turn tried to write beyond its own
// state: an outbox entry, a subscription, a request.
var ErrSimulationWrite = errors.New("store: a simulation keeps its conversation only: it sends nothing and records no subscription or request")

// Seal encrypts a piece of personal data (an address, a request's text) for
// keeping in Redis.
func (s *Store) Seal(text string) string { return s.box.Seal(text) }

// Open decrypts what Seal made.
func (s *Store) Open(sealed string) (string, error) { return s.box.Open(sealed) }

// Prefix returns the prefix of every key.
func (s *Store) Prefix() string { return s.keys.Prefix() }

// Keys returns the keyspace of the store.
func (s *Store) Keys() keys.Space { return s.keys }

// Client returns the Redis client.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }

// ContactKey returns the key naming a contact: a keyed hash of channel and
// address, the same for the same person on the same channel.
func (s *Store) ContactKey(channel, address string) string {
	m := hmac.New(sha256.New, s.hashKey)
	m.Write([]byte(channel))
	m.Write([]byte{0})
	m.Write([]byte(address))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

func (s *Store) stateKey(contact string) string { return s.keys.ContactState(contact) }

// dialogKey holds where the conversation stands (the waiting menu, wrong
// tries, saved answers): it expires after the idle period, when the
// conversation ends.
func (s *Store) dialogKey(contact string) string { return s.keys.Dialog(contact) }

// ErrConflict means the state changed since it was read: read it again.
var ErrConflict = errors.New("store: contact state changed concurrently")

// ErrDuplicate means the provider's message was already handled.
var ErrDuplicate = errors.New("store: message already handled")

// State is a contact's stored state and its version: Data what is kept
// for the retention period (language, subscriptions, opt-out), Dialog where
// the conversation stands, kept for the idle period.
type State struct {
	Data    []byte
	Dialog  []byte
	Version int64
	// Seen is set when the provider id asked about was already handled.
	Seen bool
}

// LoadState reads a contact's state and, when seenID is not empty, whether
// that provider message id was already handled — in one round trip. A new
// contact has no data and version 0.
func (s *Store) LoadState(ctx context.Context, contact, seenID string) (State, error) {
	st, _, err := s.load(ctx, contact, seenID, time.Time{})
	return st, err
}

// LoadStateCounting is LoadState that also counts the contact's messages in
// the minute of now, in the same round trip, for the flood limit.
func (s *Store) LoadStateCounting(ctx context.Context, contact, seenID string, now time.Time) (State, int64, error) {
	return s.load(ctx, contact, seenID, now)
}

func (s *Store) load(ctx context.Context, contact, seenID string, now time.Time) (State, int64, error) {
	var vals *redis.SliceCmd
	var dialog *redis.StringCmd
	var seen *redis.FloatCmd
	var count *redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		vals = p.HMGet(ctx, s.stateKey(contact), "v", "s")
		dialog = p.Get(ctx, s.dialogKey(contact))
		if seenID != "" {
			seen = p.ZScore(ctx, s.seenKey(contact), seenID)
		}
		if !now.IsZero() {
			k := s.keys.MinuteCount(contact, strconv.FormatInt(now.Unix()/60, 10))
			count = p.Incr(ctx, k)
			p.Expire(ctx, k, 2*time.Minute)
		}
		return nil
	})
	// A pipeline reports its first error, and GET and ZSCORE answer nil for
	// what is not there: look at each command.
	cmds := []redis.Cmder{vals, dialog}
	if seen != nil {
		cmds = append(cmds, seen)
	}
	if count != nil {
		cmds = append(cmds, count)
	}
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return State{}, 0, fmt.Errorf("store: load state: %w", err)
		}
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return State{}, 0, fmt.Errorf("store: load state: %w", err)
	}
	var n int64
	if count != nil {
		n = count.Val()
	}
	var st State
	v := vals.Val()
	if ver, ok := v[0].(string); ok {
		if st.Version, err = strconv.ParseInt(ver, 10, 64); err != nil {
			return State{}, 0, fmt.Errorf("store: load state: bad version: %w", err)
		}
	}
	if d, ok := v[1].(string); ok {
		st.Data = []byte(d)
	}
	if d, err := dialog.Bytes(); err == nil {
		st.Dialog = d
	}
	st.Seen = seen != nil && seen.Err() == nil
	return st, n, nil
}

// Turn is everything one conversation turn writes.
type Turn struct {
	Contact string
	// Version is the state version read; Data the new state.
	Version int64
	Data    []byte
	// Dialog is where the conversation stands, kept DialogTTL (0: as long
	// as the state); nil deletes it.
	Dialog    []byte
	DialogTTL time.Duration
	// Address is the sealed address and Channel its channel, kept so that
	// notices and staff can reach the person; empty keeps the stored one.
	Address string
	Channel string
	// SeenID is the provider's message id, marked as handled; empty for none.
	SeenID string
	// Outbox is the stream the Entries are appended to.
	Outbox  string
	Entries []string
	// Subscribe and Unsubscribe are the sites whose notices the person
	// starts or stops getting.
	Subscribe, Unsubscribe []string
	// Request is a new request to talk to a person (its Text sealed); it
	// is listed for staff and under the person, for erasure.
	Request *Request
	// Note is what the person wrote into their open request.
	Note *Note
}

// Note is a message a person wrote into their open request.
type Note struct {
	// Request is the request's id; Sealed the text, sealed.
	Request, Sealed string
}

// write is one more command a turn's script runs on a key; the store alone
// makes them, from the typed parts of a Turn (see turnWrites).
type write struct {
	cmd  string
	key  string
	args []any
}

// turnWrites encodes a turn's typed parts as the script's writes.
func (s *Store) turnWrites(t Turn) ([]write, error) {
	var ws []write
	for _, site := range t.Subscribe {
		ws = append(ws, write{"SADD", s.subscribersKey(site), []any{t.Contact}})
	}
	for _, site := range t.Unsubscribe {
		ws = append(ws, write{"SREM", s.subscribersKey(site), []any{t.Contact}})
	}
	if t.Request != nil {
		req, err := s.requestWrites(*t.Request)
		if err != nil {
			return nil, err
		}
		ws = append(ws, req...)
		ws = append(ws, s.requestIndexWrites(t.Contact, t.Request.ID)...)
	}
	if t.Note != nil {
		ws = append(ws, s.noteWrites(t.Note.Request, t.Note.Sealed)...)
	}
	return ws, nil
}

// AddRequest records a request to talk to a person outside a turn (a
// call, an import, a test): as a turn records it, listed for staff and
// under the person.
func (s *Store) AddRequest(ctx context.Context, req Request) error {
	ws, err := s.requestWrites(req)
	if err != nil {
		return err
	}
	ws = append(ws, s.requestIndexWrites(req.Contact, req.ID)...)
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, w := range ws {
			p.Do(ctx, append([]any{w.cmd, w.key}, w.args...)...)
		}
		return nil
	})
	return err
}

// seenTTL is how long a provider message id is remembered. Telegram keeps an
// update for 24 hours; Twilio retries within minutes.
const seenTTL = 48 * time.Hour

//go:embed turn.lua
var turnSrc string

var turnScript = redis.NewScript(turnSrc)

// Commit writes a turn atomically if the contact's state is still at
// t.Version; else it returns ErrConflict and writes nothing. It returns
// ErrDuplicate when t.SeenID was already handled.
//
// The turn touches the contact's keys, the outbox stream and shared indexes
// in one script: this needs a single Redis node (or Sentinel); on Cluster
// those keys would sit in different slots.
func (s *Store) Commit(ctx context.Context, t Turn) error {
	if s.simulation && (len(t.Entries) > 0 || len(t.Subscribe) > 0 || len(t.Unsubscribe) > 0 || t.Request != nil || t.Note != nil || t.Address != "") {
		return ErrSimulationWrite
	}
	state := s.stateKey(t.Contact)
	seen, outbox := s.seenKey(t.Contact), state
	var seenMS int64
	if t.SeenID != "" {
		seenMS = min(seenTTL, s.retention).Milliseconds()
	}
	if len(t.Entries) > 0 {
		outbox = t.Outbox
	}
	dialogTTL := t.DialogTTL
	if dialogTTL <= 0 || dialogTTL > s.retention {
		dialogTTL = s.retention
	}
	keys := []string{state, seen, outbox, s.dialogKey(t.Contact)}
	args := []any{t.Version, t.Data, s.retention.Milliseconds(), t.Address, t.Channel, seenMS, t.Dialog, max(dialogTTL.Milliseconds(), 1),
		t.SeenID, time.Now().UnixMilli(), maxSeen, len(t.Entries)}
	for _, e := range t.Entries {
		args = append(args, e)
	}
	writes, err := s.turnWrites(t)
	if err != nil {
		return err
	}
	for _, w := range writes {
		keys = append(keys, w.key)
		args = append(args, w.cmd, len(w.args))
		args = append(args, w.args...)
	}
	n, err := s.runTurn(ctx, keys, args)
	switch {
	case err != nil:
		return err
	case n == 0:
		return ErrConflict
	case n == 2:
		return ErrDuplicate
	}
	return nil
}

// ErrNotReplicated means a turn was written but not copied to enough
// replicas in time (Options.Replicas): it is not yet accepted, and its
// sender should try again.
var ErrNotReplicated = errors.New("store: the turn is not yet on enough Redis replicas; send again in a moment")

// runTurn runs the turn script and, with Options.Replicas, Redis WAIT
// after it in the same pipeline: WAIT counts the replicas that hold the
// writes of its own connection, so it must follow the script on that
// connection. Asked on another one (a pool's next connection, or the new
// master's after a failover), it would vouch for writes it never saw.
func (s *Store) runTurn(ctx context.Context, keys []string, args []any) (int, error) {
	if s.replicas <= 0 || s.simulation {
		n, err := turnScript.Run(ctx, s.rdb, keys, args...).Int()
		if err != nil {
			return 0, fmt.Errorf("store: commit turn: %w", err)
		}
		return n, nil
	}
	run := func(eval func(p redis.Pipeliner) *redis.Cmd) (*redis.Cmd, *redis.Cmd, error) {
		var res *redis.Cmd
		var wait *redis.Cmd
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			res = eval(p)
			wait = p.Do(ctx, "WAIT", s.replicas, s.replicaWait.Milliseconds())
			return nil
		})
		return res, wait, err
	}
	res, wait, err := run(func(p redis.Pipeliner) *redis.Cmd { return turnScript.EvalSha(ctx, p, keys, args...) })
	if err != nil && redis.HasErrorPrefix(res.Err(), "NOSCRIPT") {
		// A server that has not seen the script yet (a new master).
		res, wait, err = run(func(p redis.Pipeliner) *redis.Cmd { return turnScript.Eval(ctx, p, keys, args...) })
	}
	if err != nil {
		if res.Err() != nil {
			return 0, fmt.Errorf("store: commit turn: %w", res.Err())
		}
		return 0, fmt.Errorf("store: commit turn: wait for replicas: %w", err)
	}
	n, err := res.Int()
	if err != nil {
		return 0, fmt.Errorf("store: commit turn: %w", err)
	}
	if got, _ := wait.Int64(); n == 1 && got < int64(s.replicas) {
		return 0, ErrNotReplicated
	}
	return n, nil
}

// Confirm, with Options.Replicas, returns once the turn that handled a
// contact's message is on enough replicas: for a provider's retry of a
// message already handled, perhaps before a failover. It refreshes the
// contact's handled ids (a write, so that WAIT on this connection covers
// every earlier write of this server) and waits, in one pipeline. Without
// Options.Replicas it does nothing.
func (s *Store) Confirm(ctx context.Context, contact string) error {
	if s.replicas <= 0 || s.simulation {
		return nil
	}
	var wait *redis.Cmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.PExpire(ctx, s.seenKey(contact), min(seenTTL, s.retention))
		wait = p.Do(ctx, "WAIT", s.replicas, s.replicaWait.Milliseconds())
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: confirm turn: %w", err)
	}
	if got, _ := wait.Int64(); got < int64(s.replicas) {
		return ErrNotReplicated
	}
	return nil
}

// seenKey is a contact's handled provider message ids, a sorted set scored
// by when each was handled: one key per contact however many messages.
func (s *Store) seenKey(contact string) string { return s.keys.Seen(contact) }

// maxSeen bounds the message ids remembered per contact; far more than a
// person writes in the seen period within the flood limit.
const maxSeen = 2000

// Reach is what the service keeps to reach a contact.
type Reach struct {
	// Address is sealed; Channel is where it is.
	Address string
	Channel string
	// Data is the dialog state.
	Data []byte
	// Undeliverable is set when the provider said the address cannot receive.
	Undeliverable bool
}

// Reach reads how to reach a contact; ok is false when nothing is stored.
func (s *Store) Reach(ctx context.Context, contact string) (r Reach, ok bool, err error) {
	vals, err := s.rdb.HMGet(ctx, s.stateKey(contact), "a", "ch", "s", "x").Result()
	if err != nil {
		return Reach{}, false, fmt.Errorf("store: reach: %w", err)
	}
	r.Address, _ = vals[0].(string)
	r.Channel, _ = vals[1].(string)
	if d, ok := vals[2].(string); ok {
		r.Data = []byte(d)
	}
	x, _ := vals[3].(string)
	r.Undeliverable = x == "undeliverable"
	return r, vals[2] != nil, nil
}

// setIfKept sets a field of a contact's state only while the state exists,
// so that a mark never recreates a purged contact without its expiry.
var setIfKept = redis.NewScript(`if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 0`)

// ReachMany reads how to reach many contacts in one round trip.
func (s *Store) ReachMany(ctx context.Context, contacts []string) ([]Reach, error) {
	cmds := make([]*redis.SliceCmd, len(contacts))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, ck := range contacts {
			cmds[i] = p.HMGet(ctx, s.stateKey(ck), "a", "ch", "s", "x")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: reach: %w", err)
	}
	out := make([]Reach, len(contacts))
	for i, cmd := range cmds {
		vals := cmd.Val()
		out[i].Address, _ = vals[0].(string)
		out[i].Channel, _ = vals[1].(string)
		if d, ok := vals[2].(string); ok {
			out[i].Data = []byte(d)
		}
		x, _ := vals[3].(string)
		out[i].Undeliverable = x == "undeliverable"
	}
	return out, nil
}

// Distribution returns one distribution; ok is false when there is none.
func (s *Store) Distribution(ctx context.Context, id string) (d engine.Distribution, ok bool, err error) {
	v, err := s.rdb.HGet(ctx, s.keys.Distributions(), id).Result()
	if errors.Is(err, redis.Nil) {
		return d, false, nil
	} else if err != nil {
		return d, false, fmt.Errorf("store: distribution: %w", err)
	}
	if err := json.Unmarshal([]byte(v), &d); err != nil {
		return d, false, fmt.Errorf("store: distribution %s: %w", id, err)
	}
	return d, true, nil
}

// MarkUndeliverable records that a contact's address cannot receive
// messages; the next message from the person clears it.
func (s *Store) MarkUndeliverable(ctx context.Context, contact string) error {
	return setIfKept.Run(ctx, s.rdb, []string{s.stateKey(contact)}, "x", "undeliverable").Err()
}

// MarkNeedsTemplate records that WhatsApp refused free text to a contact
// (outside the 24-hour window): notices to them need a template.
func (s *Store) MarkNeedsTemplate(ctx context.Context, contact string, at time.Time) error {
	return setIfKept.Run(ctx, s.rdb, []string{s.stateKey(contact)}, "tpl", at.UnixMilli()).Err()
}

// SubscribersKey is the key of the set of contacts subscribed to a site.
func (s *Store) SubscribersKey(site string) string {
	return s.subscribersKey(site)
}

// requestWrites returns the writes that record a request to talk to a person.
func (s *Store) requestWrites(req Request) ([]write, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ws := []write{
		{"SET", s.requestKey(req.ID), []any{data, "PX", s.retention.Milliseconds()}},
		{"ZADD", s.keys.OpenRequests(), []any{req.CreatedAt.UnixMilli(), req.ID}},
	}
	if req.Urgent && req.Open {
		ws = append(ws, write{"SADD", s.keys.UrgentRequests(), []any{req.ID}})
	}
	return ws, nil
}

// Subscribers returns the contact keys subscribed to a site.
func (s *Store) Subscribers(ctx context.Context, site string) ([]string, error) {
	return s.rdb.SMembers(ctx, s.subscribersKey(site)).Result()
}

func (s *Store) subscribersKey(site string) string {
	return s.keys.Subscribers(site)
}

// Request is a person's request to talk to a person, for staff.
type Request struct {
	ID        string    `json:"id"`
	Contact   string    `json:"contact"`
	Channel   string    `json:"channel"`
	Lang      string    `json:"lang"`
	Site      string    `json:"site,omitempty"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
	Open      bool      `json:"open"`
	// Urgent is set when the text holds a word of danger.
	Urgent bool `json:"urgent,omitempty"`
	// Replies counts staff's replies.
	Replies int `json:"replies,omitempty"`
}

func (s *Store) requestKey(id string) string { return s.keys.Request(id) }
func (s *Store) notesKey(id string) string   { return s.keys.RequestNotes(id) }

// noteWrites returns the writes that add what a person wrote to their open
// request (sealed text).
func (s *Store) noteWrites(id, sealed string) []write {
	return []write{
		{"RPUSH", s.notesKey(id), []any{sealed}},
		{"PEXPIRE", s.notesKey(id), []any{s.retention.Milliseconds()}},
	}
}

// Request returns one request and the notes written after it (sealed).
func (s *Store) Request(ctx context.Context, id string) (Request, []string, error) {
	var get *redis.StringCmd
	var notes *redis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, s.requestKey(id))
		notes = p.LRange(ctx, s.notesKey(id), 0, 99)
		return nil
	})
	if errors.Is(err, redis.Nil) || errors.Is(get.Err(), redis.Nil) {
		return Request{}, nil, ErrNoRequest
	} else if err != nil {
		return Request{}, nil, err
	}
	var r Request
	if err := json.Unmarshal([]byte(get.Val()), &r); err != nil {
		return Request{}, nil, err
	}
	return r, notes.Val(), nil
}

// ErrNoRequest means no request has that id.
var ErrNoRequest = errors.New("store: no such request")

// PutRequest replaces a request; closing one moves it out of the open list.
func (s *Store) PutRequest(ctx context.Context, r Request) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.requestKey(r.ID), data, s.retention)
		if !r.Open {
			p.ZRem(ctx, s.keys.OpenRequests(), r.ID)
			p.SRem(ctx, s.keys.UrgentRequests(), r.ID)
			p.ZAdd(ctx, s.keys.ClosedRequests(), redis.Z{Score: float64(r.CreatedAt.UnixMilli()), Member: r.ID})
		}
		return nil
	})
	return err
}

// OpenRequests returns the open requests, oldest first.
func (s *Store) OpenRequests(ctx context.Context) ([]Request, error) {
	ids, err := s.rdb.ZRange(ctx, s.keys.OpenRequests(), 0, -1).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	cmds := make([]*redis.StringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, s.requestKey(id))
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var out []Request
	for _, cmd := range cmds {
		v, err := cmd.Result()
		if errors.Is(err, redis.Nil) {
			continue
		} else if err != nil {
			return nil, err
		}
		var r Request
		if err := json.Unmarshal([]byte(v), &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// PutDistribution stores a distribution, replacing one with the same id.
func (s *Store) PutDistribution(ctx context.Context, d engine.Distribution) error {
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return s.rdb.HSet(ctx, s.keys.Distributions(), d.ID, data).Err()
}

// Distributions returns every stored distribution.
func (s *Store) Distributions(ctx context.Context) ([]engine.Distribution, error) {
	all, err := s.rdb.HGetAll(ctx, s.keys.Distributions()).Result()
	if err != nil {
		return nil, fmt.Errorf("store: distributions: %w", err)
	}
	out := make([]engine.Distribution, 0, len(all))
	for id, v := range all {
		var d engine.Distribution
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			return nil, fmt.Errorf("store: distribution %s: %w", id, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// Sites returns the sites staff have stored, or nil when there are none and
// the content's default sites apply.
func (s *Store) Sites(ctx context.Context) ([]engine.Site, error) {
	v, err := s.rdb.Get(ctx, s.keys.Sites()).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("store: sites: %w", err)
	}
	var sites []engine.Site
	if err := json.Unmarshal([]byte(v), &sites); err != nil {
		return nil, fmt.Errorf("store: sites: %w", err)
	}
	return sites, nil
}

// ErrSitesBusy means the sites kept changing under an update.
var ErrSitesBusy = errors.New("store: the sites kept changing meanwhile; try again in a moment")

// UpdateSites changes the stored list of sites with compare-and-set: change
// gets the list as stored (defaults when none is), and what it returns is
// written only if nobody wrote the list meanwhile; otherwise it runs again
// on the new list. So two instances adding a site at the same moment both
// land. An error of change is returned as it is, and nothing is written.
func (s *Store) UpdateSites(ctx context.Context, defaults func() []engine.Site, change func([]engine.Site) ([]engine.Site, error)) error {
	key := s.keys.Sites()
	for range 20 {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			v, err := tx.Get(ctx, key).Result()
			var sites []engine.Site
			switch {
			case errors.Is(err, redis.Nil):
				sites = defaults()
			case err != nil:
				return err
			default:
				if err := json.Unmarshal([]byte(v), &sites); err != nil {
					return fmt.Errorf("store: sites: %w", err)
				}
			}
			next, err := change(sites)
			if err != nil {
				return err
			}
			data, err := json.Marshal(next)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, data, 0)
				return nil
			})
			return err
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
	}
	return ErrSitesBusy
}

// PutSites replaces the stored list of sites.
func (s *Store) PutSites(ctx context.Context, sites []engine.Site) error {
	data, err := json.Marshal(sites)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, s.keys.Sites(), data, 0).Err()
}

// markUrgentScript sets "urgent" in a stored request, keeping its expiry,
// and lists it among the urgent ones while it is open; a request that is
// gone is left gone.
//
// KEYS[1] the request, KEYS[2] the urgent requests. ARGV[1] its id.
var markUrgentScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local r = cjson.decode(v)
if r.urgent then return 0 end
r.urgent = true
redis.call('SET', KEYS[1], cjson.encode(r), 'KEEPTTL')
if r.open then redis.call('SADD', KEYS[2], ARGV[1]) end
return 1
`)

// MarkUrgent flags a request urgent: for words of danger written while it
// is open, after it was recorded as not urgent. It reports whether the
// request changed.
func (s *Store) MarkUrgent(ctx context.Context, id string) (bool, error) {
	n, err := markUrgentScript.Run(ctx, s.rdb, []string{s.requestKey(id), s.keys.UrgentRequests()}, id).Int()
	return n == 1, err
}

// RequestCounts returns how many requests to a person are open, and how
// many of those are urgent, in one round trip whatever their number.
func (s *Store) RequestCounts(ctx context.Context) (open, urgent int64, err error) {
	var o, u *redis.IntCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		o = p.ZCard(ctx, s.keys.OpenRequests())
		u = p.SCard(ctx, s.keys.UrgentRequests())
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	return o.Val(), u.Val(), nil
}

// SubscriberCounts returns how many people are subscribed to each site's
// notices (those who said STOP included: they get none until START), in
// one round trip of SCARD, whatever the number of subscribers.
func (s *Store) SubscriberCounts(ctx context.Context, sites []string) (map[string]int64, error) {
	cmds := make([]*redis.IntCmd, len(sites))
	if len(sites) > 0 {
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, site := range sites {
				cmds[i] = p.SCard(ctx, s.subscribersKey(site))
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("store: subscriber counts: %w", err)
		}
	}
	out := make(map[string]int64, len(sites))
	for i, site := range sites {
		out[site] = cmds[i].Val()
	}
	return out, nil
}
