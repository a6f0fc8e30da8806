// Package store keeps the bot's state in Redis through redis.UniversalClient.
// Its keys are named by bot/keys. The turn script writes the contact's keys,
// the outbox stream of their shard, their share of subscriber sets and
// their requests at once: all of them sit in the person's shard (one hash
// slot), so that it runs on one node, Sentinel or Redis Cluster alike.
//
// A contact's shard comes from the contact key, a keyed hash (HMAC-SHA256)
// of channel and address, so no key, log line or metric shows a phone
// number or a chat id.
//
// A Store's work is split by job: the conversation's turn (LoadState,
// Commit, Confirm; turn.go); the people themselves — how to reach them,
// what providers said of their addresses, what they follow, their erasure
// and the retention purge (Contacts; contacts.go, erase.go); and requests
// to talk to a person with staff's replies (Requests; requests.go). The
// Store itself holds what they share: the client, the key space and the
// data key's seal.
package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
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
	// Shards is how many shards the keys about people are spread over
	// (OUTREACH_REDIS_SHARDS); zero means keys.DefaultShards. It is
	// recorded in Redis on first use: another count is refused, since the
	// data sits where the first one put it.
	Shards int
}

// ErrShards means the configured shard count is not the one the data was
// written with.
var ErrShards = errors.New("store: the shard count differs from the one the data was written with")

// New returns a Store over rdb.
func New(ctx context.Context, rdb redis.UniversalClient, opts Options) (*Store, error) {
	shards := opts.Shards
	if shards == 0 {
		shards = keys.DefaultShards
	}
	if shards < 1 || shards > keys.MaxShards {
		return nil, fmt.Errorf("store: %d shards: want 1 to %d", shards, keys.MaxShards)
	}
	space := keys.New(opts.Prefix).WithShards(shards)
	s := &Store{rdb: rdb, keys: space, base: space, retention: opts.Retention,
		replicas: opts.Replicas, replicaWait: opts.ReplicaTimeout}
	if err := s.recordShards(ctx); err != nil {
		return nil, err
	}
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

// recordShards records the shard count on first use, and refuses another.
func (s *Store) recordShards(ctx context.Context) error {
	k := s.keys.ShardCount()
	n := s.keys.Shards()
	if err := s.rdb.SetNX(ctx, k, n, 0).Err(); err != nil {
		return fmt.Errorf("store: shard count: %w", err)
	}
	got, err := s.rdb.Get(ctx, k).Int()
	if err != nil {
		return fmt.Errorf("store: shard count: %w", err)
	}
	if got != n {
		return fmt.Errorf("%w: the data is in %d shards, %d are configured (OUTREACH_REDIS_SHARDS)", ErrShards, got, n)
	}
	return nil
}

// Shard returns a contact's shard (see bot/keys).
func (s *Store) Shard(contact string) int { return s.keys.ShardOf(contact) }

// NewRequestID returns a fresh id for a request of contact: drawn in the
// contact's shard, so that the request's keys sit next to the person's and
// the turn that records it stays in one slot.
func (s *Store) NewRequestID(contact string) string {
	return s.keys.DrawInShard(s.Shard(contact), func() string {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			panic(err) // crypto/rand does not fail on supported systems
		}
		return hex.EncodeToString(b)
	})
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
// prefix: "<prefix>sim:{s3.12}:c:…:state" (see keys.SimulationSpace).
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

// setIfKept sets a field of a contact's state only while the state exists,
// so that a mark never recreates a purged contact without its expiry.
var setIfKept = redis.NewScript(`if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 0`)

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
	for try := range 20 {
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
		// Another change landed first: let the writers part before the
		// next try.
		time.Sleep(time.Duration(mathrand.IntN(1000*(try+1))) * time.Microsecond)
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
