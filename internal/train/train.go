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
	"time"

	"cliplab/internal/clipalgo"
	"cliplab/internal/data"
	"cliplab/internal/grid"
	"cliplab/internal/nn"
)

// Status values of a Result, as the database's runs.status names them.
const (
	Done        = "done"
	Diverged    = "diverged"
	Interrupted = "interrupted"
)

// Step is one logged training step.
type Step struct {
	Step         int     // optimizer steps taken so far (1-based)
	Epoch        int     // 0-based
	Loss         float64 // mean loss of this step's batch
	GradNorm     float64 // global L2 norm before clipping
	ClippedNorm  float64 // global L2 norm after clipping
	ClipFraction float64
	Threshold    float64 // in force; NaN for method none
	LR           float64
	ElapsedS     float64 // training seconds so far (evaluations excluded)
}

// Eval is one evaluation of a split ("test", or "train": the fixed training
// sample). Acc is accuracy for classification, the fraction of sequences
// solved for regression.
type Eval struct {
	Step     int
	Epoch    int
	Split    string
	Loss     float64
	Acc      float64
	ElapsedS float64 // training seconds so far (evaluations excluded)
}

// Sink receives a run's metrics as they are made. Its methods are called
// from the training goroutine; an error they return stops the run.
type Sink interface {
	Step(Step) error
	Eval(Eval) error
}

// Result is how a run ended.
type Result struct {
	Status      string // Done, Diverged or Interrupted
	Reason      string // why it diverged (or was interrupted)
	Steps       int    // optimizer steps taken
	TrainFLOPs  float64
	WallSeconds float64 // the whole run, evaluations included
	TrainSecs   float64 // training only
}

// EvalBatch is the batch size of evaluations; it does not change results.
const EvalBatch = 500

// Input returns the model input shape of a dataset shape.
func Input(s data.Shape) nn.Input {
	return nn.Input{C: s.C, H: s.H, W: s.W, Steps: s.Steps, Feature: s.Features, Outputs: s.Outputs}
}

// DataOptions returns the data.Options of a configuration.
func DataOptions(c grid.Config, dir string) data.Options {
	return data.Options{Dir: dir, TrainSize: c.Data.TrainSize, TestSize: c.Data.TestSize,
		TrainEvalSize: c.Data.TrainEvalSize, SeqLen: c.Data.SeqLen, Seed: c.Seed}
}

// Run trains configuration c on ds (loaded with DataOptions(c, …)) and
// sends its metrics to sink. It returns when the run is done, diverges, or
// ctx is cancelled (after finishing the step in flight: Result.Status is
// Interrupted). An error means the run failed.
//
// The seed fixes everything: the weights are drawn from PCG(seed, initStream)
// and the data order from the dataset's own seeded streams, so the same
// configuration gives bit-identical metrics (timings aside) in any process
// and beside any number of other runs.
func Run(ctx context.Context, c grid.Config, ds data.Dataset, sink Sink) (Result, error) {
	start := time.Now()
	shape := ds.Shape()
	rng := rand.New(rand.NewPCG(c.Seed, initStream))
	model, err := nn.Build(c.Arch, Input(shape), rng)
	if err != nil {
		return Result{}, fmt.Errorf("build %s: %w", c.ArchName, err)
	}
	params := model.Params()
	tensors := Tensors(params)
	clipper, err := clipalgo.New[float32](c.Clip)
	if err != nil {
		return Result{}, fmt.Errorf("clip: %w", err)
	}
	opt, err := nn.NewOptimizer(c.Optimizer, params)
	if err != nil {
		return Result{}, fmt.Errorf("optimizer: %w", err)
	}
	loss := newLoss(shape)
	ev := evaluator{model: model, ds: ds, loss: loss}

	var (
		res       = Result{Status: Done}
		batch     data.Batch
		trainTime time.Duration
		lastEval  = -1
		perEpoch  = ds.NumTrainBatches(c.BatchSize)
	)
	evaluate := func(epoch int) error {
		lastEval = res.Steps
		for _, split := range []string{data.SplitTest, data.SplitTrain} {
			l, acc := ev.run(split)
			if err := sink.Eval(Eval{Step: res.Steps, Epoch: epoch, Split: split, Loss: l, Acc: acc, ElapsedS: trainTime.Seconds()}); err != nil {
				return err
			}
		}
		return nil
	}
	finish := func() (Result, error) {
		res.WallSeconds = time.Since(start).Seconds()
		res.TrainSecs = trainTime.Seconds()
		return res, nil
	}

train:
	for epoch := 0; epoch < c.Epochs; epoch++ {
		for i := 0; i < perEpoch; i++ {
			if ctx.Err() != nil {
				res.Status, res.Reason = Interrupted, "interrupted"
				break train
			}
			t0 := time.Now()
			ds.TrainBatch(&batch, epoch, i, c.BatchSize)
			out := model.Forward(batch.X, batch.B, batch.Steps)
			l := loss.forward(out, &batch)
			diverged := ""
			var st clipalgo.Stats
			if math.IsNaN(l) || math.IsInf(l, 0) {
				diverged = fmt.Sprintf("non-finite loss %v at step %d", l, res.Steps+1)
			} else if l > c.DivergenceLoss {
				diverged = fmt.Sprintf("loss %.4g above divergence_loss %g at step %d", l, c.DivergenceLoss, res.Steps+1)
			} else {
				model.Backward(loss.grad)
				st, err = clipper.Clip(tensors)
				if errors.Is(err, clipalgo.ErrNonFinite) {
					diverged = fmt.Sprintf("%v at step %d", err, res.Steps+1)
				} else if err != nil {
					return Result{}, fmt.Errorf("clip at step %d: %w", res.Steps+1, err)
				} else {
					opt.Step(c.LR)
				}
			}
			res.Steps++
			res.TrainFLOPs += float64(model.FLOPs(batch.B, batch.Steps))
			trainTime += time.Since(t0)
			if diverged != "" {
				// The step that diverged is always logged, so its curve ends
				// where the run ended.
				st = clipalgo.Stats{NormBefore: math.NaN(), NormAfter: math.NaN(), Fraction: math.NaN(), Threshold: math.NaN()}
				if err := sink.Step(stepRow(res.Steps, epoch, l, st, c.LR, trainTime)); err != nil {
					return Result{}, err
				}
				res.Status, res.Reason = Diverged, diverged
				return finish()
			}
			if res.Steps%c.LogEvery == 0 {
				if err := sink.Step(stepRow(res.Steps, epoch, l, st, c.LR, trainTime)); err != nil {
					return Result{}, err
				}
			}
			if c.EvalEvery > 0 && res.Steps%c.EvalEvery == 0 {
				if err := evaluate(epoch); err != nil {
					return Result{}, err
				}
			}
		}
		if c.EvalEvery == 0 && lastEval != res.Steps {
			if err := evaluate(epoch); err != nil {
				return Result{}, err
			}
		}
	}
	if res.Status == Done && lastEval != res.Steps {
		if err := evaluate(c.Epochs - 1); err != nil {
			return Result{}, err
		}
	}
	return finish()
}

// initStream is the PCG stream of weight initialisation ("clipinit").
const initStream = 0x636c6970696e6974

func stepRow(step, epoch int, loss float64, st clipalgo.Stats, lr float64, elapsed time.Duration) Step {
	return Step{Step: step, Epoch: epoch, Loss: loss, GradNorm: st.NormBefore, ClippedNorm: st.NormAfter,
		ClipFraction: st.Fraction, Threshold: st.Threshold, LR: lr, ElapsedS: elapsed.Seconds()}
}

// Tensors returns clipalgo's view of a model's parameters: the same memory,
// so clipping acts on the gradients the optimizer then reads.
func Tensors(params []*nn.Param) []clipalgo.Tensor[float32] {
	ts := make([]clipalgo.Tensor[float32], len(params))
	for i, p := range params {
		ts[i] = clipalgo.Tensor[float32]{Name: p.Name, Role: role(p.Role), Shape: p.Shape, Param: p.W, Grad: p.G, Last: p.Last}
	}
	return ts
}

func role(r nn.Role) clipalgo.Role {
	switch r {
	case nn.DenseWeight:
		return clipalgo.Dense
	case nn.ConvWeight:
		return clipalgo.Conv
	case nn.Bias:
		return clipalgo.Bias
	case nn.RecurrentWeight:
		return clipalgo.Recurrent
	}
	panic(fmt.Sprintf("train: no clipalgo role for %v", r))
}
