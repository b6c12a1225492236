package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cliplab/internal/db"
	"cliplab/internal/record"
)

// TestMain runs the command itself when a test starts this test binary
// as a child (TestWatchInterrupt).
func TestMain(m *testing.M) {
	if os.Getenv("CLIPLAB_REPORT_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// lockedBuffer is a bytes.Buffer that a watching goroutine writes while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// claimPending claims the one pending run of handDB's database, as a
// runner's worker would.
func claimPending(t *testing.T, path string) (*db.DB, *db.Claim) {
	t.Helper()
	w, err := db.Open(path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	c, err := w.Claim(context.Background(), "hand", db.ClaimOptions{Worker: "test", StaleAfter: time.Hour})
	if err != nil || c == nil {
		t.Fatalf("claim: %v %v", c, err)
	}
	return w, c
}

// finishClaimed ends the claimed run done, with the metrics of a norm
// seed at 0.88.
func finishClaimed(t *testing.T, w *db.DB, c *db.Claim) {
	t.Helper()
	r := handRun("norm", 1, 1, 0.80, 0.88, 0.90, record.Done)
	if err := w.Finish(context.Background(), c.ID, c.Attempt, r.Steps, r.Evals, record.Result{Status: record.Done, WallSeconds: 1, TrainFLOPs: 1e6, Steps: len(r.Steps)}); err != nil {
		t.Fatal(err)
	}
}

// endPending claims and finishes handDB's pending run, outside a test
// goroutine.
func endPending(path string) error {
	ctx := context.Background()
	w, err := db.Open(path, db.Options{})
	if err != nil {
		return err
	}
	defer w.Close()
	c, err := w.Claim(ctx, "hand", db.ClaimOptions{Worker: "test", StaleAfter: time.Hour})
	if err != nil || c == nil {
		return fmt.Errorf("claim: %v %v", c, err)
	}
	r := handRun("norm", 1, 1, 0.80, 0.88, 0.90, record.Done)
	return w.Finish(ctx, c.ID, c.Attempt, r.Steps, r.Evals, record.Result{Status: record.Done, WallSeconds: 1, TrainFLOPs: 1e6, Steps: len(r.Steps)})
}

const refreshTag = `<meta http-equiv="refresh"`

// TestWatchRegenerates drives the watch loop tick by tick on handDB's
// database (6 runs ended, 1 pending): the first report reloads itself; a
// claim changes it; a heartbeat changes the database but not the report,
// so no file is rewritten and nothing printed; the run's end gives a
// complete report without the reload, byte for byte the report that
// report without -watch writes.
func TestWatchRegenerates(t *testing.T) {
	path := handDB(t)
	out := filepath.Join(t.TempDir(), "live")
	r, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithCancel(context.Background())
	tick := make(chan time.Time)
	var stdout lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- watchTicks(ctx, r, reportOptions{out: out, target: 0.9, live: 30 * time.Second}, tick, &stdout)
	}()
	// The loop takes a tick only once it has written the report and looked
	// at the database for the previous one: after two ticks, the first
	// one's work is done.
	settle := func() { tick <- time.Time{}; tick <- time.Time{} }
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	age := func() {
		entries, _ := os.ReadDir(out)
		for _, e := range entries {
			if err := os.Chtimes(filepath.Join(out, e.Name()), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	rewritten := func() []string {
		var names []string
		entries, _ := os.ReadDir(out)
		for _, e := range entries {
			st, err := os.Stat(filepath.Join(out, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if !st.ModTime().Equal(old) {
				names = append(names, e.Name())
			}
		}
		return names
	}
	page := func() string {
		b, err := os.ReadFile(filepath.Join(out, "index.html"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	lines := func() int { return strings.Count(stdout.String(), "\n") }

	settle()
	if p := page(); !strings.Contains(p, refreshTag+` content="30">`) || !strings.Contains(p, "1 not ended (1 pending)") {
		t.Errorf("first report: no reload every 30 s, or not 1 pending:\n%.1500s", p)
	}
	if n := lines(); n != 1 {
		t.Errorf("%d lines printed for the first report, want 1:\n%s", n, stdout.String())
	}
	age()

	w, c := claimPending(t, path)
	settle()
	if got := rewritten(); !strings.Contains(page(), "1 not ended (1 running)") || len(got) == 0 {
		t.Errorf("after a claim: files rewritten %v; index.html:\n%.1500s", got, page())
	}
	if n := lines(); n != 2 {
		t.Errorf("%d lines printed after the claim, want 2:\n%s", n, stdout.String())
	}
	age()

	if err := w.Heartbeat(ctx, map[int64]int{c.ID: c.Attempt}); err != nil {
		t.Fatal(err)
	}
	settle()
	if got := rewritten(); len(got) > 0 {
		t.Errorf("a heartbeat rewrote %v, whose contents did not change", got)
	}
	if n := lines(); n != 2 {
		t.Errorf("%d lines printed after a heartbeat, want still 2:\n%s", n, stdout.String())
	}

	finishClaimed(t, w, c)
	settle()
	if p := page(); strings.Contains(p, refreshTag) || strings.Contains(p, "not ended") || !strings.Contains(p, "7 runs: 6 done") {
		t.Errorf("complete report still reloads, or does not show 6 done:\n%.1500s", p)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch ended with %v after cancel, want nil", err)
	}

	plain := t.TempDir()
	var so, se bytes.Buffer
	if err := run(context.Background(), []string{"-db", path, "-out", plain}, &so, &se); err != nil {
		t.Fatal(err)
	}
	compareDirs(t, out, plain)
}

// compareDirs checks that folders a and b hold the same files, byte for
// byte.
func compareDirs(t *testing.T, a, b string) {
	t.Helper()
	ea, _ := os.ReadDir(a)
	eb, _ := os.ReadDir(b)
	if len(ea) != len(eb) || len(ea) < 10 {
		t.Fatalf("%d files in %s, %d in %s", len(ea), a, len(eb), b)
	}
	for _, e := range ea {
		x, _ := os.ReadFile(filepath.Join(a, e.Name()))
		y, err := os.ReadFile(filepath.Join(b, e.Name()))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between the watched report and a plain one (%v)", e.Name(), err)
		}
	}
}

// TestWatchBadInterval: an interval that is not a duration, or under a
// second, is bad input: exit 2, nothing written.
func TestWatchBadInterval(t *testing.T) {
	path := handDB(t)
	for _, arg := range []string{"0", "-1s", "10ms", "abc", "30"} {
		t.Run(arg, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "r")
			var so, se bytes.Buffer
			err := run(context.Background(), []string{"-db", path, "-out", out, "-watch", arg}, &so, &se)
			if code := exitCode(err, &se); code != 2 || !strings.Contains(se.String(), "-watch") {
				t.Errorf("exit %d, stderr %q; want 2 naming -watch", code, se.String())
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("-watch %s: output folder written (%v)", arg, err)
			}
		})
	}
}

// TestWatchInterrupt: report -watch as its own process ends with exit 0 on
// SIGINT (Ctrl-C), leaving its report whole and no temporary file.
func TestWatchInterrupt(t *testing.T) {
	path := handDB(t)
	out := filepath.Join(t.TempDir(), "live")
	cmd := exec.Command(os.Args[0], "-db", path, "-out", out, "-watch", "1s")
	cmd.Env = append(os.Environ(), "CLIPLAB_REPORT_MAIN=1")
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		if _, err := os.Stat(filepath.Join(out, "index.html")); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("report -watch exited before writing a report: %v\n%s", err, se.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := <-exited; err != nil {
		t.Errorf("report -watch after SIGINT: %v, want exit 0\n%s", err, se.String())
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
	if !strings.Contains(so.String(), "report: hand: ") {
		t.Errorf("stdout %q", so.String())
	}
}

// chromium returns the path of Debian's chromium, or skips t.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium not installed (apt-get install chromium)")
	return ""
}

// dumpDOM loads url in headless chromium and returns the DOM it ends with;
// budget > 0 lets the page run that much virtual time (meta refreshes
// included; virtual time stands still while a request is answered).
func dumpDOM(t *testing.T, bin, url string, budget time.Duration) string {
	t.Helper()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--user-data-dir=" + t.TempDir(), "--dump-dom"}
	if budget > 0 {
		args = append(args, fmt.Sprintf("--virtual-time-budget=%d", budget.Milliseconds()))
	}
	var so, se bytes.Buffer
	cmd := exec.Command(bin, append(args, url)...)
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, se.String())
	}
	return so.String()
}

// TestWatchInChromium watches handDB's database (1 run pending) with
// report -watch 1s and loads its index.html in headless chromium, over
// HTTP: the page renders (title, status, figures, tables) and reloads
// itself; the run ends while chromium waits for the reload, after the
// report was generated once; the reloaded page shows it ended and does
// not reload again.
func TestWatchInChromium(t *testing.T) {
	bin := chromium(t)
	path := handDB(t)
	out := filepath.Join(t.TempDir(), "live")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-db", path, "-out", out, "-watch", "1s"}, &stdout, &stderr) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("report -watch: %v\n%s", err, stderr.String())
		}
	}()
	index := filepath.Join(out, "index.html")
	for {
		if _, err := os.Stat(index); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("report -watch ended: %v\n%s", err, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}

	var (
		mu     sync.Mutex
		loads  int  // index.html requests while armed
		armed  bool // the next reload ends the run first
		ending sync.Once
		endErr error // ending's, read after chromium exits
	)
	files := http.FileServer(http.Dir(out))
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		// index.html is served at "/" (http.FileServer redirects
		// /index.html there, and the page reloads "/").
		if req.URL.Path == "/" {
			mu.Lock()
			if armed {
				loads++
			}
			reload := armed && loads > 1
			mu.Unlock()
			if reload {
				ending.Do(func() {
					// The run ends; then, while chromium waits, report
					// -watch notices and writes the complete report.
					if endErr = endPending(path); endErr != nil {
						return
					}
					for give := time.Now().Add(2 * time.Minute); time.Now().Before(give); time.Sleep(50 * time.Millisecond) {
						b, err := os.ReadFile(index)
						if err == nil && !bytes.Contains(b, []byte(refreshTag)) {
							return
						}
					}
					endErr = errors.New("report -watch did not write the complete report within 2 minutes of the run's end")
				})
			}
		}
		files.ServeHTTP(rw, req)
	}))
	defer srv.Close()

	first := dumpDOM(t, bin, srv.URL+"/", 0)
	for _, want := range []string{"<title>Report: hand</title>", refreshTag + ` content="1">`, "1 not ended (1 pending)", "Live: report -watch", `<img alt="Accuracy versus FLOPs to target" src="data:image/png;base64,`, "<th>method</th>"} {
		if !strings.Contains(first, want) {
			t.Errorf("first page lacks %q:\n%.3000s", want, first)
		}
	}
	if n := strings.Count(first, "<figure>"); n < 5 {
		t.Errorf("first page shows %d figures", n)
	}

	mu.Lock()
	armed = true
	mu.Unlock()
	second := dumpDOM(t, bin, srv.URL+"/", 10*time.Second)
	mu.Lock()
	n := loads
	mu.Unlock()
	if endErr != nil {
		t.Fatal(endErr)
	}
	if n < 2 {
		t.Fatalf("chromium loaded index.html %d times in 10 s of virtual time: the page did not reload itself", n)
	}
	if strings.Contains(second, refreshTag) || strings.Contains(second, "not ended") || strings.Contains(second, "Live:") || !strings.Contains(second, "7 runs: 6 done") {
		t.Errorf("reloaded page does not show the ended run, or still reloads:\n%.3000s", second)
	}
	if n != 2 {
		t.Errorf("index.html loaded %d times, want 2 (the complete report does not reload)", n)
	}
}

// TestWatchCompareRefused: -watch follows one database; asked to watch a
// comparison it exits 2 naming -watch and writes nothing.
func TestWatchCompareRefused(t *testing.T) {
	path := handDB(t)
	for _, args := range [][]string{
		{"-db", path + "," + handDB(t)},
		{"-db", path, "-experiment", "a,b"},
	} {
		out := filepath.Join(t.TempDir(), "r")
		var so, se bytes.Buffer
		err := run(context.Background(), append(args, "-out", out, "-watch", "30s"), &so, &se)
		if code := exitCode(err, &se); code != 2 || !strings.Contains(se.String(), "-watch") {
			t.Errorf("%q: exit %d, stderr %q; want 2 naming -watch", args, code, se.String())
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%q: output folder written (%v)", args, err)
		}
	}
}
