package browser

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

var updateScreenshots = flag.Bool("update-screenshots", false, "rewrite ../testdata/screenshots/*.png")

// chromium finds the browser: $AUDITLOG_CHROMIUM, else chromium on PATH.
// Without one the test skips, unless AUDITLOG_REQUIRE_BROWSER=1.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("AUDITLOG_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("AUDITLOG_REQUIRE_BROWSER") == "1" {
		t.Fatal("Chromium is required (AUDITLOG_REQUIRE_BROWSER=1) but not found: apt-get install -y chromium")
	}
	t.Skip("Chromium not found (apt-get install -y chromium); skipping the browser tests")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and no
// network beyond the test server; it stops when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 860),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs the steps, each test step bounded to a minute.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// get runs an action and returns its value.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// clickNav clicks sel and waits for the next page to be ready.
func clickNav(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	before := get(t, ctx, chromedp.Location())
	do(t, ctx, chromedp.Click(chromedp.CSS(sel)))
	waitNav(t, ctx, before)
}

// waitNav waits until the location is no longer before and the new page's
// main element is there.
func waitNav(t *testing.T, ctx context.Context, before string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if get(t, ctx, chromedp.Location()) != before {
			do(t, ctx, chromedp.WaitReady(chromedp.CSS("main")))
			return
		}
	}
	t.Fatalf("no navigation from %s", before)
}

// texts are the text contents of the elements sel matches.
func texts(t *testing.T, ctx context.Context, sel string) []string {
	t.Helper()
	return get(t, ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.textContent)`, sel)))
}

// open navigates to url and waits for the page's main element.
func open(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("main")))
}

// screenshot saves the viewport as ../testdata/screenshots/name.png with
// -update-screenshots.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*updateScreenshots {
		return
	}
	png := get(t, ctx, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join("..", "testdata", "screenshots", name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowser drives one Chromium through the view, step by step.
func TestBrowser(t *testing.T) {
	ctx := newBrowser(t)
	base := server(t)
	for _, step := range []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, base string)
	}{
		{"filter by actor", testFilterByActor},
		{"open a timeline and follow a cid", testTimelineAndCID},
		{"page forward and back", testPaging},
		{"download an export", testDownload},
		{"keyboard navigation", testKeyboard},
		{"hostile value does not execute", testHostile},
	} {
		t.Run(step.name, func(t *testing.T) { step.fn(t, ctx, base) })
	}
}

func testFilterByActor(t *testing.T, ctx context.Context, base string) {
	open(t, ctx, base)
	screenshot(t, ctx, "history")
	do(t, ctx, chromedp.SetValue(chromedp.CSS("#actor"), "bob"))
	clickNav(t, ctx, "#apply")
	actors := texts(t, ctx, "table.entries tbody td:nth-child(5)")
	if len(actors) != 10 {
		t.Fatalf("%d rows, want a full page of 10", len(actors))
	}
	for _, a := range actors {
		if a != "bob" {
			t.Errorf("actor %q in a page filtered by bob", a)
		}
	}
}

func testTimelineAndCID(t *testing.T, ctx context.Context, base string) {
	open(t, ctx, base+"?model=invoices")
	clickNav(t, ctx, "a.object")
	if h1 := get(t, ctx, chromedp.Text(chromedp.CSS("h1"))); !strings.Contains(h1, "Invoice 2026-") {
		t.Errorf("timeline heading %q", h1)
	}
	screenshot(t, ctx, "timeline")
	clickNav(t, ctx, "ol.timeline a.cid")
	loc := get(t, ctx, chromedp.Location())
	cids := texts(t, ctx, "table.entries a.cid")
	if !strings.Contains(loc, "cid=req-") || len(cids) == 0 {
		t.Fatalf("at %s, cids %q", loc, cids)
	}
	for _, c := range cids {
		if !strings.HasSuffix(loc, "cid="+c) {
			t.Errorf("cid %q on the page of %s", c, loc)
		}
	}
}

func testPaging(t *testing.T, ctx context.Context, base string) {
	open(t, ctx, base)
	first := texts(t, ctx, "table.entries td:first-child a")
	clickNav(t, ctx, "#older")
	second := texts(t, ctx, "table.entries td:first-child a")
	clickNav(t, ctx, "#newer")
	back := texts(t, ctx, "table.entries td:first-child a")
	if len(second) != 10 || first[0] == second[0] {
		t.Errorf("second page %q after %q", second, first)
	}
	if strings.Join(back, "|") != strings.Join(first, "|") {
		t.Errorf("back to %q, want %q", back, first)
	}
}

func testKeyboard(t *testing.T, ctx context.Context, base string) {
	open(t, ctx, base)
	do(t, ctx, chromedp.KeyEvent(kb.Tab))
	if focused := get(t, ctx, chromedp.Evaluate[string](`document.activeElement.textContent`)); focused != "Skip to content" {
		t.Errorf("first Tab focuses %q, want the skip link", focused)
	}
	// Tab on to the Older link and follow it with Enter.
	focused := ""
	for i := 0; i < 80 && focused != "older"; i++ {
		do(t, ctx, chromedp.KeyEvent(kb.Tab))
		focused = get(t, ctx, chromedp.Evaluate[string](`document.activeElement.id`))
	}
	if focused != "older" {
		t.Fatal("Tab never reached the Older link")
	}
	before := get(t, ctx, chromedp.Location())
	do(t, ctx, chromedp.KeyEvent(kb.Enter))
	waitNav(t, ctx, before)
	if loc := get(t, ctx, chromedp.Location()); !strings.Contains(loc, "cursor=") {
		t.Errorf("Enter on Older went to %s", loc)
	}
}

func testHostile(t *testing.T, ctx context.Context, base string) {
	for _, path := range []string{"", "?q=script", "object?model=customers&pk=1", "entry?id=40", "state?id=40"} {
		open(t, ctx, base+path)
		if get(t, ctx, chromedp.Evaluate[bool](`window.__pwned !== undefined`)) || get(t, ctx, chromedp.Title()) == "pwned" {
			t.Errorf("%s: the hostile value ran", path)
		}
		if text := get(t, ctx, chromedp.Text(chromedp.CSS("main"))); !strings.Contains(text, "<script>window.__pwned=1") {
			t.Errorf("%s: the hostile value is not shown as text", path)
		}
		if path == "entry?id=40" {
			screenshot(t, ctx, "entry")
		}
	}
}

// testDownload clicks the CSV export of a filter and reads the file the
// browser saves.
func testDownload(t *testing.T, ctx context.Context, base string) {
	dir := t.TempDir()
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	begin := chromedp.Events(wait, browser.DownloadWillBegin)
	progress := chromedp.Events(wait, browser.DownloadProgress)
	open(t, ctx, base+"?actor=alice")
	do(t, ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptr(true)})
		return err
	}), chromedp.Click(chromedp.CSS("#export-csv")))
	var name string
	for ev, err := range begin {
		if err != nil {
			t.Fatal(err)
		}
		name = ev.SuggestedFilename
		break
	}
	if name != "audit-log-2026-02-03.csv" {
		t.Errorf("file name %q", name)
	}
	for ev, err := range progress {
		if err != nil {
			t.Fatal(err)
		}
		if ev.State != browser.DownloadProgressStateCompleted {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, ev.GUID))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if !strings.HasPrefix(lines[0], "id,created_at,") || len(lines) < 2 {
			t.Errorf("export:\n%s", b)
		}
		for _, l := range lines[1:] {
			if !strings.Contains(l, ",alice,") {
				t.Errorf("export line not alice's: %s", l)
			}
		}
		return
	}
	t.Fatal("the download did not complete")
}

func ptr[T any](v T) *T { return &v }
