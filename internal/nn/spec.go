package nn

import (
	"fmt"
	"math"
	"strings"
)

// ArchSpec describes an architecture as the experiment file's archs: section
// writes it. Normalize fills defaults and clears fields the type does not use.
type ArchSpec struct {
	Type string `json:"type" yaml:"type"` // mlp | cnn | rnn | transformer

	// mlp: hidden layer sizes; rnn: one entry, the hidden size (YAML may give
	// a scalar). cnn: sizes of hidden dense layers before the classifier
	// (default none: flatten → dense → classes).
	Hidden     []int  `json:"hidden,omitempty" yaml:"hidden"`
	Activation string `json:"activation,omitempty" yaml:"activation"` // mlp, cnn: relu (default) | tanh

	Channels []int `json:"channels,omitempty" yaml:"channels"` // cnn: output channels per conv layer
	Kernel   int   `json:"kernel,omitempty" yaml:"kernel"`     // cnn: square kernel size (default 5)
	Pool     int   `json:"pool,omitempty" yaml:"pool"`         // cnn: max-pool size after each conv (default 2; 1 = none)

	Cell string `json:"cell,omitempty" yaml:"cell"` // rnn: tanh (default) | lstm
	// rnn with cell tanh: Init may also be one of RNNInits (unset:
	// PyTorch's), and Radius is smart_tanh's spectral radius of the
	// recurrent matrix (default DefaultRadius).
	Radius float64 `json:"radius,omitempty" yaml:"radius"`

	// transformer (a GPT-2 decoder, nanoGPT's modules): blocks, width, heads
	// (dividing d_model), MLP width (default 4·d_model), positions
	// (at least the task's sequence length), whether the head is the token
	// embedding's first Outputs rows (default false), initialisation (torch
	// | gpt2, default torch) and GELU's form (none: exact erf, default; tanh).
	Layers      int    `json:"layers,omitempty" yaml:"layers"`
	DModel      int    `json:"d_model,omitempty" yaml:"d_model"`
	Heads       int    `json:"heads,omitempty" yaml:"heads"`
	DFF         int    `json:"d_ff,omitempty" yaml:"d_ff"`
	Context     int    `json:"context,omitempty" yaml:"context"`
	Tied        bool   `json:"tied,omitempty" yaml:"tied"`
	Init        string `json:"init,omitempty" yaml:"init"`
	Approximate string `json:"approximate,omitempty" yaml:"approximate"`
	// Trim: the last block computes c_proj, ln_2 and the MLP only at the
	// positions the head reads (the same function in about half the FLOPs
	// when the loss reads one position of a 1-layer model; the weight
	// gradients' float sums run over fewer rows, so results round
	// differently from the untrimmed model: off by default).
	Trim bool `json:"trim,omitempty" yaml:"trim"`
}

// ArchTypes are the architecture types Build knows.
var ArchTypes = []string{"mlp", "cnn", "rnn", "transformer"}

// Input is the shape of one example as a model sees it.
type Input struct {
	// Image inputs: C×H×W (MNIST: 1×28×28). Sequence inputs: Steps×Features
	// per example, Steps may vary between batches (0 = variable).
	C, H, W        int
	Steps, Feature int
	// Token sequences: ids in [0, Vocab), one per step (Feature 1), given to
	// Forward as float32 values; 0 for other inputs.
	Vocab int
	// OutSteps is the number of positions with outputs, the last OutSteps
	// of each sequence (the copy task: one per symbol to reproduce); 0 for
	// one output per example. Only a transformer has more than one.
	OutSteps int
	Outputs  int // classes, or regression outputs (MSE), per output position
}

// Normalize returns a with defaults filled in for its type.
func (a ArchSpec) Normalize() ArchSpec {
	out := ArchSpec{Type: a.Type}
	switch a.Type {
	case "mlp":
		out.Hidden = append([]int(nil), a.Hidden...)
		out.Activation = a.Activation
		if out.Activation == "" {
			out.Activation = "relu"
		}
	case "cnn":
		out.Hidden = append([]int(nil), a.Hidden...)
		out.Activation = a.Activation
		if out.Activation == "" {
			out.Activation = "relu"
		}
		out.Channels = append([]int(nil), a.Channels...)
		out.Kernel, out.Pool = a.Kernel, a.Pool
		if out.Kernel == 0 {
			out.Kernel = 5
		}
		if out.Pool == 0 {
			out.Pool = 2
		}
	case "rnn":
		out.Hidden = append([]int(nil), a.Hidden...)
		out.Cell = a.Cell
		if out.Cell == "" {
			out.Cell = "tanh"
		}
		out.Init = a.Init // unset stays unset: the keys of rnns before Init
		if out.Init == InitSmartTanh {
			out.Radius = a.Radius
			if out.Radius == 0 {
				out.Radius = DefaultRadius
			}
		}
	case "transformer":
		out.Layers, out.DModel, out.Heads, out.DFF, out.Context = a.Layers, a.DModel, a.Heads, a.DFF, a.Context
		out.Tied, out.Init, out.Approximate, out.Trim = a.Tied, a.Init, a.Approximate, a.Trim
		if out.DFF == 0 {
			out.DFF = 4 * out.DModel
		}
		if out.Init == "" {
			out.Init = "torch"
		}
		if out.Approximate == "" {
			out.Approximate = "none"
		}
	}
	return out
}

// Validate reports the first thing wrong with a normalized spec, naming the
// field and what is allowed.
func (a ArchSpec) Validate() error {
	switch a.Type {
	case "mlp", "cnn":
		if a.Activation != "relu" && a.Activation != "tanh" {
			return fmt.Errorf("activation: %q is not allowed (allowed: relu, tanh)", a.Activation)
		}
		for _, h := range a.Hidden {
			if h < 1 {
				return fmt.Errorf("hidden: sizes must be ≥ 1, got %d", h)
			}
		}
		if a.Type == "cnn" {
			if len(a.Channels) == 0 {
				return fmt.Errorf("channels: a cnn needs at least one conv layer, e.g. [8, 16]")
			}
			for _, c := range a.Channels {
				if c < 1 {
					return fmt.Errorf("channels: must be ≥ 1, got %d", c)
				}
			}
			if a.Kernel < 1 {
				return fmt.Errorf("kernel: must be ≥ 1, got %d", a.Kernel)
			}
			if a.Pool < 1 {
				return fmt.Errorf("pool: must be ≥ 1, got %d", a.Pool)
			}
		}
	case "rnn":
		if len(a.Hidden) != 1 || a.Hidden[0] < 1 {
			return fmt.Errorf("hidden: an rnn takes one hidden size ≥ 1, e.g. hidden: 128")
		}
		if a.Cell != "tanh" && a.Cell != "lstm" {
			return fmt.Errorf("cell: %q is not allowed (allowed: tanh, lstm)", a.Cell)
		}
		if a.Init != "" {
			if a.Init != InitBasicTanh && a.Init != InitSmartTanh {
				return fmt.Errorf("init: %q is not allowed for an rnn (allowed: %s; leave it out for PyTorch's)", a.Init, strings.Join(RNNInits, ", "))
			}
			if a.Cell != "tanh" {
				return fmt.Errorf("init: %s is for cell tanh (Pascanu et al. 2013); leave it out for an lstm", a.Init)
			}
		}
		if a.Init == InitSmartTanh && (math.IsNaN(a.Radius) || math.IsInf(a.Radius, 0) || a.Radius <= 0) {
			return fmt.Errorf("radius: must be a finite number > 0, got %v", a.Radius)
		}
	case "transformer":
		for _, f := range []struct {
			name string
			v    int
		}{{"layers", a.Layers}, {"d_model", a.DModel}, {"heads", a.Heads}, {"d_ff", a.DFF}, {"context", a.Context}} {
			if f.v < 1 {
				return fmt.Errorf("%s: must be ≥ 1, got %d", f.name, f.v)
			}
		}
		if a.DModel%a.Heads != 0 {
			return fmt.Errorf("heads: %d heads do not divide d_model %d", a.Heads, a.DModel)
		}
		if a.Init != "torch" && a.Init != "gpt2" {
			return fmt.Errorf("init: %q is not allowed (allowed: torch, gpt2)", a.Init)
		}
		if a.Approximate != "none" && a.Approximate != "tanh" {
			return fmt.Errorf("approximate: %q is not allowed (allowed: none, tanh)", a.Approximate)
		}
	default:
		return fmt.Errorf("type: unknown arch type %q (allowed: %s)", a.Type, strings.Join(ArchTypes, ", "))
	}
	return nil
}

// Fits reports whether the architecture can take inputs of shape in: an
// mlp or cnn needs images (a cnn's convolutions and pools must leave at least
// one pixel), an rnn reads images row by row or sequences step by step, a
// transformer reads token sequences no longer than its context.
func (a ArchSpec) Fits(in Input) error {
	if in.OutSteps > 1 && a.Type != "transformer" {
		// The rnn and lstm read token ids as one float feature, with no
		// embedding, and have one head on their last hidden state.
		return fmt.Errorf("type: arch type %s (rnn: tanh or lstm cell) gives one output per example, from its last step, and reads token ids as a float feature without an embedding; this task needs an output at each of its last %d positions: use a transformer", a.Type, in.OutSteps)
	}
	switch a.Type {
	case "mlp":
		// Sequence batches vary in length (data: T ≤ L < 1.1T), so an mlp
		// could not have a fixed input size.
		if in.H == 0 {
			return fmt.Errorf("type: an mlp needs fixed-size inputs (images), and sequence lengths vary; use an rnn for sequence tasks")
		}
	case "transformer":
		if in.Vocab == 0 {
			return fmt.Errorf("type: a transformer reads token sequences, not images or feature vectors; use a token dataset (modular, copy)")
		}
		if in.OutSteps > in.Steps {
			return fmt.Errorf("%w: %d output positions in sequences of %d", ErrInput, in.OutSteps, in.Steps)
		}
		if in.Steps > a.Context {
			return fmt.Errorf("context: %d positions are fewer than the task's %d tokens per sequence", a.Context, in.Steps)
		}
		if a.Tied && in.Outputs > in.Vocab {
			return fmt.Errorf("tied: the head is the embedding's first %d rows, and there are only %d tokens", in.Outputs, in.Vocab)
		}
	case "cnn":
		if in.H == 0 {
			return fmt.Errorf("type: a cnn needs image inputs; use an rnn for sequence tasks")
		}
		h, w := in.H, in.W
		for range a.Channels {
			h, w = (h-a.Kernel+1)/a.Pool, (w-a.Kernel+1)/a.Pool
			if h < 1 || w < 1 {
				return fmt.Errorf("channels: %d conv layers of kernel %d and pool %d do not fit a %d×%d image", len(a.Channels), a.Kernel, a.Pool, in.H, in.W)
			}
		}
	}
	return nil
}

// OptimSpec is an optimizer with its options, PyTorch's names and defaults.
type OptimSpec struct {
	Name        string  `json:"name" yaml:"name"`                           // sgd | momentum | adam | adamw
	Momentum    float64 `json:"momentum,omitempty" yaml:"momentum"`         // momentum: default 0.9
	Nesterov    bool    `json:"nesterov,omitempty" yaml:"nesterov"`         // momentum
	Dampening   float64 `json:"dampening,omitempty" yaml:"dampening"`       // momentum: default 0
	Beta1       float64 `json:"beta1,omitempty" yaml:"beta1"`               // adam, adamw: default 0.9
	Beta2       float64 `json:"beta2,omitempty" yaml:"beta2"`               // adam, adamw: default 0.999
	Eps         float64 `json:"eps,omitempty" yaml:"eps"`                   // adam, adamw: default 1e-8
	WeightDecay float64 `json:"weight_decay,omitempty" yaml:"weight_decay"` // all; adamw default 0.01
	// NoDecay are the parameter groups weight decay leaves alone (all
	// optimizers; none by default; dropped without weight decay).
	NoDecay Groups `json:"no_decay,omitempty" yaml:"no_decay"`
}

// Optimizers are the optimizer names an OptimSpec accepts.
var Optimizers = []string{"sgd", "momentum", "adam", "adamw"}

// Normalize returns o with PyTorch's defaults filled in.
func (o OptimSpec) Normalize() OptimSpec {
	out := OptimSpec{Name: o.Name, WeightDecay: o.WeightDecay, NoDecay: o.NoDecay}
	switch o.Name {
	case "momentum":
		out.Momentum, out.Nesterov, out.Dampening = o.Momentum, o.Nesterov, o.Dampening
		if out.Momentum == 0 {
			out.Momentum = 0.9
		}
	case "adam", "adamw":
		out.Beta1, out.Beta2, out.Eps = o.Beta1, o.Beta2, o.Eps
		if out.Beta1 == 0 {
			out.Beta1 = 0.9
		}
		if out.Beta2 == 0 {
			out.Beta2 = 0.999
		}
		if out.Eps == 0 {
			out.Eps = 1e-8
		}
		if o.Name == "adamw" && o.WeightDecay == 0 {
			out.WeightDecay = 0.01
		}
	}
	if out.WeightDecay == 0 {
		out.NoDecay = 0
	}
	return out
}

// Validate reports the first thing wrong with a normalized spec.
func (o OptimSpec) Validate() error {
	bad := func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) }
	switch o.Name {
	case "sgd", "adam", "adamw":
	case "momentum":
		if bad(o.Momentum) || o.Momentum <= 0 || o.Momentum >= 1 {
			return fmt.Errorf("momentum: must be in (0, 1), got %v", o.Momentum)
		}
		if o.Nesterov && o.Dampening != 0 {
			return fmt.Errorf("nesterov: needs dampening 0 (as PyTorch)")
		}
	default:
		return fmt.Errorf("optimizer: unknown optimizer %q (allowed: sgd, momentum, adam, adamw)", o.Name)
	}
	if o.Name == "adam" || o.Name == "adamw" {
		if bad(o.Beta1) || o.Beta1 < 0 || o.Beta1 >= 1 || bad(o.Beta2) || o.Beta2 < 0 || o.Beta2 >= 1 {
			return fmt.Errorf("beta1, beta2: must be in [0, 1), got %v, %v", o.Beta1, o.Beta2)
		}
		if bad(o.Eps) || o.Eps <= 0 {
			return fmt.Errorf("eps: must be > 0, got %v", o.Eps)
		}
	}
	if bad(o.WeightDecay) || o.WeightDecay < 0 {
		return fmt.Errorf("weight_decay: must be ≥ 0, got %v", o.WeightDecay)
	}
	if o.NoDecay >= 1<<len(GroupNames) {
		return fmt.Errorf("no_decay: unknown groups %#x (allowed: %s)", uint8(o.NoDecay), strings.Join(GroupNames, ", "))
	}
	return nil
}
