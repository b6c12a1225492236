// Package worker trains the runs an experiment holds in the database: it
// claims them one at a time, trains each with train.Run, writes its metrics
// in batches, keeps its claim alive with a heartbeat, and takes over runs
// whose worker died. It also splits a grid into shards (runner run -shard,
// runner slurm) and names their databases.
//
// Layers: config, data, nn, clipalgo → train → worker → cmd/runner; worker
// also uses db. It prints nothing: cmd/runner shows progress through an
// Observer.
//
// Claims. A worker is named host/pid/start#slot (ID): a run held by a
// worker of this host whose process no longer runs (IsDead) is taken over at
// once; one held by another host's worker waits until its heartbeat is
// older than Options.Stale; with Options.Exclusive (runner slurm's tasks),
// any other holder is taken over at once unless its process is Related
// (runner run -workers N -worker-procs: the runner and the N-1 worker
// processes it starts, a zombie counting as dead). Every metric write checks, in its
// transaction, that the run is still held by the same attempt
// (db.ErrLostClaim), so a worker presumed dead cannot mix its rows into a
// newer attempt.
//
// Interrupt. When the context is cancelled (Ctrl-C), each run in flight
// finishes its step, writes its metrics so far and is recorded as
// interrupted; the next Run trains it again from step 0.
//
// Determinism. A run's results depend on its configuration alone, never on
// the number of workers, shards or processes: the same key gives
// bit-identical metrics (timings aside) on one machine.
package worker
