// Cheap change detection for report -watch: SQLite's data_version on one
// held connection.

package db

import (
	"context"
	"database/sql"
	"fmt"
)

// Changes tells whether another connection (any process, this one
// included) committed to the database since it last looked. It holds one
// reader connection: SQLite's PRAGMA data_version is per connection and
// changes when another connection commits, so asking costs one page read,
// however large the file. Heartbeats are commits too: a database whose
// runners are alive changes every heartbeat (worker.Options.Stale/8). Not
// safe for concurrent use.
type Changes struct {
	conn *sql.Conn
	last int64
}

// Changes starts watching d for commits: the first Changed after it reports
// the commits made since this call.
func (d *DB) Changes(ctx context.Context) (*Changes, error) {
	conn, err := d.r.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", d.path, err)
	}
	c := &Changes{conn: conn}
	if c.last, err = c.version(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// Changed reports whether the database changed since the last call (or
// since Changes).
func (c *Changes) Changed(ctx context.Context) (bool, error) {
	v, err := c.version(ctx)
	if err != nil {
		return false, err
	}
	changed := v != c.last
	c.last = v
	return changed, nil
}

func (c *Changes) version(ctx context.Context) (int64, error) {
	var v int64
	if err := c.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("data_version: %w", err)
	}
	return v, nil
}

// Close gives the connection back.
func (c *Changes) Close() error { return c.conn.Close() }
