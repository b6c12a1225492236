// Faults with real processes on real SQLite files (issue 6, and issue 4's
// killed worker and Ctrl-C): kill -9 mid-grid and resume, two runners on
// one file, a kill during the grid's insertion, report beside a writer,
// SIGINT and resume.

package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// faultFile is the grid of these tests: 8 runs of 3,000 steps, each with a
// metric batch written at step 2,000.
var faultFile = filepath.Join("testdata", "fault_long.yaml")

const faultRuns = 8

// finishedRows returns, per run id, every column of the runs row, steps and
// evals of each run of the database that has ended (done, diverged or
// failed): what no later command may change.
func finishedRows(t *testing.T, path string) map[int64]string {
	t.Helper()
	s := openSQL(t, path)
	out := map[int64]string{}
	for _, idRow := range dumpRows(t, s, "SELECT id FROM runs WHERE status IN ('done', 'diverged', 'failed') ORDER BY id") {
		var id int64
		if _, err := fmt.Sscanf(idRow, "id=%d", &id); err != nil {
			t.Fatalf("%q: %v", idRow, err)
		}
		var b strings.Builder
		for _, q := range []string{
			"SELECT * FROM runs WHERE id = ?",
			"SELECT * FROM steps WHERE run_id = ? ORDER BY step",
			"SELECT * FROM evals WHERE run_id = ? ORDER BY step, split",
		} {
			for _, row := range dumpRows(t, s, q, id) {
				b.WriteString(row)
				b.WriteByte('\n')
			}
		}
		out[id] = b.String()
	}
	return out
}

// checkUnchanged checks that every run in before is in the database at path
// with the very same rows.
func checkUnchanged(t *testing.T, path string, before map[int64]string) {
	t.Helper()
	after := finishedRows(t, path)
	for id, rows := range before {
		if after[id] != rows {
			t.Errorf("finished run %d changed:\nbefore\n%.2000s\nafter\n%.2000s", id, rows, after[id])
		}
	}
}

// checkOnce checks that experiment holds want runs, each configuration
// once, all done.
func checkOnce(t *testing.T, path, experiment string, want int) {
	t.Helper()
	if n := queryInt(t, path, "SELECT count(DISTINCT config_hash) FROM runs WHERE experiment = ?", experiment); n != want {
		t.Errorf("%s holds %d configurations of %s, want %d", path, n, experiment, want)
	}
	if c := statusCounts(t, path, experiment); c["done"] != want || len(c) != 1 {
		t.Errorf("%s: runs of %s by status %v, want all %d done", path, experiment, c, want)
	}
}

// TestKillResume kills runner -9 while several runs are in flight and a
// batch of their metrics is written, then runs the same command again:
// every configuration ends done once, the runs that had finished keep every
// byte of their rows, the killed ones are taken over at once (their worker
// is a dead process of this host) and start again from step 0, and the
// results are a clean run's bit for bit.
//
// Both ways runner run trains: workers of its own process, and with
// -worker-procs one worker there and one in each of two worker processes.
func TestKillResume(t *testing.T) {
	for _, m := range workerModes {
		t.Run(m.name, func(t *testing.T) { testKillResume(t, m.flags) })
	}
}

// workerModes are runner run's two ways to train with several workers: the
// flags that choose each.
var workerModes = []struct {
	name  string
	flags []string
}{{"goroutines", nil}, {"procs", []string{"-worker-procs"}}}

func testKillResume(t *testing.T, flags []string) {
	runner := runnerBin(t)
	path := filepath.Join(t.TempDir(), "runs.db")
	args := append([]string{"run", "-db", path, "-workers", "3", "-progress", "lines"}, append(flags, faultFile)...)

	p := start(t, runner, args...)
	waitUntil(t, p, "a run was done and another had metrics written", func() bool {
		return queryInt(t, path, "SELECT count(*) FROM runs WHERE status = 'done'") >= 1 &&
			queryInt(t, path, `SELECT count(*) FROM runs r WHERE status = 'running'
				AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id)`) >= 1
	})
	if res := p.signal(t, syscall.SIGKILL); res.code != -1 {
		t.Fatalf("runner after kill -9: %s", res)
	}
	c := statusCounts(t, path, "fault")
	if c["running"] == 0 || c["done"] == faultRuns {
		t.Fatalf("after kill -9: %v; want runs left running, killed mid-way", c)
	}
	half := queryInt(t, path, `SELECT count(*) FROM runs r WHERE status = 'running' AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id)`)
	before := finishedRows(t, path)
	t.Logf("killed with %v, %d running runs with metrics written, %d finished", c, half, len(before))

	res := runBin(t, runner, args...)
	if res.code != 0 {
		t.Fatalf("the same command after kill -9: %s", res)
	}
	checkOnce(t, path, "fault", faultRuns)
	checkUnchanged(t, path, before)
	// The runs that were running when killed were claimed once more, the
	// others once.
	if n := queryInt(t, path, "SELECT count(*) FROM runs WHERE attempt = 2"); n != c["running"] {
		t.Errorf("%d runs trained twice, want the %d killed mid-way", n, c["running"])
	}
	if n := queryInt(t, path, "SELECT count(*) FROM runs WHERE attempt NOT IN (1, 2)"); n != 0 {
		t.Errorf("%d runs claimed neither once nor twice", n)
	}
	checkSteps(t, path, "fault")
	sameResults(t, faultFile, path)
}

var progressLineRE = regexp.MustCompile(`(?m)^run \d+/\d+ (done|diverged|failed) `)

// TestTwoRunners starts two runners on one new database with the same grid,
// and a third with another experiment, at once: all exit 0 without
// "database is locked", each configuration is trained once (no run is
// claimed twice), the first two's progress lines add up to the grid, and
// the results are a clean run's.
func TestTwoRunners(t *testing.T) {
	runner := runnerBin(t)
	path := filepath.Join(t.TempDir(), "runs.db")
	otherFile := filepath.Join("testdata", "fault_other.yaml")
	procs := []*proc{
		start(t, runner, "run", "-db", path, "-workers", "2", "-progress", "lines", faultFile),
		start(t, runner, "run", "-db", path, "-workers", "2", "-progress", "lines", faultFile),
		start(t, runner, "run", "-db", path, "-workers", "1", "-progress", "lines", otherFile),
	}
	var lines []int
	for i, p := range procs {
		res := p.wait()
		if res.code != 0 {
			t.Errorf("runner %d: %s", i, res)
		}
		if strings.Contains(res.stderr, "locked") || strings.Contains(res.stderr, "busy") {
			t.Errorf("runner %d met a locked database: %s", i, res)
		}
		lines = append(lines, len(progressLineRE.FindAllString(res.stderr, -1)))
	}
	if lines[0]+lines[1] != faultRuns || lines[2] != 4 {
		t.Errorf("the runners of fault printed %d and %d progress lines, the runner of fault-other %d; want %d in all, and 4",
			lines[0], lines[1], lines[2], faultRuns)
	}
	t.Logf("runs trained by each: %v", lines)
	checkOnce(t, path, "fault", faultRuns)
	checkOnce(t, path, "fault-other", 4)
	if n := queryInt(t, path, "SELECT count(*) FROM runs WHERE attempt != 1"); n != 0 {
		t.Errorf("%d runs were claimed more than once", n)
	}
	checkSteps(t, path, "fault")
	checkSteps(t, path, "fault-other")
	sameResults(t, faultFile, path)
	if n := queryInt(t, path, "SELECT count(*) FROM experiments"); n != 2 {
		t.Errorf("%d grids recorded, want 2", n)
	}
}

// bigGrid writes an experiment file of n cheap configurations (one lr
// each) and returns its path.
func bigGrid(t *testing.T, dir string, n int) string {
	t.Helper()
	var lrs []string
	for i := range n {
		lrs = append(lrs, fmt.Sprintf("%g", 1e-4*float64(i+1)))
	}
	src := `name: big
dataset: addition
data: {train_size: 32, test_size: 8, seq_len: 10}
train: {batch_size: 32}
archs:
  rnn: {type: rnn, hidden: 4}
grid:
  arch: rnn
  seed: 1
  clip: none
  lr: [` + strings.Join(lrs, ", ") + "]\n"
	file := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestKillDuringAddGrid kills runner -9 at moments around the insertion of a
// grid of 5,000 configurations (one transaction): each database holds all
// of the grid or none of it. The moment adapts: later after a kill that
// left nothing, earlier after one that left everything, so that the kills
// close in on the insertion.
func TestKillDuringAddGrid(t *testing.T) {
	const n = 5000
	runner := runnerBin(t)
	dir := t.TempDir()
	file := bigGrid(t, dir, n)

	// How long from the start to the grid committed, once.
	path := filepath.Join(dir, "calibrate.db")
	t0 := time.Now()
	p := start(t, runner, "run", "-db", path, "-workers", "1", "-progress", "none", file)
	waitUntil(t, p, "the grid was inserted", func() bool { return queryInt(t, path, "SELECT count(*) FROM runs") > 0 })
	delay := time.Since(t0)
	p.signal(t, syscall.SIGKILL)
	if got := queryInt(t, path, "SELECT count(*) FROM runs"); got != n {
		t.Fatalf("calibration: %d runs, want %d", got, n)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	var none, schemaOnly, all int
	for i := range 24 {
		path := filepath.Join(dir, fmt.Sprintf("kill%d.db", i))
		d := time.Duration(float64(delay) * (0.75 + 0.5*rng.Float64()))
		p := start(t, runner, "run", "-db", path, "-workers", "1", "-progress", "none", file)
		time.Sleep(d)
		res := p.signal(t, syscall.SIGKILL)
		runs := queryInt(t, path, "SELECT count(*) FROM runs")
		grids := queryInt(t, path, "SELECT count(*) FROM experiments")
		switch {
		case runs == 0 && grids == 0:
			none++
			if queryInt(t, path, "SELECT count(*) FROM sqlite_schema WHERE name = 'runs'") == 1 {
				schemaOnly++ // killed after the database was opened
			}
			delay = delay * 5 / 4
		case runs == n && grids == 1:
			all++
			delay = delay * 4 / 5
		default:
			t.Errorf("kill %d after %v: %d runs and %d grids, want all %d and 1 or none\n%s", i, d, runs, grids, n, res)
		}
		if _, err := os.Stat(path); err == nil {
			if s := dumpRows(t, openSQL(t, path), "PRAGMA integrity_check"); len(s) != 1 || s[0] != `integrity_check="ok" ` {
				t.Errorf("kill %d: integrity_check %q", i, s)
			}
		}
	}
	t.Logf("24 kills: %d left nothing (%d of them after the database was opened), %d the whole grid", none, schemaOnly, all)
	if none == 0 || all == 0 {
		t.Errorf("the kills left nothing %d times and the whole grid %d times: they did not close in on the insertion", none, all)
	}
}

// TestReportWhileWriting runs report on a database that runner is writing:
// report succeeds (twice, at different moments) and runner finishes
// unharmed.
func TestReportWhileWriting(t *testing.T) {
	runner, report := runnerBin(t), reportBin(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "runs.db")
	p := start(t, runner, "run", "-db", path, "-workers", "2", "-progress", "lines", faultFile)
	for i, done := range []int{1, 3} {
		waitUntil(t, p, fmt.Sprintf("%d runs were done", done), func() bool {
			return queryInt(t, path, "SELECT count(*) FROM runs WHERE status = 'done'") >= done
		})
		out := filepath.Join(dir, fmt.Sprint("report", i))
		res := runBin(t, report, "-db", path, "-experiment", "fault", "-out", out)
		if !p.running() {
			t.Logf("runner ended before report %d did", i)
		}
		if res.code != 0 {
			t.Errorf("report %d beside a writer: %s", i, res)
		}
		if _, err := os.Stat(filepath.Join(out, "index.md")); err != nil {
			t.Errorf("report %d: %v", i, err)
		}
	}
	if res := p.wait(); res.code != 0 || strings.Contains(res.stderr, "locked") {
		t.Errorf("runner beside report: %s", res)
	}
	checkOnce(t, path, "fault", faultRuns)
}

// TestInterruptResume sends SIGINT (Ctrl-C) to runner mid-grid: the steps in
// flight finish, the runs in flight are marked interrupted with their
// metrics so far, runner exits 1 saying how to resume, and the same command
// trains them again from step 0, leaving no row of the earlier attempt:
// the results are a clean run's bit for bit. Both ways runner run trains
// (workerModes): with -worker-procs, Ctrl-C reaches the worker process too.
func TestInterruptResume(t *testing.T) {
	for _, m := range workerModes {
		t.Run(m.name, func(t *testing.T) { testInterruptResume(t, m.flags) })
	}
}

func testInterruptResume(t *testing.T, flags []string) {
	runner := runnerBin(t)
	path := filepath.Join(t.TempDir(), "runs.db")
	args := append([]string{"run", "-db", path, "-workers", "2", "-progress", "lines"}, append(flags, faultFile)...)
	p := start(t, runner, args...)
	waitUntil(t, p, "a run was done and another had metrics written", func() bool {
		return queryInt(t, path, "SELECT count(*) FROM runs WHERE status = 'done'") >= 1 &&
			queryInt(t, path, `SELECT count(*) FROM runs r WHERE status = 'running'
				AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id)`) >= 1
	})
	res := p.signal(t, syscall.SIGINT)
	if res.code != 1 || !strings.Contains(res.stderr, "interrupted") || !strings.Contains(res.stderr, "run the same command again to resume") {
		t.Errorf("runner after SIGINT: %s\nwant exit 1 and how to resume", res)
	}
	c := statusCounts(t, path, "fault")
	if c["running"] != 0 || c["interrupted"] == 0 || c["interrupted"] > 2 {
		t.Fatalf("after SIGINT: %v; want the 1 or 2 runs in flight interrupted, none running", c)
	}
	// Each interrupted run kept its steps 1..steps_done: those in flight
	// were finished and written.
	if got := checkSteps(t, path, "fault"); got != c["done"]+c["interrupted"] {
		t.Errorf("checked the steps of %d runs, want %d", got, c["done"]+c["interrupted"])
	}
	// A run claimed just before the signal stops before its first step.
	if n := queryInt(t, path, "SELECT count(*) FROM runs WHERE status = 'interrupted' AND steps_done BETWEEN 0 AND 2999"); n != c["interrupted"] {
		t.Errorf("%d of the %d interrupted runs stopped part way, want all: %q", n, c["interrupted"],
			dumpRows(t, openSQL(t, path), "SELECT id, status, steps_done FROM runs"))
	}
	if n := queryInt(t, path, "SELECT count(*) FROM runs WHERE status = 'interrupted' AND steps_done > 0"); n == 0 {
		t.Errorf("no interrupted run kept any step, though one had metrics written before SIGINT")
	}
	before := finishedRows(t, path)

	res = runBin(t, runner, args...)
	if res.code != 0 {
		t.Fatalf("the same command after SIGINT: %s", res)
	}
	checkOnce(t, path, "fault", faultRuns)
	checkUnchanged(t, path, before)
	if n := queryInt(t, path, "SELECT count(*) FROM runs WHERE attempt = 2"); n != c["interrupted"] {
		t.Errorf("%d runs trained twice, want the %d interrupted", n, c["interrupted"])
	}
	checkSteps(t, path, "fault")
	sameResults(t, faultFile, path)
}
