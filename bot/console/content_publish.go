package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/outreach-org/outreach/bot/versions"
)

// maxNote bounds a publish note.
const maxNote = 500

// contentPublishData is the page that confirms a publish.
type contentPublishData struct {
	Draft draftInfo
	Diff  contentDiff
	// Errors are the draft's errors: none, or no publish.
	Errors []problemView
}

func (c *Console) publishData(st *contentState) contentPublishData {
	d := contentPublishData{Draft: st.info(), Diff: diffSets(st.LiveSet, st.Work)}
	for _, v := range st.Work.problemViews(st.Work.Problems) {
		if !v.Warning {
			d.Errors = append(d.Errors, v)
		}
	}
	return d
}

// contentPublishPage shows what publishing the draft changes, message by
// message against the live version, and asks for a note.
func (c *Console) contentPublishPage(w http.ResponseWriter, r *http.Request) error {
	st, err := c.contentState(r)
	if err != nil {
		return err
	}
	if !st.HasDraft {
		c.setFlash(r, "content_no_draft")
		http.Redirect(w, r, "/content", http.StatusSeeOther)
		return nil
	}
	c.render(w, r, http.StatusOK, "content-publish", c.newPage(r, "content_publish_title", c.publishData(st)))
	return nil
}

// contentPublish publishes the draft, as it was when the confirmation
// page was shown (?rev=), as the next version (versions.Store, which
// validates it once more), puts it in use at once, and removes the
// draft. Other instances follow within seconds (versions.Follow).
func (c *Console) contentPublish(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	st, err := c.contentState(r)
	if err != nil {
		return err
	}
	if !st.HasDraft {
		c.setFlash(r, "content_no_draft")
		http.Redirect(w, r, "/content", http.StatusSeeOther)
		return nil
	}
	note := strings.TrimSpace(cleanText(r.PostForm.Get("note")))
	again := func(status int, field, id string, args ...any) error {
		p := c.newPage(r, "content_publish_title", c.publishData(st))
		p.Form = r.PostForm
		p.Errors = map[string]string{field: p.T(id, args...)}
		c.render(w, r, status, "content-publish", p)
		return nil
	}
	if utf8.RuneCountInString(note) > maxNote {
		return again(http.StatusUnprocessableEntity, "note", "content_note_long", "Max", maxNote)
	}
	if r.PostForm.Get("rev") != strconv.Itoa(st.Draft.Rev) {
		// Someone changed the draft since the page was shown: show what
		// would be published now.
		return again(http.StatusConflict, "rev", "content_publish_changed")
	}
	meta, loaded, _, err := c.opts.Versions.PublishNote(r.Context(), st.Draft.Files, signedIn(r).Name, note)
	var invalid *versions.ErrInvalid
	if errors.As(err, &invalid) {
		return again(http.StatusUnprocessableEntity, "rev", "content_publish_invalid")
	}
	if err != nil {
		return err
	}
	c.opts.Dialog.UseVersion(meta.Version, loaded) // here at once; other instances follow
	c.record(r, "content.publish", "version "+strconv.Itoa(meta.Version))
	if _, err := c.opts.Drafts.Delete(r.Context(), st.Draft.Rev); err != nil {
		// Published all the same; the draft stays, the same as live.
		c.log.Error("the draft was published but not removed", "version", meta.Version, "err", err)
	}
	c.setFlash(r, "content_published", strconv.Itoa(meta.Version))
	http.Redirect(w, r, "/content/simulator", http.StatusSeeOther)
	return nil
}

// versionRow is one version of the list.
type versionRow struct {
	versions.Meta
	Current bool
}

// contentVersionsData is the list of versions.
type contentVersionsData struct {
	Draft    draftInfo
	Versions []versionRow
}

// contentVersions lists the versions kept, newest first, the live one
// marked, each with a way to bring it back.
func (c *Console) contentVersions(w http.ResponseWriter, r *http.Request) error {
	st, err := c.contentState(r)
	if err != nil {
		return err
	}
	list, err := c.opts.Versions.List(r.Context())
	if err != nil {
		return err
	}
	d := contentVersionsData{Draft: st.info()}
	for _, m := range list {
		d.Versions = append(d.Versions, versionRow{Meta: m, Current: m.Version == st.Live.Version})
	}
	c.render(w, r, http.StatusOK, "content-versions", c.newPage(r, "content_versions_title", d))
	return nil
}

// contentRollbackData is the page that confirms a rollback.
type contentRollbackData struct {
	Draft   draftInfo
	Target  versions.Meta
	Diff    contentDiff
	Current bool
}

// contentRollbackPage shows what bringing a version back changes against
// the live one.
func (c *Console) contentRollbackPage(w http.ResponseWriter, r *http.Request) error {
	st, err := c.contentState(r)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		return errNotFound
	}
	v, err := c.opts.Versions.Get(r.Context(), n)
	if err != nil {
		return err
	}
	d := contentRollbackData{Draft: st.info(), Target: v.Meta, Diff: diffSets(st.LiveSet, newContentSet(v.Files)), Current: n == st.Live.Version}
	c.render(w, r, http.StatusOK, "content-rollback", c.newPage(r, "content_rollback_title", d))
	return nil
}

// contentRollback makes an earlier version live again, as a new version
// (versions.Store.Rollback), in use here at once. The draft, if any,
// stays as it is.
func (c *Console) contentRollback(w http.ResponseWriter, r *http.Request) error {
	if err := c.contentOn(); err != nil {
		return err
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		return errNotFound
	}
	meta, loaded, err := c.opts.Versions.Rollback(r.Context(), n, signedIn(r).Name)
	var invalid *versions.ErrInvalid
	if errors.As(err, &invalid) {
		return &pageError{status: http.StatusUnprocessableEntity, message: "content_rollback_invalid"}
	}
	if err != nil {
		return err
	}
	c.opts.Dialog.UseVersion(meta.Version, loaded)
	c.record(r, "content.rollback", "to version "+strconv.Itoa(n)+" as version "+strconv.Itoa(meta.Version))
	c.setFlash(r, "content_rolled_back", strconv.Itoa(n), strconv.Itoa(meta.Version))
	http.Redirect(w, r, "/content/versions", http.StatusSeeOther)
	return nil
}

// contentDiscardData is the page that confirms discarding the draft.
type contentDiscardData struct {
	Draft draftInfo
}

// contentDiscardPage asks before the draft is thrown away.
func (c *Console) contentDiscardPage(w http.ResponseWriter, r *http.Request) error {
	st, err := c.contentState(r)
	if err != nil {
		return err
	}
	if !st.HasDraft {
		c.setFlash(r, "content_no_draft")
		http.Redirect(w, r, "/content", http.StatusSeeOther)
		return nil
	}
	c.render(w, r, http.StatusOK, "content-discard", c.newPage(r, "content_discard_title", contentDiscardData{Draft: st.info()}))
	return nil
}

// contentDiscard throws the draft away, if it is still as it was shown.
func (c *Console) contentDiscard(w http.ResponseWriter, r *http.Request) error {
	if err := readForm(r); err != nil {
		return err
	}
	if err := c.contentOn(); err != nil {
		return err
	}
	rev, _ := strconv.Atoi(r.PostForm.Get("rev"))
	ok, err := c.opts.Drafts.Delete(r.Context(), rev)
	if err != nil {
		return err
	}
	if !ok {
		c.setFlash(r, "content_discard_changed")
		http.Redirect(w, r, "/content/draft/discard", http.StatusSeeOther)
		return nil
	}
	c.record(r, "content.draft.discard", "revision "+strconv.Itoa(rev))
	c.setFlash(r, "content_discarded")
	http.Redirect(w, r, "/content", http.StatusSeeOther)
	return nil
}
