package server

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/store"
)

// Requests is what the request routes need of the store.
type Requests interface {
	// List is the open requests.
	List(ctx context.Context) ([]store.Request, error)
	// Get is one request and the person's notes after it, sealed.
	Get(ctx context.Context, id string) (store.Request, []string, error)
	// Unseal opens a sealed text.
	Unseal(sealed string) (string, error)
}

// requestView is a request to talk to a person as staff see it: what the
// person wrote, opened; never their address.
type requestView struct {
	ID string `json:"id"`
	// Contact is the person's pseudonymous key, for DELETE /api/v1/contacts/{id}.
	Contact   string    `json:"contact"`
	Urgent    bool      `json:"urgent"`
	Lang      string    `json:"lang"`
	Channel   string    `json:"channel"`
	Site      string    `json:"site,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	Text      string    `json:"text"`
	Then      []string  `json:"then,omitempty"`
	Replies   int       `json:"replies"`
	Open      bool      `json:"open"`
}

func (s *Server) view(req store.Request, notes []string) requestView {
	th := store.OpenThread(s.opts.Requests.Unseal, req, notes, nil)
	return requestView{ID: req.ID, Contact: req.Contact, Urgent: req.Urgent, Lang: req.Lang, Channel: req.Channel, Site: req.Site,
		CreatedAt: req.CreatedAt, Text: th.Text, Then: th.Then, Replies: req.Replies, Open: req.Open}
}

// listRequests lists the open requests: urgent ones first, then oldest first.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) error {
	reqs, err := s.opts.Requests.List(r.Context())
	if err != nil {
		return err
	}
	store.StaffOrder(reqs)
	out := make([]requestView, 0, len(reqs))
	for _, req := range reqs {
		_, notes, err := s.opts.Requests.Get(r.Context(), req.ID)
		if err != nil && !errors.Is(err, store.ErrNoRequest) {
			return err
		}
		out = append(out, s.view(req, notes))
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": out})
	return nil
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) error {
	req, notes, err := s.opts.Requests.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.view(req, notes))
	return nil
}

// replyRequest sends staff's text to the person, on their channel.
func (s *Server) replyRequest(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Text string `json:"text"`
	}
	if err := decode(r, &body); err != nil {
		return err
	}
	var bad *dialog.BadCharError
	switch err := dialog.CheckReply(body.Text); {
	case errors.Is(err, dialog.ErrReplyEmpty), errors.Is(err, dialog.ErrReplyTooLong):
		return apiError(Unprocessable, `"text": required, at most %d characters`, dialog.MaxReply)
	case errors.As(err, &bad):
		return apiError(Unprocessable, `"text": holds the character %U, which cannot be sent`, bad.Char)
	}
	if err := s.opts.Dialog.Requests().Reply(r.Context(), r.PathValue("id"), principal(r).Name, body.Text); err != nil {
		return err
	}
	s.record(r, "request.reply", r.PathValue("id"))
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	return nil
}

// closeRequest closes a request: the bot answers the person again.
func (s *Server) closeRequest(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Dialog.Requests().Close(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	s.record(r, "request.close", r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
	return nil
}

var contactKey = regexp.MustCompile(`^[0-9a-f]{32}$`)

// eraseContact deletes everything kept about a person (staff, at the
// person's request made another way).
func (s *Server) eraseContact(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !contactKey.MatchString(id) {
		return apiError(Invalid, "a contact id is 32 hexadecimal characters (see GET /api/v1/requests)")
	}
	if err := s.opts.Dialog.People().Erase(r.Context(), id); err != nil {
		return err
	}
	s.record(r, "contact.erase", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
