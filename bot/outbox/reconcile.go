package outbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Reconciler is a Sender that can tell whether a message it was asked to
// send reached the provider, for a send whose answer never came (the
// provider answered after the timeout, or the process died before
// recording the answer). Twilio can (its Messages list); Telegram cannot.
type Reconciler interface {
	// Lookup returns the provider's id of m if the provider took it at or
	// after since, and found false if it did not. An error means it could
	// not tell.
	Lookup(ctx context.Context, m Message, since time.Time) (providerID string, found bool, err error)
}

// attempt is a send handed to a provider whose outcome was not recorded.
type attempt struct {
	part int
	at   time.Time
	ok   bool
}

// markAttempt records, before a provider is called, that part of an entry
// is about to be handed to it. The mark stays until the part is recorded
// as sent or refused; one still there on a retry means the outcome is
// unknown, and the provider is asked first.
func (w *Worker) markAttempt(ctx context.Context, entryID string, part int) error {
	v := fmt.Sprintf("%d:%d", part, w.opts.Clock.Now().UnixMilli())
	return w.o.rdb.Set(ctx, w.o.keys.attempt(entryID), v, w.o.doneTTL).Err()
}

// progress reads how many parts of an entry were sent and, when the
// channel can be asked (ask), the part whose outcome is unknown.
func (w *Worker) progress(ctx context.Context, entryID string, ask bool) (done int, a attempt, err error) {
	var doneCmd, tryCmd *redis.StringCmd
	_, err = w.o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		doneCmd = p.Get(ctx, w.o.keys.done(entryID))
		if ask {
			tryCmd = p.Get(ctx, w.o.keys.attempt(entryID))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, attempt{}, err
	}
	if done, err = doneCmd.Int(); err != nil && !errors.Is(err, redis.Nil) {
		return 0, attempt{}, err
	}
	if tryCmd == nil {
		return done, attempt{}, nil
	}
	part, ms, ok := strings.Cut(tryCmd.Val(), ":")
	a.part, err = strconv.Atoi(part)
	at, err2 := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || err2 != nil {
		return done, attempt{}, nil // none, or unreadable: nothing to ask
	}
	a.at, a.ok = time.UnixMilli(at), true
	switch {
	case a.part < done:
		a.ok = false // recorded since
	case a.part > done:
		// A part is handed over only once those before it were sent: their
		// record failed, they were sent all the same.
		done = a.part
	}
	return done, a, nil
}

// reconcile asks the provider whether the part attempted at since reached
// it. found: it did, under id, and is recorded as sent without being sent
// again. An error means it could not tell: the entry is tried again later,
// and asked again.
func (w *Worker) reconcile(ctx context.Context, rec Reconciler, e Entry, msg Message, since time.Time) (id string, found bool, err error) {
	lookupCtx, cancel := context.WithTimeout(ctx, w.opts.SendTimeout)
	id, found, err = rec.Lookup(lookupCtx, msg, since)
	cancel()
	if err != nil {
		return "", false, &SendError{Failure: Retry, Reason: "lookup_" + reasonOf(err), MaybeSent: true}
	}
	if found && id != "" {
		// A message recorded for another entry (the same words to the same
		// person) is not this one's.
		owner, err := w.o.rdb.HGet(ctx, w.o.keys.status(id), "id").Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return "", false, &SendError{Failure: Retry, Reason: "lookup_redis", MaybeSent: true}
		}
		if owner != "" && owner != e.ID {
			found = false
		}
	}
	if found {
		w.log.Info("a send whose answer never came reached the provider: recorded, not sent again", "channel", e.Channel, "entry", e.ID)
	} else {
		w.log.Info("a send whose answer never came did not reach the provider: sent again", "channel", e.Channel, "entry", e.ID)
	}
	return id, found, nil
}

// maybeSent reports whether a failed send may have reached the provider.
func maybeSent(err error) bool {
	var se *SendError
	if errors.As(err, &se) {
		return se.MaybeSent
	}
	return true
}
