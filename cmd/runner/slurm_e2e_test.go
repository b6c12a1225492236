// TestSlurmE2E: a grid run as a job array on a real one-node Slurm (munged,
// slurmctld and slurmd from Debian's slurm-wlm, started by the test as the
// user who runs it: root or not, no systemd, no cgroups), merged, and
// compared with the same grid run locally.

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"cliplab/internal/db"
	"cliplab/internal/grid"
	"cliplab/internal/record"
	"cliplab/internal/worker"
)

// slurmBinaries are what TestSlurmE2E needs; Debian's slurm-wlm and munge
// install them.
var slurmBinaries = []string{"munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo"}

// slurmHang bounds each wait on the cluster, so that a daemon that hangs
// fails the test with its logs instead of running into go test's timeout.
// It is no speed claim: the whole test takes well under a minute here.
const slurmHang = 4 * time.Minute

func TestSlurmE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the Slurm job array test")
	}
	var missing []string
	for _, b := range slurmBinaries {
		if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		t.Skipf("Slurm is not installed here (missing %s): apt-get install slurm-wlm munge to run this test; CI does", strings.Join(missing, ", "))
	}
	c := startSlurm(t)
	ctx := t.Context()
	dir := t.TempDir()

	// runner on the "node": the binary built from this package (e2e_test.go).
	runner := runnerBin(t)

	// The long grid run locally, once, for the subtests that need it.
	var longDB string
	longLocal := func(t *testing.T) string {
		if longDB == "" {
			longDB = runLocal(t, runner, filepath.Join("testdata", "slurm_long.yaml"), filepath.Join(dir, "long-local.db"))
		}
		return longDB
	}

	t.Run("array", func(t *testing.T) {
		file := filepath.Join("testdata", "slurm_short.yaml")
		out := filepath.Join(dir, "short")
		local := runLocal(t, runner, file, filepath.Join(dir, "short-local.db"))
		job := submit(t, c, file, out, runner)
		states := c.wait(t, job, 3)
		for i, s := range states {
			if s != "COMPLETED" {
				t.Errorf("task %d ended %s, want COMPLETED\n%s", i, s, c.logs(out))
			}
		}
		shards := shardFiles(t, out, "slurm-short", 3)
		checkShards(t, file, shards)
		merged := filepath.Join(dir, "short-merged.db")
		stdout := runOK(t, "merge", "-db", merged, shards[0], shards[1], shards[2])
		if !strings.Contains(stdout, "slurm-short: 12 runs: 12 done") {
			t.Errorf("merge printed\n%s\nwant every run done", stdout)
		}
		compareDBs(t, ctx, file, local, merged)
		// Merging the same shards again adds nothing.
		stdout = runOK(t, "merge", "-db", merged, shards[0], shards[1], shards[2])
		if regexp.MustCompile(`[1-9]\d* (added|replaced)`).MatchString(stdout) {
			t.Errorf("second merge printed\n%s\nwant nothing added or replaced", stdout)
		}
		compareDBs(t, ctx, file, local, merged)
	})

	t.Run("cancel-resubmit", func(t *testing.T) {
		file := filepath.Join("testdata", "slurm_long.yaml")
		out := filepath.Join(dir, "long")
		victim, sizes := victimShard(t, file)
		job := submit(t, c, file, out, runner)
		shardDB := filepath.Join(out, fmt.Sprintf("slurm-long.shard-%d-of-3.db", victim))
		c.until(t, fmt.Sprintf("a run of shard %d done", victim), func() bool {
			return countStatus(t, ctx, shardDB, "slurm-long")[record.Done] >= 1
		})
		c.scontrol(t, "scancel", fmt.Sprintf("%s_%d", job, victim))
		states := c.wait(t, job, 3)
		for i, s := range states {
			want := "COMPLETED"
			if i == victim {
				want = "CANCELLED"
			}
			if s != want {
				t.Errorf("task %d ended %s, want %s\n%s", i, s, want, c.logs(out))
			}
		}
		counts := countStatus(t, ctx, shardDB, "slurm-long")
		if counts[record.Done] >= sizes[victim] {
			t.Fatalf("shard %d finished all its %d runs before scancel took effect; make slurm_long.yaml longer", victim, sizes[victim])
		}
		if counts[record.Running] > 0 {
			t.Errorf("shard %d after scancel: %v; want no run left running (SIGTERM marks them interrupted)", victim, counts)
		}
		t.Logf("shard %d after scancel: %v of %d", victim, counts, sizes[victim])

		// Merge the partial shards now: the cancelled shard's unfinished
		// runs come in unfinished, and are replaced by the next merge.
		shards := shardFiles(t, out, "slurm-long", 3)
		merged := filepath.Join(dir, "long-merged.db")
		stdout := runOK(t, "merge", "-db", merged, shards[0], shards[1], shards[2])
		if !strings.Contains(stdout, "runs not finished in their shards") {
			t.Errorf("merge of a cancelled array printed\n%s\nwant a word on the unfinished runs", stdout)
		}

		// Submit the same array again: every task resumes its shard.
		job2 := submit(t, c, file, out, runner)
		for i, s := range c.wait(t, job2, 3) {
			if s != "COMPLETED" {
				t.Errorf("resubmitted task %d ended %s, want COMPLETED\n%s", i, s, c.logs(out))
			}
		}
		checkShards(t, file, shards)
		stdout = runOK(t, "merge", "-db", merged, shards[0], shards[1], shards[2])
		want := fmt.Sprintf("%d replaced", sizes[victim]-counts[record.Done])
		if !strings.Contains(stdout, want) {
			t.Errorf("merge after the resubmission printed\n%s\nwant %q for shard %d", stdout, want, victim)
		}
		compareDBs(t, ctx, file, longLocal(t), merged)
	})

	t.Run("requeue", func(t *testing.T) {
		file := filepath.Join("testdata", "slurm_long.yaml")
		out := filepath.Join(dir, "requeue")
		victim, sizes := victimShard(t, file)
		job := submit(t, c, file, out, runner)
		task := fmt.Sprintf("%s_%d", job, victim)
		shardDB := filepath.Join(out, fmt.Sprintf("slurm-long.shard-%d-of-3.db", victim))
		c.until(t, fmt.Sprintf("a run of shard %d done", victim), func() bool {
			return countStatus(t, ctx, shardDB, "slurm-long")[record.Done] >= 1
		})
		c.scontrol(t, "scontrol", "requeue", task)
		// Slurm holds a requeued job back for a while (reason BeginTime);
		// let it start at once.
		c.until(t, "task "+task+" pending again", func() bool {
			st, _ := exec.Command("squeue", "-h", "-j", task, "-o", "%T").Output()
			return strings.TrimSpace(string(st)) == "PENDING"
		})
		c.scontrol(t, "scontrol", "update", "JobId="+task, "StartTime=now")
		for i, s := range c.wait(t, job, 3) {
			if s != "COMPLETED" {
				t.Errorf("task %d ended %s, want COMPLETED\n%s", i, s, c.logs(out))
			}
		}
		// One log per shard, appended to by each start of its task.
		logf := filepath.Join(out, fmt.Sprintf("slurm-long.shard-%d-of-3.log", victim))
		text, err := os.ReadFile(logf)
		if err != nil {
			t.Fatal(err)
		}
		head := fmt.Sprintf("cliplab: shard %d/3 of slurm-long on ", victim)
		if n := strings.Count(string(text), head); n != 2 || !strings.Contains(string(text), "restart 1,") {
			t.Errorf("%s holds %d task starts, want 2, the second a restart:\n%s", logf, n, text)
		}
		if n := countStatus(t, ctx, shardDB, "slurm-long"); n[record.Done] != sizes[victim] {
			t.Errorf("shard %d after the requeued task: %v, want all %d done", victim, n, sizes[victim])
		}
		shards := shardFiles(t, out, "slurm-long", 3)
		checkShards(t, file, shards)
		merged := filepath.Join(dir, "requeue-merged.db")
		runOK(t, "merge", "-db", merged, shards[0], shards[1], shards[2])
		compareDBs(t, ctx, file, longLocal(t), merged)
	})
}

// victimShard returns the shard of the grid in file (split in 3) with the
// most configurations, and the sizes of the three: the task the tests stop
// half way, after its first run is done and before its last.
func victimShard(t *testing.T, file string) (int, []int) {
	t.Helper()
	_, cfgs, err := grid.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	sizes := make([]int, 3)
	for _, cf := range cfgs {
		sizes[worker.ShardOf(cf.Key(), 3)]++
	}
	victim := 0
	for i := range sizes {
		if sizes[i] > sizes[victim] {
			victim = i
		}
	}
	if sizes[victim] < 3 {
		t.Fatalf("shard sizes %v: %s needs a shard of 3 or more runs to stop half way", sizes, file)
	}
	return victim, sizes
}

// slurmCluster is a one-node Slurm started by startSlurm.
type slurmCluster struct {
	dir  string
	jobs []string // array job ids, cancelled at cleanup
}

// startSlurm writes a one-node configuration in a temporary folder, starts
// munged, slurmctld and slurmd on it (foreground processes of this test,
// stopped at cleanup), points SLURM_CONF at it and waits for the node to be
// idle.
func startSlurm(t *testing.T) *slurmCluster {
	// Unix socket paths are short (108 bytes): keep the folder near /tmp.
	dir, err := os.MkdirTemp("", "cliplab-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// munged wants every folder above its socket searchable by all.
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	me, err := user.Current()
	if err != nil {
		t.Fatalf("who runs the daemons: %v", err)
	}
	c := &slurmCluster{dir: dir}
	for _, d := range []string{"munge", "state", "spool", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "munge"), 0o711); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "munge", "munge.key")
	if out, err := exec.Command("mungekey", "--create", "--keyfile="+key).CombinedOutput(); err != nil {
		t.Fatalf("mungekey: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "munge", "munge.sock")
	c.daemon(t, "munged", "--foreground", "--force", "--socket="+sock, "--key-file="+key,
		"--log-file="+filepath.Join(dir, "log", "munged.log"), "--pid-file="+filepath.Join(dir, "munge", "munged.pid"),
		"--seed-file="+filepath.Join(dir, "munge", "munged.seed"))
	c.until(t, "munged's socket", func() bool { _, err := os.Stat(sock); return err == nil })

	// The node as slurmd sees it (CPUs, sockets, memory), so that the
	// configuration never claims more than the machine has.
	nodeLine, err := exec.Command("slurmd", "-C").Output()
	if err != nil {
		t.Fatalf("slurmd -C: %v", err)
	}
	node, _, _ := strings.Cut(strings.TrimSpace(string(nodeLine)), "\n")
	if !strings.HasPrefix(node, "NodeName=") {
		t.Fatalf("slurmd -C printed %q, want a NodeName= line", nodeLine)
	}
	host := strings.TrimPrefix(strings.Fields(node)[0], "NodeName=")
	conf := filepath.Join(dir, "slurm.conf")
	ctlPort, dPort := freePort(t), freePort(t)
	text := fmt.Sprintf(`# One-node Slurm of cliplab's TestSlurmE2E: no systemd, no cgroups.
ClusterName=cliplabtest
SlurmctldHost=%[2]s(127.0.0.1)
SlurmctldPort=%[3]d
SlurmdPort=%[4]d
AuthType=auth/munge
AuthInfo=socket=%[5]s
CredType=cred/munge
SlurmUser=%[7]s
SlurmdUser=%[7]s
StateSaveLocation=%[1]s/state
SlurmdSpoolDir=%[1]s/spool
SlurmctldPidFile=%[1]s/slurmctld.pid
SlurmdPidFile=%[1]s/slurmd.pid
SlurmctldLogFile=%[1]s/log/slurmctld.log
SlurmdLogFile=%[1]s/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=3600
KillWait=15
%[6]s NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=%[2]s Default=YES MaxTime=INFINITE State=UP
`, dir, host, ctlPort, dPort, sock, node, me.Username)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLURM_CONF", conf)
	c.daemon(t, "slurmctld", "-D", "-i")
	c.daemon(t, "slurmd", "-D")
	c.until(t, "the node idle", func() bool {
		out, _ := exec.Command("sinfo", "-h", "-n", host, "-o", "%t").Output()
		return strings.TrimSpace(string(out)) == "idle"
	})
	t.Cleanup(func() {
		if len(c.jobs) == 0 {
			return
		}
		// Cancel what a failed test left, and let its tasks end before
		// slurmd goes (their steps would outlive it).
		exec.Command("scancel", c.jobs...).Run()
		for range 150 {
			out, _ := exec.Command("squeue", "-h", "-j", strings.Join(c.jobs, ",")).Output()
			if len(bytes.TrimSpace(out)) == 0 {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	return c
}

// daemon starts a foreground daemon; cleanup ends it (SIGTERM, then SIGKILL)
// and waits for it.
func (c *slurmCluster) daemon(t *testing.T, name string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(c.dir, "log", name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
}

// until polls cond every 200 ms; after slurmHang it fails with the
// daemons' logs.
func (c *slurmCluster) until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(slurmHang)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s\n%s", slurmHang, what, c.logs(""))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// scontrol runs a Slurm command that must succeed.
func (c *slurmCluster) scontrol(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// finalStates are the job states of a task that has ended.
var finalStates = []string{"COMPLETED", "CANCELLED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}

// wait waits for the n tasks of array job to end and returns their states,
// by task index. Ended jobs stay listed for MinJobAge (an hour here).
func (c *slurmCluster) wait(t *testing.T, job string, n int) []string {
	t.Helper()
	states := make([]string, n)
	c.until(t, "job array "+job, func() bool {
		out, err := exec.Command("squeue", "-h", "-r", "-t", "all", "-j", job, "-o", "%K %T").Output()
		if err != nil {
			return false
		}
		clear(states)
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var i int
			var s string
			if _, err := fmt.Sscanf(line, "%d %s", &i, &s); err == nil && i >= 0 && i < n {
				states[i] = s
			}
		}
		for _, s := range states {
			if !slices.Contains(finalStates, s) {
				return false
			}
		}
		return true
	})
	return states
}

// logs returns the daemons' logs and the job logs in out, for a failure.
func (c *slurmCluster) logs(out string) string {
	var b bytes.Buffer
	sq, _ := exec.Command("squeue", "-t", "all").CombinedOutput()
	fmt.Fprintf(&b, "--- squeue -t all\n%s", sq)
	files, _ := filepath.Glob(filepath.Join(c.dir, "log", "*"))
	if out != "" {
		more, _ := filepath.Glob(filepath.Join(out, "*.log"))
		files = append(files, more...)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", f, data)
	}
	return b.String()
}

var submittedRE = regexp.MustCompile(`submitted job array (\d+) `)

// submit runs runner slurm -submit for a 3-task array and returns its job id.
func submit(t *testing.T, c *slurmCluster, file, out, runner string) string {
	t.Helper()
	stdout := runOK(t, "slurm", "-shards", "3", "-out", out, "-runner", runner, "-submit", file)
	m := submittedRE.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("runner slurm -submit printed\n%s\nwant a job id", stdout)
	}
	c.jobs = append(c.jobs, m[1])
	return m[1]
}

// runOK runs a runner command in this process and returns its stdout.
func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("runner %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// runLocal trains the grid of file on this machine with the runner binary,
// two workers, into path: a separate process like the Slurm tasks, with the
// same environment (OpenBLAS's kernels are chosen per process, at load).
func runLocal(t *testing.T, runner, file, path string) string {
	t.Helper()
	cmd := exec.Command(runner, "run", "-db", path, "-workers", "2", "-progress", "none", file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runner run %s: %v\n%s", file, err, out)
	}
	return path
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// shardFiles returns the n shard databases of experiment in out, checking
// that each exists.
func shardFiles(t *testing.T, out, experiment string, n int) []string {
	t.Helper()
	var fs []string
	for i := range n {
		p := worker.ShardDBPath(filepath.Join(out, experiment+".db"), worker.Shard{I: i, N: n})
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
		fs = append(fs, p)
	}
	return fs
}

// checkShards checks that shard i holds exactly the configurations of the
// grid whose key worker.ShardOf puts in shard i, each once.
func checkShards(t *testing.T, file string, shards []string) {
	t.Helper()
	_, cfgs, err := grid.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	n := len(shards)
	for i, p := range shards {
		var want []string
		for _, c := range cfgs {
			if worker.ShardOf(c.Key(), n) == i {
				want = append(want, c.Key())
			}
		}
		var got []string
		for k := range snapshot(t, t.Context(), p) {
			got = append(got, k)
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("shard %d holds %d configurations, want the %d whose key is in shard %d/%d", i, len(got), len(want), i, n)
		}
	}
}

// countStatus counts the runs of experiment by status in the database at
// path (empty while the file does not exist yet).
func countStatus(t *testing.T, ctx context.Context, path, experiment string) map[record.Status]int {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return map[record.Status]int{}
	}
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		return map[record.Status]int{} // being created by the task
	}
	defer d.Close()
	cs, err := d.Counts(ctx, experiment)
	if err != nil || len(cs) == 0 {
		return map[record.Status]int{}
	}
	return cs[0].ByStatus
}

// runResult is what the report reads of one run, without ids and timings:
// its final values (the run_summary view's), every evaluation, and every
// logged step (ReportCurves with one step per bucket).
type runResult struct {
	summary string
	evals   []string
	steps   []string
}

// snapshot reads every run of every experiment in the database at path,
// by config key.
func snapshot(t *testing.T, ctx context.Context, path string) map[string]runResult {
	t.Helper()
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	exps, err := d.Experiments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]runResult{}
	for _, exp := range exps {
		runs, err := d.ReportRuns(ctx, exp)
		if err != nil {
			t.Fatal(err)
		}
		evals, err := d.ReportEvals(ctx, exp)
		if err != nil {
			t.Fatal(err)
		}
		curves, err := d.ReportCurves(ctx, exp, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		keyOf := map[int64]string{}
		for _, r := range runs {
			sum := sha256.Sum256([]byte(r.ConfigJSON))
			k := hex.EncodeToString(sum[:])
			if _, dup := out[k]; dup {
				t.Errorf("%s holds configuration %.12s twice", path, k)
			}
			keyOf[r.ID] = k
			out[k] = runResult{summary: fmt.Sprintf("%s %s %s %s %s %s lr=%s bs=%d ep=%d seed=%d status=%s err=%q steps=%d flops=%s test=%s/%s train=%s/%s clip=%s maxnorm=%s last=%d",
				exp, r.Arch, r.Dataset, r.Optimizer, r.Method, bits(r.Threshold), bits(r.LR), r.BatchSize, r.Epochs, r.Seed,
				r.Status, r.Error, r.Steps, bits(r.TrainFLOPs), bits(r.TestAcc), bits(r.TestLoss), bits(r.TrainAcc), bits(r.TrainLoss),
				bits(r.ClipFraction), bits(r.MaxGradNorm), r.LastStep)}
		}
		for _, e := range evals {
			r := out[keyOf[e.RunID]]
			r.evals = append(r.evals, fmt.Sprintf("%s@%d acc=%s loss=%s", e.Split, e.Step, bits(e.Acc), bits(e.Loss)))
			out[keyOf[e.RunID]] = r
		}
		for _, p := range curves {
			r := out[keyOf[p.RunID]]
			r.steps = append(r.steps, fmt.Sprintf("%d loss=%s norm=%s clip=%s nonfinite=%d", p.Step, bits(p.Loss), bits(p.GradNorm), bits(p.ClipFraction), p.NonFinite))
			out[keyOf[p.RunID]] = r
		}
	}
	return out
}

// bits prints x exactly (NaN for NULL).
func bits(x float64) string {
	if math.IsNaN(x) {
		return "NaN"
	}
	return fmt.Sprintf("%v(%#x)", x, math.Float64bits(x))
}

// compareDBs checks that merged holds every configuration of the grid in
// file exactly once, done, with results equal to local's.
func compareDBs(t *testing.T, ctx context.Context, file, local, merged string) {
	t.Helper()
	_, cfgs, err := grid.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	l, m := snapshot(t, ctx, local), snapshot(t, ctx, merged)
	if len(m) != len(cfgs) {
		t.Errorf("merged database holds %d configurations, want the grid's %d", len(m), len(cfgs))
	}
	for _, c := range cfgs {
		k := c.Key()
		mr, ok := m[k]
		if !ok {
			t.Errorf("configuration %.12s (%s) missing from the merged database", k, c.Label())
			continue
		}
		if !strings.Contains(mr.summary, " status=done ") {
			t.Errorf("configuration %.12s (%s) merged as %s, want done", k, c.Label(), mr.summary)
		}
		lr := l[k]
		if mr.summary != lr.summary {
			t.Errorf("configuration %.12s (%s):\nmerged %s\nlocal  %s", k, c.Label(), mr.summary, lr.summary)
		}
		if !slices.Equal(mr.evals, lr.evals) {
			t.Errorf("configuration %.12s (%s): %d evaluations merged differ from the %d local ones", k, c.Label(), len(mr.evals), len(lr.evals))
		}
		if !slices.Equal(mr.steps, lr.steps) {
			i := 0
			for i < min(len(mr.steps), len(lr.steps)) && mr.steps[i] == lr.steps[i] {
				i++
			}
			t.Errorf("configuration %.12s (%s): logged steps differ (%d merged, %d local), first at row %d", k, c.Label(), len(mr.steps), len(lr.steps), i)
		}
		if len(mr.steps) == 0 || len(mr.evals) == 0 {
			t.Errorf("configuration %.12s (%s): %d steps and %d evaluations merged; want some of each", k, c.Label(), len(mr.steps), len(mr.evals))
		}
	}
}
