package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var updateSlurm = flag.Bool("update-slurm", false, "rewrite testdata/slurm_*.golden from the current output")

// TestSlurmScriptGolden: the script for fixed paths and every option.
func TestSlurmScriptGolden(t *testing.T) {
	f := slurmFlags{shards: 8, cpus: 4, partition: "cpu", account: "lab", time: "04:00:00", mem: "8G", maxRunning: 3,
		sbatchArgs: stringList{"--qos=long", "--mail-type=END"}, runnerFlags: stringList{"-retry-failed", "-stale=30s"}}
	p := slurmPaths{out: "/shared/cliplab/slurm/mnist-clipping", runner: "/home/ada/bin/runner", data: "/shared/data/mnist",
		grid: "/shared/cliplab/slurm/mnist-clipping/mnist-clipping.yaml"}
	got := slurmScript("mnist-clipping", 168, "0123456789abcdef0123", f, p,
		[]string{"-shards", "8", "-cpus-per-task", "4", "experiments/mnist.yaml"})
	golden := filepath.Join("testdata", "slurm_script.golden")
	if *updateSlurm {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update-slurm to write it)", err)
	}
	if got != string(want) {
		t.Errorf("script differs from %s (go test -update-slurm rewrites it):\n%s", golden, got)
	}
	if out, err := exec.Command("bash", "-n", "-c", got).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
}

// TestSlurmScriptRuns writes a script with runner slurm and runs it with
// bash as Slurm would, for one array task, with a fake runner that prints
// its arguments: the task's command line, quoting included.
func TestSlurmScriptRuns(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "my runner's bin")
	if err := os.MkdirAll(odd, 0o755); err != nil {
		t.Fatal(err)
	}
	runner := filepath.Join(odd, "runner")
	if err := os.WriteFile(runner, []byte("#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done\necho \"threads=$OPENBLAS_NUM_THREADS\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	data := filepath.Join(dir, "data dir")
	stdout := runOK(t, "slurm", "-shards", "3", "-out", out, "-runner", runner, "-data", data, "-cpus-per-task", "2", filepath.Join("testdata", "slurm_short.yaml"))
	for _, want := range []string{
		"experiment slurm-short: 12 configurations in 3 shards (",
		"wrote " + filepath.Join(out, "slurm-short.sbatch") + "\n",
		"merge:    runner merge -db runs.db " + filepath.Join(out, "slurm-short.shard-*-of-3.db") + "\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("runner slurm printed\n%s\nwant %q", stdout, want)
		}
	}
	src, _ := os.ReadFile(filepath.Join("testdata", "slurm_short.yaml"))
	if cp, err := os.ReadFile(filepath.Join(out, "slurm-short.yaml")); err != nil || !bytes.Equal(cp, src) {
		t.Errorf("the grid's copy in -out: %v; want the file as given", err)
	}

	script := filepath.Join(out, "slurm-short.sbatch")
	cmd := exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=2", "SLURM_CPUS_PER_TASK=2", "SLURM_JOB_ID=77", "OPENBLAS_NUM_THREADS=")
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash %s: %v", script, err)
	}
	want := "cliplab: shard 2/3 of slurm-short on "
	if !strings.HasPrefix(string(got), want) {
		t.Errorf("the task printed %q first, want %q…", got, want)
	}
	_, args, _ := strings.Cut(string(got), "\n")
	wantArgs := "[run]\n[-shard]\n[2/3]\n[-db]\n[" + filepath.Join(out, "slurm-short.shard-2-of-3.db") + "]\n[-workers]\n[2]\n" +
		"[-data]\n[" + data + "]\n[-progress]\n[lines]\n[-exclusive]\n[" + filepath.Join(out, "slurm-short.yaml") + "]\nthreads=1\n"
	if args != wantArgs {
		t.Errorf("the task ran runner with\n%s\nwant\n%s", args, wantArgs)
	}

	// Outside a job array the script stops before running anything.
	cmd = exec.Command("bash", script)
	cmd.Env = append(os.Environ(), "SLURM_ARRAY_TASK_ID=")
	if got, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(got), "submit this script with sbatch") || strings.Contains(string(got), "[run]") {
		t.Errorf("script outside an array: %v, printed %q; want a failure that says why", err, got)
	}

	// Written again with the same grid: no warning; with another: one.
	code, _, stderr := runCode(t, "slurm", "-shards", "3", "-out", out, "-runner", runner, "-data", data, filepath.Join("testdata", "slurm_short.yaml"))
	if code != 0 || strings.Contains(stderr, "another version") {
		t.Errorf("same grid again: exit %d, printed %q", code, stderr)
	}
	other := filepath.Join(dir, "slurm-short.yaml")
	os.WriteFile(other, bytes.Replace(src, []byte("seed: [1, 2, 3]"), []byte("seed: [1, 2]"), 1), 0o644)
	code, _, stderr = runCode(t, "slurm", "-shards", "3", "-out", out, "-runner", runner, "-data", data, other)
	if code != 0 || !strings.Contains(stderr, "held another version of the grid") {
		t.Errorf("another grid: exit %d, printed %q; want a warning", code, stderr)
	}
}

// TestSlurmSubmit: -submit runs sbatch --parsable on the script (a fake
// sbatch here; TestSlurmE2E uses the real one) and prints the job id.
func TestSlurmSubmit(t *testing.T) {
	dir := t.TempDir()
	record := filepath.Join(dir, "args")
	fake := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\necho \"$@\" > "+shellQuote(record)+"\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := fake("sbatch-ok", "echo '4242;cluster1'\n")
	bad := fake("sbatch-bad", "echo 'sbatch: error: invalid partition specified: gpu' >&2\nexit 1\n")
	out := filepath.Join(dir, "out")
	file := filepath.Join("testdata", "slurm_short.yaml")
	base := []string{"slurm", "-shards", "3", "-out", out, "-runner", "/bin/true", "-submit"}

	code, stdout, stderr := runCode(t, append(base, "-sbatch", ok, file)...)
	if code != 0 || !strings.HasSuffix(stdout, "submitted job array 4242 (tasks 0-2)\n") {
		t.Errorf("submit: exit %d, printed\n%s%s", code, stdout, stderr)
	}
	if got, _ := os.ReadFile(record); string(got) != "--parsable "+filepath.Join(out, "slurm-short.sbatch")+"\n" {
		t.Errorf("sbatch ran with %q", got)
	}
	code, _, stderr = runCode(t, append(base, "-sbatch", bad, file)...)
	if code != 1 || !strings.Contains(stderr, "invalid partition specified: gpu") {
		t.Errorf("failed sbatch: exit %d, printed %q; want exit 1 and sbatch's message", code, stderr)
	}
	code, _, stderr = runCode(t, append(base, "-sbatch", filepath.Join(dir, "no-sbatch-here"), file)...)
	if code != 2 || !strings.Contains(stderr, "the script is written") {
		t.Errorf("missing sbatch: exit %d, printed %q; want exit 2", code, stderr)
	}
}

func TestSlurmUsage(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join("testdata", "slurm_short.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("name: x\ndataset: cifar\n"), 0o644)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-shards", "0", file}, "-shards must be 1 to"},
		{[]string{"-cpus-per-task", "0", file}, "-cpus-per-task must be at least 1"},
		{[]string{"-max-running", "-1", file}, "-max-running must be 0"},
		{[]string{"-sbatch-arg", "qos=long", file}, "want one sbatch option"},
		{[]string{"-run-arg", "retry", file}, "want one flag of runner run"},
		{[]string{"-out", filepath.Join(dir, "a b"), file}, "cannot hold blanks"},
		{[]string{}, "slurm takes one experiment file, got 0"},
		{[]string{file, file}, "slurm takes one experiment file, got 2"},
		{[]string{bad}, "cifar"},
		{[]string{"-shards", "x", file}, "invalid value"},
		// Issue 13: these were written into the script unchecked.
		{[]string{"-time", "abc", file}, `-time "abc": want a Slurm time limit`},
		{[]string{"-time", "4h", file}, `-time "4h"`},
		{[]string{"-mem", "4X", file}, `-mem "4X": want a Slurm memory size`},
		{[]string{"-mem", "4GB", file}, `-mem "4GB"`},
		{[]string{"-run-arg=-bogus", file}, "-run-arg -bogus: flag provided but not defined: -bogus"},
		{[]string{"-run-arg=-stale=1s", file}, "-stale must be at least 10s"},
		{[]string{"-run-arg=-stale", file}, "flag needs an argument: -stale"},
		{[]string{"-run-arg=-workers=x", file}, "invalid value \"x\" for flag -workers"},
		{[]string{"-run-arg=-db=x.db", file}, "the script sets -db itself"},
		{[]string{"-run-arg=-h", file}, "-h is not a flag"},
	} {
		code, _, stderr := runCode(t, append([]string{"slurm", "-out", filepath.Join(dir, "o")}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.msg) {
			t.Errorf("runner slurm %q: exit %d, printed %q; want exit 2 and %q", tc.args, code, stderr, tc.msg)
		}
	}
}

// TestSlurmValid: the Slurm forms of -time and -mem pass, and flags after
// the experiment file are read (issue 13: "runner slurm x.yaml -shards 5"
// was refused).
func TestSlurmValid(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join("testdata", "slurm_short.yaml")
	for _, tc := range [][]string{
		{"-time", "30"}, {"-time", "04:00:00"}, {"-time", "1-12"}, {"-time", "2-00:30:00"}, {"-time", "UNLIMITED"},
		{"-mem", "4G"}, {"-mem", "500"}, {"-mem", "16g"}, {"-run-arg=-stale=30s", "-run-arg=-retry-failed"},
	} {
		args := append([]string{"slurm", "-out", filepath.Join(dir, "o"), "-runner", "/bin/true"}, tc...)
		if code, _, stderr := runCode(t, append(args, file)...); code != 0 {
			t.Errorf("runner slurm %q: exit %d, %s", tc, code, stderr)
		}
	}
	code, stdout, stderr := runCode(t, "slurm", file, "-shards", "5", "-out", filepath.Join(dir, "o5"), "-runner", "/bin/true")
	if code != 0 || !strings.Contains(stdout, "in 5 shards") {
		t.Errorf("runner slurm FILE -shards 5: exit %d\n%s%s\nwant 5 shards", code, stdout, stderr)
	}
}

func TestShellQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/usr/bin/runner", "/usr/bin/runner"},
		{"-stale=30s", "-stale=30s"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"$HOME", "'$HOME'"},
	} {
		if got := shellQuote(tc.in); got != tc.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
		out, err := exec.Command("bash", "-c", "printf %s "+shellQuote(tc.in)).Output()
		if err != nil || string(out) != tc.in {
			t.Errorf("bash read %s as %q (%v), want %q", shellQuote(tc.in), out, err, tc.in)
		}
	}
}
