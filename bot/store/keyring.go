package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
	"github.com/outreach-org/outreach/bot/seal"
)

// The keyring is envelope encryption. A root key, random and made once, is
// where the contact hash and the address seal derive from; Redis keeps it
// only sealed with OUTREACH_DATA_KEY, under "<prefix>keyring". Rotating
// OUTREACH_DATA_KEY seals the root key again and changes no stored data:
// contact keys and sealed addresses stay as they are.
//
// Data written before the keyring existed derived straight from the data
// key: for it, the root key is that data key.

// ErrWrongDataKey means the data key does not open the stored keyring.
var ErrWrongDataKey = errors.New("OUTREACH_DATA_KEY does not open the keys stored in Redis: it is not the key this data was written with (when rotating, give the former one as OUTREACH_DATA_KEY_PREVIOUS)")

// rewrap seals the keyring again, only if it is still what was read.
var rewrap = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) return 1 end return 0`)

func (s *Store) keyring(ctx context.Context, dataKey, previous []byte) ([]byte, error) {
	k := s.keys.Keyring()
	sealed, err := s.rdb.Get(ctx, k).Result()
	if errors.Is(err, redis.Nil) {
		root, err := s.newRoot(ctx, dataKey, previous)
		if err != nil {
			return nil, err
		}
		if err := s.rdb.SetNX(ctx, k, wrap(dataKey, root), 0).Err(); err != nil {
			return nil, fmt.Errorf("store: keyring: %w", err)
		}
		// Another instance may have made it first: read what is kept.
		if sealed, err = s.rdb.Get(ctx, k).Result(); err != nil {
			return nil, fmt.Errorf("store: keyring: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("store: keyring: %w", err)
	}
	if root, err := unwrap(dataKey, sealed); err == nil {
		return root, nil
	}
	if previous == nil {
		return nil, ErrWrongDataKey
	}
	root, err := unwrap(previous, sealed)
	if err != nil {
		return nil, fmt.Errorf("neither OUTREACH_DATA_KEY nor OUTREACH_DATA_KEY_PREVIOUS opens the keys stored in Redis")
	}
	if err := rewrap.Run(ctx, s.rdb, []string{k}, sealed, wrap(dataKey, root)).Err(); err != nil {
		return nil, fmt.Errorf("store: keyring: sealing it with the new key: %w", err)
	}
	s.rotated = true
	return root, nil
}

// newRoot makes the root key of a new keyring: random for a new
// deployment; for contacts written before the keyring, the data key they
// were written with — the one that opens their sealed addresses (with a
// rotation under way, that is the previous key).
func (s *Store) newRoot(ctx context.Context, dataKey, previous []byte) ([]byte, error) {
	// Contacts of a former version are on every master of a Cluster.
	legacy, seen := false, 0
	var found []byte
	err := keys.Scan(ctx, s.rdb, s.keys.Glob(keys.ContactStateF), func(k string) error {
		if s.keys.Family(k) != keys.ContactStateF {
			return nil
		}
		legacy, seen = true, seen+1
		a, err := s.rdb.HGet(ctx, k, "a").Result()
		if errors.Is(err, redis.Nil) || a == "" {
			if seen >= 1000 {
				return keys.ErrStop
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: keyring: %w", err)
		}
		for _, candidate := range [][]byte{previous, dataKey} {
			if candidate == nil {
				continue
			}
			box, _ := seal.New(seal.Derive(candidate, "address-seal"))
			if _, err := box.Open(a); err == nil {
				found = candidate
				return keys.ErrStop
			}
		}
		return fmt.Errorf("store: keyring: the addresses kept in Redis were sealed with another key than OUTREACH_DATA_KEY (or OUTREACH_DATA_KEY_PREVIOUS)")
	})
	if err != nil {
		return nil, err
	}
	if found != nil {
		return found, nil
	}
	if legacy {
		if previous != nil {
			return previous, nil
		}
		return dataKey, nil
	}
	root := make([]byte, 32)
	if _, err := rand.Read(root); err != nil {
		return nil, err
	}
	return root, nil
}

func wrap(dataKey, root []byte) string {
	box, _ := seal.New(seal.Derive(dataKey, "keyring"))
	return box.Seal(hex.EncodeToString(root))
}

func unwrap(dataKey []byte, sealed string) ([]byte, error) {
	box, err := seal.New(seal.Derive(dataKey, "keyring"))
	if err != nil {
		return nil, err
	}
	plain, err := box.Open(sealed)
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(plain)
}
