package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"cliplab/internal/worker"
)

// shardsOf trains the grid of file as n shards in dir and returns their
// databases.
func shardsOf(t *testing.T, file, dir string, n int) []string {
	t.Helper()
	var out []string
	for i := range n {
		p := worker.ShardDBPath(filepath.Join(dir, "runs.db"), worker.Shard{I: i, N: n})
		runOK(t, "run", "-shard", worker.Shard{I: i, N: n}.String(), "-db", p, "-workers", "1", "-progress", "none", file)
		out = append(out, p)
	}
	return out
}

// runCode runs a runner command in this process and returns its exit
// status and what it printed.
func runCode(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	err := run(t.Context(), args, &o, &e)
	code = exitCode(err, &e)
	return code, o.String(), e.String()
}

func TestMerge(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join("testdata", "slurm_short.yaml")
	shards := shardsOf(t, file, dir, 3)
	out := filepath.Join(dir, "merged.db")
	local := filepath.Join(dir, "local.db")
	runOK(t, "run", "-db", local, "-workers", "2", "-progress", "none", file)

	stdout := runOK(t, append([]string{"merge", "-db", out}, shards...)...)
	added := 0
	for _, p := range shards {
		n := len(snapshot(t, t.Context(), p))
		added += n
		if want := p + ": " + strconv.Itoa(n) + " added, 0 replaced by a better attempt, 0 kept\n"; !strings.Contains(stdout, want) {
			t.Errorf("merge printed\n%s\nwant the line %q", stdout, want)
		}
	}
	if added != 12 || !strings.HasSuffix(stdout, out+": slurm-short: 12 runs: 12 done\n") {
		t.Errorf("merge printed\n%s\nwant 12 configurations added, all done", stdout)
	}
	compareDBs(t, t.Context(), file, local, out)

	// Idempotent: the same shards again, and in another order.
	stdout = runOK(t, "merge", "-db", out, shards[2], shards[0], shards[1], shards[0])
	if strings.Contains(stdout, "replaced by a better attempt, 0 kept") || !strings.Contains(stdout, "12 runs: 12 done") {
		t.Errorf("second merge printed\n%s\nwant every run kept", stdout)
	}
	compareDBs(t, t.Context(), file, local, out)
}

// TestMergeBetterAttempt merges a shard whose runs were interrupted, then
// the same shard finished: the finished attempts replace the unfinished.
func TestMergeBetterAttempt(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join("testdata", "slurm_short.yaml")
	// A shard with its runs recorded but none trained: the context is
	// cancelled when run says it has inserted the grid, before any claim.
	p := worker.ShardDBPath(filepath.Join(dir, "runs.db"), worker.Shard{I: 0, N: 2})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var o bytes.Buffer
	stderr := cancelWriter{cancel}
	if err := run(ctx, []string{"run", "-shard", "0/2", "-db", p, "-workers", "1", "-progress", "none", file}, &o, stderr); err == nil {
		t.Errorf("run cancelled before its first claim returned nil")
	}
	n := countStatus(t, t.Context(), p, "slurm-short")
	if n["pending"] == 0 {
		t.Fatalf("shard after a cancelled run: %v, want pending runs", n)
	}
	out := filepath.Join(dir, "merged.db")
	stdout := runOK(t, "merge", "-db", out, p)
	if !strings.Contains(stdout, "runs not finished in their shards") {
		t.Errorf("merge of an unfinished shard printed\n%s\nwant a word on the unfinished runs", stdout)
	}
	runOK(t, "run", "-shard", "0/2", "-db", p, "-workers", "1", "-progress", "none", file)
	total := countStatus(t, t.Context(), p, "slurm-short")["done"]
	stdout = runOK(t, "merge", "-db", out, p)
	if want := ": 0 added, " + strconv.Itoa(total) + " replaced by a better attempt, 0 kept"; !strings.Contains(stdout, want) {
		t.Errorf("merge of the finished shard printed\n%s\nwant %q", stdout, want)
	}
	if strings.Contains(stdout, "not finished") {
		t.Errorf("merge of the finished shard printed\n%s\nwant nothing unfinished", stdout)
	}
}

// cancelWriter cancels a context at its first write.
type cancelWriter struct{ cancel func() }

func (w cancelWriter) Write(p []byte) (int, error) { w.cancel(); return len(p), nil }

func TestMergeRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join("testdata", "slurm_short.yaml")
	shards := shardsOf(t, file, dir, 2)
	out := filepath.Join(dir, "merged.db")
	runOK(t, "merge", "-db", out, shards[0])

	// The same experiment name with another grid (one more seed).
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, bytes.Replace(src, []byte("seed: [1, 2, 3]"), []byte("seed: [1, 2, 3, 4]"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	otherShard := filepath.Join(dir, "other.shard-1-of-2.db")
	runOK(t, "run", "-shard", "1/2", "-db", otherShard, "-workers", "1", "-progress", "none", other)

	notDB := filepath.Join(dir, "notes.txt")
	os.WriteFile(notDB, []byte("not a database"), 0o644)
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"other grid", []string{"merge", "-db", out, otherShard}, 2, "which " + out + " holds with another grid"},
		{"no shards", []string{"merge", "-db", out}, 2, "one or more shard databases"},
		{"missing shard", []string{"merge", "-db", out, filepath.Join(dir, "nope.db")}, 2, "no such file"},
		{"itself", []string{"merge", "-db", out, out}, 2, "is the -db database itself"},
		{"folder", []string{"merge", "-db", out, dir}, 2, "is a folder"},
		{"not a database", []string{"merge", "-db", out, notDB}, 2, notDB},
	} {
		code, _, stderr := runCode(t, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%s: exit %d, printed %q; want exit %d and %q", tc.name, code, stderr, tc.code, tc.msg)
		}
	}
	// A refused shard leaves the output as it was.
	if got, want := len(snapshot(t, t.Context(), out)), len(snapshot(t, t.Context(), shards[0])); got != want {
		t.Errorf("after the refusals the output holds %d configurations, want shard 0's %d", got, want)
	}

	// Every shard is checked before anything is written (issue 13: a bad
	// shard after a good one left the good one merged; a bad shard alone
	// created -db).
	before := fileState(t, out)
	fresh := filepath.Join(dir, "fresh.db")
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"good then not a database", []string{"merge", "-db", out, shards[1], notDB}, notDB},
		{"good then another grid", []string{"merge", "-db", out, shards[1], otherShard}, "holds with another grid"},
		{"new -db, not a database", []string{"merge", "-db", fresh, notDB}, notDB},
		{"new -db, two grids", []string{"merge", "-db", fresh, shards[1], otherShard}, "which " + shards[1] + " holds with another grid"},
		{"-db a folder", []string{"merge", "-db", dir, shards[1]}, "is a folder"},
	} {
		code, stdout, stderr := runCode(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.msg) || stdout != "" {
			t.Errorf("%s: exit %d, printed %q %q; want exit 2, %q, nothing on stdout", tc.name, code, stdout, stderr, tc.msg)
		}
		if after := fileState(t, out); after != before {
			t.Errorf("%s: %s changed", tc.name, out)
		}
		if _, err := os.Stat(fresh); err == nil {
			t.Errorf("%s: %s was created", tc.name, fresh)
			os.Remove(fresh)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*merge*")); len(left) > 0 {
		t.Errorf("temporary files left: %q", left)
	}
}

func TestMissingShards(t *testing.T) {
	for _, tc := range []struct {
		paths []string
		want  []string
	}{
		{[]string{"a.shard-0-of-2.db", "a.shard-1-of-2.db"}, nil},
		{[]string{"runs.db", "other.db"}, nil},
		{[]string{"d/a.shard-0-of-3.db", "d/a.shard-2-of-3.db"}, []string{"d/a.shard-*-of-3: shard 1 of 3 not given; the merged database lacks its configurations"}},
		{[]string{"a.shard-0-of-4.db", "b.shard-1-of-2.db", "b.shard-0-of-2.db"}, []string{"a.shard-*-of-4: 3 of 4 shards not given (1, 2, 3); the merged database lacks their configurations"}},
		{[]string{"a.shard-0-of-12.db"}, []string{"a.shard-*-of-12: 11 of 12 shards not given (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, …); the merged database lacks their configurations"}},
	} {
		got := missingShards(tc.paths)
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("missingShards(%q) = %q, want %q", tc.paths, got, tc.want)
		}
	}
}
