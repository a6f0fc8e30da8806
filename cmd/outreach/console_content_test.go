package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/access"
	"github.com/outreach-org/outreach/bot/redistest"
)

// contentService starts the service with a partner account, made as an
// admin's invitation makes it; it returns the service, the test's Redis
// and key prefix, and the partner's name and passphrase.
func contentService(t *testing.T) (*service, redis.UniversalClient, string, string, string) {
	t.Helper()
	rdb, prefix := redistest.New(t)
	svc := startServe(t, map[string]string{
		"REDIS_URL":             redistest.URL(t),
		"OUTREACH_REDIS_PREFIX": prefix,
		"OUTREACH_ADMIN_TOKEN":  adminToken,
	})
	people := access.NewPeople(rdb, prefix, adminToken, nil)
	ctx := context.Background()
	const name, pass = "nadia", "orange tree by the sea"
	inv, err := people.Invite(ctx, name, access.Partner, "en")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := people.Accept(ctx, inv.Token, pass); err != nil {
		t.Fatal(err)
	}
	return svc, rdb, prefix, name, pass
}

// replyHolds reports whether any reply holds text.
func replyHolds(replies []string, text string) bool {
	for _, r := range replies {
		if strings.Contains(r, text) {
			return true
		}
	}
	return false
}

// TestConsoleContent: a partner edits an Arabic text, saves an invalid
// one and sees the error linked to the message, fixes it, chats with the
// draft, publishes it (the confirmation shows the difference), the live
// bot says the new text; she rolls back and the old text is live again.
func TestConsoleContent(t *testing.T) {
	t.Parallel()
	svc, rdb, prefix, name, pass := contentService(t)
	b := newBrowser(t, svc.base, 390)
	b.signIn(name, pass)

	// The list: every id with its texts side by side, Arabic right to left.
	if status := b.open("/content"); status != http.StatusOK {
		t.Fatalf("/content: %d", status)
	}
	if dir := b.attr("#m-main_title td[lang=ar]", "dir"); dir != "rtl" {
		t.Errorf("the Arabic cell of main_title has dir=%q", dir)
	}
	b.screenshot("list-phone")
	// Searching by id finds the message.
	b.fill("#q", "main_title")
	b.submit(".content-filter-go button")
	if n := eval[int](b, "document.querySelectorAll('.content-table tbody tr').length"); n < 1 || b.attr(".content-table tbody tr", "id") != "m-main_title" {
		t.Errorf("searching main_title: %d rows, first %q", n, b.attr(".content-table tbody tr", "id"))
	}

	// The edit page: three texts, the Arabic one right to left.
	b.submit("#m-main_title td a")
	if loc := b.location(); loc != "/content/messages/main_title" {
		t.Fatalf("the message's link led to %s", loc)
	}
	if dir, lang := b.attr("#text-ar", "dir"), b.attr("#text-ar", "lang"); dir != "rtl" || lang != "ar" {
		t.Errorf("the Arabic textarea: dir=%q lang=%q", dir, lang)
	}
	old := b.value("#text-ar")
	if old == "" {
		t.Fatal("no Arabic text for main_title")
	}
	// An unknown field is refused by validation, next to the Arabic text,
	// and the problem links to the message.
	b.fill("#text-ar", old+" {{.Name}}")
	if status := b.submit("form.content-edit button.primary"); status != http.StatusUnprocessableEntity {
		t.Errorf("saving an unknown field: %d, want 422", status)
	}
	if got := b.text("#problems-ar"); !strings.Contains(got, "{{.Name}}") {
		t.Errorf("the Arabic problems say %q", got)
	}
	if n := eval[int](b, `document.querySelectorAll('.content-problems a[href="/content/messages/main_title#lang-ar"]').length`); n == 0 {
		t.Error("no problem links to main_title's Arabic text")
	}
	if kept := b.value("#text-ar"); kept != old+" {{.Name}}" {
		t.Errorf("the text kept is %q", kept)
	}
	b.screenshot("invalid-phone")
	// The list marks it too, linked.
	b.open("/content?show=errors")
	if n := eval[int](b, `document.querySelectorAll('#m-main_title a[href="/content/messages/main_title#lang-ar"]').length`); n == 0 {
		t.Error("the list does not link main_title's error to it")
	}
	// From the list, the link leads back to the message: fixed.
	b.submit(`#m-main_title a[href="/content/messages/main_title#lang-ar"]`)
	fresh := "جديد: " + old
	b.fill("#text-ar", fresh)
	if status := b.submit("form.content-edit button.primary"); status != http.StatusOK {
		t.Fatalf("saving a valid text: %d", status)
	}
	if got := b.text(".flash"); !strings.Contains(got, "main_title") {
		t.Errorf("after saving: flash %q", got)
	}

	// The simulator chats with the draft, in Arabic.
	b.open("/content/simulator?show=ar")
	if dir := b.attr("#sim-text", "dir"); dir != "rtl" {
		t.Errorf("the Arabic message box has dir=%q", dir)
	}
	b.fill("#sim-text", "مرحبا")
	b.submit(".content-sim-form button.primary")
	b.waitText(".content-turns", fresh)
	b.screenshot("simulator-phone")
	// The live bot still says the old text: a draft reaches nobody.
	if replies := say(t, svc.base, "live-1", "مرحبا"); !replyHolds(replies, old) || replyHolds(replies, fresh) {
		t.Errorf("before publishing, the live bot says %q", replies)
	}

	// Publish: the confirmation shows the difference, old and new.
	b.open("/content/publish")
	if got := b.text("#diff-main_title"); got != "main_title" {
		t.Errorf("the diff heads %q", got)
	}
	if del, ins := b.text(".content-diff del[lang=ar]"), b.text(".content-diff ins[lang=ar]"); del != old || ins != fresh {
		t.Errorf("the diff shows %q → %q, want %q → %q", del, ins, old, fresh)
	}
	// (An empty textarea cannot be cleared first: keys only.)
	b.do("write a note", chromedp.SendKeys(chromedp.CSS("#note"), "Arabic menu title"))
	b.screenshot("publish-phone")
	if status := b.submit("form button.primary"); status != http.StatusOK {
		t.Fatalf("publishing: %d", status)
	}
	if got := b.text(".flash"); !strings.Contains(got, "Version 2 is live") {
		t.Errorf("after publishing: flash %q", got)
	}
	if replies := say(t, svc.base, "live-2", "مرحبا"); !replyHolds(replies, fresh) {
		t.Errorf("after publishing, the live bot says %q", replies)
	}
	// With no draft, the list is the live content again.
	b.open("/content")
	if got := b.text("#draft-heading"); got != "No draft" {
		t.Errorf("after publishing, the draft box says %q", got)
	}

	// Versions: bring version 1 back, through its confirmation.
	b.open("/content/versions")
	if got := b.text(".content-current td"); !strings.Contains(got, "2") {
		t.Errorf("the live version row says %q", got)
	}
	b.submit(`a[href="/content/versions/1/rollback"]`)
	if del, ins := b.text(".content-diff del[lang=ar]"), b.text(".content-diff ins[lang=ar]"); del != fresh || ins != old {
		t.Errorf("the rollback diff shows %q → %q", del, ins)
	}
	b.screenshot("rollback-phone")
	if status := b.submit("form button.primary"); status != http.StatusOK {
		t.Fatalf("rolling back: %d", status)
	}
	if got := b.text(".flash"); !strings.Contains(got, "Version 1 is live again, as version 3") {
		t.Errorf("after rolling back: flash %q", got)
	}
	if replies := say(t, svc.base, "live-3", "مرحبا"); !replyHolds(replies, old) || replyHolds(replies, fresh) {
		t.Errorf("after rolling back, the live bot says %q", replies)
	}

	// The flow as a tree, in Arabic, and the console in Arabic.
	b.open("/content/flow?show=ar&lang=ar")
	if dir := b.attr("html", "dir"); dir != "rtl" {
		t.Errorf("the Arabic flow page has dir=%q", dir)
	}
	if got := b.text("#node-main > details > summary .content-flow-text"); got != old {
		t.Errorf("the main menu of the tree says %q, want %q", got, old)
	}
	if n := eval[int](b, "document.querySelectorAll('#node-main > details[open] > ul > .content-option').length"); n < 3 {
		t.Errorf("the main menu has %d options in the tree", n)
	}
	b.screenshot("flow-ar-phone")
	b.open("/content?lang=ar")
	b.screenshot("list-ar-phone")

	// Every change is in the audit log under her name.
	events, err := access.NewAudit(rdb, prefix, access.AuditOptions{}).List(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range events {
		if e.Who == name {
			seen[e.Action]++
		}
	}
	if seen["content.draft.save"] != 2 || seen["content.publish"] != 1 || seen["content.rollback"] != 1 {
		t.Errorf("audit under %s: %v", name, seen)
	}

	// On a desktop.
	d := newBrowser(t, svc.base, 1280)
	d.signIn(name, pass)
	d.open("/content")
	d.screenshot("list-desktop")
	d.open("/content/messages/main_title")
	d.screenshot("edit-desktop")
	d.open("/content/flow")
	d.screenshot("flow-desktop")
	for _, br := range []*browser{b, d} {
		if off := br.offOrigin(); len(off) > 0 {
			t.Errorf("pages made requests outside the service: %v", off)
		}
	}
}

// getBody fetches a page and returns its status and body.
func getBody(t *testing.T, client *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func postForm(t *testing.T, client *http.Client, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := client.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

var baseField = regexp.MustCompile(`name="base" value="([0-9a-f]+)"`)

// editForm reads a message's edit form: its base and its texts.
func editForm(t *testing.T, client *http.Client, base, id string) url.Values {
	t.Helper()
	status, body := getBody(t, client, base+"/content/messages/"+id+"?lang=en")
	if status != http.StatusOK {
		t.Fatalf("edit %s: %d", id, status)
	}
	m := baseField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("edit %s: no base", id)
	}
	form := url.Values{"base": {m[1]}}
	for _, f := range regexp.MustCompile(`(?s)name="(text_[a-z_]+)"[^>]*>(.*?)</textarea>`).FindAllStringSubmatch(body, -1) {
		form.Set(f[1], htmlUnescape(f[2]))
	}
	return form
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&#34;", `"`, "&#39;", "'", "&quot;", `"`, "&amp;", "&").Replace(s)
}

// TestConsoleContentRules: staff may not edit the content; two partners
// who change one message at once do not overwrite each other unseen; a
// draft changed after its confirmation page is not published; discarding
// asks first. And every page stays within 250 KB with its assets, even a
// publish of many messages.
func TestConsoleContentRules(t *testing.T) {
	t.Parallel()
	svc, rdb, prefix, name, pass := contentService(t)
	people := access.NewPeople(rdb, prefix, adminToken, nil)
	inv, err := people.Invite(context.Background(), "sami", access.Staff, "fr")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := people.Accept(context.Background(), inv.Token, "staff passphrase here"); err != nil {
		t.Fatal(err)
	}
	staff := signedInClient(t, svc.base, "sami", "staff passphrase here")
	for _, p := range []string{"/content", "/content/messages/main_title", "/content/simulator", "/content/flow", "/content/versions"} {
		if status, _ := getBody(t, staff, svc.base+p); status != http.StatusForbidden {
			t.Errorf("staff GET %s: %d, want 403", p, status)
		}
	}
	if status, _ := postForm(t, staff, svc.base+"/content/messages/main_title", url.Values{"text_fr": {"x"}}); status != http.StatusForbidden {
		t.Errorf("staff saving a message: %d, want 403", status)
	}

	nadia := signedInClient(t, svc.base, name, pass)
	admin := signedInClient(t, svc.base, "admin", adminToken)
	// Both open the same message; the admin saves first.
	mine, theirs := editForm(t, nadia, svc.base, "welcome_back"), editForm(t, admin, svc.base, "welcome_back")
	theirs.Set("text_en", "Welcome back (admin)!")
	if status, body := postForm(t, admin, svc.base+"/content/messages/welcome_back?lang=en", theirs); status != http.StatusOK {
		t.Fatalf("the admin's save: %d\n%s", status, body)
	}
	mine.Set("text_en", "Welcome back (nadia)!")
	status, body := postForm(t, nadia, svc.base+"/content/messages/welcome_back?lang=en", mine)
	if status != http.StatusConflict || !strings.Contains(body, "admin changed this message") || !strings.Contains(body, "Welcome back (admin)!") || !strings.Contains(body, "Welcome back (nadia)!") {
		t.Errorf("the second save of one message: %d, want 409 showing both texts", status)
	}
	// Saving again, from the page shown, keeps hers.
	again := editForm(t, nadia, svc.base, "welcome_back")
	again.Set("text_en", "Welcome back (nadia)!")
	if status, _ := postForm(t, nadia, svc.base+"/content/messages/welcome_back?lang=en", again); status != http.StatusOK {
		t.Errorf("saving again: %d", status)
	}

	// A text over the validation limit is saved, with the error; one far
	// beyond it is refused outright, its value kept, the draft untouched.
	long := editForm(t, nadia, svc.base, "welcome_back")
	long.Set("text_ar", strings.Repeat("ب", 1700))
	status, body = postForm(t, nadia, svc.base+"/content/messages/welcome_back?lang=en", long)
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "at most 1600") || !strings.Contains(body, `href="/content/messages/welcome_back#lang-ar"`) {
		t.Errorf("a text of 1700 characters: %d, want 422 with validation's error linked", status)
	}
	huge := editForm(t, nadia, svc.base, "welcome_back")
	huge.Set("text_ar", strings.Repeat("ب", 5000))
	status, body = postForm(t, nadia, svc.base+"/content/messages/welcome_back?lang=en", huge)
	if status != http.StatusUnprocessableEntity || !strings.Contains(body, "not saved") || !strings.Contains(body, strings.Repeat("ب", 5000)) {
		t.Errorf("a text of 5000 characters: %d, want 422 with the text kept", status)
	}
	if again := editForm(t, nadia, svc.base, "welcome_back"); again.Get("text_ar") != strings.Repeat("ب", 1700) {
		t.Errorf("the refused text reached the draft: %d characters", len([]rune(again.Get("text_ar"))))
	}
	long.Set("text_ar", "مرحبا بعودتك!")
	long.Set("base", editForm(t, nadia, svc.base, "welcome_back").Get("base"))
	if status, _ := postForm(t, nadia, svc.base+"/content/messages/welcome_back?lang=en", long); status != http.StatusOK {
		t.Errorf("fixing the long text: %d", status)
	}

	// A publish from a confirmation page the draft has since outgrown is
	// refused, and shows the draft as it is now.
	status, body = getBody(t, nadia, svc.base+"/content/publish?lang=en")
	rev := regexp.MustCompile(`name="rev" value="(\d+)"`).FindStringSubmatch(body)
	if status != http.StatusOK || rev == nil {
		t.Fatalf("publish page: %d", status)
	}
	more := editForm(t, admin, svc.base, "welcome")
	more.Set("text_fr", more.Get("text_fr")+" !")
	postForm(t, admin, svc.base+"/content/messages/welcome?lang=en", more)
	status, body = postForm(t, nadia, svc.base+"/content/publish?lang=en", url.Values{"rev": {rev[1]}, "note": {"x"}})
	if status != http.StatusConflict || !strings.Contains(body, `id="diff-welcome"`) {
		t.Errorf("publishing a draft changed since: %d, want 409 with the new diff", status)
	}

	// Many messages change: the publish page stays light.
	ids := []string{}
	for page := 1; page <= 3; page++ {
		_, body := getBody(t, nadia, svc.base+"/content?page="+strconv.Itoa(page)+"&lang=en")
		for _, m := range regexp.MustCompile(`<tr id="m-([a-z0-9_]+)"`).FindAllStringSubmatch(body, -1) {
			ids = append(ids, m[1])
		}
	}
	if len(ids) < 100 {
		t.Fatalf("the list pages hold %d messages", len(ids))
	}
	changed := 0
	for _, id := range ids[:70] {
		form := editForm(t, nadia, svc.base, id)
		if form.Get("text_ar") == "" {
			continue
		}
		form.Set("text_ar", form.Get("text_ar")+" ١")
		if status, _ := postForm(t, nadia, svc.base+"/content/messages/"+id+"?lang=en", form); status == http.StatusOK || status == http.StatusUnprocessableEntity {
			changed++
		}
	}
	if changed < 61 {
		t.Fatalf("only %d messages changed", changed)
	}
	assets := assetWeight(t, nadia, svc.base)
	for _, p := range []string{"/content", "/content?lang=ar", "/content/messages/dist_header", "/content/simulator", "/content/flow",
		"/content/flow?show=ar", "/content/publish", "/content/versions", "/content/versions/1/rollback", "/content/draft/discard"} {
		status, body := getBody(t, nadia, svc.base+p)
		if status != http.StatusOK {
			t.Errorf("GET %s: %d", p, status)
		}
		t.Logf("page weight %s: %d bytes, %d with assets", p, len(body), len(body)+assets)
		if len(body)+assets > 250_000 {
			t.Errorf("%s weighs %d bytes with its assets, over 250 KB", p, len(body)+assets)
		}
		if p == "/content/publish" && !strings.Contains(body, "more messages") {
			t.Errorf("the publish page of %d changes does not say it shows only some", changed)
		}
	}

	// Discarding asks first, then throws the draft away.
	status, body = getBody(t, nadia, svc.base+"/content/draft/discard?lang=en")
	rev = regexp.MustCompile(`name="rev" value="(\d+)"`).FindStringSubmatch(body)
	if status != http.StatusOK || rev == nil {
		t.Fatalf("discard page: %d", status)
	}
	if status, _ := postForm(t, nadia, svc.base+"/content/draft/discard", url.Values{"rev": {rev[1]}}); status != http.StatusOK {
		t.Errorf("discarding: %d", status)
	}
	if _, body := getBody(t, nadia, svc.base+"/content?lang=en"); !strings.Contains(body, "No draft") {
		t.Error("the draft is still there after discarding")
	}
}
