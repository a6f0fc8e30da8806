package dialog

import (
	"context"
	"time"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/outbox"
	"github.com/outreach-org/outreach/bot/store"
)

// Requests is the dialog's side of the requests to talk to a person:
// staff's replies sent to the person, and the closing of a request with
// the notice that tells them.
type Requests struct{ s *Service }

// Requests returns the service's requests to staff.
func (s *Service) Requests() Requests { return Requests{s} }

// Reply sends staff's reply to the person who asked, on their
// channel, ahead of bulk traffic, and keeps it (sealed) in the request's
// thread under by, who replied. A text CheckReply refuses is not sent.
func (rq Requests) Reply(ctx context.Context, id, by, text string) error {
	if err := CheckReply(text); err != nil {
		return err
	}
	req, notes, err := rq.s.store.Requests().Get(ctx, id)
	if err != nil {
		return err
	}
	if !req.Open {
		return ErrRequestClosed
	}
	reach, ok, err := rq.s.store.Contacts().Reach(ctx, req.Contact)
	if err != nil {
		return err
	}
	if !ok || reach.Address == "" || rq.s.opts.Outbox == nil {
		return ErrUnreachable
	}
	// Staff's words to the person are personal data, like the person's
	// own: kept sealed in the outbox, its retries and dead letters.
	e := outbox.NewEntry(reach.Channel, reach.Address, req.Contact, outbox.Reply)
	sealed := rq.s.store.Seal(text)
	e.Messages = []outbox.Text{outbox.SealedText(sealed)}
	if err := rq.s.opts.Outbox.Enqueue(ctx, e); err != nil {
		return err
	}
	// The reply is queued: it will be sent. Failing now would invite staff
	// to send it again, so a count or thread that cannot be written is
	// logged, and written with a context of its own.
	req.Replies++
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := rq.s.store.Requests().Put(ctx, req); err != nil {
		rq.s.log.Warn("a staff reply is queued, but the request's reply count was not written", "request", id, "err", err)
	}
	reply := store.Reply{At: rq.s.opts.Now().UTC(), By: by, Text: sealed, After: len(notes)}
	if err := rq.s.store.Requests().AddReply(ctx, id, reply); err != nil {
		rq.s.log.Warn("a staff reply is queued, but not kept in the request's thread", "request", id, "err", err)
	}
	// From now on what the person writes, numbers included, answers staff.
	err = rq.s.update(ctx, req.Contact, func(st *engine.State) bool {
		if st.Request != id || st.StaffReplied {
			return false
		}
		st.StaffReplied = true
		return true
	})
	if err != nil {
		rq.s.log.Warn("a staff reply is queued, but the person's state does not note it: their numbers still work the menus", "request", id, "err", err)
	}
	return nil
}

// Close closes a request and hands the person back to the bot, and
// tells the person so, in their language, on their channel (once: closing a
// closed request the person was handed back from tells nobody).
func (rq Requests) Close(ctx context.Context, id string) error {
	req, _, err := rq.s.store.Requests().Get(ctx, id)
	if err != nil {
		return err
	}
	// The notice is queued first: if what follows fails, closing again
	// queues it again rather than never.
	if err := rq.noticeClosed(ctx, req); err != nil {
		return err
	}
	if req.Open {
		req.Open = false
		if err := rq.s.store.Requests().Put(ctx, req); err != nil {
			return err
		}
	}
	return rq.s.update(ctx, req.Contact, func(st *engine.State) bool {
		if st.Request != id {
			return false
		}
		st.Request, st.StaffReplied = "", false
		return true
	})
}

// noticeClosed queues, ahead of bulk traffic, the notice that a request is
// closed, if the request is still open or still holds the person; a person
// who cannot be reached (erased, no outbox) is not told.
func (rq Requests) noticeClosed(ctx context.Context, req store.Request) error {
	reach, text, _, err := rq.closingNotice(ctx, req)
	if err != nil || text == "" {
		return err
	}
	e := outbox.NewEntry(reach.Channel, reach.Address, req.Contact, outbox.Reply)
	e.Messages = []outbox.Text{{Text: text}}
	return rq.s.opts.Outbox.Enqueue(ctx, e)
}

// ClosingNotice returns what closing the request id now would tell the
// person, and in which language; an empty text when closing tells nobody
// (the person cannot be reached, or was handed back already).
func (rq Requests) ClosingNotice(ctx context.Context, id string) (text, lang string, err error) {
	req, _, err := rq.s.store.Requests().Get(ctx, id)
	if err != nil {
		return "", "", err
	}
	_, text, lang, err = rq.closingNotice(ctx, req)
	return text, lang, err
}

// closingNotice is the notice of closing req, in the person's language,
// and how to reach them; an empty text when nobody is to be told.
func (rq Requests) closingNotice(ctx context.Context, req store.Request) (reach store.Reach, text, lang string, err error) {
	reach, ok, err := rq.s.store.Contacts().Reach(ctx, req.Contact)
	if err != nil {
		return reach, "", "", err
	}
	if !ok || reach.Address == "" || rq.s.opts.Outbox == nil {
		return reach, "", "", nil
	}
	st := rq.s.decode(req.Contact, store.State{Data: reach.Data})
	if !req.Open && st.Request != req.ID {
		return reach, "", "", nil
	}
	c := rq.s.Content()
	lang = st.Lang
	if !c.HasLanguage(lang) {
		lang = req.Lang
	}
	if !c.HasLanguage(lang) {
		lang = c.Languages[0]
	}
	if !c.Has(lang, content.MsgRequestClosed) {
		return reach, "", "", nil
	}
	return reach, c.Text(lang, content.MsgRequestClosed, nil), lang, nil
}
