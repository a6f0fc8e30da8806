// Package store keeps the bot's state in Redis through redis.UniversalClient,
// so that a single node, Sentinel and Cluster all work.
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
	"github.com/redis/go-redis/v9"
)

// Store is the bot's data in Redis.
type Store struct {
	rdb       redis.UniversalClient
	prefix    string
	hashKey   []byte
	retention time.Duration
}

// Options configures a Store.
type Options struct {
	// Prefix starts every key, e.g. "outreach:".
	Prefix string
	// HashKey keys the contact hash. Empty: a random key is generated once and
	// kept in Redis, so contact keys stay the same across restarts.
	HashKey []byte
	// Retention is how long a silent contact's state is kept.
	Retention time.Duration
}

// New returns a Store over rdb.
func New(ctx context.Context, rdb redis.UniversalClient, opts Options) (*Store, error) {
	s := &Store{rdb: rdb, prefix: opts.Prefix, hashKey: opts.HashKey, retention: opts.Retention}
	if s.retention <= 0 {
		s.retention = 180 * 24 * time.Hour
	}
	if len(s.hashKey) == 0 {
		key, err := s.storedHashKey(ctx)
		if err != nil {
			return nil, err
		}
		s.hashKey = key
	}
	return s, nil
}

// storedHashKey returns the contact-hash key kept in Redis, making it on first use.
func (s *Store) storedHashKey(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	k := s.prefix + "contact-hash-key"
	if err := s.rdb.SetNX(ctx, k, hex.EncodeToString(fresh), 0).Err(); err != nil {
		return nil, fmt.Errorf("store: contact hash key: %w", err)
	}
	v, err := s.rdb.Get(ctx, k).Result()
	if err != nil {
		return nil, fmt.Errorf("store: contact hash key: %w", err)
	}
	return hex.DecodeString(v)
}

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

func (s *Store) stateKey(contact string) string {
	return s.prefix + "{c:" + contact + "}:state"
}

// ErrConflict means the state changed since it was read: read it again.
var ErrConflict = errors.New("store: contact state changed concurrently")

// State is a contact's stored dialog state and its version.
type State struct {
	Data    []byte
	Version int64
}

// LoadState reads a contact's state. A new contact has no data and version 0.
func (s *Store) LoadState(ctx context.Context, contact string) (State, error) {
	vals, err := s.rdb.HMGet(ctx, s.stateKey(contact), "v", "s").Result()
	if err != nil {
		return State{}, fmt.Errorf("store: load state: %w", err)
	}
	var st State
	if v, ok := vals[0].(string); ok {
		if st.Version, err = strconv.ParseInt(v, 10, 64); err != nil {
			return State{}, fmt.Errorf("store: load state: bad version: %w", err)
		}
	}
	if d, ok := vals[1].(string); ok {
		st.Data = []byte(d)
	}
	return st, nil
}

//go:embed save_state.lua
var saveStateSrc string

var saveState = redis.NewScript(saveStateSrc)

// SaveState writes a contact's new state if it is still at version; else it
// returns ErrConflict and writes nothing. The state expires after the
// retention period without a new message.
func (s *Store) SaveState(ctx context.Context, contact string, version int64, data []byte) error {
	n, err := saveState.Run(ctx, s.rdb, []string{s.stateKey(contact)},
		version, data, s.retention.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("store: save state: %w", err)
	}
	if n == 0 {
		return ErrConflict
	}
	return nil
}

// Subscribe adds a contact to the subscribers of sites.
func (s *Store) Subscribe(ctx context.Context, contact string, sites ...string) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, site := range sites {
			p.SAdd(ctx, s.subscribersKey(site), contact)
		}
		return nil
	})
	return err
}

// Unsubscribe removes a contact from the subscribers of sites.
func (s *Store) Unsubscribe(ctx context.Context, contact string, sites ...string) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, site := range sites {
			p.SRem(ctx, s.subscribersKey(site), contact)
		}
		return nil
	})
	return err
}

// Subscribers returns the contact keys subscribed to a site.
func (s *Store) Subscribers(ctx context.Context, site string) ([]string, error) {
	return s.rdb.SMembers(ctx, s.subscribersKey(site)).Result()
}

func (s *Store) subscribersKey(site string) string {
	return s.prefix + "site:" + site + ":subscribers"
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
}

// AddRequest records a request to talk to a person. id must be unique and
// stable for the message that made it, so that recording twice keeps one.
func (s *Store) AddRequest(ctx context.Context, req Request) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.prefix+"request:"+req.ID, data, s.retention)
		p.ZAdd(ctx, s.prefix+"requests:open", redis.Z{Score: float64(req.CreatedAt.UnixMilli()), Member: req.ID})
		return nil
	})
	return err
}

// OpenRequests returns the open requests, oldest first.
func (s *Store) OpenRequests(ctx context.Context) ([]Request, error) {
	ids, err := s.rdb.ZRange(ctx, s.prefix+"requests:open", 0, -1).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	cmds := make([]*redis.StringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, s.prefix+"request:"+id)
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
	return s.rdb.HSet(ctx, s.prefix+"distributions", d.ID, data).Err()
}

// Distributions returns every stored distribution.
func (s *Store) Distributions(ctx context.Context) ([]engine.Distribution, error) {
	all, err := s.rdb.HGetAll(ctx, s.prefix+"distributions").Result()
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
	v, err := s.rdb.Get(ctx, s.prefix+"sites").Result()
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

// PutSites replaces the stored list of sites.
func (s *Store) PutSites(ctx context.Context, sites []engine.Site) error {
	data, err := json.Marshal(sites)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, s.prefix+"sites", data, 0).Err()
}
