// runner slurm: a grid as a Slurm job array, one shard database per task.

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"cliplab/internal/cmdflag"
	"cliplab/internal/config"
	"cliplab/internal/grid"
	"cliplab/internal/worker"
)

func init() { subcommands["slurm"] = cmdSlurm }

const slurmUsage = `usage: runner slurm [-shards n] [-partition P] [-time T] [-cpus-per-task C] [-mem M] [-out DIR] [-runner PATH] [-set FIELD=VALUE]... [-submit] [flags] FILE

Writes DIR/<experiment>.sbatch, a Slurm job array of n tasks: task i runs
  runner run -shard i/n -db DIR/<experiment>.shard-i-of-n.db FILE
with one worker per CPU of the task, so each task trains its share of the
grid into its own SQLite file (never one file shared over NFS). A task that
is requeued or submitted again resumes its shard. When every task is done:
  runner merge -db runs.db DIR/<experiment>.shard-*-of-n.db
DIR must be a folder the nodes can write (shared, or staged back after);
runner and FILE's copy in DIR must be reachable at the same paths on the
nodes, and so must the MNIST files (-data, or $CLIPLAB_DATA on the nodes).
`

// slurmFlags are the flags of runner slurm.
type slurmFlags struct {
	shards      int
	partition   string
	account     string
	time        string
	cpus        int
	mem         string
	maxRunning  int
	out         string
	runner      string
	dataDir     string
	sbatchArgs  stringList
	submit      bool
	sbatch      string
	runnerFlags stringList
	sets        setList // -set overrides, baked into the grid's copy
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, " ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func cmdSlurm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f slurmFlags
	fs := newFlagSet("slurm", slurmUsage, stderr)
	fs.IntVar(&f.shards, "shards", 4, "array tasks, each training the configurations of one shard")
	fs.StringVar(&f.partition, "partition", "", "sbatch --partition (default: the cluster's default partition)")
	fs.StringVar(&f.account, "account", "", "sbatch --account")
	fs.StringVar(&f.time, "time", "", "sbatch --time of each task, e.g. 04:00:00 (default: the partition's)")
	fs.IntVar(&f.cpus, "cpus-per-task", 1, "sbatch --cpus-per-task; each task trains this many runs at once")
	fs.StringVar(&f.mem, "mem", "", "sbatch --mem of each task, e.g. 4G (default: the partition's)")
	fs.IntVar(&f.maxRunning, "max-running", 0, "at most this many tasks at once (--array=0-(n-1)%K); 0: no limit")
	fs.StringVar(&f.out, "out", "", "`folder` for the script, the grid's copy, the shard databases and the logs (default slurm/<experiment>)")
	fs.StringVar(&f.runner, "runner", "", "`path` of runner on the nodes (default: this runner)")
	fs.StringVar(&f.dataDir, "data", defaultDataDir(), "`folder` of the MNIST files on the nodes")
	fs.Var(&f.sbatchArgs, "sbatch-arg", "another #SBATCH option, e.g. -sbatch-arg=--qos=long (repeatable)")
	fs.Var(&f.sets, "set", setUsage+"; the tasks read the grid's copy with the overrides applied")
	fs.Var(&f.runnerFlags, "run-arg", "another flag for runner run, e.g. -run-arg=-retry-failed (repeatable)")
	fs.BoolVar(&f.submit, "submit", false, "submit the script with sbatch and print the job id")
	fs.StringVar(&f.sbatch, "sbatch", "sbatch", "`command` that submits the script")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usagef("slurm takes one experiment file, got %d arguments", fs.NArg())
	}
	if f.shards < 1 || f.shards > worker.MaxShards {
		return usagef("-shards must be 1 to %d, got %d", worker.MaxShards, f.shards)
	}
	if f.cpus < 1 {
		return usagef("-cpus-per-task must be at least 1, got %d", f.cpus)
	}
	if f.maxRunning < 0 {
		return usagef("-max-running must be 0 (no limit) or more, got %d", f.maxRunning)
	}
	for _, a := range f.sbatchArgs {
		if !strings.HasPrefix(a, "-") || strings.ContainsAny(a, "\n\r") {
			return usagef("-sbatch-arg %q: want one sbatch option, e.g. --qos=long", a)
		}
	}
	if f.time != "" && !slurmTimeRE.MatchString(f.time) {
		return usagef("-time %q: want a Slurm time limit: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, or UNLIMITED (e.g. 04:00:00)", f.time)
	}
	if f.mem != "" && !slurmMemRE.MatchString(f.mem) {
		return usagef("-mem %q: want a Slurm memory size: a whole number with an optional unit K, M, G or T (megabytes without one), e.g. 4G", f.mem)
	}
	if err := checkRunArgs(f.runnerFlags); err != nil {
		return err
	}

	file := fs.Arg(0)
	exp, cfgs, err := grid.LoadSet(file, f.sets)
	if err != nil {
		return usageError{err}
	}
	sizes := make([]int, f.shards)
	for _, c := range cfgs {
		sizes[worker.ShardOf(c.Key(), f.shards)]++
	}
	if f.out == "" {
		f.out = filepath.Join("slurm", exp.Name)
	}
	if f.runner == "" {
		if f.runner, err = os.Executable(); err != nil {
			return fmt.Errorf("find this runner (pass -runner): %w", err)
		}
	}
	var paths slurmPaths
	for _, p := range []struct {
		dst *string
		src string
	}{{&paths.out, f.out}, {&paths.runner, f.runner}, {&paths.data, f.dataDir}} {
		if *p.dst, err = filepath.Abs(p.src); err != nil {
			return usageError{err}
		}
	}
	if strings.ContainsAny(paths.out, " \t\n\r\"'%\\") {
		return usagef("-out %q: sbatch's --output cannot hold blanks, quotes, backslashes or %%; choose another folder", paths.out)
	}
	paths.grid = filepath.Join(paths.out, exp.Name+".yaml")
	paths.script = filepath.Join(paths.out, exp.Name+".sbatch")
	if err := os.MkdirAll(paths.out, 0o755); err != nil {
		return usageError{fmt.Errorf("create -out folder: %w", err)}
	}
	// The tasks read the copy, not FILE: a grid edited after submission
	// would otherwise split differently under a requeued task.
	if err := writeIfChanged(paths.grid, exp.Source, stderr); err != nil {
		return err
	}
	script := slurmScript(exp.Name, len(cfgs), config.GridHash(cfgs), f, paths, args)
	if err := os.WriteFile(paths.script, []byte(script), 0o755); err != nil {
		return fmt.Errorf("write script: %w", err)
	}

	fmt.Fprintf(stdout, "experiment %s: %d configurations in %d shards (%s), grid %s\n",
		exp.Name, len(cfgs), f.shards, shardSizes(sizes), config.GridHash(cfgs)[:12])
	if empty := countZero(sizes); empty > 0 {
		fmt.Fprintf(stderr, "runner: warning: %d of %d shards hold no configuration (their tasks end at once); fewer shards would do\n", empty, f.shards)
	}
	if _, err := os.Stat(paths.runner); err != nil {
		fmt.Fprintf(stderr, "runner: warning: %s not found here; the nodes must have runner at that path (-runner)\n", paths.runner)
	}
	if err := checkData(cfgs, paths.data); err != nil {
		fmt.Fprintf(stderr, "runner: warning: %v; the nodes must have the data at %s (-data)\n", err, paths.data)
	}
	dbGlob := filepath.Join(paths.out, fmt.Sprintf("%s.shard-*-of-%d.db", exp.Name, f.shards))
	fmt.Fprintf(stdout, "wrote %s\n", paths.script)
	fmt.Fprintf(stdout, "submit:   %s %s\n", f.sbatch, paths.script)
	fmt.Fprintf(stdout, "watch:    squeue -n %s; logs in %s\n", jobName(exp.Name), filepath.Join(paths.out, fmt.Sprintf("%s.shard-*-of-%d.log", exp.Name, f.shards)))
	fmt.Fprintf(stdout, "resume:   submit it again (or one task: sbatch --array=i %s); each task resumes its shard\n", paths.script)
	fmt.Fprintf(stdout, "merge:    runner merge -db runs.db %s\n", dbGlob)
	if !f.submit {
		return nil
	}
	id, err := sbatchSubmit(ctx, f.sbatch, paths.script)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "submitted job array %s (tasks 0-%d)\n", id, f.shards-1)
	return nil
}

// slurmTimeRE and slurmMemRE are the forms sbatch takes for --time and
// --mem (sbatch(1)).
var (
	slurmTimeRE = regexp.MustCompile(`^(\d+(:\d+){0,2}|\d+-\d+(:\d+){0,2}|(?i:unlimited|infinite))$`)
	slurmMemRE  = regexp.MustCompile(`^\d+[KMGTkmgt]?$`)
)

// scriptRunFlags are the flags of runner run that the script sets itself,
// with the flag of runner slurm that says what they should be.
var scriptRunFlags = map[string]string{
	"shard": "-shards", "db": "-out", "workers": "-cpus-per-task", "data": "-data", "progress": "", "exclusive": "",
	"set": "-set",
}

// checkRunArgs parses the -run-arg flags with runner run's own flag set
// and checks their values as runner run would, so that a task never fails
// on its command line: the flags must exist, take their values, and leave
// alone the ones the script sets.
func checkRunArgs(args []string) error {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return usagef("-run-arg %q: want one flag of runner run, e.g. -retry-failed", a)
		}
	}
	if len(args) == 0 {
		return nil
	}
	var rf runFlags
	fs := runFlagSet(&rf, io.Discard)
	if err := cmdflag.Parse(fs, args); err != nil {
		if errors.Is(err, cmdflag.ErrHelp) {
			err = errors.New("-h is not a flag a task can take")
		}
		return usagef("-run-arg %s: %v (runner run -h lists its flags)", strings.Join(args, " "), err)
	}
	if fs.NArg() != 0 {
		return usagef("-run-arg %s: want flags of runner run only, not arguments (%q)", strings.Join(args, " "), fs.Args())
	}
	var err error
	fs.Visit(func(fl *flag.Flag) {
		if alt, ok := scriptRunFlags[fl.Name]; ok && err == nil {
			err = usagef("-run-arg -%s: the script sets -%s itself", fl.Name, fl.Name)
			if alt != "" {
				err = usagef("-run-arg -%s: the script sets -%s itself (runner slurm's %s says what it is)", fl.Name, fl.Name, alt)
			}
		}
	})
	if err != nil {
		return err
	}
	if err := checkRunFlags(rf); err != nil {
		return usagef("-run-arg: %v", err)
	}
	return nil
}

// slurmPaths are the absolute paths a script names.
type slurmPaths struct {
	out, runner, data, grid, script string
}

// jobName is the Slurm job name of an experiment's array.
func jobName(experiment string) string { return "cliplab-" + experiment }

// slurmScript returns the sbatch script of the job array. Each task runs
// its shard in a database of its own; requeued tasks (--requeue) append to
// the same log (--open-mode=append) and resume the shard, since the shard
// database is the state.
func slurmScript(experiment string, nConfigs int, gridHash string, f slurmFlags, p slurmPaths, args []string) string {
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	array := fmt.Sprintf("0-%d", f.shards-1)
	if f.maxRunning > 0 {
		array += fmt.Sprintf("%%%d", f.maxRunning)
	}
	w("#!/bin/bash")
	w("# cliplab: experiment %s, %d configurations in %d shards, grid %.12s.", experiment, nConfigs, f.shards, gridHash)
	w("# Written by: runner slurm %s", strings.Join(args, " "))
	w("# Array task i trains shard i/%d of the grid into its own SQLite file and", f.shards)
	w("# resumes it when requeued or submitted again. When every task is done:")
	w("#   runner merge -db runs.db %s", filepath.Join(p.out, fmt.Sprintf("%s.shard-*-of-%d.db", experiment, f.shards)))
	w("#SBATCH --job-name=%s", jobName(experiment))
	w("#SBATCH --array=%s", array)
	w("#SBATCH --cpus-per-task=%d", f.cpus)
	w("#SBATCH --ntasks=1")
	w("#SBATCH --output=%s", filepath.Join(p.out, fmt.Sprintf("%s.shard-%%a-of-%d.log", experiment, f.shards)))
	w("#SBATCH --open-mode=append")
	w("#SBATCH --requeue")
	for _, o := range []struct{ name, val string }{{"partition", f.partition}, {"account", f.account}, {"time", f.time}, {"mem", f.mem}} {
		if o.val != "" {
			w("#SBATCH --%s=%s", o.name, o.val)
		}
	}
	for _, a := range f.sbatchArgs {
		w("#SBATCH %s", a)
	}
	w("set -euo pipefail")
	w(`i="${SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is a job array}"`)
	w(`echo "cliplab: shard $i/%d of %s on $(hostname), job ${SLURM_JOB_ID:-?}, restart ${SLURM_RESTART_COUNT:-0}, $(date -u +%%FT%%TZ)"`, f.shards, experiment)
	w("# One BLAS thread per run: the task's CPUs go to parallel runs (-workers).")
	w(`export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"`)
	run := []string{"exec", shellQuote(p.runner), "run",
		"-shard", `"$i/` + fmt.Sprint(f.shards) + `"`,
		"-db", shellQuote(filepath.Join(p.out, experiment+".shard-")) + `"$i"` + shellQuote(fmt.Sprintf("-of-%d.db", f.shards)),
		"-workers", `"${SLURM_CPUS_PER_TASK:-1}"`,
		"-data", shellQuote(p.data),
		"-progress", "lines",
		"-exclusive"} // a task's shard file is its own: runs a killed incarnation left are taken over at once
	for _, a := range f.runnerFlags {
		run = append(run, shellQuote(a))
	}
	run = append(run, shellQuote(p.grid))
	w("%s", strings.Join(run, " "))
	return b.String()
}

// shellQuote quotes s for bash: as is when it is plainly safe, otherwise in
// single quotes.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeIfChanged writes data to path unless it holds data already; it says
// so when it replaces a different file.
func writeIfChanged(path string, data []byte, stderr io.Writer) error {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err == nil {
		fmt.Fprintf(stderr, "runner: warning: %s held another version of the grid; replaced (shards already run with the old one will refuse the new one)\n", path)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("copy the grid: %w", err)
	}
	return nil
}

// sbatchSubmit submits script with sbatch --parsable and returns the job id.
func sbatchSubmit(ctx context.Context, sbatch, script string) (string, error) {
	cmd := exec.CommandContext(ctx, sbatch, "--parsable", script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			return "", usagef("submit: %s not found: is this a Slurm login node? (the script is written; submit it where sbatch is)", sbatch)
		}
		return "", fmt.Errorf("submit: %s: %w: %s", sbatch, err, msg)
	}
	// --parsable prints "jobid" or "jobid;cluster".
	id, _, _ := strings.Cut(strings.TrimSpace(out.String()), ";")
	if id == "" {
		return "", fmt.Errorf("submit: %s printed no job id (stderr: %s)", sbatch, strings.TrimSpace(errb.String()))
	}
	return id, nil
}

// shardSizes is "7, 3, 2", or a summary for many shards.
func shardSizes(sizes []int) string {
	if len(sizes) <= 16 {
		s := make([]string, len(sizes))
		for i, n := range sizes {
			s[i] = fmt.Sprint(n)
		}
		return strings.Join(s, ", ")
	}
	lo, hi := sizes[0], sizes[0]
	for _, n := range sizes {
		lo, hi = min(lo, n), max(hi, n)
	}
	return fmt.Sprintf("%d to %d each", lo, hi)
}

func countZero(xs []int) int {
	n := 0
	for _, x := range xs {
		if x == 0 {
			n++
		}
	}
	return n
}
