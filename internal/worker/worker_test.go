package worker

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"cliplab/internal/db"
	"cliplab/internal/record"
)

// recorder is an Observer that keeps what it is told; started, if set, is
// called (under no lock) at each start.
type recorder struct {
	mu       sync.Mutex
	started  func(c *db.Claim)
	starts   map[int64]int
	outcomes map[int64][]Outcome
}

func newRecorder() *recorder {
	return &recorder{starts: map[int64]int{}, outcomes: map[int64][]Outcome{}}
}

func (r *recorder) Started(c *db.Claim) {
	r.mu.Lock()
	r.starts[c.ID]++
	r.mu.Unlock()
	if r.started != nil {
		r.started(c)
	}
}

func (r *recorder) Finished(c *db.Claim, o Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outcomes[c.ID] = append(r.outcomes[c.ID], o)
}

// query opens the database file of d read-only with database/sql (the
// driver db registers) and returns the rows of q as strings.
func query(t *testing.T, d *db.DB, q string, args ...any) []string {
	t.Helper()
	s, err := sql.Open("sqlite3", "file:"+d.Path()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for i, v := range vals {
			if f, ok := v.(float64); ok {
				v = fmt.Sprintf("%x", f) // every bit
			}
			fmt.Fprintf(&b, "%s=%v ", cols[i], v)
		}
		out = append(out, b.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// results are the metrics of every run, by key, bit for bit: what must not
// depend on the number of workers.
func results(t *testing.T, d *db.DB) string {
	t.Helper()
	rows := query(t, d, `SELECT r.config_hash, r.status, r.steps_done,
		(SELECT group_concat(s.step || ':' || hex(s.loss) || ':' || ifnull(hex(s.grad_norm), '-'), ' ') FROM steps s WHERE s.run_id = r.id) AS steps,
		(SELECT group_concat(e.split || ':' || hex(e.loss) || ':' || hex(e.acc), ' ') FROM evals e WHERE e.run_id = r.id) AS evals
		FROM runs r ORDER BY r.config_hash`)
	return strings.Join(rows, "\n")
}

// TestRun trains the tiny grid on 1 and on 3 workers: every run is claimed
// once, started and finished once, ends done with its steps and evaluations
// written, and the metrics are the same bit for bit on both.
func TestRun(t *testing.T) {
	var want string
	for _, workers := range []int{1, 3} {
		d, exp, n := newDB(t, tinyGrid)
		rec := newRecorder()
		if err := Run(t.Context(), d, exp, Options{Workers: workers, Observer: rec}); err != nil {
			t.Fatal(err)
		}
		if len(rec.starts) != n || len(rec.outcomes) != n {
			t.Errorf("workers=%d: %d runs started, %d finished, want %d", workers, len(rec.starts), len(rec.outcomes), n)
		}
		for id, os := range rec.outcomes {
			if rec.starts[id] != 1 || len(os) != 1 || os[0].Status != record.Done || os[0].Err != nil || os[0].Steps != 8 || os[0].Acc < 0 {
				t.Errorf("workers=%d: run %d started %d times, outcomes %+v; want once, done after 8 steps, with an accuracy", workers, id, rec.starts[id], os)
			}
		}
		if got := query(t, d, "SELECT status, attempt, count(*) FROM runs GROUP BY status, attempt"); len(got) != 1 || got[0] != fmt.Sprintf("status=done attempt=1 count(*)=%d ", n) {
			t.Errorf("workers=%d: runs by status and attempt %q, want all %d done once", workers, got, n)
		}
		// log_every 1: 8 steps; evaluations after each of the 2 epochs, 2 splits.
		if got := query(t, d, "SELECT (SELECT count(*) FROM steps) AS steps, (SELECT count(*) FROM evals) AS evals"); got[0] != fmt.Sprintf("steps=%d evals=%d ", 8*n, 4*n) {
			t.Errorf("workers=%d: %s, want %d steps and %d evals", workers, got[0], 8*n, 4*n)
		}
		got := results(t, d)
		if want == "" {
			want = got
		} else if got != want {
			t.Errorf("results on %d workers differ from 1 worker's:\n%s\nwant\n%s", workers, got, want)
		}
	}
}

// TestTakeover: runs left running by a dead process of this host are taken
// over at once; one held by another host's worker with a fresh heartbeat is
// left alone unless Exclusive says no other process uses the file.
func TestTakeover(t *testing.T) {
	ctx := t.Context()
	host, _ := os.Hostname()
	for _, tc := range []struct {
		holder    string
		exclusive bool
		taken     bool
	}{
		{fmt.Sprintf("%s/%d/%s#0", host, os.Getpid(), "1"), false, true},                     // our pid, another start time: a recycled pid
		{fmt.Sprintf("%s/%d/%s#0", host, 1<<22+7, "12345"), false, true},                     // no such process
		{"other-host/42/12345#0", false, false},                                              // alive until its heartbeat is stale
		{"other-host/42/12345#0", true, true},                                                // -exclusive
		{fmt.Sprintf("%s/%d/%s#5", host, os.Getpid(), procStart(os.Getpid())), false, false}, // a live process: this one
	} {
		d, exp, n := newDB(t, tinyGrid)
		c, err := d.Claim(ctx, exp, db.ClaimOptions{Worker: tc.holder})
		if err != nil || c == nil {
			t.Fatal(c, err)
		}
		rec := newRecorder()
		if err := Run(ctx, d, exp, Options{Workers: 2, Exclusive: tc.exclusive, Observer: rec}); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("done=%d", n)
		if !tc.taken {
			want = fmt.Sprintf("done=%d running=1", n-1)
		}
		if got := statusLine(t, d); got != want {
			t.Errorf("run held by %s (exclusive %v): %s, want %s", tc.holder, tc.exclusive, got, want)
		}
		if tc.taken {
			if rec.starts[c.ID] != 1 || query(t, d, "SELECT attempt FROM runs WHERE id = ?", c.ID)[0] != "attempt=2 " {
				t.Errorf("run held by %s: started %d times here, attempts %q; want taken over as attempt 2", tc.holder, rec.starts[c.ID],
					query(t, d, "SELECT attempt FROM runs WHERE id = ?", c.ID))
			}
		}
	}
}

// statusLine is "done=5 running=1": the runs by status.
func statusLine(t *testing.T, d *db.DB) string {
	var parts []string
	for _, r := range query(t, d, "SELECT status || '=' || count(*) AS s FROM runs GROUP BY status ORDER BY status") {
		parts = append(parts, strings.TrimSuffix(strings.TrimPrefix(r, "s="), " "))
	}
	return strings.Join(parts, " ")
}

// TestInterrupt cancels the context while the first run trains: it is
// recorded as interrupted with the steps it made, nothing else is claimed,
// Run returns no error, and a second Run trains what is left from step 0,
// with the results of an uninterrupted grid.
func TestInterrupt(t *testing.T) {
	clean, exp, n := newDB(t, tinyGrid)
	if err := Run(t.Context(), clean, exp, Options{Workers: 1}); err != nil {
		t.Fatal(err)
	}

	d, _, _ := newDB(t, tinyGrid)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := newRecorder()
	rec.started = func(*db.Claim) { cancel() }
	if err := Run(ctx, d, exp, Options{Workers: 1, Observer: rec}); err != nil {
		t.Fatal(err)
	}
	if got, want := statusLine(t, d), fmt.Sprintf("interrupted=1 pending=%d", n-1); got != want {
		t.Fatalf("after the interrupt: %s, want %s", got, want)
	}
	for _, os := range rec.outcomes {
		if len(os) != 1 || os[0].Status != record.Interrupted || os[0].Reason != "interrupted" {
			t.Errorf("outcome %+v, want interrupted", os)
		}
	}
	if err := Run(t.Context(), d, exp, Options{Workers: 2}); err != nil {
		t.Fatal(err)
	}
	if got := statusLine(t, d); got != fmt.Sprintf("done=%d", n) {
		t.Errorf("after resuming: %s", got)
	}
	if got, want := results(t, d), results(t, clean); got != want {
		t.Errorf("an interrupted and resumed grid's results differ from a clean one's:\n%s\nwant\n%s", got, want)
	}
}

// TestLost: a run claimed again by another worker while this one trains it
// (its heartbeat was presumed stale) ends Lost here, writes nothing, and is
// not an error; the other worker holds it.
func TestLost(t *testing.T) {
	d, exp, n := newDB(t, tinyGrid)
	rec := newRecorder()
	stolen := int64(-1)
	rec.started = func(c *db.Claim) {
		if stolen >= 0 {
			return
		}
		stolen = c.ID
		th, err := d.Claim(context.Background(), exp, db.ClaimOptions{Worker: "thief", IsDead: func(string) bool { return true }})
		if err != nil || th == nil || th.ID != c.ID {
			t.Errorf("the thief claimed %+v, %v; want run %d", th, err, c.ID)
		}
	}
	if err := Run(t.Context(), d, exp, Options{Workers: 1, Observer: rec}); err != nil {
		t.Fatal(err)
	}
	if os := rec.outcomes[stolen]; len(os) != 1 || os[0].Status != Lost {
		t.Errorf("the stolen run's outcomes %+v, want Lost", os)
	}
	if got, want := statusLine(t, d), fmt.Sprintf("done=%d running=1", n-1); got != want {
		t.Errorf("runs %s, want %s", got, want)
	}
	if got := query(t, d, "SELECT worker, (SELECT count(*) FROM steps WHERE run_id = runs.id) AS steps FROM runs WHERE id = ?", stolen); got[0] != "worker=thief steps=0 " {
		t.Errorf("the stolen run: %q, want held by the thief, no step written", got)
	}
}

// TestFailed: a run that cannot train (a configuration the database holds
// but this version cannot decode) is recorded failed with the reason, and
// the worker goes on with the others.
func TestFailed(t *testing.T) {
	d, exp, n := newDB(t, tinyGrid)
	s, err := sql.Open("sqlite3", d.Path())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(`UPDATE runs SET config_json = replace(config_json, '"epochs":2', '"epochs":2,"future_field":1') WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	rec := newRecorder()
	if err := Run(t.Context(), d, exp, Options{Workers: 1, Observer: rec}); err != nil {
		t.Fatal(err)
	}
	if got, want := statusLine(t, d), fmt.Sprintf("done=%d failed=1", n-1); got != want {
		t.Errorf("runs %s, want %s", got, want)
	}
	if os := rec.outcomes[1]; len(os) != 1 || os[0].Status != record.Failed || !strings.Contains(os[0].Reason, "future_field") {
		t.Errorf("run 1's outcomes %+v, want failed naming the unknown field", os)
	}
	if got := query(t, d, "SELECT error LIKE '%future_field%' AS named FROM runs WHERE id = 1"); got[0] != "named=1 " {
		t.Errorf("runs.error of the failed run does not name the field: %q", got)
	}
}

// TestSinkBatches: the sink writes a batch once it holds flushRows rows (or
// flushEvery has passed), not before, and keeps the rest for Finish.
func TestSinkBatches(t *testing.T) {
	ctx := t.Context()
	d, exp, _ := newDB(t, tinyGrid)
	c, err := d.Claim(ctx, exp, db.ClaimOptions{Worker: "test"})
	if err != nil {
		t.Fatal(err)
	}
	s := newSink(ctx, d, c)
	steps := func() string { return query(t, d, "SELECT count(*) AS n FROM steps")[0] }
	for i := 1; i < flushRows; i++ {
		if err := s.Step(record.Step{Step: i, Loss: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if got := steps(); got != "n=0 " {
		t.Fatalf("%d rows buffered: %s written, want none yet", flushRows-1, got)
	}
	if err := s.Eval(record.Eval{Step: flushRows - 1, Split: "test", Acc: 0.5}); err != nil {
		t.Fatal(err)
	}
	if got, want := steps(), fmt.Sprintf("n=%d ", flushRows-1); got != want || len(s.steps)+len(s.evals) != 0 || s.acc != 0.5 {
		t.Fatalf("%d rows buffered: %s written (%d left), acc %v; want %s, none left, acc 0.5", flushRows, got, len(s.steps)+len(s.evals), s.acc, want)
	}
	s.lastFlush = time.Now().Add(-flushEvery)
	if err := s.Step(record.Step{Step: flushRows, Loss: 1}); err != nil {
		t.Fatal(err)
	}
	if got, want := steps(), fmt.Sprintf("n=%d ", flushRows); got != want {
		t.Errorf("after flushEvery: %s written, want %s", got, want)
	}
}

// TestIsDead: this process is alive; a pid that does not run, or runs with
// another start time, is dead; another host's worker and a name IsDead
// cannot read are never known dead.
func TestIsDead(t *testing.T) {
	host, _ := os.Hostname()
	me := ID()
	for _, tc := range []struct {
		worker string
		dead   bool
	}{
		{me + "#0", false},
		{me, false},
		{fmt.Sprintf("%s/%d/%s#1", host, os.Getpid(), "1"), true},
		{fmt.Sprintf("%s/%d/%s#1", host, 1<<22+7, "99"), true},
		{"elsewhere/1/1#0", false},
		{"bench", false},
		{host + "/x/1#0", false},
		{host + "/1/#0", false},
	} {
		if got := IsDead(tc.worker); got != tc.dead {
			t.Errorf("IsDead(%q) = %v, want %v", tc.worker, got, tc.dead)
		}
	}
	if !strings.HasPrefix(me, host+"/"+fmt.Sprint(os.Getpid())+"/") || procStart(os.Getpid()) == "" {
		t.Errorf("ID() = %q, want host/pid/start", me)
	}
}

// selfObserver blocks the first run started until another run has finished,
// so that the other worker claims while the first run's heartbeat is older
// than a tiny Stale.
type selfObserver struct {
	*recorder
	first   sync.Once
	release chan struct{}
	once    sync.Once
}

func (o *selfObserver) Started(c *db.Claim) {
	o.recorder.Started(c)
	blocked := false
	o.first.Do(func() { blocked = true })
	if blocked {
		select {
		case <-o.release:
		case <-time.After(time.Minute): // the other worker found nothing to finish: the test fails below
		}
	}
}

func (o *selfObserver) Finished(c *db.Claim, out Outcome) {
	o.recorder.Finished(c, out)
	o.once.Do(func() { close(o.release) })
}

// TestNoSelfTakeover: with a Stale far below the heartbeat period, a worker
// never takes over a run another worker of its own process trains: every run
// is started once, as attempt 1, and ends done (issue 13: -stale -1s trained
// 12 runs 48 times).
func TestNoSelfTakeover(t *testing.T) {
	d, exp, n := newDB(t, tinyGrid)
	obs := &selfObserver{recorder: newRecorder(), release: make(chan struct{})}
	if err := Run(t.Context(), d, exp, Options{Workers: 2, Stale: time.Nanosecond, Observer: obs}); err != nil {
		t.Fatal(err)
	}
	for id, k := range obs.starts {
		if k != 1 {
			t.Errorf("run %d started %d times, outcomes %+v; want once", id, k, obs.outcomes[id])
		}
	}
	if got, want := query(t, d, "SELECT status, attempt, count(*) AS n FROM runs GROUP BY status, attempt"), fmt.Sprintf("status=done attempt=1 n=%d ", n); len(got) != 1 || got[0] != want {
		t.Errorf("runs by status and attempt %q, want %q", got, want)
	}
}

// TestIsDeadZombie: a process that has exited but was not reaped (a zombie,
// as the worker processes of a runner killed with -9 stay where no init
// reaps orphans) is dead.
func TestIsDeadZombie(t *testing.T) {
	cmd := exec.Command("sleep", "0")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	defer cmd.Wait()
	pid := cmd.Process.Pid
	st, ok := procStat(pid)
	if !ok {
		t.Fatalf("no /proc/%d/stat", pid)
	}
	host, _ := os.Hostname()
	name := fmt.Sprintf("%s/%d/%s#0", host, pid, st.start)
	for st.state != "Z" {
		time.Sleep(10 * time.Millisecond)
		if st, ok = procStat(pid); !ok {
			t.Fatalf("/proc/%d/stat went away before Wait", pid)
		}
	}
	if !IsDead(name) {
		t.Errorf("IsDead(%q) = false for a zombie", name)
	}
}

const (
	siblingEnv = "CLIPLAB_WORKER_TEST_SIBLING" // TestMain: the name to ask IsSibling about
	parentEnv  = "CLIPLAB_WORKER_TEST_PARENT"
)

// initName is the worker name process 1 would have.
func initName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s/1/%s#0", host, procStart(1))
}

// TestRelated: a child of this test finds another child of it (its
// sibling) and this test process (its parent) related, and process 1 not;
// this process finds its child related, and itself and process 1 not.
func TestRelated(t *testing.T) {
	if procStart(1) == "" {
		t.Skip("no /proc/1/stat")
	}
	other := exec.Command("sleep", "60")
	if err := other.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	host, _ := os.Hostname()
	name := fmt.Sprintf("%s/%d/%s#0", host, other.Process.Pid, procStart(other.Process.Pid))
	child := exec.Command(os.Args[0])
	child.Env = append(os.Environ(), siblingEnv+"="+name, parentEnv+"="+ID()+"#0")
	out, err := child.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "true true false" {
		t.Errorf("a child: Related of its sibling, its parent, process 1: %s, want true true false", got)
	}
	for _, tc := range []struct {
		name string
		want bool
	}{{name, true}, {ID() + "#0", false}, {initName(), false}} {
		if got := Related(tc.name); got != tc.want {
			t.Errorf("Related(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
