package nn

// The learning-rate schedule: linear warm-up, then cosine, linear or no
// decay.

import (
	"fmt"
	"math"
)

// Decays are the decay names a Schedule accepts.
var Decays = []string{"none", "cosine", "linear"}

// Schedule is train.lr_schedule: a linear warm-up, then a decay to MinLR
// over the remaining steps. The zero Schedule is the constant learning rate.
//
// With N steps, W = WarmupSteps(N) and D = N − W, the learning rate of
// 0-based step e for base rate lr is
//
//	e < W:  lr·(e+1)/(W+1)                        (nanoGPT's warm-up)
//	e ≥ W:  with e' = e − W,
//	        cosine: MinLR + (lr − MinLR)·(1 + cos(π·e'/D))/2
//	        linear: MinLR + (lr − MinLR)·(1 − e'/D)
//	        none:   lr
//
// which is PyTorch's SequentialLR of LinearLR(start_factor 1/(W+1),
// total_iters W) and CosineAnnealingLR(T_max D, eta_min MinLR) or
// LinearLR(end_factor MinLR/lr, total_iters D), with milestone W.
type Schedule struct {
	// Warmup is the warm-up: a whole number of steps (≥ 1), or a fraction
	// of the run's steps in (0, 1); 0 for none.
	Warmup float64 `json:"warmup,omitempty" yaml:"warmup"`
	// Decay is none, cosine or linear; "" stands for none.
	Decay string  `json:"decay,omitempty" yaml:"decay"`
	MinLR float64 `json:"min_lr,omitempty" yaml:"min_lr"` // the rate decay ends at (cosine, linear)
}

// Normalize returns s with "none" stored as "" (so that the constant
// schedule, however written, is the zero Schedule) and MinLR dropped
// without a decay.
func (s Schedule) Normalize() Schedule {
	if s.Decay == "none" {
		s.Decay = ""
	}
	if s.Decay == "" {
		s.MinLR = 0
	}
	return s
}

// Constant reports whether s is the constant learning rate.
func (s Schedule) Constant() bool { return s == Schedule{} }

// Validate reports the first thing wrong with a normalized schedule, as
// "field: message".
func (s Schedule) Validate() error {
	w := s.Warmup
	switch {
	case math.IsNaN(w) || math.IsInf(w, 0) || w < 0 || w > math.MaxInt32:
		return fmt.Errorf("warmup: must be a whole number of steps ≥ 1 or a fraction in (0, 1), got %v", w)
	case w > 1 && w != math.Trunc(w):
		return fmt.Errorf("warmup: must be a whole number of steps ≥ 1 or a fraction in (0, 1), got %v", w)
	}
	switch s.Decay {
	case "", "cosine", "linear":
	default:
		return fmt.Errorf("decay: unknown decay %q (allowed: none, cosine, linear)", s.Decay)
	}
	if math.IsNaN(s.MinLR) || math.IsInf(s.MinLR, 0) || s.MinLR < 0 {
		return fmt.Errorf("min_lr: must be a finite number ≥ 0, got %v", s.MinLR)
	}
	return nil
}

// WarmupSteps is W for a run of n steps: Warmup itself when it is a whole
// number ≥ 1, else round(Warmup·n).
func (s Schedule) WarmupSteps(n int) int {
	if s.Warmup >= 1 {
		return int(s.Warmup)
	}
	return int(math.Round(s.Warmup * float64(n)))
}

// LR returns the learning rate of step (1-based) of a run of n steps with
// base rate lr. It panics if step is outside [1, n].
func (s Schedule) LR(lr float64, step, n int) float64 {
	if step < 1 || step > n {
		panic(fmt.Sprintf("nn: schedule step %d outside [1, %d]", step, n))
	}
	e, w := step-1, s.WarmupSteps(n)
	if e < w {
		return lr * float64(e+1) / float64(w+1)
	}
	d := float64(n - w)
	x := float64(e-w) / d
	switch s.Decay {
	case "cosine":
		return s.MinLR + (lr-s.MinLR)*(1+math.Cos(math.Pi*x))/2
	case "linear":
		return s.MinLR + (lr-s.MinLR)*(1-x)
	}
	return lr
}

// String is the schedule as a label shows it: "constant", or its fields off
// their zero, e.g. "warmup=100,decay=cosine,min_lr=1e-05".
func (s Schedule) String() string {
	if s.Constant() {
		return "constant"
	}
	out := ""
	sep := func() {
		if out != "" {
			out += ","
		}
	}
	if s.Warmup != 0 {
		out += "warmup=" + fmt.Sprint(s.Warmup)
	}
	if s.Decay != "" {
		sep()
		out += "decay=" + s.Decay
	}
	if s.MinLR != 0 {
		sep()
		out += "min_lr=" + fmt.Sprint(s.MinLR)
	}
	return out
}
