// runner bench -dp: DP-SGD's step (dp_flat) against the plain step and
// against PyTorch's fast DP-SGD step (issue 11).

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"time"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/nn"
)

// dpBenchBatch is -batch's default with -dp: issue 11's line is at 256,
// DP-SGD's usual batch on MNIST.
const dpBenchBatch = 256

// dpBenchClip and dpBenchNoise are the clip norm C and noise multiplier σ
// of the timed DP steps, on both sides. C = 1 clips most examples of an
// untrained model, so the factors are not all 1 (Opacus's usual values).
const (
	dpBenchClip  = 1.0
	dpBenchNoise = 1.0
)

// torchDP is bench_torch.py's "dp" request: time fast_dp_step.
type torchDP struct {
	Clip  float64 `json:"clip"`
	Noise float64 `json:"noise"`
}

// dpBenchArchNames lists the bench architectures with per-example
// gradients, for messages.
func dpBenchArchNames() string {
	var names []string
	for a, spec := range benchArchs {
		if spec.Normalize().PerExampleSupport() == nil {
			names = append(names, a)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// dpBench is one `runner bench -dp`.
type dpBench struct {
	archs     []string
	batchOf   func(arch string) int
	dur       time.Duration
	repeats   int
	procs     int // PyTorch processes per architecture
	selfProcs int // runner processes per architecture; 0: this one
	exe       string
	torch     *torchBench // nil: PyTorch's columns stay empty
}

// dpRates are one process's median steps per second of cliplab's dp_flat
// step and plain step, in wall time and in the process's CPU time.
type dpRates struct {
	DP, Plain, DPCPU, PlainCPU float64
}

// benchDP prints, per architecture,
//
//	bench arch=mlp2 batch=256 method=dp_flat threads=1 cliplab_steps_per_sec=… nonprivate_steps_per_sec=… torch_steps_per_sec=… ratio=… overhead=… cliplab_median=… nonprivate_median=… torch_median=… cliplab_procs=2 torch_procs=4 overhead_cpu=… ratio_cpu=…
//
// cliplab_steps_per_sec is the runner's dp_flat step (σ = 1, C = 1,
// shuffled batches: per-example norms, clip factors, one reweighted
// backward, noise on every coordinate, SGD) and nonprivate_steps_per_sec
// the runner's ordinary step of the same model (clip none, as the plain
// bench times it), each measured in the same processes, repeat by repeat
// in turn; torch_steps_per_sec is PyTorch's DP-SGD step the fast way
// (bench_torch.py fast_dp_step). As in the plain bench, each column is the
// best process (a process's rate being the median of its repeats) and
// *_median the median over processes; ratio is cliplab's best against
// PyTorch's best, overhead the nonprivate best against cliplab's best: what
// a DP step costs in plain steps (issue 11's goals: overhead ≤ 1.3, ratio ≥
// 3). overhead_cpu and ratio_cpu are the same ratios of steps per second of
// each process's CPU time, which a machine shared with other jobs disturbs
// less than wall time (waits for a core are not counted). Every process's
// rates go to stderr.
func benchDP(ctx context.Context, stdout, stderr io.Writer, bd dpBench) error {
	measure := func(a string) (dpRates, error) {
		return benchDPCliplab(ctx, a, benchArchs[a], bd.batchOf(a), bd.dur, bd.repeats)
	}
	if bd.exe != "" {
		measure = func(a string) (dpRates, error) {
			return benchDPChild(ctx, bd.exe, a, bd.batchOf(a), bd.dur, bd.repeats)
		}
	}
	for _, a := range bd.archs {
		var ours []dpRates
		var theirs, theirsCPU []float64
		torchFailed := bd.torch == nil
		for i := 0; i < max(bd.procs, bd.selfProcs, 1); i++ {
			if i < max(bd.selfProcs, 1) {
				r, err := measure(a)
				if err != nil {
					return fmt.Errorf("bench -dp %s: %w", a, err)
				}
				ours = append(ours, r)
			}
			if !torchFailed && i < bd.procs {
				r, cpu, err := bd.torch.run(ctx, benchArchs[a], inputOf(a), bd.batchOf(a), bd.dur, bd.repeats,
					&torchDP{Clip: dpBenchClip, Noise: dpBenchNoise})
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					fmt.Fprintf(stderr, "runner bench: PyTorch %s: %v\n", a, err)
					theirs, theirsCPU, torchFailed = nil, nil, true
					continue
				}
				theirs, theirsCPU = append(theirs, r), append(theirsCPU, cpu)
			}
		}
		col := func(f func(dpRates) float64) []float64 {
			xs := make([]float64, len(ours))
			for i, r := range ours {
				xs[i] = f(r)
			}
			return xs
		}
		dp, plain := col(func(r dpRates) float64 { return r.DP }), col(func(r dpRates) float64 { return r.Plain })
		dpCPU, plainCPU := col(func(r dpRates) float64 { return r.DPCPU }), col(func(r dpRates) float64 { return r.PlainCPU })
		fmt.Fprintf(stderr, "runner bench: %s steps/s per process: cliplab dp_flat %s; cliplab plain %s; PyTorch fast DP %s\n", a, rates(dp), rates(plain), rates(theirs))
		fmt.Fprintf(stderr, "runner bench: %s steps per CPU second per process: cliplab dp_flat %s; cliplab plain %s; PyTorch fast DP %s\n", a, rates(dpCPU), rates(plainCPU), rates(theirsCPU))
		theirsBest, theirsMedian, ratio, ratioCPU := "", "", "", ""
		if len(theirs) > 0 {
			best := slices.Max(theirs)
			theirsBest, theirsMedian, ratio = fmt.Sprintf("%.1f", best), fmt.Sprintf("%.1f", median(theirs)), fmt.Sprintf("%.2f", slices.Max(dp)/best)
			ratioCPU = fmt.Sprintf("%.2f", slices.Max(dpCPU)/slices.Max(theirsCPU))
		}
		fmt.Fprintf(stdout, "bench arch=%s batch=%d method=dp_flat threads=1 cliplab_steps_per_sec=%.1f nonprivate_steps_per_sec=%.1f torch_steps_per_sec=%s ratio=%s overhead=%.2f cliplab_median=%.1f nonprivate_median=%.1f torch_median=%s cliplab_procs=%d torch_procs=%d overhead_cpu=%.2f ratio_cpu=%s\n",
			a, bd.batchOf(a), slices.Max(dp), slices.Max(plain), theirsBest, ratio, slices.Max(plain)/slices.Max(dp), median(dp), median(plain), theirsMedian,
			len(ours), len(theirs), slices.Max(plainCPU)/slices.Max(dpCPU), ratioCPU)
	}
	return nil
}

// benchDPConfig is benchConfig with dp_flat at C = dpBenchClip, σ =
// dpBenchNoise, shuffled batches.
func benchDPConfig(name string, spec nn.ArchSpec, b int) config.Config {
	c := benchConfig(name, spec, b)
	c.Clip = clipalgo.Spec{Method: "dp_flat", Threshold: dpBenchClip}.Normalize()
	c.DP = &config.DPSpec{NoiseMultiplier: dpBenchNoise, Delta: config.DefaultDelta, Sampling: config.Shuffle}
	return c
}

// benchDPCliplab returns the medians of repeats timed repeats of the
// dp_flat step and of the plain step, measured in turn (one repeat of one,
// then one of the other, each a fresh train.Run after 5 warm-up steps), so
// that a slow phase of the machine touches both.
func benchDPCliplab(ctx context.Context, name string, spec nn.ArchSpec, b int, dur time.Duration, repeats int) (dpRates, error) {
	const warmup = 5
	in := inputOf(name)
	var dp, plain, dpCPU, plainCPU []float64
	for range repeats {
		r, rc, err := benchRates(ctx, benchDPConfig(name, spec, b), in, warmup, dur, 1)
		if err != nil {
			return dpRates{}, fmt.Errorf("dp_flat: %w", err)
		}
		p, pc, err := benchRates(ctx, benchConfig(name, spec, b), in, warmup, dur, 1)
		if err != nil {
			return dpRates{}, fmt.Errorf("plain: %w", err)
		}
		dp, dpCPU, plain, plainCPU = append(dp, r...), append(dpCPU, rc...), append(plain, p...), append(plainCPU, pc...)
	}
	return dpRates{DP: median(dp), Plain: median(plain), DPCPU: median(dpCPU), PlainCPU: median(plainCPU)}, nil
}

// dpChildLine is what `runner bench -child -dp` prints per architecture.
const dpChildLine = "child arch=%s steps_per_sec=%g nonprivate_steps_per_sec=%g cpu_steps_per_sec=%g nonprivate_cpu_steps_per_sec=%g\n"

// benchDPChild runs benchDPCliplab in a fresh process of the runner binary
// exe (`runner bench -child -dp`).
func benchDPChild(ctx context.Context, exe, a string, b int, dur time.Duration, repeats int) (dpRates, error) {
	cmd := exec.CommandContext(ctx, exe, "bench", "-child", "-dp", "-archs", a, "-batch", fmt.Sprint(b),
		"-duration", dur.String(), "-repeats", fmt.Sprint(repeats))
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	out, err := cmd.Output()
	if err != nil {
		return dpRates{}, fmt.Errorf("%s bench -child -dp: %v: %s", exe, err, bytes.TrimSpace(errBuf.Bytes()))
	}
	var got string
	var r dpRates
	if _, err := fmt.Sscanf(string(out), dpChildLine, &got, &r.DP, &r.Plain, &r.DPCPU, &r.PlainCPU); err != nil || got != a || !(r.DP > 0 && r.Plain > 0 && r.DPCPU > 0 && r.PlainCPU > 0) {
		return dpRates{}, fmt.Errorf("%s bench -child -dp printed %q", exe, out)
	}
	return r, nil
}
