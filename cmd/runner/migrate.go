package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"cliplab/internal/db"
)

func init() { subcommands["migrate"] = cmdMigrate }

const migrateUsage = `usage: runner migrate [-db runs.db]

Brings a database written by an older cliplab to this one's schema version
(new columns and views; no run is changed or trained), so that report,
status, export and merge, which only read, can open it. runner run migrates
the database it opens as well.
`

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", migrateUsage, stderr)
	path := fs.String("db", "runs.db", "SQLite `file` of results")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("migrate takes no arguments, got %q", fs.Args())
	}
	st, err := os.Stat(*path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return usagef("no database %s to migrate", *path)
	case err != nil:
		return usageError{err}
	case st.IsDir():
		return usagef("-db %s is a directory, not a database file", *path)
	}
	d, err := db.Open(*path, db.Options{ReadOnly: true})
	if err == nil {
		d.Close()
		fmt.Fprintf(stdout, "%s: schema version %d already\n", *path, db.SchemaVersion)
		return nil
	}
	if !errors.Is(err, db.ErrOlderSchema) {
		return usageError{err}
	}
	if d, err = openDB(*path); err != nil {
		return err
	}
	if err := d.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: migrated to schema version %d\n", *path, db.SchemaVersion)
	return nil
}
