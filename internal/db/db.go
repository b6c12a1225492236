package db

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver; only this package imports it
)

// ApplicationID marks a SQLite file as cliplab's (PRAGMA application_id):
// "clip" in ASCII.
const ApplicationID = 0x636c6970

// SchemaVersion is the schema version this code writes (PRAGMA user_version).
var SchemaVersion = len(migrations)

var (
	// ErrNotSQLite is returned for a file that is not a SQLite database.
	ErrNotSQLite = errors.New("db: not a SQLite database")
	// ErrForeign is returned for a SQLite database that is not cliplab's.
	ErrForeign = errors.New("db: not a cliplab database")
	// ErrNewerSchema is returned for a database written by a newer cliplab.
	ErrNewerSchema = errors.New("db: database schema is newer than this cliplab")
	// ErrOlderSchema is returned by a read-only Open of a database that
	// needs a migration (which only a writable Open does).
	ErrOlderSchema = errors.New("db: database schema is older than this cliplab's")
)

// olderSchemaError is ErrOlderSchema with the database's name and versions.
type olderSchemaError string

func (e olderSchemaError) Error() string        { return string(e) }
func (e olderSchemaError) Is(target error) bool { return target == ErrOlderSchema }

var (
	// ErrMissing is returned by Open with ReadOnly for a file that does not exist.
	ErrMissing = errors.New("db: no such database")
)

// DB is an open cliplab database.
type DB struct {
	path string
	w    *sql.DB // the one writer connection
	r    *sql.DB // readers
}

// Options tune Open.
type Options struct {
	// ReadOnly opens an existing database for reading only: nothing is
	// created or migrated (report uses it).
	ReadOnly bool
	// BusyTimeout is how long a statement waits for another process's lock
	// (default 30 s).
	BusyTimeout time.Duration
}

// Open opens (creating if needed, unless ReadOnly) the cliplab database at
// path and brings its schema up to date. It refuses files that are not
// SQLite, SQLite databases that are not cliplab's, and databases of a newer
// schema version, before writing anything to them.
func Open(path string, o Options) (*DB, error) {
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 30 * time.Second
	}
	if err := checkFile(path, o.ReadOnly); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(o.BusyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "on")
	q.Set("_txlock", "immediate")
	if o.ReadOnly {
		q.Set("mode", "ro")
	} else {
		// journal_mode=WAL is set after the checks: it rewrites the header.
		q.Set("_synchronous", "NORMAL")
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	d := &DB{path: path}
	var err error
	if d.r, err = sql.Open("sqlite3", dsn); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if !o.ReadOnly {
		if d.w, err = sql.Open("sqlite3", dsn); err != nil {
			d.r.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		d.w.SetMaxOpenConns(1)
		d.w.SetConnMaxIdleTime(0)
	}
	// SQLite answers "database is locked" without waiting where waiting
	// could deadlock: switching a new file to WAL holds a shared lock while
	// it asks for an exclusive one, and a second process opening the same
	// new file at that moment is refused at once. So the whole check is
	// retried until the busy timeout.
	deadline := time.Now().Add(o.BusyTimeout)
	for {
		err := d.checkAndMigrate(o.ReadOnly)
		if err == nil {
			return d, nil
		}
		if !IsBusy(err) || time.Now().After(deadline) {
			d.Close()
			return nil, err
		}
		time.Sleep(time.Duration(5+rand.IntN(20)) * time.Millisecond)
	}
}

// checkFile refuses, before SQLite touches it, a path whose folder is
// missing or a file that is not a SQLite database.
func checkFile(path string, readOnly bool) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return dirError{path}
	}
	f, err := os.Open(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if readOnly {
			return fmt.Errorf("%w: %s", ErrMissing, path)
		}
		dir := filepath.Dir(path)
		st, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("database %s: folder %s does not exist", path, dir)
		}
		if !st.IsDir() {
			return fmt.Errorf("database %s: %s is not a folder", path, dir)
		}
		// Create the file here, so that a folder where no file can be made
		// (read-only, /proc) is named as such: SQLite says only "unable to
		// open database file". SQLite takes an empty file as a new database.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		switch {
		case err == nil:
			return f.Close()
		case errors.Is(err, os.ErrExist):
			return nil // another process created it meanwhile
		}
		return fmt.Errorf("database %s: cannot create a file in folder %s (%v); give a path in a writable folder", path, dir, err)
	case err != nil:
		return fmt.Errorf("database %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 16)
	n, err := io.ReadFull(f, head)
	if n == 0 && (err == io.EOF) {
		return nil // an empty file: SQLite treats it as a new database
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) || !bytes.Equal(head[:n], []byte("SQLite format 3\x00")) {
		return fmt.Errorf("%w: %s", ErrNotSQLite, path)
	}
	return nil
}

// dirError is a folder given where a database file is wanted. It is an
// ErrNotSQLite, so that callers that treat that as bad input do the same.
type dirError struct{ path string }

func (e dirError) Error() string {
	return fmt.Sprintf("database %s is a folder, not a file; give the path of a database file, e.g. %s", e.path, filepath.Join(e.path, "runs.db"))
}

func (e dirError) Is(target error) bool { return target == ErrNotSQLite }

// checkAndMigrate reads the file's identity and schema version and, for a
// writer, migrates it, all in one transaction: BEGIN IMMEDIATE for a writer,
// so that two processes opening a new file at once take turns (the second
// sees the first's schema, never a half-made one); a read transaction for a
// reader, so that its three reads agree with each other.
func (d *DB) checkAndMigrate(readOnly bool) (err error) {
	ctx := context.Background()
	h := d.w
	begin := "BEGIN IMMEDIATE"
	if readOnly {
		h, begin = d.r, "BEGIN"
	}
	conn, err := h.Conn(ctx)
	if err != nil {
		return d.wrapOpen(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		return d.wrapOpen(err)
	}
	committed := false
	defer func() {
		if !committed {
			conn.ExecContext(ctx, "ROLLBACK")
		}
	}()
	var appID, version, tables int
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return d.wrapOpen(err)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return d.wrapOpen(err)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return d.wrapOpen(err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
		return d.wrapOpen(err)
	}
	switch {
	case appID != ApplicationID && (tables > 0 || appID != 0):
		return fmt.Errorf("%w: %s holds other tables (application_id %#x); give runner a new file with -db", ErrForeign, d.path, appID)
	case version > SchemaVersion:
		return fmt.Errorf("%w: %s has schema version %d, this cliplab knows up to %d; use a newer cliplab", ErrNewerSchema, d.path, version, SchemaVersion)
	case readOnly && version == SchemaVersion:
		return nil
	case readOnly:
		if appID == 0 {
			return fmt.Errorf("%w: %s is empty, not yet a cliplab database (runner run makes it one)", ErrMissing, d.path)
		}
		return olderSchemaError(fmt.Sprintf("database %s has schema version %d, older than this cliplab's %d: runner migrate -db %s brings it up to date (as any runner run on it does)", d.path, version, SchemaVersion, d.path))
	}
	for i := version; i < SchemaVersion; i++ {
		if _, err := conn.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate %s to version %d: %w", d.path, i+1, err)
		}
	}
	if version < SchemaVersion {
		if err := fillDerived(ctx, conn); err != nil {
			return fmt.Errorf("migrate %s: %w", d.path, err)
		}
		if _, err := conn.ExecContext(ctx, "DROP VIEW IF EXISTS run_summary;"+runSummaryView); err != nil {
			return fmt.Errorf("migrate %s: run_summary: %w", d.path, err)
		}
		if _, err := conn.ExecContext(ctx, "DROP VIEW IF EXISTS run_axes;"+runAxesView); err != nil {
			return fmt.Errorf("migrate %s: run_axes: %w", d.path, err)
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d; PRAGMA application_id = %d", SchemaVersion, ApplicationID)); err != nil {
			return d.wrapOpen(err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return d.wrapOpen(err)
	}
	committed = true
	// WAL only now that the file is known to be ours: switching rewrites
	// the header. It persists in the file, so only a new file switches.
	if mode != "wal" {
		if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
			return d.wrapOpen(err)
		}
	}
	return nil
}

func (d *DB) wrapOpen(err error) error {
	if isNotADB(err) {
		return fmt.Errorf("%w: %s", ErrNotSQLite, d.path)
	}
	return fmt.Errorf("open database %s: %w", d.path, err)
}

// Path is the file the database was opened from.
func (d *DB) Path() string { return d.path }

// Close closes the database.
func (d *DB) Close() error {
	var err error
	if d.w != nil {
		err = d.w.Close()
	}
	if d.r != nil {
		err = errors.Join(err, d.r.Close())
	}
	return err
}

// now is the timestamp format of every time column: fixed width, so that
// string comparison is time comparison.
func now() string { return formatTime(time.Now()) }

// timeLayout is the layout of every time column.
const timeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }
