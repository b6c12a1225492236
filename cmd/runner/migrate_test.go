package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cliplab/internal/db"
)

// TestMigrate: a database one schema version behind is refused by the
// commands that only read, with the command that migrates it; runner
// migrate brings it up to date (once), after which they open it; a missing
// file, a directory and a file that is not SQLite are bad input, and
// nothing is created.
func TestMigrate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "old.db")
	d, err := db.Open(path, db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	sqliteFile(t, path, fmt.Sprintf("PRAGMA user_version = %d", db.SchemaVersion-1))

	code, _, stderr := runCode(t, "status", "-db", path)
	if code != 2 || !strings.Contains(stderr, "runner migrate -db "+path) {
		t.Fatalf("status on an old database: exit %d, %q", code, stderr)
	}
	code, stdout, stderr := runCode(t, "migrate", "-db", path)
	if want := fmt.Sprintf("%s: migrated to schema version %d\n", path, db.SchemaVersion); code != 0 || stdout != want {
		t.Fatalf("migrate: exit %d, %q %q; want %q", code, stdout, stderr, want)
	}
	if code, _, stderr := runCode(t, "status", "-db", path); code != 0 {
		t.Fatalf("status after migrate: exit %d, %q", code, stderr)
	}
	if code, stdout, _ := runCode(t, "migrate", "-db", path); code != 0 || !strings.Contains(stdout, "already") {
		t.Errorf("migrate again: exit %d, %q", code, stdout)
	}

	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("not a database\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.db")
	for _, c := range []struct{ path, want string }{
		{missing, "no database"},
		{dir, "is a directory"},
		{text, "not a SQLite database"},
	} {
		code, _, stderr := runCode(t, "migrate", "-db", c.path)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("migrate -db %s: exit %d, %q; want 2 and %q", c.path, code, stderr, c.want)
		}
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("migrate of a missing file created it (%v)", err)
	}
	if b, _ := os.ReadFile(text); string(b) != "not a database\n" {
		t.Errorf("migrate changed a file that is not a database: %q", b)
	}
}
