package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"cliplab/internal/config"
	"cliplab/internal/grid"
)

func init() { subcommands["plan"] = cmdPlan }

const planUsage = `usage: runner plan [-json] [-set FIELD=VALUE]... FILE

Shows the configurations the grid in the experiment FILE expands to: their
number, a table of what varies, and their keys. Writes nothing. With -json,
one line per configuration: its key and canonical configuration. -set
changes the file before it is read, as runner run's does.
`

func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plan", planUsage, stderr)
	asJSON := fs.Bool("json", false, "print the canonical configurations as JSON lines (key, config)")
	var sets setList
	fs.Var(&sets, "set", setUsage)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usagef("plan takes one experiment file, got %d arguments", fs.NArg())
	}
	exp, cfgs, err := grid.LoadSet(fs.Arg(0), sets)
	if err != nil {
		return usageError{err}
	}
	if *asJSON {
		for _, c := range cfgs {
			line, _ := json.Marshal(struct {
				Key    string          `json:"key"`
				Config json.RawMessage `json:"config"`
			}{c.Key(), c.Canonical()})
			fmt.Fprintf(stdout, "%s\n", line)
		}
		return nil
	}
	fmt.Fprintf(stdout, "experiment %s: %d configurations (dataset %s), grid %s\n", exp.Name, len(cfgs), exp.Dataset, config.GridHash(cfgs)[:12])
	for _, w := range exp.Warnings {
		fmt.Fprintf(stderr, "runner: warning: %s\n", w)
	}
	axes := config.VaryingAxes(cfgs)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tkey\tconfiguration")
	for i, c := range cfgs {
		fmt.Fprintf(tw, "%d\t%s\t%s\n", i+1, c.Key()[:12], c.LabelAxes(axes))
	}
	return tw.Flush()
}

// label is a claimed run's short description, from its config JSON.
func label(configJSON []byte) string {
	c, err := config.DecodeConfig(configJSON)
	if err != nil {
		return "?"
	}
	return c.Label()
}
