package main

import (
	"context"
	"fmt"
	"io"

	"cliplab/internal/db"
)

func init() { subcommands["version"] = cmdVersion }

const versionUsage = `usage: runner version

Prints the version of cliplab, the VCS revision it was built from, and the
Go version, as runs record them:
  cliplab 0.1.0 revision 0123abcd… go1.26.8
`

// cmdVersion prints the provenance this runner writes with every run.
func cmdVersion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", versionUsage, stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("version takes no arguments, got %q", fs.Args())
	}
	p := db.CurrentProvenance()
	fmt.Fprintf(stdout, "cliplab %s revision %s %s\n", p.Version, p.Revision, p.GoVersion)
	return nil
}

// revisionWarning is the warning runner run prints when p's VCS revision
// is unknown, since every run it trains records that; "" otherwise.
func revisionWarning(p db.Provenance) string {
	if p.Revision != db.UnknownRevision {
		return ""
	}
	return `this runner was built without its VCS revision (outside a git clone, by go run, or with -buildvcs=false), so the runs it trains record vcs_revision "unknown"; build it with make build in the cliplab clone, or pass -ldflags "-X cliplab/internal/db.Revision=REV"`
}
