// Architectures built from an ArchSpec: the Model interface and Build.

package nn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// Model is a network with its parameters. A Model is not safe for
// concurrent use; separate models may train on separate goroutines.
type Model interface {
	// Params returns the parameter tensors in a fixed order (the order of
	// PyTorch's state_dict for the equivalent module). The slice and the
	// tensors are the model's own: optimizers and clipping act on them.
	Params() []*Param
	// Forward runs a batch of b examples (image: b×C×H×W; sequence:
	// b×steps×features, steps may differ between calls; steps is ignored
	// for image inputs) and returns the outputs b×Outputs (logits or
	// regression values), or b×OutSteps×Outputs for a transformer built
	// with Input.OutSteps > 1. The returned slice is owned by the model and valid
	// until the next Forward; x must not change until Backward has run.
	// The model keeps every activation of the largest batch it has seen
	// (forward only, per MNIST example: the cnn about 34 KB, the rnn 18 KB,
	// the lstm 100 KB), so evaluate in batches of hundreds, not the whole
	// test set at once. Forward panics if x is
	// shorter than the batch or a sequence has fewer than one step.
	Forward(x []float32, b, steps int) []float32
	// Backward takes dL/dout (shaped as Forward's outputs) of the last Forward and overwrites
	// every Param.G.
	Backward(dout []float32)
	// FLOPs of one forward+backward for a batch of b (and steps), counted
	// analytically per layer: 2 per multiply-add, 1 per element-wise
	// operation (see each layer's flops).
	FLOPs(b, steps int) int64
}

// ErrInput is returned by Build when the input shape cannot be used.
var ErrInput = errors.New("nn: bad input shape")

// Build returns the model spec describes for inputs of shape in, its
// parameters drawn from rng as PyTorch's default initialisation does (see
// the package documentation for the order of draws).
func Build(spec ArchSpec, in Input, rng *rand.Rand) (Model, error) {
	spec = spec.Normalize()
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("arch: %w", err)
	}
	if err := spec.Fits(in); err != nil {
		return nil, fmt.Errorf("arch: %w", err)
	}
	if in.Outputs < 1 {
		return nil, fmt.Errorf("%w: outputs must be ≥ 1, got %d", ErrInput, in.Outputs)
	}
	image := in.H > 0
	if image && (in.C < 1 || in.W < 1) {
		return nil, fmt.Errorf("%w: image %d×%d×%d", ErrInput, in.C, in.H, in.W)
	}
	if !image && in.Feature < 1 {
		return nil, fmt.Errorf("%w: neither an image (C, H, W) nor a sequence (Feature ≥ 1)", ErrInput)
	}
	switch spec.Type {
	case "mlp":
		return buildMLP(spec, in, rng), nil
	case "cnn":
		return buildCNN(spec, in, rng), nil
	case "transformer":
		return buildTransformer(spec, in, rng), nil
	default:
		return buildRNN(spec, in, rng), nil
	}
}

// layer is one stage of a sequential model working on b examples at once.
type layer interface {
	forward(x []float32, b int) []float32
	// backward takes dL/dy of the last forward, overwrites the layer's
	// parameter gradients and returns dL/dx (nil when needDx is false).
	backward(dy []float32, b int, needDx bool) []float32
	flops(b int, needDx bool) int64
}

// sequential is the mlp and the cnn: layers applied in order.
type sequential struct {
	ps     paramSet
	layers []layer
	in     int // values per example
	b      int
}

func (m *sequential) Params() []*Param { return m.ps.list }

func (m *sequential) Forward(x []float32, b, steps int) []float32 {
	m.b = b
	h := x[:b*m.in]
	for _, l := range m.layers {
		h = l.forward(h, b)
	}
	return h
}

func (m *sequential) Backward(dout []float32) {
	d := dout
	for i := len(m.layers) - 1; i >= 0; i-- {
		d = m.layers[i].backward(d, m.b, i > 0)
	}
}

func (m *sequential) FLOPs(b, steps int) int64 {
	var f int64
	for i, l := range m.layers {
		f += l.flops(b, i > 0)
	}
	return f
}

// torchNames numbers modules as torch.nn.Sequential does.
type torchNames struct{ i int }

// next returns the name of the next module and advances past it and the
// n parameterless modules (activations, pools, flatten) after it.
func (t *torchNames) next(n int) string {
	s := strconv.Itoa(t.i)
	t.i += 1 + n
	return s
}

// buildMLP: nn.Sequential(Linear, act, …, Linear) on the flattened input.
func buildMLP(spec ArchSpec, in Input, rng *rand.Rand) Model {
	act, _ := parseActivation(spec.Activation)
	m := &sequential{in: in.C * in.H * in.W}
	var names torchNames
	m.denseHead(&names, m.in, spec.Hidden, in.Outputs, act)
	m.init(rng)
	return m
}

// denseHead appends the hidden dense layers (with act) on d inputs and the
// classifier, whose tensors it marks Last.
func (m *sequential) denseHead(names *torchNames, d int, hidden []int, outputs int, act activation) {
	for _, h := range hidden {
		m.layers = append(m.layers, newDense(&m.ps, names.next(1), d, h, act))
		d = h
	}
	fc := newDense(&m.ps, names.next(0), d, outputs, actNone)
	fc.w.Last, fc.b.Last = true, true
	m.layers = append(m.layers, fc)
}

// buildCNN: nn.Sequential(Conv2d, act, MaxPool2d, …, Flatten, Linear, act,
// …, Linear); a pool of 1 adds no module.
func buildCNN(spec ArchSpec, in Input, rng *rand.Rand) Model {
	act, _ := parseActivation(spec.Activation)
	m := &sequential{in: in.C * in.H * in.W}
	var names torchNames
	c, h, w := in.C, in.H, in.W
	for i, o := range spec.Channels {
		after := 1 // the activation
		if spec.Pool > 1 {
			after++
		}
		if i == len(spec.Channels)-1 {
			after++ // Flatten
		}
		cv := newConv2d(&m.ps, names.next(after), c, h, w, o, spec.Kernel, act)
		m.layers = append(m.layers, cv)
		c, h, w = o, cv.ho, cv.wo
		if spec.Pool > 1 {
			p := newMaxPool(c, h, w, spec.Pool)
			// The pool applies ReLU's backward as it routes the
			// gradient (one pass over the conv's output fewer).
			p.reluIn = act == actReLU
			cv.actDone = p.reluIn
			m.layers = append(m.layers, p)
			h, w = p.ho, p.wo
		}
	}
	m.denseHead(&names, c*h*w, spec.Hidden, in.Outputs, act)
	m.init(rng)
	return m
}

// init draws every weight and bias in Params order, fan_in as PyTorch
// computes it, then packs the parameters into one block.
func (m *sequential) init(rng *rand.Rand) {
	for _, l := range m.layers {
		switch l := l.(type) {
		case *dense:
			initFanIn(l.w, l.b, l.in, rng)
		case *conv2d:
			initFanIn(l.wt, l.b, l.c*l.k*l.k, rng)
		}
	}
	m.ps.pack()
}

// recurrentModel is the rnn: a recurrent layer named "rnn" reads the input
// step by step, its last hidden state goes through a dense layer "fc".
type recurrentModel struct {
	ps      paramSet
	in      Input
	feature int
	core    recurrent
	fc      *dense
	xt      []float32 // the input, time-major (T, B, D)
	T, b    int
}

func buildRNN(spec ArchSpec, in Input, rng *rand.Rand) Model {
	m := &recurrentModel{in: in, feature: in.Feature}
	if in.H > 0 {
		m.feature = in.C * in.W // an image row, all channels
	}
	h := spec.Hidden[0]
	var rec []*Param
	var tanh *rnnTanh
	if spec.Cell == "lstm" {
		l := newLSTM(&m.ps, "rnn", m.feature, h)
		m.core, rec = l, []*Param{l.wih, l.whh, l.bih, l.bhh}
	} else {
		tanh = newRNNTanh(&m.ps, "rnn", m.feature, h)
		m.core, rec = tanh, []*Param{tanh.wih, tanh.whh, tanh.bih, tanh.bhh}
	}
	m.fc = newDense(&m.ps, "fc", h, in.Outputs, actNone)
	m.fc.w.Last, m.fc.b.Last = true, true
	if spec.Init != "" {
		initPascanu(spec.Init, spec.Radius, tanh, m.fc, rng)
	} else {
		initRecurrent(h, rng, rec...)
		initFanIn(m.fc.w, m.fc.b, h, rng)
	}
	m.ps.pack()
	return m
}

func (m *recurrentModel) Params() []*Param { return m.ps.list }

func (m *recurrentModel) steps(steps int) int {
	if m.in.H > 0 {
		return m.in.H
	}
	return steps
}

func (m *recurrentModel) Forward(x []float32, b, steps int) []float32 {
	T, D := m.steps(steps), m.feature
	m.T, m.b = T, b
	m.xt = grow(m.xt, T*b*D)
	if m.in.H > 0 {
		// x[i, c, t, w] → xt[t, i, c·W + w]
		C, H, W := m.in.C, m.in.H, m.in.W
		for i := 0; i < b; i++ {
			for c := 0; c < C; c++ {
				for t := 0; t < T; t++ {
					copy(m.xt[(t*b+i)*D+c*W:(t*b+i)*D+(c+1)*W], x[((i*C+c)*H+t)*W:((i*C+c)*H+t+1)*W])
				}
			}
		}
	} else {
		// x[i, t, :] → xt[t, i, :]
		for i := 0; i < b; i++ {
			for t := 0; t < T; t++ {
				copy(m.xt[(t*b+i)*D:(t*b+i+1)*D], x[(i*T+t)*D:(i*T+t+1)*D])
			}
		}
	}
	h := m.core.forward(m.xt, T, b)
	return m.fc.forward(h, b)
}

func (m *recurrentModel) Backward(dout []float32) {
	dh := m.fc.backward(dout, m.b, true)
	m.core.backward(dh)
}

func (m *recurrentModel) FLOPs(b, steps int) int64 {
	return m.core.flops(b, m.steps(steps)) + m.fc.flops(b, true)
}
