package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium driven by chromedp, for the console's
// end-to-end tests. Every request the page makes is recorded, so that a
// test can check that none left the service's origin.
type browser struct {
	t     testing.TB
	ctx   context.Context
	base  string
	shots string

	mu       sync.Mutex
	requests []string
}

// chromium finds the browser: $CHROME, then the usual names. A missing
// browser fails the test with how to install it, as a missing Redis does.
func chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROME"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the console's browser tests need Chromium: install it (Debian: apt-get install chromium) or set CHROME to its path; .ci/run installs it")
	return ""
}

// shotsDir is the folder of this run's screenshots, made once and printed.
var shotsDir = sync.OnceValue(func() string {
	dir, err := os.MkdirTemp("", "outreach-console-shots-")
	if err != nil {
		panic(err)
	}
	fmt.Fprintf(os.Stderr, "console screenshots: %s\n", dir)
	return dir
})

// browserTests is how many tests may drive Chromium at once: the machines
// have two cores, and more browsers at once make every page slow.
const browserTests = 2

// browserSlots limits the tests that drive Chromium at once to browserTests.
// A test holds one slot for all its browsers (a test may drive two, an
// admin and a person), so that two tests never wait on each other's.
var browserSlots = struct {
	sem  chan struct{}
	mu   sync.Mutex
	held map[string]int // top-level test name: its browsers running
}{sem: make(chan struct{}, browserTests), held: map[string]int{}}

// holdBrowserSlot waits for a slot for t's top-level test, unless that test
// holds one already, and returns what gives it back once t's browser has
// stopped.
func holdBrowserSlot(t testing.TB) (release func()) {
	test, _, _ := strings.Cut(t.Name(), "/")
	s := &browserSlots
	s.mu.Lock()
	n := s.held[test]
	if n > 0 {
		s.held[test] = n + 1
		s.mu.Unlock()
	} else {
		s.mu.Unlock()
		s.sem <- struct{}{}
		s.mu.Lock()
		s.held[test]++
		s.mu.Unlock()
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.held[test]--; s.held[test] == 0 {
			delete(s.held, test)
			<-s.sem
		}
	}
}

// chromiumProcess is the one headless Chromium of a run of the package's
// tests, started by the first test that needs a browser and stopped by
// TestMain (stopChromium). Each test's browser is a BrowserContext of its
// own in it (newBrowser): cookies, storage and cache apart, as in a browser
// of its own, without the second or so of CPU that starting one costs.
var chromiumProcess struct {
	once   sync.Once
	ctx    context.Context // the browser's first context: the parent of the tests' contexts
	cancel func()
	dir    string // the user data folder
	err    error
}

// sharedChromium returns the context of the package's Chromium, starting it
// at the first call.
func sharedChromium(t testing.TB) context.Context {
	t.Helper()
	path := chromium(t)
	c := &chromiumProcess
	c.once.Do(func() {
		if c.dir, c.err = os.MkdirTemp("", "outreach-chromium-"); c.err != nil {
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(path),
			chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
			// The machine's network is closed: no background connections.
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-default-apps", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.UserDataDir(c.dir),
			// Each test's tab sets its own viewport (EmulateViewport).
			chromedp.WindowSize(1280, 900),
		}
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelCtx := chromedp.NewContext(actx)
		c.ctx = ctx
		c.cancel = func() {
			cancelCtx()
			cancelAlloc()
		}
		// The first run starts the browser; its context must have no timeout.
		if c.err = chromedp.Do(ctx); c.err != nil {
			c.err = fmt.Errorf("starting Chromium: %w", c.err)
		}
	})
	if c.err != nil {
		t.Fatal(c.err)
	}
	return c.ctx
}

// stopChromium stops the package's Chromium, if a test started it, and
// removes its user data folder.
func stopChromium() {
	c := &chromiumProcess
	if c.cancel != nil {
		c.cancel()
	}
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}

// newBrowser opens a browser for the service at base, with a window of
// width × 900 pixels (390 for a phone): a new BrowserContext (nothing
// shared with another test's or another of this test's browsers) and a tab
// in the package's Chromium. It closes at the end of the test.
func newBrowser(t testing.TB, base string, width int) *browser {
	t.Helper()
	parent := sharedChromium(t)
	t.Cleanup(holdBrowserSlot(t)) // runs after the browser's own cleanup: cleanups run last first
	b := &browser{t: t, base: base, shots: shotsDir()}
	ctx, cancelCtx := chromedp.NewContext(parent, chromedp.WithNewBrowserContext(), chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request != nil {
			b.mu.Lock()
			b.requests = append(b.requests, e.Request.URL)
			b.mu.Unlock()
		}
	}))
	b.ctx = ctx
	t.Cleanup(cancelCtx) // closes the tab and disposes of its BrowserContext
	// The first run opens the tab, which lives as long as the context that
	// run gets: that context must have no timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(int64(width), 900)); err != nil {
		t.Fatalf("opening a tab in Chromium: %v", err)
	}
	return b
}

// step bounds one browser step, so that a page that never shows what the
// test waits for fails the test instead of hanging it.
const step = 30 * time.Second

// do runs chromedp steps, failing the test (with a screenshot) on error.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.screenshot("failed-" + what)
		b.t.Fatalf("%s: %v", what, err)
	}
}

// navigate runs steps that load a new page (a link, a form's submit) and
// returns the page's HTTP status once it has loaded.
func (b *browser) navigate(what string, steps ...chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	// A live part of the page (refreshed every consoleRefresh) may replace
	// the node between its lookup and the click: look it up again. The
	// click was not dispatched, so nothing is submitted twice.
	for try := 0; err != nil && strings.Contains(err.Error(), "Could not find node with given id") && try < 5; try++ {
		resp, err = chromedp.RunResponse(ctx, steps...)
	}
	if err != nil {
		b.screenshot("failed-" + what)
		b.t.Fatalf("%s: %v", what, err)
	}
	b.fitsWidth(what)
	return resp.Status
}

// fitsWidth fails the test when the page is wider than the window: on a
// phone (390 px) as on a desktop, no page of the console scrolls sideways.
// Tables and long texts scroll inside their own box, if at all.
func (b *browser) fitsWidth(what string) {
	b.t.Helper()
	// Measured once the page has loaded and laid out: right after a
	// navigation, the new document may not be there yet.
	var widths []int
	for deadline := time.Now().Add(step); ; time.Sleep(20 * time.Millisecond) {
		widths = eval[[]int](b, `document.readyState === "complete" && document.documentElement ? [document.documentElement.scrollWidth, document.documentElement.clientWidth] : []`)
		if len(widths) == 2 || time.Now().After(deadline) {
			break
		}
	}
	if len(widths) != 2 {
		b.t.Fatalf("%s: the page never finished loading", what)
	}
	if widths[0] > widths[1] {
		b.screenshot("too-wide-" + what)
		b.t.Errorf("%s: the page is %d px wide in a window of %d px: it scrolls sideways", what, widths[0], widths[1])
	}
}

// screenshot saves the whole page as <test>-<name>.png (PNG: quality 100) in the shots folder.
func (b *browser) screenshot(name string) string {
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	img, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	file := filepath.Join(b.shots, strings.NewReplacer("/", "_", " ", "_").Replace(b.t.Name()+"-"+name)+".png")
	if err := os.WriteFile(file, img, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	b.t.Logf("screenshot: %s", file)
	return file
}

// open loads a path of the service and returns its status.
func (b *browser) open(path string) int64 {
	b.t.Helper()
	return b.navigate("open "+path, chromedp.Navigate(b.base+path))
}

// fill types value into the field sel (after clearing it).
func (b *browser) fill(sel, value string) {
	b.t.Helper()
	// Emptied by script (chromedp's Clear fails on an empty textarea),
	// then typed, so that the page's input events fire as for a person.
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void]("document.querySelector("+strconv.Quote(sel)+").value=''")); err != nil {
		b.screenshot("failed-fill")
		b.t.Fatalf("fill %s: %v", sel, err)
	}
	b.do("fill "+sel, chromedp.SendKeys(chromedp.CSS(sel), value))
}

// submit clicks the button sel and waits for the page it leads to; it
// returns that page's status.
func (b *browser) submit(sel string) int64 {
	b.t.Helper()
	return b.navigate("submit "+sel, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// signIn signs in through the form.
func (b *browser) signIn(user, pass string) {
	b.t.Helper()
	b.open("/login")
	b.fill("#username", user)
	b.fill("#password", pass)
	if status := b.submit("form button[type=submit].primary"); status != 200 {
		b.t.Fatalf("signing in as %s: the page answered %d", user, status)
	}
}

// text returns the visible text of the first element matching sel,
// waiting for it to be visible.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
	for try := 0; err != nil && strings.Contains(err.Error(), "Could not find node with given id") && try < 5; try++ {
		s, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible)) // replaced by a live refresh
	}
	if err != nil {
		b.screenshot("failed-read")
		b.t.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// attr returns an attribute of the first element matching sel.
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name, chromedp.NodeReady))
	if err != nil {
		b.t.Fatalf("attribute %s of %s: %v", name, sel, err)
	}
	return v.Value
}

// value returns the value of the form field sel.
func (b *browser) value(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel), chromedp.NodeReady))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// waitText waits until the element sel shows text containing want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	deadline := time.Now().Add(step)
	for {
		got := eval[string](b, "(document.querySelector("+strconv.Quote(sel)+")||{}).innerText||''")
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			b.screenshot("failed-wait")
			b.t.Fatalf("%s shows %q, never %q", sel, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// location is the page's current URL path and query.
func (b *browser) location() string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, step)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatal(err)
	}
	return u.RequestURI()
}

// offOrigin returns the requests the pages made to anywhere but the
// service (data: URLs aside).
func (b *browser) offOrigin() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, u := range b.requests {
		if !strings.HasPrefix(u, b.base+"/") && u != b.base && !strings.HasPrefix(u, "data:") {
			out = append(out, u)
		}
	}
	return out
}

// newJar is a cookie jar for a plain HTTP client of the console.
func newJar(t testing.TB) http.CookieJar {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return jar
}
