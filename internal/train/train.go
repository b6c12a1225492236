// Package train is the training loop: one resolved configuration in,
// metrics out through a callback. It is the one place where nn and clipalgo
// meet, and it reads top to bottom: batch → forward → loss → backward →
// clip → step → log.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/nn"
	"cliplab/internal/record"
)

// Sink receives a run's metrics as they are made. Its methods are called
// from the training goroutine; an error they return stops the run.
type Sink interface {
	Step(record.Step) error
	Eval(record.Eval) error
}

// ErrDiverged is matched (errors.Is) by the error of a step whose loss was
// non-finite or above divergence_loss, or whose gradient held NaN or ±Inf.
// Run turns it into a Diverged result whose Error says why.
var ErrDiverged = errors.New("train: diverged")

// divergence is the error a diverging step returns.
type divergence struct{ why string }

func (d *divergence) Error() string        { return "diverged: " + d.why }
func (d *divergence) Is(target error) bool { return target == ErrDiverged }

func diverged(format string, args ...any) error { return &divergence{fmt.Sprintf(format, args...)} }

// EvalBatch is the batch size of evaluations; it does not change results.
const EvalBatch = 500

// Input returns the model input shape of a dataset shape.
func Input(s data.Shape) nn.Input {
	return nn.Input{C: s.C, H: s.H, W: s.W, Steps: s.Steps, Feature: s.Features, Vocab: s.Vocab, OutSteps: s.OutSteps, Outputs: s.Outputs}
}

// DataOptions returns the data.Options of a configuration.
func DataOptions(c config.Config, dir string) data.Options {
	return data.Options{Dir: dir, TrainSize: c.Data.TrainSize, TestSize: c.Data.TestSize,
		TrainEvalSize: c.Data.TrainEvalSize, SeqLen: c.Data.SeqLen, Seed: c.Seed,
		Modulus: c.Data.Modulus, Operation: c.Data.Operation, TrainFraction: c.Data.TrainFraction,
		Generator: c.Data.Generator, Vocab: c.Data.Vocab}
}

// Run trains configuration c on ds (loaded with DataOptions(c, …)) and
// sends its metrics to sink. It returns when the run is done, diverges, or
// ctx is cancelled (after finishing the step in flight): the Result's Status
// is Done, Diverged (Error says why) or Interrupted. An error means the run
// failed.
//
// The seed fixes everything: the weights are drawn from PCG(seed, initStream)
// and the data order from the dataset's own seeded streams, so the same
// configuration gives bit-identical metrics (timings aside) in any process
// and beside any number of other runs.
func Run(ctx context.Context, c config.Config, ds data.Dataset, sink Sink) (record.Result, error) {
	r, err := newTrainer(c, ds, sink)
	if err != nil {
		return record.Result{}, err
	}
	perEpoch := c.StepsPerEpoch()
	for epoch := 0; epoch < c.Epochs; epoch++ {
		for i := 0; i < perEpoch; i++ {
			yield()
			if ctx.Err() != nil {
				return r.finish(record.Interrupted, ""), nil
			}
			err := r.step(epoch, i)
			if d := (*divergence)(nil); errors.As(err, &d) {
				return r.finish(record.Diverged, d.why), nil
			}
			if err != nil {
				return record.Result{}, err
			}
			if r.evalDue(r.res.Steps) {
				if err := r.evaluate(epoch); err != nil {
					return record.Result{}, err
				}
			}
		}
		if c.EvalEvery == 0 && r.lastEval != r.res.Steps {
			if err := r.evaluate(epoch); err != nil {
				return record.Result{}, err
			}
		}
	}
	if r.lastEval != r.res.Steps {
		if err := r.evaluate(c.Epochs - 1); err != nil {
			return record.Result{}, err
		}
	}
	return r.finish(record.Done, ""), nil
}

// yield lets the Go scheduler run other goroutines, at every step and
// every evaluation batch. A training goroutine is otherwise always runnable
// and mostly inside cgo calls (OpenBLAS, kernels.c): after 10 ms on one
// time slice the runtime's monitor thread takes its P away in the middle of
// such a call, and then polls every 20 µs for a while; on a cnn step that
// cost 32,000 context switches and 13,000 wake-ups a 3.4 s benchmark
// against 2,727 and 472 with a yield per step, and 5–10% more CPU than the
// step's own, taken from the other workers' cores (`perf stat` on
// BenchmarkStep/cnn). Scheduling changes no result.
func yield() { runtime.Gosched() }

// trainer is one training run in progress.
type trainer struct {
	c       config.Config
	ds      data.Dataset
	sink    Sink
	model   nn.Model
	tensors []clipalgo.Tensor[float32]
	clipper clipalgo.Clipper[float32]
	dp      *private // DP-SGD: nil without
	opt     nn.Optimizer
	loss    *loss
	eval    evaluator
	batch   data.Batch
	spikes  *spikes
	prune   *pruner    // train.prune: nil without
	quant   *quantizer // train.quantize: nil without
	// groups and groupOf are nn.NormGroups of the model's parameters, whose
	// gradient norms logged steps carry (record.Step.Norms).
	groups  []string
	groupOf []int

	res       record.Result
	start     time.Time
	trainTime time.Duration
	lastEval  int   // the step of the last evaluation, -1 before the first
	tailEvals []int // steps evaluated in the tail window with eval_every 0
}

func newTrainer(c config.Config, ds data.Dataset, sink Sink) (*trainer, error) {
	r := &trainer{c: c, ds: ds, sink: sink, start: time.Now(), lastEval: -1, tailEvals: tailEvals(c)}
	shape := ds.Shape()
	rng := rand.New(rand.NewPCG(c.Seed, initStream))
	model, err := nn.Build(c.Arch, Input(shape), rng)
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", c.ArchName, err)
	}
	r.model = model
	r.tensors = Tensors(model.Params())
	r.groups, r.groupOf = nn.NormGroups(model.Params())
	r.spikes = newSpikes(c.Spike())
	if c.Private() {
		if r.dp, err = newPrivate(c, model, ds); err != nil {
			return nil, fmt.Errorf("dp: %w", err)
		}
	} else if r.clipper, err = clipalgo.New[float32](c.Clip); err != nil {
		return nil, fmt.Errorf("clip: %w", err)
	}
	if r.opt, err = nn.NewOptimizer(c.Optimizer, model.Params()); err != nil {
		return nil, fmt.Errorf("optimizer: %w", err)
	}
	r.loss = newLoss(shape)
	r.eval = evaluator{model: model, ds: ds, loss: r.loss}
	if r.prune = newPruner(c.Prune, model.Params(), c.Steps()); r.prune != nil {
		r.prune.after(0)
	}
	r.quant = newQuantizer(c.Quantize, model.Params())
	return r, nil
}

// step trains on batch i of epoch: batch → forward → loss → backward → clip
// → step → log. A step that diverges is logged (with NaN statistics, so the
// curve ends where the run ended) and returns an error wrapping ErrDiverged.
func (r *trainer) step(epoch, i int) error {
	c, n := &r.c, r.res.Steps+1
	lr := c.StepLR(n)
	t0 := time.Now()
	if r.dp != nil && r.dp.poisson != nil {
		r.dp.batch(&r.batch, n, c.Data.TrainSize)
	} else {
		r.ds.TrainBatch(&r.batch, epoch, i, c.BatchSize)
	}
	l := math.NaN()  // an empty Poisson batch has no loss
	r.quant.swapIn() // QAT: forward and backward through the fake-quantised weights
	if r.batch.B > 0 {
		out := r.model.Forward(r.batch.X, r.batch.B, r.batch.Steps)
		l = r.loss.forward(out, &r.batch)
	}
	var st clipalgo.Stats
	var err error
	var norms []record.GroupNorm
	logged := n%c.LogEvery == 0
	switch {
	case r.batch.B == 0:
		r.quant.swapOut()
		st, err = r.dp.backward(nil, 0, n) // noise alone
		r.opt.Step(lr)
	case math.IsNaN(l) || math.IsInf(l, 0):
		r.quant.swapOut()
		err = diverged("non-finite loss %v at step %d", l, n)
	case l > c.DivergenceLoss:
		r.quant.swapOut()
		err = diverged("loss %.4g above divergence_loss %g at step %d", l, c.DivergenceLoss, n)
	default:
		if r.dp != nil {
			st, err = r.dp.backward(r.loss.grad, r.batch.B, n)
			r.quant.swapOut()
		} else {
			r.model.Backward(r.loss.grad)
			r.quant.swapOut()
			if r.prune != nil {
				r.prune.maskGrads()
			}
			if logged {
				norms = r.groupNorms()
			}
			st, err = r.clipper.Clip(r.tensors)
		}
		switch {
		case errors.Is(err, clipalgo.ErrNonFinite):
			err = diverged("%v at step %d", err, n)
		case err != nil:
			return fmt.Errorf("clip at step %d: %w", n, err)
		default:
			r.opt.Step(lr)
		}
	}
	r.res.Steps = n
	if r.dp != nil && err == nil {
		r.dp.step()
	}
	if r.prune != nil && err == nil {
		r.prune.after(n)
	}
	if n == c.Steps() && err == nil {
		r.quant.deploy() // the final evaluations measure the model as deployed
	}
	r.res.TrainFLOPs += float64(r.model.FLOPs(r.batch.B, r.batch.Steps))
	r.trainTime += time.Since(t0)
	if err != nil {
		st = clipalgo.Stats{NormBefore: math.NaN(), NormAfter: math.NaN(), Fraction: math.NaN(), Threshold: math.NaN()}
	}
	if err != nil {
		norms = nil
	}
	if err != nil || logged {
		if serr := r.sink.Step(record.Step{Step: n, Epoch: epoch, Loss: l, GradNorm: st.NormBefore,
			ClippedNorm: st.NormAfter, ClipFraction: st.Fraction, Threshold: st.Threshold, LR: lr,
			ElapsedS: r.trainTime.Seconds(), Spike: r.spikes.observe(l), Norms: norms}); serr != nil {
			return serr
		}
	}
	return err
}

// groupNorms measures the gradient norm of each parameter group, before
// clipping. The slice is new: a sink may keep it.
func (r *trainer) groupNorms() []record.GroupNorm {
	ns := nn.GroupNorms(r.model.Params(), r.groups, r.groupOf)
	out := make([]record.GroupNorm, len(ns))
	for i, x := range ns {
		out[i] = record.GroupNorm{Group: r.groups[i], Norm: x}
	}
	return out
}

// evalDue reports whether step n is evaluated (besides the end of each
// epoch with eval_every 0, and the end of the run): every eval_every steps,
// or, with eval_every 0, config.TailEvals times evenly over the tail window
// (ending at the last step), so that the tail metrics average more than one
// evaluation.
func (r *trainer) evalDue(n int) bool {
	if r.c.EvalEvery > 0 {
		return n%r.c.EvalEvery == 0
	}
	return slices.Contains(r.tailEvals, n)
}

// tailEvals are the steps last − ⌊k·w/TailEvals⌋, k = 0 … TailEvals−1, of a
// tail window of w steps ending at last: TailEvals distinct steps when
// w ≥ TailEvals, every step of the window otherwise.
func tailEvals(c config.Config) []int {
	last := c.Steps()
	_, from := c.Tail()
	w := last - from + 1
	var out []int
	for k := range config.TailEvals {
		if n := last - k*w/config.TailEvals; len(out) == 0 || n != out[len(out)-1] {
			out = append(out, n)
		}
	}
	return out
}

// evaluate measures the test split and the training sample.
func (r *trainer) evaluate(epoch int) error {
	r.lastEval = r.res.Steps
	eps := r.epsilon()
	for _, split := range []string{data.SplitTest, data.SplitTrain} {
		r.quant.swapIn() // QAT evaluates the fake-quantised model
		l, acc := r.eval.run(split)
		r.quant.swapOut()
		if err := r.sink.Eval(record.Eval{Step: r.res.Steps, Epoch: epoch, Split: split, Loss: l, Acc: acc,
			ElapsedS: r.trainTime.Seconds(), Epsilon: eps}); err != nil {
			return err
		}
	}
	return nil
}

func (r *trainer) finish(s record.Status, why string) record.Result {
	r.res.Status, r.res.Error = s, why
	r.res.WallSeconds = time.Since(r.start).Seconds()
	r.res.TrainSecs = r.trainTime.Seconds()
	r.res.Epsilon = r.epsilon()
	costs(&r.res, r.model, r.ds.Shape().Steps, r.quant.bits)
	return r.res
}

// epsilon is the ε spent by the steps taken so far: +Inf with σ = 0, 0
// without DP (record.Eval.Epsilon).
func (r *trainer) epsilon() float64 {
	if r.dp == nil {
		return 0
	}
	return r.dp.epsilon()
}

// initStream is the PCG stream of weight initialisation ("clipinit").
const initStream = 0x636c6970696e6974

// Tensors returns clipalgo's view of a model's parameters: the same memory,
// so clipping acts on the gradients the optimizer then reads.
func Tensors(params []*nn.Param) []clipalgo.Tensor[float32] {
	ts := make([]clipalgo.Tensor[float32], len(params))
	for i, p := range params {
		ts[i] = clipalgo.Tensor[float32]{Name: p.Name, Role: p.Role, Shape: p.Shape, Param: p.W, Grad: p.G, Last: p.Last}
	}
	return ts
}
