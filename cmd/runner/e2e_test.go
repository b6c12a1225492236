// End-to-end tests of the built runner binary (issue 4), and the helpers
// that fault_test.go and badinput_test.go share: building runner and report
// once, running them as child processes, and reading their databases.

package main

import (
	"cliplab/internal/nn"

	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "cliplab/internal/db" // registers the sqlite3 driver the helpers read with
)

// binDir holds the binaries built for this test run; TestMain removes it.
var binDir string

// testMainEnv makes this test binary the runner: runner run -workers N
// -worker-procs starts N-1 worker processes of os.Executable(), which in a
// test (BenchmarkGrid's procs=2, say) is this binary.
const testMainEnv = "CLIPLAB_RUNNER_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(testMainEnv) == "1" {
		main()
	}
	os.Setenv(testMainEnv, "1") // for the worker processes of in-process runs
	// In-process benchmarks train: OpenBLAS on the CPU's kernels, one thread.
	if err := nn.EnsureBLAS(); err != nil {
		fmt.Fprintf(os.Stderr, "runner test: WARNING: %v\n", err)
	}
	var err error
	binDir, err = os.MkdirTemp("", "cliplab-runner-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// built is one binary built by buildOnce.
type built struct {
	once sync.Once
	path string
	err  error
}

var runnerBuild, reportBuild built

// buildOnce builds the command in pkg (relative to this folder) into binDir
// the first time it is asked for, and returns its path.
func buildOnce(t *testing.T, b *built, pkg, name string) string {
	t.Helper()
	b.once.Do(func() {
		b.path = filepath.Join(binDir, name)
		out, err := exec.Command("go", "build", "-o", b.path, pkg).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// runnerBin is the runner binary built from this package.
func runnerBin(t *testing.T) string { return buildOnce(t, &runnerBuild, ".", "runner") }

// reportBin is the report binary built from ../report.
func reportBin(t *testing.T) string { return buildOnce(t, &reportBuild, "../report", "report") }

// childEnv is the environment of the binaries the tests start: one BLAS
// thread, as the processes of one grid are compared bit for bit (OpenBLAS
// sums in another order with more threads).
func childEnv() []string {
	return append(os.Environ(), "OPENBLAS_NUM_THREADS=1")
}

// exited is how a child process ended.
type exited struct {
	code           int // -1 when killed by a signal
	stdout, stderr string
}

func (e exited) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", e.code, e.stdout, e.stderr)
}

// proc is a child process started by start.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{} // closed when it has exited
	res            exited
}

// start starts bin with args; the test's cleanup kills it if it still runs.
func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = childEnv()
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		p.res = exited{code: p.cmd.ProcessState.ExitCode(), stdout: p.stdout.String(), stderr: p.stderr.String()}
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			p.res.stderr += "\nwait: " + err.Error()
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for p to exit.
func (p *proc) wait() exited { <-p.done; return p.res }

// running reports whether p has not exited yet.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig to p and waits for it to exit.
func (p *proc) signal(t *testing.T, sig syscall.Signal) exited {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	return p.wait()
}

// runBin runs bin with args to the end.
func runBin(t *testing.T, bin string, args ...string) exited {
	t.Helper()
	return start(t, bin, args...).wait()
}

// waitUntil polls cond until it holds, and fails the test if p exits
// first: the grids are sized so that p is still at work when cond holds.
// There is no deadline: p ends by itself.
func waitUntil(t *testing.T, p *proc, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-p.done:
			if cond() {
				return
			}
			t.Fatalf("runner exited before %s; make the grid longer\n%s", what, p.res)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// openSQL opens the database at path read-only with the SQLite driver, for
// queries internal/db has no function for. A 30 s busy timeout lets it read
// beside a writer.
func openSQL(t *testing.T, path string) *sql.DB {
	t.Helper()
	s, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=30000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// queryInt returns the one integer that q selects from the database at
// path; a database not created yet, or whose tables are not there yet,
// counts as 0.
func queryInt(t *testing.T, path, q string, args ...any) int {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	var n sql.NullInt64
	for _, mode := range []string{"mode=ro&", ""} {
		s, err := sql.Open("sqlite3", "file:"+path+"?"+mode+"_busy_timeout=30000")
		if err != nil {
			t.Fatal(err)
		}
		err = s.QueryRow(q, args...).Scan(&n)
		s.Close()
		switch {
		case err == nil:
			return int(n.Int64)
		case strings.Contains(err.Error(), "no such table"):
			return 0
		case mode != "" && strings.Contains(err.Error(), "readonly database"):
			// A runner killed inside its first transaction (the schema,
			// before the file turns to WAL) leaves a hot journal, which
			// only a writer may roll back, as the next runner would.
			continue
		}
		t.Fatalf("%s: %v", q, err)
	}
	return int(n.Int64)
}

// dumpRows returns every row q selects, every column printed exactly:
// floats by their bits, text and blobs quoted, NULL as NULL.
func dumpRows(t *testing.T, s *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := s.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			fmt.Fprintf(&b, "%s=", cols[i])
			switch v := v.(type) {
			case nil:
				b.WriteString("NULL")
			case float64:
				fmt.Fprintf(&b, "%v(%#x)", v, math.Float64bits(v))
			case []byte:
				fmt.Fprintf(&b, "%q", v)
			case string:
				fmt.Fprintf(&b, "%q", v)
			default:
				fmt.Fprintf(&b, "%v", v)
			}
			b.WriteByte(' ')
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// statusCounts counts the runs of experiment by status.
func statusCounts(t *testing.T, path, experiment string) map[string]int {
	t.Helper()
	s := openSQL(t, path)
	rows, err := s.Query("SELECT status, count(*) FROM runs WHERE experiment = ? GROUP BY status", experiment)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			t.Fatal(err)
		}
		m[st] = n
	}
	return m
}

// checkSteps checks that every run of experiment that has ended (or was
// interrupted) logged steps 1..steps_done, each once (none for a run
// interrupted before its first step): log_every is 1 in
// every grid of these tests, so rows left by an earlier attempt would show
// as a gap, a surplus or a step past steps_done. It returns how many runs it
// checked.
func checkSteps(t *testing.T, path, experiment string) int {
	t.Helper()
	s := openSQL(t, path)
	rows, err := s.Query(`SELECT r.id, r.status, ifnull(r.steps_done, -1), count(s.step), ifnull(min(s.step), 0), ifnull(max(s.step), 0)
		FROM runs r LEFT JOIN steps s ON s.run_id = r.id
		WHERE r.experiment = ? AND r.status IN ('done', 'diverged', 'interrupted')
		GROUP BY r.id ORDER BY r.id`, experiment)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var status string
		var done, count, lo, hi int
		if err := rows.Scan(&id, &status, &done, &count, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		n++
		if done == 0 && status == "interrupted" && count == 0 {
			continue // interrupted before its first step
		}
		if done < 1 || count != done || hi != done || lo != 1 {
			t.Errorf("run %d (%s): steps_done %d, but %d step rows from %d to %d; want 1..%d each once", id, status, done, count, lo, hi, done)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// referenceDBs caches, per grid file, a database trained by one runner in
// one go: the results every interrupted, killed or shared database of the
// same grid must end up with, bit for bit.
var referenceDBs sync.Map // file → *reference

type reference struct {
	once sync.Once
	path string
	res  exited
}

func referenceDB(t *testing.T, file string) string {
	t.Helper()
	v, _ := referenceDBs.LoadOrStore(file, &reference{})
	r := v.(*reference)
	r.once.Do(func() {
		sum := sha256.Sum256([]byte(file))
		r.path = filepath.Join(binDir, "reference-"+hex.EncodeToString(sum[:8])+".db")
		r.res = runBin(t, runnerBin(t), "run", "-db", r.path, "-workers", "2", "-progress", "none", file)
	})
	if r.res.code != 0 {
		t.Fatalf("reference run of %s: %s", file, r.res)
	}
	return r.path
}

// sameResults checks that the database at path holds exactly the
// configurations of a clean run of the grid in file (other experiments
// aside), each once, with the
// same status, final values, evaluations and logged steps, bit for bit
// (timings aside).
func sameResults(t *testing.T, file, path string) {
	t.Helper()
	sameResultsAs(t, referenceDB(t, file), file, path)
}

// sameResultsAs is sameResults against the database ref of file.
func sameResultsAs(t *testing.T, ref, file, path string) {
	t.Helper()
	want, got := snapshot(t, t.Context(), ref), snapshot(t, t.Context(), path)
	exps := map[string]bool{} // the experiment of file, and no other in path
	for _, w := range want {
		exps[strings.Fields(w.summary)[0]] = true
	}
	n := 0
	for _, g := range got {
		if exps[strings.Fields(g.summary)[0]] {
			n++
		}
	}
	if n != len(want) {
		t.Errorf("%s holds %d configurations of %s, a clean run %d", path, n, file, len(want))
	}
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("configuration %.12s missing", k)
		case g.summary != w.summary:
			t.Errorf("configuration %.12s:\ngot   %s\nclean %s", k, g.summary, w.summary)
		case !slices.Equal(g.evals, w.evals):
			t.Errorf("configuration %.12s: evaluations\ngot   %q\nclean %q", k, g.evals, w.evals)
		case !slices.Equal(g.steps, w.steps):
			t.Errorf("configuration %.12s: %d logged steps differ from a clean run's %d", k, len(g.steps), len(w.steps))
		}
	}
}

// fileState is what a test compares to show that a command left a database
// untouched: the bytes of the file and of its write-ahead log, or that
// neither exists. An empty log is no log: SQLite leaves one (and the -shm
// index) beside a WAL database it has only read.
func fileState(t *testing.T, path string) string {
	t.Helper()
	h := sha256.New()
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		switch {
		case errors.Is(err, os.ErrNotExist), err == nil && len(b) == 0 && p != path:
			fmt.Fprintf(h, "%s absent;", filepath.Base(p))
		case err != nil:
			t.Fatal(err)
		default:
			fmt.Fprintf(h, "%s %d bytes;", filepath.Base(p), len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// e2eFile is the tiny grid of TestEndToEnd.
var e2eFile = filepath.Join("testdata", "e2e.yaml")

// TestEndToEnd runs the built runner on a tiny grid: plan, run, status, a
// second run that trains nothing, the run_summary view's columns, and a
// configuration that diverges (issue 4, "How we know it works").
func TestEndToEnd(t *testing.T) {
	runner := runnerBin(t)
	path := filepath.Join(t.TempDir(), "runs.db")

	// plan writes nothing.
	plan := runBin(t, runner, "plan", e2eFile)
	if plan.code != 0 || !strings.Contains(plan.stdout, "experiment e2e: 8 configurations (dataset addition)") {
		t.Fatalf("runner plan: %s\nwant 8 configurations", plan)
	}
	keyRE := regexp.MustCompile(`(?m)^\d+\s+([0-9a-f]{12})\s`)
	planKeys := keyRE.FindAllStringSubmatch(plan.stdout, -1)
	if len(planKeys) != 8 {
		t.Fatalf("runner plan printed %d configuration rows, want 8:\n%s", len(planKeys), plan.stdout)
	}
	if _, err := os.Stat("runs.db"); err == nil {
		t.Errorf("runner plan or a test left runs.db in %s", must(os.Getwd()))
	}

	first := runBin(t, runner, "run", "-db", path, "-workers", "2", "-progress", "lines", e2eFile)
	if first.code != 0 {
		t.Fatalf("runner run: %s", first)
	}
	if !strings.Contains(first.stderr, "experiment e2e: 8 configurations, 8 new") {
		t.Errorf("runner run: %s\nwant 8 new configurations", first)
	}
	if n := len(regexp.MustCompile(`(?m)^run \d+/8 (done|diverged) `).FindAllString(first.stderr, -1)); n != 8 {
		t.Errorf("runner run printed %d progress lines, want 8:\n%s", n, first.stderr)
	}
	if !strings.HasSuffix(first.stdout, "e2e: 8 runs: 6 done, 2 diverged\n") {
		t.Errorf("runner run's summary:\n%s\nwant 6 done, 2 diverged (lr 10 without clipping)", first.stdout)
	}

	// The database holds the keys plan showed.
	s := openSQL(t, path)
	var dbKeys []string
	for _, row := range dumpRows(t, s, "SELECT substr(config_hash, 1, 12) FROM runs ORDER BY config_hash") {
		dbKeys = append(dbKeys, row)
	}
	var want []string
	for _, m := range planKeys {
		want = append(want, fmt.Sprintf("substr(config_hash, 1, 12)=%q ", m[1]))
	}
	slices.Sort(want)
	if !slices.Equal(dbKeys, want) {
		t.Errorf("runs' keys %v, plan's %v", dbKeys, want)
	}

	status := runBin(t, runner, "status", "-db", path)
	statusRE := regexp.MustCompile(`(?m)^\s*e2e\s+6\s+2\s+0\s+0\s+0\s+0\s+0\s+8\s+0\s*$`)
	if status.code != 0 || !statusRE.MatchString(status.stdout) {
		t.Errorf("runner status: %s\nwant e2e with 6 done, 2 diverged, 8 total, 0 left", status)
	}

	// Running the same grid again inserts nothing and trains nothing: every
	// row stays as it was.
	before := dumpRows(t, s, "SELECT * FROM runs ORDER BY id")
	beforeSteps := queryInt(t, path, "SELECT count(*) FROM steps")
	again := runBin(t, runner, "run", "-db", path, "-workers", "2", "-progress", "lines", e2eFile)
	if again.code != 0 || !strings.Contains(again.stderr, "8 configurations, 0 new") || strings.Contains(again.stderr, "\nrun ") {
		t.Errorf("second runner run: %s\nwant 0 new and no run trained", again)
	}
	if after := dumpRows(t, s, "SELECT * FROM runs ORDER BY id"); !slices.Equal(after, before) {
		t.Errorf("second runner run changed the runs table:\nbefore %q\nafter  %q", before, after)
	}
	if n := queryInt(t, path, "SELECT count(*) FROM steps"); n != beforeSteps {
		t.Errorf("second runner run: %d step rows, want the %d there were", n, beforeSteps)
	}

	// run_summary holds at least the columns ../../shared/DESIGN.md lists.
	rows, err := s.Query("SELECT * FROM run_summary LIMIT 1")
	if err != nil {
		t.Fatal(err)
	}
	cols, err := rows.Columns()
	rows.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range strings.Fields(`run_id experiment config_hash arch dataset optimizer method threshold lr batch_size
		epochs seed status test_acc test_loss train_loss steps wall_seconds train_flops clip_fraction max_grad_norm`) {
		if !slices.Contains(cols, c) {
			t.Errorf("run_summary lacks column %s (has %v)", c, cols)
		}
	}
	// Values, not just names: every done run has its final numbers.
	if n := queryInt(t, path, `SELECT count(*) FROM run_summary WHERE status = 'done' AND test_acc BETWEEN 0 AND 1
		AND test_loss >= 0 AND train_loss >= 0 AND steps = 16 AND wall_seconds > 0 AND train_flops > 0
		AND clip_fraction BETWEEN 0 AND 1 AND max_grad_norm > 0 AND dataset = 'addition' AND optimizer = 'sgd'
		AND batch_size = 32 AND epochs = 2`); n != 6 {
		t.Errorf("%d done runs have every final value in run_summary, want 6:\n%s", n,
			strings.Join(dumpRows(t, s, "SELECT * FROM run_summary ORDER BY run_id"), "\n"))
	}

	// The diverging configurations (lr 10, no clipping) keep their curve up
	// to the step that diverged, which is the last one logged.
	div := dumpRows(t, s, `SELECT r.method, r.lr, r.steps_done, r.error, (SELECT max(step) FROM steps WHERE run_id = r.id) AS last,
		(SELECT count(*) FROM steps WHERE run_id = r.id) AS logged,
		(SELECT loss > 100 FROM steps WHERE run_id = r.id ORDER BY step DESC LIMIT 1) AS last_above,
		(SELECT count(*) FROM steps WHERE run_id = r.id AND loss <= 100 AND step < r.steps_done) AS below
		FROM runs r WHERE r.status = 'diverged' ORDER BY r.id`)
	if len(div) != 2 {
		t.Fatalf("%d runs diverged, want the 2 at lr 10 without clipping: %q", len(div), div)
	}
	divRE := regexp.MustCompile(`^method="none" lr=10\(\S+\) steps_done=(\d+) error="loss \S+ above divergence_loss 100 at step (\d+)" last=(\d+) logged=(\d+) last_above=1 below=(\d+) $`)
	for _, row := range div {
		m := divRE.FindStringSubmatch(row)
		if m == nil {
			t.Errorf("diverged run %s\nwant method none at lr 10, its last logged step above divergence_loss", row)
			continue
		}
		// steps_done, the step named in the error, the last step logged and
		// the number of steps logged are one number; every earlier step is
		// below the divergence loss.
		if m[1] != m[2] || m[1] != m[3] || m[1] != m[4] || m[5] != fmt.Sprint(atoi(t, m[1])-1) {
			t.Errorf("diverged run %s\nwant its curve kept up to the step that diverged, and that step last", row)
		}
	}
	sameResults(t, e2eFile, path)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
