package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
)

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
	// Outbox is the stream the Entries are appended to: one of the
	// contact's shard (outbox.Keys.StreamFor), in the slot of their keys.
	Outbox  string
	Entries []string
	// Subscribe and Unsubscribe are the sites whose notices the person
	// starts or stops getting.
	Subscribe, Unsubscribe []string
	// Request is a new request to talk to a person (its Text sealed, its
	// ID from Store.NewRequestID, in the person's shard); it is listed for
	// staff and under the person, for erasure.
	Request *Request
	// Note is what the person wrote into their open request.
	Note *Note
	// Durable, with Options.Replicas, makes Commit return only once that
	// many replicas hold the turn (else ErrNotReplicated, the turn being
	// written): for a message whose webhook is answered after it. Staff's
	// and providers' updates of a person's state do not wait.
	Durable bool
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
		ws = append(ws, write{"SADD", s.keys.SubscribersOf(site, t.Contact), []any{t.Contact}})
	}
	for _, site := range t.Unsubscribe {
		ws = append(ws, write{"SREM", s.keys.SubscribersOf(site, t.Contact), []any{t.Contact}})
	}
	if t.Request != nil {
		if s.keys.ShardOf(t.Request.ID) != s.keys.ShardOf(t.Contact) {
			return nil, fmt.Errorf("store: request %s is not in its person's shard: make its id with NewRequestID", t.Request.ID)
		}
		req, err := s.requestWrites(*t.Request)
		if err != nil {
			return nil, err
		}
		ws = append(ws, req...)
		ws = append(ws, s.requestIndexWrites(t.Contact, t.Request.ID)...)
	}
	if t.Note != nil && s.keys.ShardOf(t.Note.Request) == s.keys.ShardOf(t.Contact) {
		ws = append(ws, s.noteWrites(t.Note.Request, t.Note.Sealed)...)
	}
	return ws, nil
}

// noteApart writes, after the turn, a note into a request kept in another
// shard than its person's (one recorded before the keys were sharded,
// whose id is kept): on a Cluster the turn's script cannot reach it.
func (s *Store) noteApart(ctx context.Context, t Turn) error {
	if t.Note == nil || s.keys.ShardOf(t.Note.Request) == s.keys.ShardOf(t.Contact) {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, w := range s.noteWrites(t.Note.Request, t.Note.Sealed) {
			p.Do(ctx, append([]any{w.cmd, w.key}, w.args...)...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: commit turn: note: %w", err)
	}
	return nil
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
// The turn touches the contact's keys, the outbox stream of their shard,
// their share of subscriber sets and their requests in one script: all of
// them sit in the person's shard, one hash slot of a Redis Cluster.
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
		if keys.Slot(outbox) != keys.Slot(state) {
			return fmt.Errorf("store: commit turn: outbox %q is not in the contact's shard", outbox)
		}
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
	n, err := s.runTurn(ctx, keys, args, t.Durable)
	switch {
	case err != nil && !errors.Is(err, ErrNotReplicated):
		return err
	case n == 0 && err == nil:
		return ErrConflict
	case n == 2:
		return ErrDuplicate
	}
	if noteErr := s.noteApart(ctx, t); noteErr != nil {
		return noteErr
	}
	return err
}

// ErrNotReplicated means a turn was written but not copied to enough
// replicas in time (Options.Replicas): it is not yet accepted, and its
// sender should try again. Its effects are to be carried out all the same:
// the turn is written, and its retry is a duplicate.
var ErrNotReplicated = errors.New("store: the turn is not yet on enough Redis replicas; send again in a moment")

// runTurn runs the turn script and, with Options.Replicas, Redis WAIT
// after it in the same pipeline: WAIT counts the replicas that hold the
// writes of its own connection, so it must follow the script on that
// connection. Asked on another one (a pool's next connection, or the new
// master's after a failover), it would vouch for writes it never saw.
func (s *Store) runTurn(ctx context.Context, keys []string, args []any, durable bool) (int, error) {
	if s.replicas <= 0 || s.simulation || !durable {
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
