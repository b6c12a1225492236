package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestRunSet: runner run -set changes the file before it is read (issue 13
// section 4): the grid of e2e.yaml (lr 0.1 and 10 × 2 seeds × 2 clips, 2
// epochs) with -set grid.lr=0.1 -set train.epochs=1 trains 4 runs of one
// epoch, and the database stores the file with its overrides. Flags after
// the file count too.
func TestRunSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.db")
	file := filepath.Join("testdata", "e2e.yaml")
	code, stdout, stderr := runCode(t, "run", "-db", path, "-workers", "1", "-progress", "none", "-set", "grid.lr=0.1", file, "-set", "train.epochs=1")
	if code != 0 {
		t.Fatalf("runner run -set: exit %d\n%s%s", code, stdout, stderr)
	}
	if n := queryInt(t, path, "SELECT count(*) FROM run_summary WHERE lr = 0.1 AND epochs = 1 AND status = 'done'"); n != 4 {
		t.Errorf("%d runs done at lr 0.1 for 1 epoch, want 4:\n%s", n, stdout)
	}
	if n := queryInt(t, path, "SELECT count(*) FROM runs"); n != 4 {
		t.Errorf("%d runs, want 4", n)
	}
	var src string
	if err := openSQL(t, path).QueryRow("SELECT source_yaml FROM experiments WHERE name = 'e2e'").Scan(&src); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#   -set grid.lr=0.1\n", "#   -set train.epochs=1\n", "  epochs: 1\n", "  lr: 0.1\n"} {
		if !strings.Contains(src, want) {
			t.Errorf("stored experiment lacks %q:\n%s", want, src)
		}
	}

	// plan -set shows the same grid; the stored file plans to it without
	// any override.
	_, plan, _ := runCode(t, "plan", file, "-set", "grid.lr=0.1", "-set", "train.epochs=1")
	if !regexp.MustCompile(`(?m)^experiment e2e: 4 configurations`).MatchString(plan) {
		t.Errorf("runner plan -set:\n%s\nwant 4 configurations", plan)
	}
	stored := filepath.Join(t.TempDir(), "stored.yaml")
	if err := os.WriteFile(stored, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, plan2, _ := runCode(t, "plan", stored)
	if first := func(s string) string { l, _, _ := strings.Cut(s, "\n"); return l }; first(plan) != first(plan2) || plan[strings.Index(plan, "\n"):] != plan2[strings.Index(plan2, "\n"):] {
		t.Errorf("the stored file plans to\n%s\nthe overrides to\n%s", plan2, plan)
	}

	// A bad override: exit 2, one line naming it, nothing written.
	never := filepath.Join(t.TempDir(), "x.db")
	for _, args := range [][]string{
		{"run", "-db", never, "-set", "train.epochs=zero", file},
		{"plan", "-set", "grid.lr", file},
		{"plan", file, "-set", "grid.clip[7].threshold=1"},
	} {
		code, stdout, stderr := runCode(t, args...)
		set := args[slices.Index(args, "-set")+1]
		if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "e2e.yaml -set "+set+": ") {
			t.Errorf("runner %q: exit %d, stdout %q, stderr %q; want exit 2 and one line naming -set %s", args, code, stdout, stderr, set)
		}
	}
	if _, err := os.Stat(never); !os.IsNotExist(err) {
		t.Errorf("runner run with a bad -set created %s (%v)", never, err)
	}
}

// TestSlurmSet: runner slurm -set writes the grid's copy with the
// overrides applied (the tasks read it), and refuses -run-arg=-set.
func TestSlurmSet(t *testing.T) {
	out := t.TempDir()
	file := filepath.Join("testdata", "e2e.yaml")
	stdout := runOK(t, "slurm", "-shards", "2", "-out", out, file, "-set", "grid.lr=0.1")
	copyOf, err := os.ReadFile(filepath.Join(out, "e2e.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(copyOf), "#   -set grid.lr=0.1\n") || !strings.Contains(string(copyOf), "  lr: 0.1\n") {
		t.Errorf("the grid's copy lacks the override:\n%s", copyOf)
	}
	_, plan, _ := runCode(t, "plan", filepath.Join(out, "e2e.yaml"))
	if !strings.Contains(plan, "experiment e2e: 4 configurations") {
		t.Errorf("the grid's copy plans to\n%s\nwant 4 configurations (printed %s)", plan, stdout)
	}
	code, _, stderr := runCode(t, "slurm", "-out", t.TempDir(), "-run-arg=-set=grid.lr=0.1", file)
	if code != 2 || !strings.Contains(stderr, "-run-arg -set") {
		t.Errorf("runner slurm -run-arg=-set: exit %d, %q; want exit 2 pointing to -set", code, stderr)
	}
}
