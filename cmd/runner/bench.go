package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/nn"
	"cliplab/internal/record"
	"cliplab/internal/train"
)

func init() { subcommands["bench"] = cmdBench }

// benchTorchPy trains the same models with PyTorch; internal/nn's tests use
// it as their reference, so the models compared here are proven equal.
//
//go:embed bench_torch.py
var benchTorchPy []byte

// benchArchs are the architectures `runner bench` knows, on MNIST's shape
// unless benchInputs says otherwise.
var benchArchs = map[string]nn.ArchSpec{
	"mlp2": {Type: "mlp", Hidden: []int{256, 256}},
	"cnn":  {Type: "cnn", Channels: []int{8, 16}, Kernel: 5, Pool: 2},
	"rnn":  {Type: "rnn", Hidden: []int{128}},
	"lstm": {Type: "rnn", Hidden: []int{128}, Cell: "lstm"},
	// issue 12's gpt-tiny: 2 layers, d_model 128, 4 heads, context 64.
	"gpt-tiny": {Type: "transformer", Layers: 2, DModel: 128, Heads: 4, Context: 64},
}

// benchArchNames lists benchArchs for messages.
const benchArchNames = "mlp2, cnn, rnn, lstm, gpt-tiny"

var benchInput = nn.Input{C: 1, H: 28, W: 28, Outputs: 10}

// benchInputs are the inputs of the architectures not trained on MNIST's
// shape: gpt-tiny reads 64 tokens of the modular task's vocabulary (p = 97,
// with op and =) and classifies into 97 answers.
var benchInputs = map[string]nn.Input{
	"gpt-tiny": {Steps: 64, Feature: 1, Vocab: 99, Outputs: 97},
}

// benchBatches are the batch sizes of architectures whose default is not
// -batch's (issue 12 names gpt-tiny's line at batch 32).
var benchBatches = map[string]int{"gpt-tiny": 32}

// inputOf returns arch a's bench input.
func inputOf(a string) nn.Input {
	if in, ok := benchInputs[a]; ok {
		return in
	}
	return benchInput
}

const benchUsage = `usage: runner bench [-dp] [-archs mlp2,cnn,rnn,gpt-tiny] [-batch 64 (gpt-tiny: 32; -dp: 256)] [-duration 2s] [-repeats 5] [-procs 4] [-self-procs 2] [-python PATH]

Training steps per second (forward, loss, backward, SGD) of cliplab and of
PyTorch on one thread, each in several fresh processes, one line per
architecture:
  bench arch=mlp2 batch=64 threads=1 cliplab_steps_per_sec=… torch_steps_per_sec=… ratio=… cliplab_median=… torch_median=… cliplab_procs=2 torch_procs=4
With -dp (archs mlp2,cnn by default), DP-SGD's dp_flat step (σ 1, C 1)
against cliplab's plain step and PyTorch's fast DP-SGD step (per-example
norms from layer hooks, one reweighted backward); overhead = plain/dp_flat:
  bench arch=mlp2 batch=256 method=dp_flat threads=1 cliplab_steps_per_sec=… nonprivate_steps_per_sec=… torch_steps_per_sec=… ratio=… overhead=… cliplab_median=… nonprivate_median=… torch_median=… cliplab_procs=2 torch_procs=4
`

// cmdBench measures training steps per second (forward, cross-entropy,
// backward, clip none, SGD: the runner's own step, train.Run) of cliplab and
// of PyTorch on one thread, and prints one line per architecture:
//
//	bench arch=mlp2 batch=64 threads=1 cliplab_steps_per_sec=… torch_steps_per_sec=… ratio=… cliplab_median=… torch_median=… cliplab_procs=2 torch_procs=4
//
// Each side runs in several fresh processes (-self-procs of the runner
// itself, -procs of PyTorch), interleaved; a process's rate is the median of
// its -repeats timed repeats. PyTorch 1.13's speed here is bimodal per
// process (issue 18: the same script gave 263 then 699 steps/s), so one
// process can make any ratio look better or worse than it is: the
// *_steps_per_sec columns are each side's best process, ratio is best
// against best, and *_median the median over processes. Where PyTorch cannot
// run, it says so on stderr and leaves its columns and ratio empty.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", benchUsage, stderr)
	batch := fs.Int("batch", 64, "batch `size`")
	dur := fs.Duration("duration", 2*time.Second, "length of one timed repeat")
	repeats := fs.Int("repeats", 5, "timed repeats per architecture and framework; the median is printed")
	archList := fs.String("archs", "mlp2,cnn,rnn,gpt-tiny", "comma-separated `architectures` ("+benchArchNames+")")
	python := fs.String("python", "/usr/bin/python3", "`interpreter` with PyTorch (Debian's python3-torch); empty to skip PyTorch")
	procs := fs.Int("procs", 4, "fresh PyTorch `processes` per architecture (at least 1; 4 or more to see past its bimodal speed)")
	selfProcs := fs.Int("self-procs", 2, "fresh runner `processes` per architecture; 0 measures in this process")
	child := fs.Bool("child", false, "internal: measure cliplab in this process and print one 'child' line per architecture")
	dp := fs.Bool("dp", false, "DP-SGD: a dp_flat step (σ 1, C 1) against the plain step and PyTorch's fast DP-SGD step (archs mlp2,cnn and batch 256 unless given)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *dp && !set["archs"] {
		*archList = "mlp2,cnn"
	}
	if *dp && !set["batch"] {
		*batch = dpBenchBatch
	}
	if fs.NArg() != 0 {
		return usagef("bench takes no arguments, got %q", fs.Args())
	}
	if *batch < 1 || *repeats < 1 || *dur <= 0 {
		return usagef("bench: -batch and -repeats must be ≥ 1 and -duration > 0")
	}
	if *procs < 1 || *selfProcs < 0 {
		return usagef("bench: -procs must be ≥ 1 and -self-procs ≥ 0, got %d and %d", *procs, *selfProcs)
	}
	archs := strings.Split(*archList, ",")
	for _, a := range archs {
		spec, ok := benchArchs[a]
		if !ok {
			return usagef("bench: unknown architecture %q (allowed: %s)", a, benchArchNames)
		}
		if err := spec.Normalize().PerExampleSupport(); *dp && err != nil {
			return usagef("bench -dp: architecture %s: %v (allowed with -dp: %s)", a, err, dpBenchArchNames())
		}
	}

	// OpenBLAS's kernels are chosen when the process starts: this may
	// restart the process with OPENBLAS_CORETYPE set (main should have).
	if err := nn.EnsureBLAS(); err != nil {
		fmt.Fprintf(stderr, "runner bench: WARNING: %v: cliplab's numbers are not what this CPU can do\n", err)
	}
	fmt.Fprintf(stderr, "runner bench: OpenBLAS core %s (OPENBLAS_CORETYPE=%s), %s\n", nn.BLASCore(), os.Getenv("OPENBLAS_CORETYPE"), strings.TrimSpace(nn.BLASConfig()))
	if strings.EqualFold(nn.BLASCore(), "Prescott") {
		fmt.Fprintln(stderr, "runner bench: WARNING: OpenBLAS runs its slow Prescott kernels")
	}

	batchOf := func(a string) int {
		if b, ok := benchBatches[a]; ok && !set["batch"] {
			return b
		}
		return *batch
	}
	if *child && *dp {
		for _, a := range archs {
			r, err := benchDPCliplab(ctx, a, benchArchs[a], batchOf(a), *dur, *repeats)
			if err != nil {
				return fmt.Errorf("bench -dp %s: %w", a, err)
			}
			fmt.Fprintf(stdout, dpChildLine, a, r.DP, r.Plain, r.DPCPU, r.PlainCPU)
		}
		return nil
	}
	if *child {
		for _, a := range archs {
			r, err := benchCliplab(ctx, a, benchArchs[a], batchOf(a), *dur, *repeats)
			if err != nil {
				return fmt.Errorf("bench %s: %w", a, err)
			}
			fmt.Fprintf(stdout, "child arch=%s steps_per_sec=%g\n", a, r)
		}
		return nil
	}
	exe := "" // the runner binary, started for each measuring process
	if *selfProcs > 0 {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("bench: cannot find the runner binary to start: %w", err)
		}
	}
	self := benchInProcess
	if exe != "" {
		self = benchChild(exe)
	}

	torch, err := newTorchBench(ctx, *python)
	if err != nil {
		fmt.Fprintf(stderr, "runner bench: PyTorch columns left empty: %v\n", err)
	}
	if torch != nil {
		defer torch.close()
	}
	if *dp {
		return benchDP(ctx, stdout, stderr, dpBench{archs: archs, batchOf: batchOf, dur: *dur, repeats: *repeats,
			procs: *procs, selfProcs: *selfProcs, exe: exe, torch: torch})
	}
	for _, a := range archs {
		// Interleaved, so that a slow phase of the machine touches both sides.
		var ours, theirs []float64
		torchFailed := false // this architecture's PyTorch column stays empty
		for i := 0; i < max(*procs, *selfProcs, 1); i++ {
			if i < max(*selfProcs, 1) {
				r, err := self(ctx, a, batchOf(a), *dur, *repeats)
				if err != nil {
					return fmt.Errorf("bench %s: %w", a, err)
				}
				ours = append(ours, r)
			}
			if torch != nil && !torchFailed && i < *procs {
				r, _, err := torch.run(ctx, benchArchs[a], inputOf(a), batchOf(a), *dur, *repeats, nil)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					fmt.Fprintf(stderr, "runner bench: PyTorch %s: %v\n", a, err)
					theirs, torchFailed = nil, true
					continue
				}
				theirs = append(theirs, r)
			}
		}
		fmt.Fprintf(stderr, "runner bench: %s steps/s per process: cliplab %s; PyTorch %s\n", a, rates(ours), rates(theirs))
		oursBest := slices.Max(ours)
		theirsBest, theirsMedian, ratio := "", "", ""
		if len(theirs) > 0 {
			best := slices.Max(theirs)
			theirsBest, theirsMedian, ratio = fmt.Sprintf("%.1f", best), fmt.Sprintf("%.1f", median(theirs)), fmt.Sprintf("%.2f", oursBest/best)
		}
		fmt.Fprintf(stdout, "bench arch=%s batch=%d threads=1 cliplab_steps_per_sec=%.1f torch_steps_per_sec=%s ratio=%s cliplab_median=%.1f torch_median=%s cliplab_procs=%d torch_procs=%d\n",
			a, batchOf(a), oursBest, theirsBest, ratio, median(ours), theirsMedian, len(ours), len(theirs))
	}
	return nil
}

// rates formats per-process rates for the bench's stderr, "-" for none.
func rates(xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(parts, " ")
}

// A benchSide measures cliplab's median steps per second on arch a once.
type benchSide func(ctx context.Context, a string, b int, dur time.Duration, repeats int) (float64, error)

// benchInProcess measures in this process (-self-procs 0).
func benchInProcess(ctx context.Context, a string, b int, dur time.Duration, repeats int) (float64, error) {
	return benchCliplab(ctx, a, benchArchs[a], b, dur, repeats)
}

// benchChild measures in a fresh process of the runner binary exe
// (`runner bench -child`), which picks its OpenBLAS kernels as any runner
// does.
func benchChild(exe string) benchSide {
	return func(ctx context.Context, a string, b int, dur time.Duration, repeats int) (float64, error) {
		cmd := exec.CommandContext(ctx, exe, "bench", "-child", "-archs", a, "-batch", fmt.Sprint(b),
			"-duration", dur.String(), "-repeats", fmt.Sprint(repeats))
		var errBuf bytes.Buffer
		cmd.Stderr = &errBuf
		out, err := cmd.Output()
		if err != nil {
			return 0, fmt.Errorf("%s bench -child: %v: %s", exe, err, bytes.TrimSpace(errBuf.Bytes()))
		}
		var got string
		var r float64
		if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "child arch=%s steps_per_sec=%g", &got, &r); err != nil || got != a || !(r > 0) {
			return 0, fmt.Errorf("%s bench -child printed %q", exe, out)
		}
		return r, nil
	}
}

// benchCliplab returns the median steps per second over repeats timed
// repeats of dur each, after a warm-up of 20 steps, of the runner's own
// training step: train.Run on one configuration (SGD at lr 0.01, clip
// method none, which still measures the gradient norm the steps table
// stores), on seeded random MNIST-shaped data. Each repeat is timed from the
// training seconds train.Run reports with every logged step, so the time of
// the sink is left out as PyTorch's bench leaves out its loop.
func benchCliplab(ctx context.Context, name string, spec nn.ArchSpec, b int, dur time.Duration, repeats int) (float64, error) {
	rates, _, err := benchRates(ctx, benchConfig(name, spec, b), inputOf(name), 20, dur, repeats)
	if err != nil {
		return 0, err
	}
	return median(rates), nil
}

// benchConfig is the configuration benchCliplab trains: SGD at lr 0.01,
// clip method none, logging every step (the runner's default), on an epoch
// of 2²⁴ batches that the timer stops long before.
func benchConfig(name string, spec nn.ArchSpec, b int) config.Config {
	return config.Config{
		Dataset: "mnist", Data: config.DataSpec{TrainSize: b << 24}, ArchName: name, Arch: spec, Optimizer: nn.OptimSpec{Name: "sgd"}, LR: 0.01,
		BatchSize: b, Epochs: 1, EvalEvery: math.MaxInt, LogEvery: 1, DivergenceLoss: math.Inf(1),
		Clip: clipalgo.Spec{Method: "none"}, Seed: 1,
	}
}

// benchRates trains cfg on seeded random data of shape in and returns the
// steps per second of repeats timed repeats of dur each, after warmup
// steps, in training seconds (wall) and in seconds of this process's CPU
// time (user and system, all threads: what a loaded machine's waits for a
// core leave out).
func benchRates(ctx context.Context, cfg config.Config, in nn.Input, warmup int, dur time.Duration, repeats int) (wall, cpu []float64, err error) {
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	t := &benchTimer{warmup: warmup, dur: dur.Seconds(), repeats: repeats, stop: stop}
	if _, err := train.Run(rctx, cfg, newBenchData(cfg.BatchSize, in), t); err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if len(t.rates) < repeats {
		return nil, nil, fmt.Errorf("train.Run stopped after %d of %d timed repeats", len(t.rates), repeats)
	}
	return t.rates, t.cpuRates, nil
}

// benchTimer is the train.Sink of benchCliplab: it times repeats of dur
// training seconds each after warmup steps, then stops the run.
type benchTimer struct {
	warmup, repeats int
	dur             float64 // seconds
	stop            func()
	step0           int     // the step a repeat started after
	t0              float64 // training seconds then
	cpu0            float64 // processCPU then
	rates           []float64
	cpuRates        []float64 // steps per CPU second
}

// processCPU is this process's CPU time in seconds, user and system.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err) // RUSAGE_SELF with a valid pointer cannot fail
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func (t *benchTimer) Step(s record.Step) error {
	switch {
	case s.Step < t.warmup || len(t.rates) == t.repeats:
	case s.Step == t.warmup:
		t.step0, t.t0, t.cpu0 = s.Step, s.ElapsedS, processCPU()
	case s.ElapsedS-t.t0 >= t.dur:
		cpu := processCPU()
		t.rates = append(t.rates, float64(s.Step-t.step0)/(s.ElapsedS-t.t0))
		t.cpuRates = append(t.cpuRates, float64(s.Step-t.step0)/(cpu-t.cpu0))
		t.step0, t.t0, t.cpu0 = s.Step, s.ElapsedS, cpu
		if len(t.rates) == t.repeats {
			t.stop()
		}
	}
	return nil
}

func (t *benchTimer) Eval(record.Eval) error { return nil }

// benchData is an architecture's input shape (MNIST's, or gpt-tiny's
// tokens) holding one batch of seeded random inputs and labels, handed out
// as every batch of an endless epoch. Its batches share its slices (the
// model never writes its input), so no time goes to copying data, as in
// PyTorch's bench.
type benchData struct {
	in     nn.Input
	x      []float32
	labels []int
}

func newBenchData(b int, in nn.Input) *benchData {
	rng := rand.New(rand.NewPCG(1, 2))
	size := in.C * in.H * in.W
	if in.H == 0 {
		size = in.Steps * in.Feature
	}
	d := &benchData{in: in, x: make([]float32, b*size), labels: make([]int, b)}
	for i := range d.x {
		if in.Vocab > 0 {
			d.x[i] = float32(rng.IntN(in.Vocab))
		} else {
			d.x[i] = rng.Float32()
		}
	}
	for i := range d.labels {
		d.labels[i] = rng.IntN(in.Outputs)
	}
	return d
}

func (d *benchData) Shape() data.Shape {
	return data.Shape{C: d.in.C, H: d.in.H, W: d.in.W, Steps: d.in.Steps, Features: d.in.Feature, Vocab: d.in.Vocab,
		Outputs: d.in.Outputs, Task: data.Classify}
}
func (d *benchData) NumTrainBatches(b int) int                     { return math.MaxInt }
func (d *benchData) NumEvalBatches(string, int) int                { return 1 }
func (d *benchData) EvalBatch(dst *data.Batch, _ string, _, b int) { d.TrainBatch(dst, 0, 0, b) }
func (d *benchData) TrainBatch(dst *data.Batch, _, _, b int) {
	dst.X, dst.Labels, dst.Targets, dst.B, dst.Steps = d.x, d.labels, nil, b, d.in.Steps
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// torchBench runs bench_torch.py from a temporary file.
type torchBench struct {
	python, script string
}

var errNoTorch = errors.New("PyTorch not found")

// newTorchBench checks that python can import torch and writes the script
// out; it returns errNoTorch (wrapped) where it cannot.
func newTorchBench(ctx context.Context, python string) (*torchBench, error) {
	if python == "" {
		return nil, fmt.Errorf("%w: -python is empty", errNoTorch)
	}
	if out, err := exec.CommandContext(ctx, python, "-c", "import torch").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: %s cannot import torch (Debian: apt-get install python3-torch): %v %s", errNoTorch, python, err, bytes.TrimSpace(out))
	}
	f, err := os.CreateTemp("", "cliplab-bench-*.py")
	if err != nil {
		return nil, fmt.Errorf("write bench script: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(benchTorchPy); err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("write bench script: %w", err)
	}
	return &torchBench{python: python, script: f.Name()}, nil
}

func (t *torchBench) close() { os.Remove(t.script) }

// run returns PyTorch's median steps per second, measured as benchCliplab
// measures ours, on one thread with the same OPENBLAS_CORETYPE.
// With dp non-nil it times DP-SGD's step done the fast way
// (bench_torch.py's fast_dp_step) in place of the plain one. cpu is the
// median in steps per second of the process's CPU time.
func (t *torchBench) run(ctx context.Context, spec nn.ArchSpec, in nn.Input, b int, dur time.Duration, repeats int, dp *torchDP) (wall, cpu float64, err error) {
	fields := map[string]any{"arch": spec.Normalize(), "input": in, "batch": b,
		"seconds": dur.Seconds(), "repeats": repeats}
	if dp != nil {
		fields["dp"] = dp
	}
	req, err := json.Marshal(fields)
	if err != nil {
		return 0, 0, err
	}
	cmd := exec.CommandContext(ctx, t.python, t.script, "bench")
	cmd.Stdin = bytes.NewReader(req)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "MKL_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1")
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("%v: %s", err, bytes.TrimSpace(errBuf.Bytes()))
	}
	var res struct {
		StepsPerSec    float64 `json:"steps_per_sec"`
		CPUStepsPerSec float64 `json:"cpu_steps_per_sec"`
		Threads        int     `json:"threads"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return 0, 0, fmt.Errorf("bench_torch.py output: %w", err)
	}
	if res.Threads != 1 {
		return 0, 0, fmt.Errorf("PyTorch ran on %d threads, not 1", res.Threads)
	}
	return res.StepsPerSec, res.CPUStepsPerSec, nil
}
