package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"cliplab/internal/db"
	"cliplab/internal/record"
)

func init() { subcommands["status"] = cmdStatus }

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("db", "runs.db", "SQLite `file` of results")
	exp := fs.String("experiment", "", "show only this experiment")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("status takes no arguments, got %q", fs.Args())
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
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "experiment\t")
	for _, s := range record.Statuses {
		fmt.Fprintf(tw, "%s\t", s)
	}
	fmt.Fprint(tw, "total\tleft\t\n")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t", c.Experiment)
		for _, s := range record.Statuses {
			fmt.Fprintf(tw, "%d\t", c.ByStatus[s])
		}
		left := c.ByStatus[record.Pending] + c.ByStatus[record.Running] + c.ByStatus[record.Interrupted]
		fmt.Fprintf(tw, "%d\t%d\t\n", c.Total, left)
	}
	return tw.Flush()
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
