package dialog

import (
	"context"
	"errors"
	"fmt"

	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/store"
)

// People is what the dialog records of the people themselves, apart from
// their conversation: their choices (opted out, blocked), what providers
// said of their addresses, whether a message may be sent to them, and
// their erasure and the retention purge.
type People struct{ s *Service }

// People returns the service's people.
func (s *Service) People() People { return People{s} }

// SetOptedOut records that a person stopped messages at the provider
// (Twilio's STOP, error 21610): their site subscriptions are kept, but no
// notice reaches them until they opt in again.
func (ps People) SetOptedOut(ctx context.Context, contact string, opted bool) error {
	return ps.s.update(ctx, contact, func(st *engine.State) bool {
		if st.OptedOut == opted {
			return false
		}
		st.OptedOut = opted
		return true
	})
}

// SetBlocked records that a person blocked (or unblocked) the bot. While
// blocked nothing is sent to them; unblocking does not undo a STOP.
func (ps People) SetBlocked(ctx context.Context, contact string, blocked bool) error {
	return ps.s.update(ctx, contact, func(st *engine.State) bool {
		if st.Blocked == blocked {
			return false
		}
		st.Blocked = blocked
		return true
	})
}

// update changes a contact's state outside a conversation.
func (s *Service) update(ctx context.Context, contact string, change func(*engine.State) bool) error {
	defer s.lock(contact)()
	for attempt := 0; attempt < maxAttempts; attempt++ {
		stored, err := s.store.LoadState(ctx, contact, "")
		if err != nil {
			return err
		}
		if stored.Data == nil {
			return nil // nothing is kept about this person
		}
		st := s.decode(contact, stored)
		if !change(&st) {
			return nil
		}
		t, err := s.turn(contact, Message{}, stored.Version, &engine.Result{State: st})
		if err != nil {
			return err
		}
		err = s.store.Commit(ctx, t)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		return err
	}
	return fmt.Errorf("dialog: contact state kept changing")
}

// Suppressed tells the outbox whether a contact must not be sent to.
func (ps People) Suppressed(ctx context.Context, contact string, bulk bool) (string, error) {
	r, ok, err := ps.s.store.Contacts().Reach(ctx, contact)
	switch {
	case err != nil:
		return "", err
	case r.Undeliverable:
		return "undeliverable", nil
	case !bulk:
		return "", nil
	case !ok:
		return "no_contact", nil
	}
	st := ps.s.decode(contact, store.State{Data: r.Data})
	switch {
	case st.Blocked:
		return "blocked", nil
	case st.OptedOut:
		return "opted_out", nil
	}
	return "", nil
}

// MarkOptedOut records a provider-side opt-out (Twilio 21610, a blocked bot).
func (ps People) MarkOptedOut(ctx context.Context, contact string) error {
	return ps.SetOptedOut(ctx, contact, true)
}

// MarkBlocked records that the person blocked the bot (Telegram 403).
func (ps People) MarkBlocked(ctx context.Context, contact string) error {
	return ps.SetBlocked(ctx, contact, true)
}

// MarkNeedsTemplate records that WhatsApp wants a template for this contact.
func (ps People) MarkNeedsTemplate(ctx context.Context, contact string) error {
	return ps.s.store.Contacts().MarkNeedsTemplate(ctx, contact, ps.s.opts.Now())
}

// MarkUndeliverable records that the contact's address cannot receive.
func (ps People) MarkUndeliverable(ctx context.Context, contact string) error {
	return ps.s.store.Contacts().MarkUndeliverable(ctx, contact)
}

// Erase deletes everything kept about a contact (see store.Erase), as staff
// ask for it.
func (ps People) Erase(ctx context.Context, contact string) error {
	defer ps.s.lock(contact)()
	return ps.s.erase(ctx, contact)
}

// erase is Erase for a caller that holds the contact's lock.
func (s *Service) erase(ctx context.Context, contact string) error {
	// Erasure is promised to the person once asked: it is not cut short by
	// the request's deadline or a client that goes away, only bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), eraseTimeout)
	defer cancel()
	return s.store.Contacts().Erase(ctx, contact)
}

// Purge removes, once, what outlived contacts silent past the retention
// period: their place in the subscriber sets and the request lists. It
// returns how many entries it removed.
func (ps People) Purge(ctx context.Context) (int, error) {
	return ps.s.store.Contacts().Purge(ctx)
}
