// runner merge: shard databases folded into one.

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
shard again adds nothing. A shard holding an experiment under another grid
than -db's is refused (exit status 2).
`

func cmdMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, mergeUsage); fs.PrintDefaults() }
	out := fs.String("db", "runs.db", "SQLite `file` to merge into (created if missing)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	shards := fs.Args()
	if len(shards) == 0 {
		fs.Usage()
		return usagef("merge takes one or more shard databases")
	}
	outInfo, _ := os.Stat(*out)
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

	d, err := openDB(*out)
	if err != nil {
		return err
	}
	defer d.Close()
	for _, p := range shards {
		// A shard that is not a cliplab database is an input error.
		sd, err := db.Open(p, db.Options{ReadOnly: true})
		if err != nil {
			return usageError{fmt.Errorf("shard %s: %w", p, err)}
		}
		sd.Close()
		st, err := d.Merge(ctx, p)
		if err != nil {
			if errors.Is(err, db.ErrGridChanged) {
				return usageError{fmt.Errorf("merge %s: %w (shards of one job array share one grid: was the experiment file edited between runs? merge it into another -db, or rename the experiment)", p, err)}
			}
			return fmt.Errorf("merge %s: %w", p, err)
		}
		fmt.Fprintf(stdout, "%s: %d added, %d replaced by a better attempt, %d kept\n", p, st.Added, st.Replaced, st.Kept)
	}
	cs, err := d.Counts(ctx, "")
	if err != nil {
		return err
	}
	for _, c := range cs {
		fmt.Fprintf(stdout, "%s: %s: %s\n", *out, c.Experiment, countLine(c))
		if left := c.ByStatus[record.Pending] + c.ByStatus[record.Running] + c.ByStatus[record.Interrupted]; left > 0 {
			fmt.Fprintf(stdout, "%s: %d runs not finished in their shards: run (or resubmit) those shards again, then merge again\n", c.Experiment, left)
		}
	}
	return nil
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
