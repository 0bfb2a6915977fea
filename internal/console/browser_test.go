package console

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console in a real browser: headless Chromium (the Debian package,
// installed by hack/chromium.sh, which `make test` runs) driven by chromedp.
// A missing browser fails these tests; they never skip.

// envChromium names the browser; hack/chromium.sh prints it.
const envChromium = "GATEHOUSE_CHROMIUM"

// envArtifacts is where screenshots are written (default: a test temp dir).
const envArtifacts = "GATEHOUSE_ARTIFACTS"

// envUpdateScreenshots=1 also writes the README's screenshots under docs/.
const envUpdateScreenshots = "GATEHOUSE_UPDATE_SCREENSHOTS"

// readmeScreenshots are the screenshots the README shows (docs/console-NAME.png).
var readmeScreenshots = map[string]bool{"matrix": true, "whatif": true}

// browserWait bounds each page visit.
const browserWait = 30 * time.Second

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv(envChromium), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p
		}
	}
	t.Fatalf("no Chromium (set %s or install the Debian package chromium: `make test` runs hack/chromium.sh, which installs it as root)", envChromium)
	return ""
}

// browser is one headless Chromium for a test, with the console errors and
// uncaught exceptions of the pages it shows.
type browser struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
	shots  string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		// The machine's network is closed: no background connections.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1400, 900),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{ctx: ctx, shots: os.Getenv(envArtifacts)}
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// Start the browser (no timeout on this first run: it would stop it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s: %s (%s)", m.Type, m.Text, m.URL))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// takeErrors returns the errors seen since the last call.
func (b *browser) takeErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.errors
	b.errors = nil
	return out
}

// do runs steps with a bound.
func (b *browser) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// runFor runs one action returning a value, with a bound.
func runFor[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// open navigates to url, waits for the page and returns its text.
func (b *browser) open(t *testing.T, url string) string {
	t.Helper()
	b.do(t, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("main")))
	return runFor(t, b, chromedp.Text(chromedp.CSS("body")))
}

// screenshot writes a full-page PNG as name.png to the artifacts and, with
// envUpdateScreenshots, the README's ones to docs/ as docs/console-name.png.
func (b *browser) screenshot(t *testing.T, name string) {
	t.Helper()
	png := runFor(t, b, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv(envUpdateScreenshots) == "1" && readmeScreenshots[name] {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "console-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// browserPage is one page of config/samples and what it must show.
type browserPage struct {
	path string
	// shows are texts the rendered page must contain (innerText).
	shows []string
	// shot names the screenshot; "" takes none.
	shot string
}

func TestBrowserPages(t *testing.T) {
	s := newTestServer(t, samples)
	srv := httptest.NewServer(s)
	defer srv.Close()
	b := newBrowser(t)
	const tenant = "/t/acme-field-services/"
	pages := map[string]browserPage{
		"home":     {path: "/", shows: []string{"acme-field-services"}, shot: "home"},
		"overview": {path: tenant, shows: []string{"Revision", "Nothing is left out"}, shot: "overview"},
		"matrix": {path: tenant + "matrix", shot: "matrix",
			shows: []string{"Limited Technician", "partial", "ownOrAssigned", "via extends field-base", "Export this table as CSV"}},
		"fields: billingRate hidden for the technician role": {path: tenant + "fields", shot: "fields",
			shows: []string{"billingRate", "technician\thidden"}},
		"people": {path: tenant + "people", shot: "people", shows: []string{"alex.apprentice", "calgary-apprentices", "dana.director"}},
		"person: alex.apprentice partial on work orders": {path: tenant + "people/alex.apprentice", shot: "person",
			shows: []string{"limited-technician", `where ownerId = "alex.apprentice" or assigneeIds contains "alex.apprentice"`}},
		"explain": {path: tenant + "explain?subject=alex.apprentice&action=edit&module=workorders&prop=assigneeIds%3Dalex.apprentice", shot: "explain",
			shows: []string{"Allowed", "limited-technician", "ownOrAssigned"}},
		"who can": {path: tenant + "who-can?action=approve&module=purchaseorders&prop=amount%3D3000&prop=unit%3D%2Fca%2Fab%2Fcalgary", shot: "whocan",
			shows: []string{"sam.supervisor"}},
		"approvers: the supervisor above 1,000": {path: tenant + "approvers?module=purchaseorders&prop=amount%3D1500&prop=unit%3D%2Fca%2Fab%2Fcalgary", shot: "approvers",
			shows: []string{"supervisor", "sam.supervisor"}},
		"changes without a trail": {path: tenant + "changes", shot: "changes", shows: []string{"--audit-log"}},
		"what if":                 {path: tenant + "what-if", shot: "", shows: []string{"Role grants", "Download patch"}},
	}
	for name, p := range pages {
		t.Run(name, func(t *testing.T) {
			text := b.open(t, srv.URL+p.path)
			for _, want := range p.shows {
				if !containsCells(text, want) {
					t.Errorf("%s does not show %q:\n%.3000s", p.path, want, text)
				}
			}
			if p.shot != "" {
				b.screenshot(t, p.shot)
			}
			if errs := b.takeErrors(); len(errs) > 0 {
				t.Errorf("%s: browser errors: %v", p.path, errs)
			}
		})
	}
}

// containsCells reports whether text holds want, where a tab in want stands
// for the tab innerText puts between the cells of a table row.
func containsCells(text, want string) bool {
	return strings.Contains(text, strings.ReplaceAll(want, `\t`, "\t"))
}

// A what-if toggle, with our JavaScript: pressing the technician's
// workorders/delete cell shows, without a page load, the subjects who would
// gain it.
func TestBrowserWhatIfToggle(t *testing.T) {
	s := newTestServer(t, samples)
	srv := httptest.NewServer(s)
	defer srv.Close()
	b := newBrowser(t)
	b.open(t, srv.URL+"/t/acme-field-services/what-if")
	// A marker that a page load would erase: the toggle must not reload.
	runFor(t, b, chromedp.Evaluate[bool]("window.gatehouseMarker = true"))
	toggle := chromedp.CSS(`button[name="set"][value^="Role/technician/workorders/delete/"]`)
	b.do(t, chromedp.ScrollIntoView(toggle), chromedp.Click(toggle))
	var result string
	deadline := time.Now().Add(browserWait)
	for !strings.Contains(result, "tom.tech") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		result = runFor(t, b, chromedp.Text(chromedp.CSS("#whatif-result")))
	}
	for _, want := range []string{"gained", "delete", "workorders", "tom.tech", "tina.tech"} {
		if !strings.Contains(result, want) {
			t.Errorf("the effect of the toggle does not show %q:\n%s", want, result)
		}
	}
	if !runFor(t, b, chromedp.Evaluate[bool]("window.gatehouseMarker === true")) {
		t.Error("the toggle reloaded the page instead of updating it in place")
	}
	// The edit is kept for the next one, and the pressed cell keeps focus.
	edits := runFor(t, b, chromedp.Text(chromedp.CSS("#whatif-edits")))
	if !strings.Contains(edits, "Edits so far") {
		t.Errorf("the edit is not listed:\n%.1000s", edits)
	}
	b.do(t, chromedp.ScrollIntoView(chromedp.CSS("#whatif-result")))
	b.screenshot(t, "whatif")
	if errs := b.takeErrors(); len(errs) > 0 {
		t.Errorf("browser errors: %v", errs)
	}
}
