package access

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
)

// Sessions keeps the console's sessions in Redis for
// github.com/alexedwards/scs/v2 (it implements scs.CtxStore): one key a
// session, expiring with it. Only the session's token hash names the key.
type Sessions struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewSessions returns the session store under prefix.
func NewSessions(rdb redis.UniversalClient, prefix string) *Sessions {
	return &Sessions{rdb: rdb, prefix: prefix}
}

func (s *Sessions) key(token string) string { return keys.New(s.prefix).Session(hashToken(token)) }

// FindCtx returns a session's data; found is false for an unknown or
// expired session.
func (s *Sessions) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	b, err := s.rdb.Get(ctx, s.key(token)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	return b, err == nil, err
}

// CommitCtx stores a session's data until expiry.
func (s *Sessions) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	ttl := time.Until(expiry)
	if ttl <= 0 {
		return s.DeleteCtx(ctx, token)
	}
	return s.rdb.Set(ctx, s.key(token), b, ttl).Err()
}

// DeleteCtx ends a session.
func (s *Sessions) DeleteCtx(ctx context.Context, token string) error {
	return s.rdb.Del(ctx, s.key(token)).Err()
}

// Find is FindCtx without a context (scs.Store).
func (s *Sessions) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a context (scs.Store).
func (s *Sessions) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete is DeleteCtx without a context (scs.Store).
func (s *Sessions) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}
