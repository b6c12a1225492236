package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"cliplab/internal/db"
	"cliplab/internal/grid"
	"cliplab/internal/record"
	"cliplab/internal/worker"
)

// statusDB is a database holding the grid of slurm_short.yaml (12 runs),
// none trained.
func statusDB(t *testing.T) (*db.DB, string) {
	t.Helper()
	exp, cfgs, err := grid.Load(filepath.Join("testdata", "slurm_short.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(filepath.Join(t.TempDir(), "runs.db"), db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.AddGrid(t.Context(), gridOf(exp, cfgs), false); err != nil {
		t.Fatal(err)
	}
	return d, exp.Name
}

// TestStatusStale: a run held by a process of this host that no longer
// runs is counted stale, not running; one held by this live process is
// running (issue 13: after kill -9, status said "running 1").
func TestStatusStale(t *testing.T) {
	ctx := t.Context()
	d, exp := statusDB(t)
	host, _ := os.Hostname()
	for _, w := range []string{fmt.Sprintf("%s/%d/12345#0", host, 1<<22+7), worker.ID() + "#0"} {
		if _, err := d.Claim(ctx, exp, db.ClaimOptions{Worker: w}); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runCode(t, "status", "-db", d.Path())
	// done diverged failed running stale interrupted pending total left
	row := regexp.MustCompile(`(?m)^\s*slurm-short\s+0\s+0\s+0\s+1\s+1\s+0\s+10\s+12\s+12\s*$`)
	if code != 0 || !row.MatchString(stdout) || !regexp.MustCompile(`(?m)^\s*experiment .*running\s+stale\s`).MatchString(stdout) {
		t.Errorf("runner status: exit %d\n%s%s\nwant 1 running (this process) and 1 stale (a dead pid)", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "1 runs held by a dead process (stale)") {
		t.Errorf("runner status:\n%s\nwant a line on the stale run", stdout)
	}
}

// TestStatusFailed: status -failed lists each failed run with its
// configuration and the first line of its error; the run summary's hint
// names it (issue 13: the flag was advised but undefined).
func TestStatusFailed(t *testing.T) {
	ctx := t.Context()
	d, exp := statusDB(t)
	code, stdout, _ := runCode(t, "status", "-db", d.Path(), "-failed")
	if code != 0 || !strings.Contains(stdout, "no failed runs in "+d.Path()) {
		t.Errorf("runner status -failed without failures: exit %d, %q", code, stdout)
	}
	c, err := d.Claim(ctx, exp, db.ClaimOptions{Worker: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Finish(ctx, c.ID, c.Attempt, nil, nil, record.Result{Status: record.Failed, Error: "load data: out of paper\ngoroutine 1 [running]"}); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCode(t, "status", "-db", d.Path(), "-failed")
	want := regexp.MustCompile(fmt.Sprintf(`(?m)^slurm-short\s+%d\s+1\s+%s\s+load data: out of paper$`, c.ID, regexp.QuoteMeta(label(c.ConfigJSON))))
	if code != 0 || !want.MatchString(stdout) || strings.Contains(stdout, "goroutine") || !strings.Contains(stdout, "1 failed runs") {
		t.Errorf("runner status -failed: exit %d\n%s%s\nwant the failed run, its label and its error's first line", code, stdout, stderr)
	}
	code, stdout, _ = runCode(t, "status", "-db", d.Path())
	if code != 0 || !strings.Contains(stdout, "slurm-short: 1 runs failed: runner status -failed lists them") {
		t.Errorf("runner status:\n%s\nwant the hint to -failed", stdout)
	}
}
