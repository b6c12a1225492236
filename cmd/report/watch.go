// report -watch: regenerate the report whenever the database changed.

package main

import (
	"context"
	"flag"
	"io"
	"time"

	"cliplab/internal/db"
)

// minWatch is the shortest -watch interval: index.html reloads in whole
// seconds.
const minWatch = time.Second

// watch writes the reports as run does, then looks at the database every
// interval and writes them again when it changed, until ctx is cancelled
// (Ctrl-C), which ends it without error. A change is a commit of any
// process (db.Changes: a heartbeat counts); a file whose contents come out
// the same is not rewritten, and a line is printed only for an experiment
// whose files changed.
func watch(ctx context.Context, d *db.DB, o reportOptions, interval time.Duration, stdout io.Writer) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	return watchTicks(ctx, d, o, t.C, stdout)
}

// watchTicks is watch, looking at the database at each tick.
func watchTicks(ctx context.Context, d *db.DB, o reportOptions, tick <-chan time.Time, stdout io.Writer) error {
	ch, err := d.Changes(ctx)
	if err != nil {
		return ignoreCancel(ctx, err)
	}
	defer ch.Close()
	first := true
	for {
		// The list of experiments is read again: a runner may have added
		// one since (and the report of each is written when -experiment
		// is not given).
		exps, err := d.Experiments(ctx)
		if err == nil {
			_, err = writeAll(ctx, d, exps, o, stdout, !first)
		}
		if err != nil {
			return ignoreCancel(ctx, err)
		}
		first = false
		for changed := false; !changed; {
			select {
			case <-ctx.Done():
				return nil
			case <-tick:
			}
			if changed, err = ch.Changed(ctx); err != nil {
				return ignoreCancel(ctx, err)
			}
		}
	}
}

// ignoreCancel is nil when ctx was cancelled (Ctrl-C while a report was
// written: the files written so far are whole, each renamed into place),
// err otherwise.
func ignoreCancel(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// flagGiven reports whether the command line set the flag name.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
