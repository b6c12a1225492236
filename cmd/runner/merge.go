// runner merge: shard databases folded into one.

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/worker"
)

func init() { subcommands["merge"] = cmdMerge }

const mergeUsage = `usage: runner merge [-db runs.db] SHARD...

Folds each SHARD database (runner run -shard, runner slurm) into the -db
database, creating it if missing. A configuration found more than once keeps
its best attempt (done over diverged over failed over unfinished); merging a
shard again adds nothing. Every shard is checked before anything is written:
a file that is not a cliplab database, or a shard holding an experiment under
another grid than -db's or another shard's, is refused (exit status 2) and
-db is left as it was. The merge is written to a new file beside -db that
replaces it at the end, so -db is never half merged; do not merge into a
database a runner is writing.
`

func cmdMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("merge", mergeUsage, stderr)
	out := fs.String("db", "runs.db", "SQLite `file` to merge into (created if missing)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	shards := fs.Args()
	if len(shards) == 0 {
		fs.Usage()
		return usagef("merge takes one or more shard databases")
	}
	outInfo, err := os.Stat(*out)
	if err == nil && outInfo.IsDir() {
		return usagef("-db %s is a folder, not a database file", *out)
	}
	for _, p := range shards {
		fi, err := os.Stat(p)
		if err != nil {
			return usagef("shard %s: %v", p, errors.Unwrap(err))
		}
		if fi.IsDir() {
			return usagef("shard %s is a folder, not a database", p)
		}
		if outInfo != nil && os.SameFile(fi, outInfo) {
			return usagef("shard %s is the -db database itself", p)
		}
	}
	for _, w := range missingShards(shards) {
		fmt.Fprintf(stderr, "runner: warning: %s\n", w)
	}

	// Every shard is read before anything is written.
	shardGrids := make([][]db.GridRef, len(shards))
	for i, p := range shards {
		sd, err := db.Open(p, db.Options{ReadOnly: true})
		if err != nil {
			return usageError{fmt.Errorf("shard %s: %w", p, err)}
		}
		shardGrids[i], err = sd.Grids(ctx)
		sd.Close()
		if err != nil {
			return fmt.Errorf("shard %s: %w", p, err)
		}
	}
	var known []db.GridRef
	var d *db.DB
	if outInfo != nil {
		if d, err = openDB(*out); err != nil {
			return err
		}
		defer func() {
			if d != nil {
				d.Close()
			}
		}()
		if known, err = d.Grids(ctx); err != nil {
			return err
		}
	}
	if err := checkGrids(*out, known, shards, shardGrids); err != nil {
		return err
	}

	// Merge into a copy beside -db, then rename it over -db.
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".merge-*")
	if err != nil {
		return usagef("-db %s: cannot create a file beside it: %v", *out, err)
	}
	tmp.Close()
	done := false
	defer func() {
		if !done {
			for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
				os.Remove(tmp.Name() + suffix)
			}
		}
	}()
	mode := os.FileMode(0o644)
	if d != nil {
		mode = outInfo.Mode().Perm()
		if err := d.CopyTo(ctx, tmp.Name()); err != nil {
			return err
		}
		err := d.Close()
		d = nil
		if err != nil {
			return err
		}
		if st, err := os.Stat(*out + "-wal"); err == nil && st.Size() > 0 {
			return fmt.Errorf("-db %s is open in another process (its write-ahead log %s-wal is in use): merge when no runner writes to it", *out, *out)
		}
	}
	var report bytes.Buffer
	td, err := db.Open(tmp.Name(), db.Options{})
	if err != nil {
		return err
	}
	defer td.Close()
	for _, p := range shards {
		st, err := td.Merge(ctx, p)
		if err != nil {
			if errors.Is(err, db.ErrGridChanged) {
				return usageError{fmt.Errorf("merge %s: %w", p, err)}
			}
			return fmt.Errorf("merge %s: %w", p, err)
		}
		fmt.Fprintf(&report, "%s: %d added, %d replaced by a better attempt, %d kept\n", p, st.Added, st.Replaced, st.Kept)
	}
	cs, err := td.Counts(ctx, "")
	if err != nil {
		return err
	}
	if err := td.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), mode); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("replace %s with the merged database: %w", *out, err)
	}
	done = true
	syncDir(filepath.Dir(*out))
	stdout.Write(report.Bytes())
	for _, c := range cs {
		fmt.Fprintf(stdout, "%s: %s: %s\n", *out, c.Experiment, countLine(c))
		if left := c.ByStatus[record.Pending] + c.ByStatus[record.Running] + c.ByStatus[record.Interrupted]; left > 0 {
			fmt.Fprintf(stdout, "%s: %d runs not finished in their shards: run (or resubmit) those shards again, then merge again\n", c.Experiment, left)
		}
	}
	return nil
}

// checkGrids refuses, before anything is written, a shard that holds an
// experiment under a grid that neither the output (its grids in known) nor
// an earlier shard holds under that name: db.Merge would refuse it half-way.
func checkGrids(out string, known []db.GridRef, shards []string, grids [][]db.GridRef) error {
	where := map[db.GridRef]string{}
	names := map[string]string{} // experiment name → where a grid of it is
	for _, g := range known {
		where[g], names[g.Name] = out, out
	}
	for i, p := range shards {
		for _, g := range grids[i] {
			if from, ok := names[g.Name]; ok && where[g] == "" {
				return usagef("shard %s holds experiment %q with grid %.12s, which %s holds with another grid (shards of one job array share one grid: was the experiment file edited between runs? merge it into another -db, or rename the experiment); nothing was written", p, g.Name, g.Hash, from)
			}
		}
		for _, g := range grids[i] {
			if where[g] == "" {
				where[g] = p
			}
			if names[g.Name] == "" {
				names[g.Name] = p
			}
		}
	}
	return nil
}

// syncDir makes a rename in dir durable, where the system allows.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// missingShards reads the shards the file names say (x.shard-i-of-n.db) and
// returns a warning for each job array whose shards are not all given.
func missingShards(paths []string) []string {
	type array struct {
		prefix string
		n      int
	}
	seen := map[array]map[int]bool{}
	for _, p := range paths {
		s, ok := worker.ShardOfPath(p)
		if !ok {
			continue
		}
		a := array{p[:strings.LastIndex(p, ".shard-")], s.N}
		if seen[a] == nil {
			seen[a] = map[int]bool{}
		}
		seen[a][s.I] = true
	}
	var out []string
	for a, have := range seen {
		var miss []string
		for i := 0; i < a.n; i++ {
			if !have[i] {
				miss = append(miss, fmt.Sprint(i))
			}
		}
		switch {
		case len(miss) == 1:
			out = append(out, fmt.Sprintf("%s.shard-*-of-%d: shard %s of %d not given; the merged database lacks its configurations", a.prefix, a.n, miss[0], a.n))
		case len(miss) > 1:
			if len(miss) > 10 {
				miss = append(miss[:10], "…")
			}
			out = append(out, fmt.Sprintf("%s.shard-*-of-%d: %d of %d shards not given (%s); the merged database lacks their configurations", a.prefix, a.n, a.n-len(have), a.n, strings.Join(miss, ", ")))
		}
	}
	sort.Strings(out)
	return out
}
