package keys

import (
	"fmt"
	"testing"
)

// Slot agrees with Redis Cluster's CLUSTER KEYSLOT (values from Redis's
// documentation and its test suite).
func TestSlot(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]int{
		"123456789":         12739, // CRC16/XMODEM check value 0x31C3
		"foo":               12182,
		"{user1000}.a":      Slot("user1000"),
		"x{user1000}.b":     Slot("user1000"),
		"{}x":               Slot("{}x"),
		"a{b}c{d}":          Slot("b"),
		"outreach:{s0.0}:x": Slot("s0.0"),
	} {
		if got := Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
}

// Each shard's tag falls in its own equal range of the slots, so that on a
// Cluster of three masters with equal ranges no master holds more than
// ⌈16/3⌉ of the 16 shards; a contact's keys all sit in one slot.
func TestShardsSpreadOverTheSlots(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 3, 16, 64, MaxShards} {
		s := New("p:").WithShards(n)
		seen := map[string]bool{}
		for i := range n {
			tag := s.ShardTag(i)
			slot := Slot(tag)
			if lo, hi := i*slots/n, (i+1)*slots/n; slot < lo || slot >= hi || seen[tag] {
				t.Fatalf("%d shards: shard %d's tag %s is in slot %d, not in [%d, %d)", n, i, tag, slot, lo, hi)
			}
			seen[tag] = true
		}
	}
	s := New("p:")
	masters := [3]int{}
	for i := range s.Shards() {
		masters[Slot(s.ShardTag(i))*3/slots]++
	}
	for m, n := range masters {
		if n > 6 {
			t.Errorf("master %d (a third of the slots) holds %d of the 16 shards", m, n)
		}
	}
	c := "0123456789abcdef0123456789abcdef"
	one := Slot(s.ContactState(c))
	for _, k := range []string{s.Dialog(c), s.Seen(c), s.MinuteCount(c, "1"), s.RequestsOf(c), s.ReplyStream(s.ShardOf(c)),
		s.BulkStream(s.ShardOf(c)), s.SubscribersOf("nador", c), s.BroadcastRecipients("b", s.ShardOf(c))} {
		if Slot(k) != one {
			t.Errorf("%s is in slot %d, the contact's state in %d", k, Slot(k), one)
		}
	}
}

// Contacts spread evenly over the shards, and DrawInShard draws an id of
// the shard asked for.
func TestShardOf(t *testing.T) {
	t.Parallel()
	s := New("p:")
	count := make([]int, s.Shards())
	for i := range 16000 {
		count[s.ShardOf(fmt.Sprintf("%032x", i*7919))]++
	}
	for i, n := range count {
		if n < 800 || n > 1200 {
			t.Errorf("shard %d holds %d of 16,000 contacts", i, n)
		}
	}
	n := 0
	id := s.DrawInShard(5, func() string { n++; return fmt.Sprintf("r%d", n) })
	if s.ShardOf(id) != 5 {
		t.Errorf("DrawInShard(5) = %q, of shard %d", id, s.ShardOf(id))
	}
	if Slot(s.Request(id)) != Slot(s.ReplyStream(5)) {
		t.Error("a request drawn in shard 5 is not in its slot")
	}
	if s.ShardOfKey(s.Request(id)) != 5 || s.ShardOfKey(s.Sites()) != -1 {
		t.Error("ShardOfKey")
	}
}
