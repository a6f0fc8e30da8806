package keys

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
)

// DefaultShards is how many shards the keys about people are spread over
// unless configured (OUTREACH_REDIS_SHARDS).
const DefaultShards = 16

// MaxShards bounds the shard count: a shard is one hash slot, and on a
// Cluster the outbox workers of each instance hold two blocking reads on
// each (replies and bulk), each on a connection of its own.
const MaxShards = 256

// slots is the number of hash slots of a Redis Cluster.
const slots = 16384

// A shard holds the keys of the people whose contact key falls in it,
// under one hash tag: their state and conversation, their requests, their
// place in subscriber sets, the outbox entries to them and a broadcast's
// record of them. A turn, a request or a broadcast's fan-out to one shard
// is then one script on one slot of a Redis Cluster, and the shards spread
// the people over the masters. A family whose pattern holds "{#}" is
// sharded: "#" stands for the shard's tag.
//
// The tag of shard i of n is chosen so that its slot falls in the i-th of
// n equal ranges of the 16,384 slots: on a Cluster whose masters own equal
// ranges (as redis-cli --cluster create makes them), the shards are spread
// evenly over the masters.

// ShardRule says how a family's key finds its shard.
type ShardRule string

// The shard rules.
const (
	// NotSharded: the family's pattern has no "{#}".
	NotSharded ShardRule = ""
	// ByFirstPart: the shard is that of the first part (a contact key, a
	// request or provider message id): Key finds it.
	ByFirstPart ShardRule = "by its first part"
	// Explicit: the key is one of each shard (a stream, an index, a
	// subscriber set's share): built with KeyIn.
	Explicit ShardRule = "one key a shard"
)

// WithShards returns the space with its sharded keys spread over n shards
// (1 ≤ n ≤ MaxShards). The count is part of where the data is: it cannot
// change without moving the data (see store.New, which records it).
func (s Space) WithShards(n int) Space {
	if n < 1 || n > MaxShards {
		panic("keys: shard count out of range: " + strconv.Itoa(n))
	}
	s.shards = n
	return s
}

// Shards returns the number of shards.
func (s Space) Shards() int {
	if s.shards == 0 {
		return DefaultShards
	}
	return s.shards
}

// ShardOf returns the shard of a contact key or an id: FNV-1a of it,
// modulo the shard count. It must never change: it places the data.
func (s Space) ShardOf(part string) int {
	h := fnv.New32a()
	h.Write([]byte(part))
	return int(h.Sum32() % uint32(s.Shards()))
}

// ShardTag returns the hash tag of shard i, with its braces: "{s3.12}".
func (s Space) ShardTag(i int) string { return "{" + tagsOf(s.Shards())[i] + "}" }

// DrawInShard calls draw until it returns an id of shard i, and returns
// that id: so that a request's keys sit in its person's shard. Each draw
// has one chance in Shards of landing there.
func (s Space) DrawInShard(i int, draw func() string) string {
	for {
		if id := draw(); s.ShardOf(id) == i {
			return id
		}
	}
}

var (
	tagsMu sync.Mutex
	tagsBy = map[int][]string{}
)

// tagsOf returns the tags of the n shards (without braces), computed once.
func tagsOf(n int) []string {
	tagsMu.Lock()
	defer tagsMu.Unlock()
	if t, ok := tagsBy[n]; ok {
		return t
	}
	t := make([]string, n)
	for i := range n {
		lo, hi := i*slots/n, (i+1)*slots/n
		for j := 0; ; j++ {
			tag := fmt.Sprintf("s%d.%d", i, j)
			if slot := int(crc16(tag) % slots); slot >= lo && slot < hi {
				t[i] = tag
				break
			}
		}
	}
	tagsBy[n] = t
	return t
}

// Slot returns the Redis Cluster hash slot of a key: CRC16 (XMODEM) of its
// hash tag, or of the whole key when it has none, modulo 16,384.
func Slot(key string) int {
	if i := indexByte(key, '{'); i >= 0 {
		if j := indexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16(key) % slots)
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// crc16 is CRC-16/XMODEM, the checksum Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
