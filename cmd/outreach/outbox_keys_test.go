package main

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
)

// The outbox and the subscriber sets are split into shards (bot/keys): the
// tests read every shard's share, under the default shard count.

// replyLen is how many replies wait in the outbox, every shard counted.
func replyLen(rdb redis.UniversalClient, prefix string) int64 {
	k := keys.New(prefix)
	var n int64
	for i := range k.Shards() {
		n += rdb.XLen(context.Background(), k.ReplyStream(i)).Val()
	}
	return n
}

// bulkLen is how many notices and broadcast messages wait in the outbox.
func bulkLen(rdb redis.UniversalClient, prefix string) int64 {
	k := keys.New(prefix)
	var n int64
	for i := range k.Shards() {
		n += rdb.XLen(context.Background(), k.BulkStream(i)).Val()
	}
	return n
}

// replyPending is how many replies workers hold (read, not acknowledged).
func replyPending(rdb redis.UniversalClient, prefix string) (int64, error) {
	k := keys.New(prefix)
	var n int64
	for i := range k.Shards() {
		p, err := rdb.XPending(context.Background(), k.ReplyStream(i), "senders").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return 0, err
		}
		if p != nil {
			n += p.Count
		}
	}
	return n, nil
}

// delayed returns the entries waiting for a retry, every shard's.
func delayed(rdb redis.UniversalClient, prefix string) []string {
	k := keys.New(prefix)
	var out []string
	for i := range k.Shards() {
		out = append(out, rdb.ZRange(context.Background(), k.Delayed(i), 0, -1).Val()...)
	}
	return out
}

// isDelayed reports whether key is one shard's delayed set.
func isDelayed(prefix, key string) bool {
	return keys.New(prefix).Family(key) == keys.DelayedF
}

// subscriberCount is how many people follow a site, every shard counted.
func subscriberCount(rdb redis.UniversalClient, prefix, site string) int64 {
	k := keys.New(prefix)
	var n int64
	for i := range k.Shards() {
		n += rdb.SCard(context.Background(), k.Subscribers(site, i)).Val()
	}
	return n
}
