package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/outreach-org/outreach/bot/access"
)

type personKey struct{}

// signedIn returns who is signed in; the zero Person on public pages.
func signedIn(r *http.Request) access.Person {
	p, _ := r.Context().Value(personKey{}).(access.Person)
	return p
}

// allow runs h for a request from someone whose role is one of roles (nil:
// anyone signed in; public: anyone). The person is read again on every
// request, so that a disabled person's sessions end at once.
func (c *Console) allow(roles []access.Role, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := c.sessions.GetString(r.Context(), "person")
		if name != "" {
			person, err := c.opts.People.Get(r.Context(), name)
			switch {
			case errors.Is(err, access.ErrNoPerson) || (err == nil && person.Disabled):
				// Disabled or removed: the session ends here.
				_ = c.sessions.Destroy(r.Context())
				name = ""
			case err != nil:
				c.fail(w, r, err)
				return
			default:
				r = r.WithContext(context.WithValue(r.Context(), personKey{}, person))
			}
		}
		if roles == nil || len(roles) > 0 {
			if name == "" {
				if r.Method == http.MethodGet {
					http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
					return
				}
				c.render(w, r, http.StatusUnauthorized, "error", c.errorPage(r, http.StatusUnauthorized, "error_signed_out"))
				return
			}
			if len(roles) > 0 && !signedIn(r).Role.Allows(roles...) {
				c.render(w, r, http.StatusForbidden, "error", c.errorPage(r, http.StatusForbidden, "error_forbidden"))
				return
			}
		}
		if err := h(w, r); err != nil {
			c.fail(w, r, err)
		}
	})
}

// record writes an action to the audit log under the person's name. It is
// written even when the client has gone, since the change was made.
func (c *Console) record(r *http.Request, action, target string) {
	if c.opts.Audit == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := c.opts.Audit.Record(ctx, signedIn(r).Principal(), action, target); err != nil {
		c.log.Error("an audit record was not written", "action", action, "err", err)
	}
}

// loginData is the sign-in form.
type loginData struct {
	Next string
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) error {
	if signedIn(r).Name != "" {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	c.render(w, r, http.StatusOK, "login", c.newPage(r, "login_title", loginData{Next: r.URL.Query().Get("next")}))
	return nil
}

// login checks a username and passphrase. Failed attempts are counted per
// account and per address and slow the next ones down (access.Failures);
// the right passphrase is never refused.
func (c *Console) login(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	name, pass := strings.TrimSpace(r.PostForm.Get("username")), r.PostForm.Get("password")
	addr := c.opts.ClientAddress(r)
	if c.opts.Failures != nil {
		delay, err := c.opts.Failures.Delay(r.Context(), name, addr)
		if err != nil {
			return err
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return r.Context().Err()
			}
		}
	}
	person, ok, err := c.opts.People.SignIn(r.Context(), name, pass)
	if err != nil {
		return err
	}
	if !ok {
		if c.opts.Failures != nil {
			if err := c.opts.Failures.Failed(r.Context(), name, addr); err != nil {
				return err
			}
		}
		if c.opts.Audit != nil {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
			defer cancel()
			_ = c.opts.Audit.Refused(ctx, access.Principal{}, "console.signin.failed", addr)
		}
		p := c.newPage(r, "login_title", loginData{Next: r.PostForm.Get("next")})
		p.Form = map[string][]string{"username": {name}}
		p.Errors = map[string]string{"password": p.T("login_wrong")}
		c.render(w, r, http.StatusUnauthorized, "login", p)
		return nil
	}
	if c.opts.Failures != nil {
		if err := c.opts.Failures.Succeeded(r.Context(), name); err != nil {
			return err
		}
	}
	// A new token at sign-in: a token set before it cannot be reused.
	if err := c.sessions.RenewToken(r.Context()); err != nil {
		return err
	}
	c.sessions.Put(r.Context(), "person", person.Name)
	r = r.WithContext(context.WithValue(r.Context(), personKey{}, person))
	c.record(r, "console.signin", "")
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
	return nil
}

// safeNext is where to go after signing in: a path of this site, else the
// dashboard.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") ||
		strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) error {
	if err := c.sessions.Destroy(r.Context()); err != nil {
		return err
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// inviteData is the page where an invited person chooses a passphrase.
type inviteData struct {
	Person access.Person
	Min    int
}

func (c *Console) invitePage(w http.ResponseWriter, r *http.Request) error {
	person, err := c.opts.People.Invited(r.Context(), r.PathValue("token"))
	if errors.Is(err, access.ErrInviteInvalid) {
		return &pageError{status: http.StatusNotFound, message: "invite_invalid"}
	} else if err != nil {
		return err
	}
	p := c.newPage(r, "invite_title", inviteData{Person: person, Min: access.MinPassphrase})
	if p.Person.Name == "" && r.URL.Query().Get("lang") == "" && known(person.Lang) {
		p = c.pageIn(r, person.Lang, "invite_title", inviteData{Person: person, Min: access.MinPassphrase})
	}
	c.render(w, r, http.StatusOK, "invite", p)
	return nil
}

func (c *Console) acceptInvite(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	token := r.PathValue("token")
	person, err := c.opts.People.Invited(r.Context(), token)
	if errors.Is(err, access.ErrInviteInvalid) {
		return &pageError{status: http.StatusNotFound, message: "invite_invalid"}
	} else if err != nil {
		return err
	}
	pass, again := r.PostForm.Get("password"), r.PostForm.Get("password_again")
	fail := func(field, id string) error {
		p := c.newPage(r, "invite_title", inviteData{Person: person, Min: access.MinPassphrase})
		p.Errors = map[string]string{field: p.T(id, "Min", access.MinPassphrase)}
		c.render(w, r, http.StatusUnprocessableEntity, "invite", p)
		return nil
	}
	if pass != again {
		return fail("password_again", "invite_mismatch")
	}
	person, err = c.opts.People.Accept(r.Context(), token, pass)
	switch {
	case errors.Is(err, access.ErrWeakPassphrase):
		return fail("password", "invite_weak")
	case errors.Is(err, access.ErrInviteInvalid):
		return &pageError{status: http.StatusNotFound, message: "invite_invalid"}
	case err != nil:
		return err
	}
	if err := c.sessions.RenewToken(r.Context()); err != nil {
		return err
	}
	c.sessions.Put(r.Context(), "person", person.Name)
	r = r.WithContext(context.WithValue(r.Context(), personKey{}, person))
	c.record(r, "console.invite.accepted", person.Name)
	c.setFlash(r, "invite_welcome")
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// pageIn is newPage in a given language.
func (c *Console) pageIn(r *http.Request, lang, title string, data any) *Page {
	q := r.URL.Query()
	q.Set("lang", lang)
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	p := c.newPage(r2, title, data)
	p.Path = r.URL.Path
	return p
}

// setLanguage keeps the language a person chose for the console.
func (c *Console) setLanguage(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	lang := r.PostForm.Get("lang")
	if !known(lang) {
		return &pageError{status: http.StatusBadRequest, message: "error_bad_form"}
	}
	if err := c.opts.People.SetLang(r.Context(), signedIn(r).Name, lang); err != nil {
		return err
	}
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
	return nil
}
