package server

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/store"
)

// Requests is what the request routes need of the store.
type Requests interface {
	OpenRequests(ctx context.Context) ([]store.Request, error)
	Request(ctx context.Context, id string) (store.Request, []string, error)
	Open(sealed string) (string, error)
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

func (s *Server) view(r *http.Request, req store.Request, notes []string) requestView {
	open := func(sealed string) string {
		t, err := s.opts.Requests.Open(sealed)
		if err != nil {
			return "(unreadable)"
		}
		return t
	}
	v := requestView{ID: req.ID, Contact: req.Contact, Urgent: req.Urgent, Lang: req.Lang, Channel: req.Channel, Site: req.Site,
		CreatedAt: req.CreatedAt, Text: open(req.Text), Replies: req.Replies, Open: req.Open}
	for _, n := range notes {
		v.Then = append(v.Then, open(n))
	}
	return v
}

// listRequests lists the open requests: urgent ones first, then oldest first.
func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) error {
	reqs, err := s.opts.Requests.OpenRequests(r.Context())
	if err != nil {
		return err
	}
	slices.SortStableFunc(reqs, func(a, b store.Request) int {
		if a.Urgent != b.Urgent {
			if a.Urgent {
				return -1
			}
			return 1
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	})
	out := make([]requestView, 0, len(reqs))
	for _, req := range reqs {
		_, notes, err := s.opts.Requests.Request(r.Context(), req.ID)
		if err != nil && !errors.Is(err, store.ErrNoRequest) {
			return err
		}
		out = append(out, s.view(r, req, notes))
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": out})
	return nil
}

func (s *Server) getRequest(w http.ResponseWriter, r *http.Request) error {
	req, notes, err := s.opts.Requests.Request(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s.view(r, req, notes))
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
	if body.Text == "" || utf8.RuneCountInString(body.Text) > 1600 {
		return apiError(Unprocessable, `"text": required, at most 1600 characters`)
	}
	if c, bad := content.BadChar(body.Text); bad {
		return apiError(Unprocessable, `"text": holds the character %U, which cannot be sent`, c)
	}
	if err := s.opts.Dialog.ReplyToRequest(r.Context(), r.PathValue("id"), body.Text); err != nil {
		return err
	}
	s.record(r, "request.reply", r.PathValue("id"))
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "queued"})
	return nil
}

// closeRequest closes a request: the bot answers the person again.
func (s *Server) closeRequest(w http.ResponseWriter, r *http.Request) error {
	if err := s.opts.Dialog.CloseRequest(r.Context(), r.PathValue("id")); err != nil {
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
	if err := s.opts.Dialog.Erase(r.Context(), id); err != nil {
		return err
	}
	s.record(r, "contact.erase", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
