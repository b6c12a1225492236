package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/worker"
)

// workerPID is the process id in a worker name (host/pid/start#slot).
func workerPID(t *testing.T, name string) int {
	t.Helper()
	parts := strings.Split(strings.Split(name, "#")[0], "/")
	if len(parts) != 3 {
		t.Fatalf("worker name %q", name)
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		t.Fatalf("worker name %q: %v", name, err)
	}
	return pid
}

// TestWorkerProcesses: runner run -workers 2 -worker-procs -exclusive trains in two
// processes, the runner and one worker process, its child; kill -9 of the
// runner kills the child too; the same command then takes their runs over
// at once, and never a run of the other, live process of its own
// (-exclusive with one process per worker: issue 13 section 6): the runs
// killed mid-way are trained twice, the others once. The results are bit
// for bit those of one worker in one process.
func TestWorkerProcesses(t *testing.T) {
	runner := runnerBin(t)
	dir := t.TempDir()
	one := filepath.Join(dir, "one.db")
	if res := runBin(t, runner, "run", "-db", one, "-workers", "1", "-progress", "none", faultFile); res.code != 0 {
		t.Fatalf("one worker: %s", res)
	}
	path := filepath.Join(dir, "two.db")
	args := []string{"run", "-db", path, "-workers", "2", "-worker-procs", "-exclusive", "-progress", "lines", faultFile}
	p := start(t, runner, args...)
	waitUntil(t, p, "two runs were running, one with metrics written", func() bool {
		return queryInt(t, path, "SELECT count(*) FROM runs WHERE status = 'running'") == 2 &&
			queryInt(t, path, `SELECT count(*) FROM runs r WHERE status = 'running'
				AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = r.id)`) >= 1
	})
	var pids []int
	for _, row := range dumpRows(t, openSQL(t, path), "SELECT DISTINCT worker FROM runs WHERE worker IS NOT NULL ORDER BY worker") {
		pids = append(pids, workerPID(t, strings.TrimPrefix(row, "worker=")))
	}
	runner0 := p.cmd.Process.Pid
	if len(pids) != 2 || pids[0] == pids[1] || (pids[0] != runner0) == (pids[1] != runner0) {
		t.Fatalf("runs held by processes %v, runner %d: want the runner and one worker process", pids, runner0)
	}
	child := pids[0] + pids[1] - runner0
	if ppid := parentOf(child); ppid != runner0 {
		t.Fatalf("worker process %d has parent %d, want the runner %d", child, ppid, runner0)
	}
	if res := p.signal(t, syscall.SIGKILL); res.code != -1 {
		t.Fatalf("runner after kill -9: %s", res)
	}
	// Its worker process dies with it (Pdeathsig); the guard only keeps
	// a failure from hanging the test.
	for _, pid := range []int{child} {
		for give := time.Now().Add(2 * time.Minute); alive(pid); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(give) {
				t.Fatalf("worker process %d still runs 2 minutes after its runner was killed", pid)
			}
		}
	}
	c := statusCounts(t, path, "fault")
	before := finishedRows(t, path)
	t.Logf("killed with %v", c)

	res := runBin(t, runner, args...)
	if res.code != 0 {
		t.Fatalf("the same command after kill -9: %s", res)
	}
	checkOnce(t, path, "fault", faultRuns)
	checkUnchanged(t, path, before)
	if n := queryInt(t, path, "SELECT count(*) FROM runs WHERE attempt = 2"); n != c["running"] {
		t.Errorf("%d runs trained twice, want the %d killed mid-way", n, c["running"])
	}
	if n := queryInt(t, path, "SELECT count(*) FROM runs WHERE attempt NOT IN (1, 2)"); n != 0 {
		t.Errorf("%d runs claimed neither once nor twice: a worker process took over its sibling's run", n)
	}
	if got, want := len(progressLineRE.FindAllString(res.stderr, -1)), faultRuns-len(before); got != want {
		t.Errorf("%d progress lines after the resume, want %d (the runs left):\n%s", got, want, res.stderr)
	}
	checkSteps(t, path, "fault")
	sameResultsAs(t, one, faultFile, path)
}

// parentOf is the parent process id of pid; 0 if there is none.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// alive reports whether process pid runs (and is no zombie).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// recorder is a worker.Observer that keeps what it is told.
type recorder struct {
	started  []db.Claim
	finished []worker.Outcome
}

func (r *recorder) Started(c *db.Claim)                    { r.started = append(r.started, *c) }
func (r *recorder) Finished(c *db.Claim, o worker.Outcome) { r.finished = append(r.finished, o) }

// TestEvents: what a worker process tells its runner arrives as it was
// said, NaN and infinite values included.
func TestEvents(t *testing.T) {
	var buf bytes.Buffer
	w := &eventWriter{enc: json.NewEncoder(&buf)}
	c := &db.Claim{ID: 7, Attempt: 2, Key: "abc", ConfigJSON: []byte(`{"arch":"mlp2","lr":0.1}`)}
	outs := []worker.Outcome{
		{Status: record.Done, Acc: 0.9731, Steps: 94, Wall: 0.25},
		{Status: record.Diverged, Reason: "loss inf at step 3", Acc: math.NaN(), Steps: 3, Wall: 1e-3},
		{Status: record.Failed, Reason: "boom", Acc: -1, Err: context.Canceled},
	}
	w.Started(c)
	for _, o := range outs {
		w.Finished(c, o)
	}
	var r recorder
	if err := readEvents(&buf, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.started) != 1 || r.started[0].ID != 7 || r.started[0].Attempt != 2 || r.started[0].Key != "abc" || string(r.started[0].ConfigJSON) != string(c.ConfigJSON) {
		t.Errorf("started %+v", r.started)
	}
	if len(r.finished) != len(outs) {
		t.Fatalf("finished %+v", r.finished)
	}
	for i, o := range outs {
		g := r.finished[i]
		sameAcc := g.Acc == o.Acc || g.Acc != g.Acc && o.Acc != o.Acc
		if g.Status != o.Status || g.Reason != o.Reason || !sameAcc || g.Steps != o.Steps || g.Wall != o.Wall || (g.Err == nil) != (o.Err == nil) {
			t.Errorf("outcome %d: got %+v, want %+v", i, g, o)
		}
	}
	if err := readEvents(strings.NewReader("not json\n"), &r); err == nil {
		t.Error("readEvents accepted a line that is not an event")
	}
}

// TestWorkerProcsOneWorker: -worker-procs with one worker trains as usual
// in the runner and says the flag had no effect; the header names the
// worker processes only when there are some.
func TestWorkerProcsOneWorker(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	code, stdout, stderr := runCode(t, "run", "-db", path, "-workers", "1", "-worker-procs", "-progress", "none", filepath.Join("testdata", "e2e.yaml"))
	if code != 0 {
		t.Fatalf("runner run -workers 1 -worker-procs: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "-worker-procs has no effect with -workers 1") || strings.Contains(stderr, "worker process") {
		t.Errorf("stderr of -workers 1 -worker-procs:\n%s\nwant the no-effect warning and no worker processes named", stderr)
	}
}
