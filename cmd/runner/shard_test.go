package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cliplab/internal/grid"
	"cliplab/internal/worker"
)

// TestRunShard trains a grid as three shards with runner run -shard: each
// default database holds exactly its shard, and the shards merge with a
// database of the whole grid (so each recorded the whole grid's hash).
func TestRunShard(t *testing.T) {
	file, err := filepath.Abs(filepath.Join("testdata", "slurm_short.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	_, cfgs, err := grid.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	var shards []string
	for i := range 3 {
		runOK(t, "run", "-shard", worker.Shard{I: i, N: 3}.String(), "-workers", "1", "-progress", "none", file)
		p := worker.ShardDBPath("runs.db", worker.Shard{I: i, N: 3})
		shards = append(shards, p)
	}
	if _, err := os.Stat("runs.db"); err == nil {
		t.Errorf("runner run -shard wrote runs.db; want only the shard files")
	}
	checkShards(t, file, shards)
	// Resuming a finished shard adds and trains nothing.
	var stdout, stderr strings.Builder
	if err := run(t.Context(), []string{"run", "-shard", "1/3", "-workers", "1", "-progress", "none", file}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("(shard 1/3 of a grid of %d), 0 new, database %s", len(cfgs), shards[1]); !strings.Contains(stderr.String(), want) {
		t.Errorf("rerun of shard 1 printed %q, want %q", stderr.String(), want)
	}
	runOK(t, "run", "-workers", "2", "-progress", "none", "-db", "whole.db", file)
	for _, p := range shards {
		out := runOK(t, "merge", "-db", "whole.db", p)
		if !strings.Contains(out, p+": 0 added, 0 replaced by a better attempt, ") {
			t.Errorf("merge of %s into the whole grid's database printed %q, want every run kept", p, out)
		}
	}
	if got := len(snapshot(t, t.Context(), "whole.db")); got != len(cfgs) {
		t.Errorf("whole.db holds %d configurations after merging the shards, want %d", got, len(cfgs))
	}
}
