package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"
)

// Reply is one reply of staff to a request, as kept: its text sealed,
// like the person's own words.
type Reply struct {
	At time.Time `json:"at"`
	// By is who replied: a console username or an API token's name, never
	// anything of the person.
	By string `json:"by"`
	// Text is sealed (Seal); Thread opens it.
	Text string `json:"text"`
	// After is how many of the person's later notes were there when staff
	// replied, which places the reply in the thread.
	After int `json:"after"`
}

// Requests is the requests to talk to a person and staff's replies to
// them: listed for staff, kept under the person, erased with them.
type Requests struct{ s *Store }

// Requests returns the requests of the store.
func (s *Store) Requests() Requests { return Requests{s} }

// Unseal opens a text sealed in a request: the person's notes, staff's
// replies.
func (q Requests) Unseal(sealed string) (string, error) { return q.s.Open(sealed) }

func (s *Store) repliesKey(id string) string  { return s.keys.RequestReplies(id) }
func (s *Store) assigneeKey(id string) string { return s.keys.RequestAssignee(id) }

// StaffOrder sorts requests as staff answer them: urgent ones first, then
// the one waiting longest.
func StaffOrder(reqs []Request) {
	slices.SortStableFunc(reqs, func(a, b Request) int {
		if a.Urgent != b.Urgent {
			if a.Urgent {
				return -1
			}
			return 1
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
}

// Unreadable stands for a sealed text that does not open.
const Unreadable = "(unreadable)"

// Thread is a request as staff read it, its texts opened.
type Thread struct {
	Request Request
	// Text is what the person wrote when asking.
	Text string
	// Then is what the person wrote after, in order.
	Then []string
	// Replies are staff's replies, their texts opened.
	Replies []Reply
	// Messages are the person's words and staff's replies, in the order
	// they came: the request, then the notes and replies as they followed.
	Messages []Message
}

// Message is one message of a thread.
type Message struct {
	// Staff is set for a staff reply; else the person wrote it.
	Staff bool
	// By is who of staff replied.
	By string
	// At is when the request was made or the reply sent; zero for the
	// person's later notes, whose times are not kept.
	At   time.Time
	Text string
}

// OpenThread opens a request's texts with open (Store.Open): the first
// text, the notes written after it and staff's replies. What does not open
// reads Unreadable.
func OpenThread(open func(sealed string) (string, error), req Request, notes []string, replies []Reply) Thread {
	read := func(sealed string) string {
		t, err := open(sealed)
		if err != nil {
			return Unreadable
		}
		return t
	}
	th := Thread{Request: req, Text: read(req.Text)}
	th.Messages = append(th.Messages, Message{At: req.CreatedAt, Text: th.Text})
	for _, n := range notes {
		th.Then = append(th.Then, read(n))
	}
	next := 0 // the next note to place
	for _, r := range replies {
		r.Text = read(r.Text)
		th.Replies = append(th.Replies, r)
		for ; next < len(th.Then) && next < r.After; next++ {
			th.Messages = append(th.Messages, Message{Text: th.Then[next]})
		}
		th.Messages = append(th.Messages, Message{Staff: true, By: r.By, At: r.At, Text: r.Text})
	}
	for ; next < len(th.Then); next++ {
		th.Messages = append(th.Messages, Message{Text: th.Then[next]})
	}
	return th
}

// Add records a request to talk to a person outside a turn (a
// call, an import, a test): as a turn records it, listed for staff and
// under the person.
func (q Requests) Add(ctx context.Context, req Request) error {
	ws, err := q.s.requestWrites(req)
	if err != nil {
		return err
	}
	ws = append(ws, q.s.requestIndexWrites(req.Contact, req.ID)...)
	_, err = q.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, w := range ws {
			p.Do(ctx, append([]any{w.cmd, w.key}, w.args...)...)
		}
		return nil
	})
	return err
}

// Get returns one request and the notes written after it (sealed).
func (q Requests) Get(ctx context.Context, id string) (Request, []string, error) {
	var get *redis.StringCmd
	var notes *redis.StringSliceCmd
	_, err := q.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, q.s.requestKey(id))
		notes = p.LRange(ctx, q.s.notesKey(id), 0, 99)
		return nil
	})
	if errors.Is(err, redis.Nil) || errors.Is(get.Err(), redis.Nil) {
		return Request{}, nil, ErrNoRequest
	} else if err != nil {
		return Request{}, nil, err
	}
	var r Request
	if err := json.Unmarshal([]byte(get.Val()), &r); err != nil {
		return Request{}, nil, err
	}
	return r, notes.Val(), nil
}

// Put replaces a request; closing one moves it out of the open list.
func (q Requests) Put(ctx context.Context, r Request) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// The request and its shard's indexes share a slot: one MULTI.
	i := q.s.keys.ShardOf(r.ID)
	_, err = q.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, q.s.requestKey(r.ID), data, q.s.retention)
		if !r.Open {
			p.ZRem(ctx, q.s.keys.OpenRequests(i), r.ID)
			p.SRem(ctx, q.s.keys.UrgentRequests(i), r.ID)
			p.ZAdd(ctx, q.s.keys.ClosedRequests(i), redis.Z{Score: float64(r.CreatedAt.UnixMilli()), Member: r.ID})
		}
		return nil
	})
	return err
}

// openIDs returns the ids of the open requests of every shard, oldest
// first.
func (q Requests) openIDs(ctx context.Context) ([]string, error) {
	cmds := make([]*redis.ZSliceCmd, q.s.keys.Shards())
	if _, err := q.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range cmds {
			cmds[i] = p.ZRangeWithScores(ctx, q.s.keys.OpenRequests(i), 0, -1)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var all []redis.Z
	for _, cmd := range cmds {
		all = append(all, cmd.Val()...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Score < all[j].Score })
	ids := make([]string, len(all))
	for i, z := range all {
		ids[i], _ = z.Member.(string)
	}
	return ids, nil
}

// List returns the open requests, oldest first.
func (q Requests) List(ctx context.Context) ([]Request, error) {
	ids, err := q.openIDs(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	cmds := make([]*redis.StringCmd, len(ids))
	if _, err := q.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, q.s.requestKey(id))
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

// MarkUrgent flags a request urgent: for words of danger written while it
// is open, after it was recorded as not urgent. It reports whether the
// request changed.
func (q Requests) MarkUrgent(ctx context.Context, id string) (bool, error) {
	n, err := markUrgentScript.Run(ctx, q.s.rdb, []string{q.s.requestKey(id), q.s.keys.UrgentRequests(q.s.keys.ShardOf(id))}, id).Int()
	return n == 1, err
}

// Counts returns how many requests to a person are open, and how
// many of those are urgent, in one round trip whatever their number.
func (q Requests) Counts(ctx context.Context) (open, urgent int64, err error) {
	n := q.s.keys.Shards()
	o, u := make([]*redis.IntCmd, n), make([]*redis.IntCmd, n)
	_, err = q.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			o[i] = p.ZCard(ctx, q.s.keys.OpenRequests(i))
			u[i] = p.SCard(ctx, q.s.keys.UrgentRequests(i))
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	for i := range n {
		open += o[i].Val()
		urgent += u[i].Val()
	}
	return open, urgent, nil
}

// AddReply keeps a staff reply to a request; the list expires with the
// request, the retention period after the last reply.
func (q Requests) AddReply(ctx context.Context, id string, r Reply) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = q.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, q.s.repliesKey(id), data)
		p.PExpire(ctx, q.s.repliesKey(id), q.s.retention)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: reply: %w", err)
	}
	return nil
}

// Replies returns staff's replies to a request, oldest first, their texts
// sealed.
func (q Requests) Replies(ctx context.Context, id string) ([]Reply, error) {
	raw, err := q.s.rdb.LRange(ctx, q.s.repliesKey(id), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("store: replies: %w", err)
	}
	out := make([]Reply, 0, len(raw))
	for _, v := range raw {
		var r Reply
		if err := json.Unmarshal([]byte(v), &r); err != nil {
			return nil, fmt.Errorf("store: replies of %s: %w", id, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Assign records who of staff takes care of a request: a console
// username, which replaces any earlier one. It answers ErrNoRequest when
// the request does not exist (expired or erased). The assignee expires
// with the request, and erasure deletes it with the request.
func (q Requests) Assign(ctx context.Context, id, username string) error {
	if username == "" {
		return errors.New("store: assign: no username")
	}
	// Two commands, not a script: the two keys may live on different
	// cluster nodes. Should the request be erased in between, the
	// assignee alone is left, naming nobody's request, until it expires.
	n, err := q.s.rdb.Exists(ctx, q.s.requestKey(id)).Result()
	if err != nil {
		return fmt.Errorf("store: assign: %w", err)
	}
	if n == 0 {
		return ErrNoRequest
	}
	if err := q.s.rdb.Set(ctx, q.s.assigneeKey(id), username, q.s.retention).Err(); err != nil {
		return fmt.Errorf("store: assign: %w", err)
	}
	return nil
}

// Assignees returns who is assigned to each of the requests ids, in one
// round trip: "" for a request nobody took.
func (q Requests) Assignees(ctx context.Context, ids ...string) ([]string, error) {
	out := make([]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cmds := make([]*redis.StringCmd, len(ids))
	_, err := q.s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, q.s.assigneeKey(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("store: assignees: %w", err)
	}
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
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
	// Urgent is set when the text holds a word of danger.
	Urgent bool `json:"urgent,omitempty"`
	// Replies counts staff's replies.
	Replies int `json:"replies,omitempty"`
}

// requestWrites returns the writes that record a request to talk to a person.
func (s *Store) requestWrites(req Request) ([]write, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	i := s.keys.ShardOf(req.ID)
	ws := []write{
		{"SET", s.requestKey(req.ID), []any{data, "PX", s.retention.Milliseconds()}},
		{"ZADD", s.keys.OpenRequests(i), []any{req.CreatedAt.UnixMilli(), req.ID}},
	}
	if req.Urgent && req.Open {
		ws = append(ws, write{"SADD", s.keys.UrgentRequests(i), []any{req.ID}})
	}
	return ws, nil
}

func (s *Store) requestKey(id string) string { return s.keys.Request(id) }

func (s *Store) notesKey(id string) string { return s.keys.RequestNotes(id) }

// noteWrites returns the writes that add what a person wrote to their open
// request (sealed text).
func (s *Store) noteWrites(id, sealed string) []write {
	return []write{
		{"RPUSH", s.notesKey(id), []any{sealed}},
		{"PEXPIRE", s.notesKey(id), []any{s.retention.Milliseconds()}},
	}
}

// ErrNoRequest means no request has that id.
var ErrNoRequest = errors.New("store: no such request")

// markUrgentScript sets "urgent" in a stored request, keeping its expiry,
// and lists it among the urgent ones while it is open; a request that is
// gone is left gone.
//
// KEYS[1] the request, KEYS[2] the urgent requests. ARGV[1] its id.
var markUrgentScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local r = cjson.decode(v)
if r.urgent then return 0 end
r.urgent = true
redis.call('SET', KEYS[1], cjson.encode(r), 'KEEPTTL')
if r.open then redis.call('SADD', KEYS[2], ARGV[1]) end
return 1
`)

// requestsOfKey is the set of a contact's requests to a person, so that
// erasure finds them.
func (s *Store) requestsOfKey(contact string) string { return s.keys.RequestsOf(contact) }

// requestIndexWrites return the writes that list a request under its
// contact. The list expires with the requests it names: the retention
// period after the last one.
func (s *Store) requestIndexWrites(contact, id string) []write {
	k := s.requestsOfKey(contact)
	return []write{
		{"SADD", k, []any{id}},
		{"PEXPIRE", k, []any{s.retention.Milliseconds()}},
	}
}
