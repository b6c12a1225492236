// Package db is cliplab's one SQLite file: its schema and migrations, the
// grid's runs and their claims by workers, batched metric writes, and the
// queries the report reads. It is the only package that imports the SQLite
// driver.
//
// The database contract (table, column and view names that users and other
// tools rely on) is in schema.go; see also ../shared/DESIGN.md.
//
// Concurrency: the file is opened in WAL mode with a busy timeout, and every
// write transaction starts with BEGIN IMMEDIATE, so that several runner
// processes on one file wait for each other instead of failing with
// "database is locked". Within a process all writes go through one
// connection (one writer); reads use a separate pool.
//
// Run lifecycle: pending → running (claimed: attempt+1, its earlier rows
// deleted in the same transaction) → done | diverged | failed | interrupted.
// A running run whose heartbeat is older than the stale interval is claimed
// again. Every metric write checks, in its transaction, that the run is still
// held by the same attempt, so a worker that was presumed dead cannot mix its
// rows into a newer attempt.
package db
