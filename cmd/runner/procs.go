// runner run -workers N -worker-procs with N ≥ 2: one worker in the runner
// and one in each of N-1 child processes, the runner itself as "runner
// worker", reporting their runs on stdout.

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"

	"cliplab/internal/data"
	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/worker"
)

func init() { subcommands[workerCommand] = cmdWorker }

// workerCommand is the subcommand of runner run's worker processes.
const workerCommand = "worker"

const workerUsage = `usage: runner worker -db F -experiment NAME [-stale D] [-data DIR] [-exclusive] [-mnist-fd N]

One worker process of runner run -workers N -worker-procs (which starts N-1 of them): it
trains the runs of an experiment already in the database, one at a time,
until none is left, and reports each run it starts and ends on stdout, one
JSON object a line. Not meant to be started by hand; runner run is.
`

// cmdWorker is one worker process: worker.Run with one worker.
func cmdWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(workerCommand, workerUsage, stderr)
	path := fs.String("db", "", "SQLite `file` holding the experiment")
	experiment := fs.String("experiment", "", "the experiment whose runs to train")
	stale := fs.Duration("stale", 0, "as runner run's -stale (0: its default)")
	dataDir := fs.String("data", defaultDataDir(), "`folder` of the MNIST files")
	exclusive := fs.Bool("exclusive", false, "as runner run's -exclusive: runs held by processes other than this one and its live parent and siblings are taken over at once")
	mnistFD := fs.Int("mnist-fd", 0, "file descriptor of the MNIST database of -data as its parent parsed it (data.MNIST.Share); 0: parse the files if a run needs them")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" || *experiment == "" || fs.NArg() > 0 {
		return usagef("worker: give -db and -experiment, and no arguments (runner run starts worker processes itself)")
	}
	if *mnistFD > 0 {
		f := os.NewFile(uintptr(*mnistFD), "mnist")
		if err := data.AttachMNIST(f, *dataDir); err != nil {
			fmt.Fprintf(stderr, "runner: warning: %v; this worker parses the MNIST files itself\n", err)
		}
		f.Close()
	}
	d, err := openDB(*path)
	if err != nil {
		return err
	}
	defer d.Close()
	return worker.Run(ctx, d, *experiment, worker.Options{Workers: 1, Stale: *stale, Exclusive: *exclusive,
		DataDir: *dataDir, Observer: &eventWriter{enc: json.NewEncoder(stdout)}})
}

// event is one line a worker process writes: a run started (End nil) or
// ended.
type event struct {
	Run     int64           `json:"run"`
	Attempt int             `json:"attempt"`
	Key     string          `json:"key"`
	Config  json.RawMessage `json:"config,omitempty"`
	End     *endEvent       `json:"end,omitempty"`
}

// endEvent is a worker.Outcome; floats are written as strconv writes them,
// as JSON has no NaN.
type endEvent struct {
	Status record.Status `json:"status"`
	Reason string        `json:"reason,omitempty"`
	Acc    string        `json:"acc"`
	Steps  int           `json:"steps"`
	Wall   string        `json:"wall"`
	Err    string        `json:"err,omitempty"`
}

// eventWriter is the worker.Observer of a worker process: each call is one
// event line on its stdout.
type eventWriter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

var _ worker.Observer = (*eventWriter)(nil)

func (w *eventWriter) Started(c *db.Claim) {
	w.write(event{Run: c.ID, Attempt: c.Attempt, Key: c.Key, Config: c.ConfigJSON})
}

func (w *eventWriter) Finished(c *db.Claim, o worker.Outcome) {
	e := &endEvent{Status: o.Status, Reason: o.Reason, Acc: formatFloat(o.Acc), Steps: o.Steps, Wall: formatFloat(o.Wall)}
	if o.Err != nil {
		e.Err = o.Err.Error()
	}
	w.write(event{Run: c.ID, Attempt: c.Attempt, Key: c.Key, End: e})
}

// write writes e; a parent that no longer reads (killed) is not this
// process's concern: the runs are in the database.
func (w *eventWriter) write(e event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.enc.Encode(e)
}

func formatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// readEvents passes the events of one worker process to obs until r ends.
func readEvents(r io.Reader, obs worker.Observer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20) // a line holds a run's configuration
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("worker process wrote %q: %w", sc.Bytes(), err)
		}
		c := &db.Claim{ID: e.Run, Attempt: e.Attempt, Key: e.Key, ConfigJSON: e.Config}
		if e.End == nil {
			obs.Started(c)
			continue
		}
		acc, err1 := strconv.ParseFloat(e.End.Acc, 64)
		wall, err2 := strconv.ParseFloat(e.End.Wall, 64)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("worker process wrote %q: %w", sc.Bytes(), err)
		}
		o := worker.Outcome{Status: e.End.Status, Reason: e.End.Reason, Acc: acc, Steps: e.End.Steps, Wall: wall}
		if e.End.Err != "" {
			o.Err = errors.New(e.End.Err)
		}
		obs.Finished(c, o)
	}
	return sc.Err()
}

// trainProcs trains the runs of experiment with f.workers workers, one in
// this process and one in each of f.workers-1 worker processes (runner
// worker), each claiming runs from the database as the workers of
// worker.Run do, and tells obs of their runs. The processes are this
// runner's children: they die with it (kill -9 included, so that the next
// runner takes their runs over at once), and Ctrl-C or SIGTERM (ctx) is
// passed to each as SIGINT: each finishes its step, records its run
// interrupted, and exits. A worker process that fails is an error once all
// have exited.
//
// Processes were tried as the default (issue 13 section 6) in the hope
// that separate heaps, collectors and schedulers scale better; measured
// side by side they did not (see trainAll), and they stay an option that
// isolates the workers' memory. One worker stays here: it trains while the
// others start, and a grid of one worker's worth never waits for a process.
func trainProcs(ctx context.Context, d *db.DB, experiment string, f runFlags, obs worker.Observer, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("worker processes: %w", err)
	}
	args := []string{workerCommand, "-db", d.Path(), "-experiment", experiment, "-data", f.dataDir}
	if f.stale > 0 {
		args = append(args, "-stale", f.stale.String())
	}
	if f.exclusive {
		args = append(args, "-exclusive")
	}
	if _, ok := stderr.(*os.File); !ok {
		stderr = &lockedWriter{w: stderr} // the children's copiers write at once
	}
	errc := make(chan error, 1)
	go func() {
		// Pdeathsig is sent when the thread that started the child ends,
		// not the process: this goroutine keeps its thread until every
		// child has exited.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		// The MNIST copy is shared here, not before the worker of this
		// process starts: writing it (55 MB, unless shareEarly has) and
		// starting the children overlap that worker's first run instead
		// of delaying it.
		var extra []*os.File
		args := args
		if m, ok := data.CachedMNIST(f.dataDir); ok {
			// Parsed here already (checkData): the children map this copy
			// instead of parsing the files again.
			if file, err := m.Share(); err == nil {
				defer file.Close()
				extra = []*os.File{file}
				args = append(args, "-mnist-fd", "3")
			}
		}
		errc <- startAndWait(ctx, exe, args, extra, f.workers-1, obs, stderr)
	}()
	err = worker.Run(ctx, d, experiment, worker.Options{Workers: 1, Stale: f.stale,
		Exclusive: f.exclusive, DataDir: f.dataDir, Observer: obs})
	return errors.Join(err, <-errc)
}

// startAndWait starts n worker processes of exe args, with the files extra
// from descriptor 3 on, and waits for all of them.
func startAndWait(ctx context.Context, exe string, args []string, extra []*os.File, n int, obs worker.Observer, stderr io.Writer) error {
	type child struct {
		cmd    *exec.Cmd
		events chan error // readEvents' result
	}
	var children []child
	var errs []error
	for i := range n {
		cmd := exec.Command(exe, args...)
		cmd.Stderr = stderr
		cmd.ExtraFiles = extra
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("start worker process %d of %d: %w", i+1, n, err))
			break
		}
		c := child{cmd: cmd, events: make(chan error, 1)}
		go func() { c.events <- readEvents(out, obs) }()
		children = append(children, c)
	}
	if len(errs) > 0 {
		ctx = canceled // stop the ones started
	}
	exited := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			for _, c := range children {
				_ = c.cmd.Process.Signal(os.Interrupt)
			}
		case <-exited:
		}
	}()
	for i, c := range children {
		rerr := <-c.events // every line read before Wait closes the pipe
		err := c.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ctx.Err() != nil && ee.ProcessState.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT {
			// A second Ctrl-C reached it as it exited: it had recorded
			// its run already.
			err = nil
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("worker process %d of %d (pid %d): %w", i+1, len(children), c.cmd.Process.Pid, err))
		} else if rerr != nil {
			errs = append(errs, rerr)
		}
	}
	close(exited)
	return errors.Join(errs...)
}

// shareEarly writes, in the background, the copy of the MNIST database of
// dir that trainProcs gives its worker processes, if this process has
// parsed it: run calls it as soon as it has, so that the writing overlaps
// the database's set-up instead of delaying the processes' start.
func shareEarly(dir string) {
	if m, ok := data.CachedMNIST(dir); ok {
		go func() {
			if f, err := m.Share(); err == nil {
				f.Close()
			}
		}()
	}
}

// canceled is a context that is done.
var canceled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
