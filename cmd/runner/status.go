package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/worker"
)

func init() { subcommands["status"] = cmdStatus }

const statusUsage = `usage: runner status [-db runs.db] [-experiment NAME] [-failed]

Per experiment, the runs by status and how many are left. A run whose holder
is dead (a process of this host that no longer runs, or a heartbeat older
than -stale) is counted as stale, not running: the next runner run takes it
over. With -failed, the failed runs, each with its error.
`

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("status", statusUsage, stderr)
	path := fs.String("db", "runs.db", "SQLite `file` of results")
	exp := fs.String("experiment", "", "show only this `experiment`")
	failed := fs.Bool("failed", false, "list the failed runs with their errors")
	stale := fs.Duration("stale", 2*time.Minute, "a running run whose heartbeat is older than this is shown as stale")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("status takes no arguments, got %q", fs.Args())
	}
	if *stale <= 0 {
		return usagef("-stale must be positive, got %s", *stale)
	}
	d, err := db.Open(*path, db.Options{ReadOnly: true})
	if err != nil {
		return usageError{err}
	}
	defer d.Close()
	cs, err := d.Counts(ctx, *exp)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		names, err := d.Experiments(ctx)
		if err != nil {
			return err
		}
		if *exp != "" {
			return usagef("no experiment %q in %s (experiments: %s)", *exp, *path, listOrNone(names))
		}
		fmt.Fprintf(stdout, "%s holds no runs\n", *path)
		return nil
	}
	if *failed {
		return printFailed(ctx, d, *exp, stdout)
	}
	dead, err := staleRuns(ctx, d, *exp, *stale)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "experiment\t")
	for _, s := range record.Statuses {
		fmt.Fprintf(tw, "%s\t", s)
		if s == record.Running {
			fmt.Fprint(tw, "stale\t")
		}
	}
	fmt.Fprint(tw, "total\tleft\t\n")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t", c.Experiment)
		for _, s := range record.Statuses {
			if s == record.Running {
				fmt.Fprintf(tw, "%d\t%d\t", c.ByStatus[s]-dead[c.Experiment], dead[c.Experiment])
				continue
			}
			fmt.Fprintf(tw, "%d\t", c.ByStatus[s])
		}
		left := c.ByStatus[record.Pending] + c.ByStatus[record.Running] + c.ByStatus[record.Interrupted]
		fmt.Fprintf(tw, "%d\t%d\t\n", c.Total, left)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range cs {
		if n := c.ByStatus[record.Failed]; n > 0 {
			fmt.Fprintf(stdout, "%s: %d runs failed: runner status -failed lists them with their errors\n", c.Experiment, n)
		}
		if n := dead[c.Experiment]; n > 0 {
			fmt.Fprintf(stdout, "%s: %d runs held by a dead process (stale): runner run takes them over\n", c.Experiment, n)
		}
	}
	return nil
}

// staleRuns counts, per experiment, the running runs whose holder is dead: a
// process of this host that no longer runs (worker.IsDead), or a heartbeat
// older than stale.
func staleRuns(ctx context.Context, d *db.DB, experiment string, stale time.Duration) (map[string]int, error) {
	hs, err := d.Holders(ctx, experiment)
	if err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, h := range hs {
		if worker.IsDead(h.Worker) || time.Since(h.Heartbeat) > stale {
			n[h.Experiment]++
		}
	}
	return n, nil
}

// printFailed lists the failed runs: experiment, run id, attempt, the
// configuration and the first line of its error.
func printFailed(ctx context.Context, d *db.DB, experiment string, stdout io.Writer) error {
	fr, err := d.Failed(ctx, experiment)
	if err != nil {
		return err
	}
	if len(fr) == 0 {
		fmt.Fprintf(stdout, "no failed runs in %s\n", d.Path())
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "experiment\trun\tattempt\tconfiguration\terror")
	for _, f := range fr {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", f.Experiment, f.ID, f.Attempt, label(f.ConfigJSON), firstLine(f.Error))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d failed runs; the whole error is in runs.error; runner run -retry-failed trains them again\n", len(fr))
	return nil
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	s := xs[0]
	for _, x := range xs[1:] {
		s += ", " + x
	}
	return s
}
