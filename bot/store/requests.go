package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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

func (s *Store) repliesKey(id string) string  { return s.keys.RequestReplies(id) }
func (s *Store) assigneeKey(id string) string { return s.keys.RequestAssignee(id) }

// AddReply keeps a staff reply to a request; the list expires with the
// request, the retention period after the last reply.
func (s *Store) AddReply(ctx context.Context, id string, r Reply) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, s.repliesKey(id), data)
		p.PExpire(ctx, s.repliesKey(id), s.retention)
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: reply: %w", err)
	}
	return nil
}

// Replies returns staff's replies to a request, oldest first, their texts
// sealed.
func (s *Store) Replies(ctx context.Context, id string) ([]Reply, error) {
	raw, err := s.rdb.LRange(ctx, s.repliesKey(id), 0, -1).Result()
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
func (s *Store) Assign(ctx context.Context, id, username string) error {
	if username == "" {
		return errors.New("store: assign: no username")
	}
	// Two commands, not a script: the two keys may live on different
	// cluster nodes. Should the request be erased in between, the
	// assignee alone is left, naming nobody's request, until it expires.
	n, err := s.rdb.Exists(ctx, s.requestKey(id)).Result()
	if err != nil {
		return fmt.Errorf("store: assign: %w", err)
	}
	if n == 0 {
		return ErrNoRequest
	}
	if err := s.rdb.Set(ctx, s.assigneeKey(id), username, s.retention).Err(); err != nil {
		return fmt.Errorf("store: assign: %w", err)
	}
	return nil
}

// Assignees returns who is assigned to each of the requests ids, in one
// round trip: "" for a request nobody took.
func (s *Store) Assignees(ctx context.Context, ids ...string) ([]string, error) {
	out := make([]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	cmds := make([]*redis.StringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Get(ctx, s.assigneeKey(id))
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
