package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/broadcast"
	"github.com/outreach-org/outreach/bot/dialog"
	"github.com/outreach-org/outreach/bot/distribution"
	"github.com/outreach-org/outreach/bot/store"
	"github.com/outreach-org/outreach/bot/versions"
)

// Kind is what went wrong with an API request, as the API answers it.
type Kind int

// The kinds of API errors, each with its status (see Kind.Status).
const (
	// Internal is a fault of the service itself: 500, logged.
	Internal Kind = iota
	// Invalid is a request that cannot be read (a malformed body or parameter): 400.
	Invalid
	// Unprocessable is a request that was read but that a rule refuses,
	// naming the field: 422.
	Unprocessable
	// NotFound is a request about something that does not exist: 404.
	NotFound
	// Conflict is a request that contradicts what exists: 409.
	Conflict
	// Busy is a request that meets another change under way: 409 with Retry-After.
	Busy
	// Unavailable is a request the store cannot serve now: 503 with Retry-After.
	Unavailable
	// TooLarge is a request body over its bound: 413.
	TooLarge
	// Unauthorized is a request without a valid token: 401.
	Unauthorized
	// Forbidden is a request whose token's role may not do it: 403.
	Forbidden
	// TooMany is a request from an address that failed too often: 429.
	TooMany
)

// Status is the HTTP status of an error of kind k.
func (k Kind) Status() int {
	switch k {
	case Invalid:
		return http.StatusBadRequest
	case Unprocessable:
		return http.StatusUnprocessableEntity
	case NotFound:
		return http.StatusNotFound
	case Conflict, Busy:
		return http.StatusConflict
	case Unavailable:
		return http.StatusServiceUnavailable
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case TooMany:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// Error is an API error: its kind and a message that is safe to show
// (it names the field at fault, never a Go type or a person's data).
type Error struct {
	Kind    Kind
	Message string
	// Problems are a content set's problems (422 of a publish or a draft).
	Problems []problemView
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter time.Duration
	// Err is the cause: logged for internal and unavailable errors, never shown.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// apiError returns an error of kind k whose message is msg, formatted.
func apiError(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// known are the errors of the services that the API answers as they are:
// their messages are ours and name what is wrong.
var known = []struct {
	target error
	kind   Kind
	msg    string // shown instead of the error's own text, when set
}{
	{distribution.ErrNotFound, NotFound, "no such distribution"},
	{distribution.ErrBusy, Busy, ""},
	{distribution.ErrInvalid, Unprocessable, ""},
	{broadcast.ErrInvalid, Unprocessable, ""},
	{broadcast.ErrNotFound, NotFound, "no such broadcast"},
	{broadcast.ErrIdempotencyConflict, Conflict, ""},
	{broadcast.ErrIdempotencyBusy, Busy, ""},
	{dialog.ErrBusy, Busy, "the person's conversation kept changing meanwhile; send again in a moment"},
	{store.ErrNoRequest, NotFound, "no such request"},
	{dialog.ErrRequestClosed, Conflict, "the request is closed"},
	{dialog.ErrUnreachable, Conflict, "the person can no longer be reached (their data was deleted, or their channel is off)"},
	{versions.ErrNotKept, NotFound, ""},
	{versions.ErrNotFound, NotFound, "no such version"},
	{access.ErrNotFound, NotFound, "no token of that name"},
	{access.ErrExists, Conflict, "a token of that name exists; delete it first"},
	{access.ErrInvalid, Invalid, `"name" (letters, digits . _ @ -, at most 64) and "role" (admin, staff or partner) are required`},
}

// classify maps any error a handler returns to an API error.
func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	for _, k := range known {
		if errors.Is(err, k.target) {
			msg := k.msg
			if msg == "" {
				msg = strings.TrimPrefix(err.Error(), "versions: ")
			}
			out := &Error{Kind: k.kind, Message: msg}
			if k.kind == Busy {
				out.RetryAfter = time.Second
			}
			return out
		}
	}
	var invalid *versions.ErrInvalid
	if errors.As(err, &invalid) {
		return &Error{Kind: Unprocessable, Message: "that content set is not valid", Problems: problemViews(invalid.Problems.Errors())}
	}
	if storeFailure(err) {
		return &Error{Kind: Unavailable, Message: "the store is unavailable; try again", RetryAfter: 2 * time.Second, Err: err}
	}
	return &Error{Kind: Internal, Message: "internal error", Err: err}
}

// storeFailure tells whether err says that Redis could not be reached in
// time, rather than a fault of ours.
func storeFailure(err error) bool { return store.Unavailable(err) }

// fail answers err: the one way the API writes an error. Internal errors
// are logged once, here, and store failures too, but for a client that
// went away, which is not an error of the service.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := classify(err)
	gone := errors.Is(r.Context().Err(), context.Canceled) && errors.Is(err, context.Canceled)
	switch {
	case gone:
		// The client went away: nobody reads the answer, nothing to log.
		e = &Error{Kind: Unavailable, Message: "the request was cancelled"}
	case e.Kind == Internal:
		s.log.Error("request failed", "route", r.Pattern, "err", e.Err)
	case e.Kind == Unavailable && e.Err != nil:
		s.log.Warn("request failed: the store is unavailable", "route", r.Pattern, "err", e.Err)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	if e.Kind == Unauthorized && w.Header().Get("WWW-Authenticate") == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="outreach"`)
	}
	body := map[string]any{"error": e.Message}
	if e.Problems != nil {
		body["problems"] = e.Problems
	}
	writeJSON(w, e.Kind.Status(), body)
}

// handler is an API route's handler: it writes its answer, or returns an
// error that fail answers.
type handler func(w http.ResponseWriter, r *http.Request) error

// handle turns h into an http.HandlerFunc whose errors fail answers.
func (s *Server) handle(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}

// decode reads a JSON body into v. Its errors name the field or the byte
// at fault, in words, not in Go types. The Content-Type is not checked:
// `curl -d` sends JSON as a form.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		return apiError(Invalid, "invalid JSON body: more than one JSON value")
	}
	if err == nil {
		return nil
	}
	var (
		tooBig    *http.MaxBytesError
		syntax    *json.SyntaxError
		wrongType *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return apiError(TooLarge, "body too large (at most %d bytes)", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return apiError(Invalid, "invalid JSON body: the body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apiError(Invalid, "invalid JSON body: it ends too soon")
	case errors.As(err, &syntax):
		return apiError(Invalid, "invalid JSON body: syntax error at byte %d", syntax.Offset)
	case errors.As(err, &wrongType):
		field := wrongType.Field
		if field == "" {
			return apiError(Invalid, "invalid JSON body: want an object, got %s", article(wrongType.Value))
		}
		return apiError(Invalid, "invalid JSON body: %q: want %s, got %s", field, jsonKind(wrongType.Type.Kind().String()), article(wrongType.Value))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return apiError(Invalid, "invalid JSON body: unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	// A value that a field's own decoder refuses (a time, a role): its
	// message is ours or the time package's, which names no Go type.
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if strings.Contains(msg, "Go ") || strings.Contains(msg, "struct") {
		msg = "a value has the wrong form"
	}
	return apiError(Invalid, "invalid JSON body: %s", msg)
}

// jsonKind names a Go kind as JSON knows it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "a list"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "a whole number"
	case "float32", "float64":
		return "a number"
	}
	return "another kind of value"
}

// article puts "a" or "an" before a JSON value kind (string, number, …).
func article(kind string) string {
	switch kind {
	case "array":
		return "a list"
	case "object":
		return "an object"
	case "bool":
		return "true or false"
	}
	if strings.HasPrefix(kind, "number") {
		return "a number"
	}
	return "a " + kind
}

// limitParam reads ?limit=N, from 1 to most.
func limitParam(r *http.Request, def, most int64) (int64, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > most {
		return 0, apiError(Invalid, "limit: want 1 to %d", most)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
