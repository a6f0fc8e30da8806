// Package outbox is the one durable way out of the service: every reply and
// every broadcast is an entry in a Redis stream, read by workers through a
// consumer group and acknowledged only after the provider accepted it. A
// worker that dies mid-send loses nothing: its entries are claimed by
// another. Replies and bulk traffic have streams of their own, so that a
// reply never waits behind a broadcast.
package outbox

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/outreach-org/outreach/bot/keys"
)

// Priority tells replies from bulk traffic.
type Priority string

// The two priorities.
const (
	// Reply is an answer to someone who just wrote.
	Reply Priority = "reply"
	// Bulk is a broadcast or a notice.
	Bulk Priority = "bulk"
)

// Choice is an answer offered with a message, shown as a button where the
// channel has buttons.
type Choice struct {
	Key   string `json:"k"`
	Label string `json:"l"`
}

// Text is one message of an entry.
type Text struct {
	// Text is the message; sealed (encrypted like an address) when Sealed
	// is set, and opened only to send.
	Text    string   `json:"t"`
	Choices []Choice `json:"c,omitempty"`
	// Sealed is set on personal words (staff's reply to one person): the
	// text stays sealed in the stream, in retries and in dead letters.
	Sealed bool `json:"s,omitempty"`
}

// SealedText returns a message whose text was sealed (see store.Seal),
// opened only to send.
func SealedText(sealed string) Text { return Text{Text: sealed, Sealed: true} }

// Entry is what waits to leave for one person at once: the replies of one
// turn, or one notice. Its messages are sent in order, by one worker.
type Entry struct {
	ID      string `json:"id"`
	Channel string `json:"ch"`
	// To is the sealed address; it is opened only to send.
	To string `json:"to"`
	// Contact is the contact key, for acting on permanent errors.
	Contact  string `json:"ck"`
	Messages []Text `json:"msgs,omitempty"`
	// Callback is a Telegram callback query to answer before the messages.
	Callback  string   `json:"cbq,omitempty"`
	Priority  Priority `json:"prio"`
	Broadcast string   `json:"bc,omitempty"`
	// Template is a WhatsApp content template (ContentSid) to send instead
	// of free text, with its variables.
	Template     string            `json:"tpl,omitempty"`
	TemplateVars map[string]string `json:"tplv,omitempty"`
	// Expires, in Unix milliseconds, is when the message is no longer worth
	// sending (a notice of a distribution that is over); zero never.
	Expires int64 `json:"exp,omitempty"`
	// Tries counts failed attempts so far.
	Tries int `json:"tries,omitempty"`
	// Created is when the entry was made, in Unix milliseconds.
	Created int64 `json:"at"`
}

// NewID returns a fresh entry id.
func NewID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NewEntry returns an entry with a fresh id, made now.
func NewEntry(channel, sealedTo, contact string, prio Priority) Entry {
	return Entry{ID: NewID(), Channel: channel, To: sealedTo, Contact: contact, Priority: prio, Created: time.Now().UnixMilli()}
}

// Encode returns the entry as stored in a stream.
func (e Entry) Encode() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// open returns an entry's address and the entry with its sealed texts
// opened, for sending only: what is kept of the entry (its retries, its
// dead letter) stays sealed. reason names what could not be opened.
func (e Entry) open(o Opener) (to string, plain Entry, reason string, err error) {
	if to, err = o.Open(e.To); err != nil {
		return "", Entry{}, "address_unreadable", err
	}
	plain = e
	plain.Messages = make([]Text, len(e.Messages))
	for i, m := range e.Messages {
		if m.Sealed {
			if m.Text, err = o.Open(m.Text); err != nil {
				return "", Entry{}, "text_unreadable", errors.Join(errors.New("outbox: a sealed text does not open"), err)
			}
			m.Sealed = false
		}
		plain.Messages[i] = m
	}
	return to, plain, "", nil
}

func decodeEntry(s string) (Entry, error) {
	var e Entry
	err := json.Unmarshal([]byte(s), &e)
	return e, err
}

// Keys names the outbox's Redis keys (from bot/keys). The streams and
// delayed sets are one a shard: an entry waits in the shard of its
// contact, in the slot of their state, so that a turn appends its replies
// in its own script. A sent message's state and an entry's progress are in
// the shard of their id; dead letters and broadcasts under {o}.
type Keys struct{ s keys.Space }

// NewKeys returns the key names of space ks (its prefix and shard count).
func NewKeys(ks keys.Space) Keys { return Keys{s: ks} }

// Space returns the key space the names are built in.
func (k Keys) Space() keys.Space { return k.s }

// Shards returns the number of shards, each with its streams and delayed set.
func (k Keys) Shards() int { return k.s.Shards() }

// ShardOf returns the shard of a contact key (where the entries to them
// wait) or of an id.
func (k Keys) ShardOf(contactOrID string) int { return k.s.ShardOf(contactOrID) }

// Stream returns shard's stream of one priority.
func (k Keys) Stream(p Priority, shard int) string {
	if p == Reply {
		return k.s.ReplyStream(shard)
	}
	return k.s.BulkStream(shard)
}

// StreamFor returns the stream of one priority that the entries to contact
// go to: that of the contact's shard, in the slot of their state.
func (k Keys) StreamFor(p Priority, contact string) string {
	return k.Stream(p, k.s.ShardOf(contact))
}

// Streams returns the streams of one priority, in shard order.
func (k Keys) Streams(p Priority) []string {
	out := make([]string, k.Shards())
	for i := range out {
		out[i] = k.Stream(p, i)
	}
	return out
}

// Broadcast returns the hash of a broadcast (its definition and status).
func (k Keys) Broadcast(id string) string { return k.s.Broadcast(id) }

// BroadcastCounts returns shard's share of a broadcast's counts (see
// package tally, which reads them summed).
func (k Keys) BroadcastCounts(id string, shard int) string { return k.s.BroadcastCounts(id, shard) }

// BroadcastTold returns the set of the contacts of shard that a broadcast
// reached (the provider accepted their message): corrections go to them.
func (k Keys) BroadcastTold(id string, shard int) string { return k.s.BroadcastTold(id, shard) }

// BroadcastToldOf returns the share of BroadcastTold that holds contact.
func (k Keys) BroadcastToldOf(id, contact string) string {
	return k.s.BroadcastTold(id, k.s.ShardOf(contact))
}

func (k Keys) delayed(shard int) string { return k.s.Delayed(shard) }
func (k Keys) dead() string             { return k.s.Dead() }
func (k Keys) done(id string) string    { return k.s.SentParts(id) }
func (k Keys) status(sid string) string { return k.s.Delivery(sid) }

// shard returns the shard an entry is queued in: its contact's.
func (k Keys) shard(e Entry) int { return k.s.ShardOf(e.Contact) }

// streamShard returns the shard of a stream an entry was read from: the
// one whose keys share its slot. An entry may name no contact (the
// confirmation of an erasure, queued in the erased person's stream), so
// what is written with its acknowledgement goes by the stream, not by the
// entry.
func (k Keys) streamShard(stream string, e Entry) int {
	if i := k.s.ShardOfKey(stream); i >= 0 {
		return i
	}
	return k.shard(e)
}

// attempt holds which part of an entry was last handed to a provider that
// can be asked about it, and when (see Reconciler).
func (k Keys) attempt(id string) string { return k.s.Attempt(id) }

// group is the consumer group every worker reads with.
const group = "senders"
