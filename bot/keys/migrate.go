package keys

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// renamed are the key names of versions before this keyspace that now
// carry a hash tag: old name after the prefix (a trailing "*" for a
// family of names), and the new start that replaces the old one's.
var renamed = []struct{ old, from, to string }{
	{"request:*", "request:", "{r}:request:"},
	{"requests:open", "requests:open", "{r}:requests:open"},
	{"requests:closed", "requests:closed", "{r}:requests:closed"},
	{"token:*", "token:", "{tokens}:token:"},
	{"tokens", "tokens", "{tokens}:names"},
	{"content:current", "content:current", "{content}:current"},
	{"content:seq", "content:seq", "{content}:seq"},
	{"content:versions", "content:versions", "{content}:versions"},
	{"content:v:*", "content:v:", "{content}:v:"},
}

// Migrate renames the keys written under their former names (before
// requests, API tokens and content versions got their hash tags), keeping
// their expiry, and returns how many it moved. It copies (DUMP, RESTORE)
// and deletes rather than RENAME, which a Cluster refuses across slots.
// When the new name exists already, it is kept and the old one deleted.
// Running it again, or on two instances at once, does no harm; stop the
// instances of the former version first, or what they write after is lost.
func Migrate(ctx context.Context, rdb redis.UniversalClient, s Space) (int, error) {
	moved := 0
	for _, r := range renamed {
		var olds []string
		glob := s.prefix + r.old
		if !strings.HasSuffix(r.old, "*") {
			n, err := rdb.Exists(ctx, glob).Result()
			if err != nil {
				return moved, fmt.Errorf("keys: migrate: %w", err)
			}
			if n == 1 {
				olds = append(olds, glob)
			}
		} else if err := Scan(ctx, rdb, glob, func(k string) error { olds = append(olds, k); return nil }); err != nil {
			return moved, fmt.Errorf("keys: migrate: %w", err)
		}
		for _, old := range olds {
			to := s.prefix + r.to + strings.TrimPrefix(old, s.prefix+r.from)
			if s.Family(to) == nil {
				continue // not a key of the former version
			}
			ok, err := move(ctx, rdb, old, to)
			if err != nil {
				return moved, fmt.Errorf("keys: migrate: %w", err)
			}
			if ok {
				moved++
			}
		}
	}
	return moved, nil
}

// move copies old to new with its expiry, unless new exists, then deletes
// old. It reports whether it copied.
func move(ctx context.Context, rdb redis.UniversalClient, old, to string) (bool, error) {
	dump, err := rdb.Dump(ctx, old).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil // moved meanwhile
	} else if err != nil {
		return false, err
	}
	ttl, err := rdb.PTTL(ctx, old).Result()
	if err != nil {
		return false, err
	}
	if ttl < 0 {
		ttl = 0
	}
	copied := true
	if err := rdb.Restore(ctx, to, ttl, dump).Err(); err != nil {
		if !strings.Contains(err.Error(), "BUSYKEY") {
			return false, err
		}
		copied = false
	}
	return copied, rdb.Del(ctx, old).Err()
}
