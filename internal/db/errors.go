package db

import (
	"errors"

	"github.com/mattn/go-sqlite3"
)

func isNotADB(err error) bool {
	var e sqlite3.Error
	return errors.As(err, &e) && e.Code == sqlite3.ErrNotADB
}

// IsBusy reports whether err is SQLite's "database is locked" after the busy
// timeout ran out.
func IsBusy(err error) bool {
	var e sqlite3.Error
	return errors.As(err, &e) && (e.Code == sqlite3.ErrBusy || e.Code == sqlite3.ErrLocked)
}
