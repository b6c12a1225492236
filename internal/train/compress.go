package train

// train.prune in the training loop: masks raised on the schedule, pruned
// weights held at exactly zero, and the costs of the model as deployed.

import (
	"cliplab/internal/compress"
	"cliplab/internal/nn"
	"cliplab/internal/record"
)

// pruner holds a run's masks over its prunable weights (nn.Prunable).
type pruner struct {
	spec   compress.Prune
	events []compress.Event
	next   int // the first event not yet applied
	masks  *compress.Masks
	ws, gs [][]float32 // the prunable tensors' weights and gradients
}

// newPruner returns the pruner of spec over params for a run of steps
// steps, or nil for a nil spec. It panics if params hold no prunable
// weight, which no arch has (every arch ends in a dense layer).
func newPruner(spec *compress.Prune, params []*nn.Param, steps int) *pruner {
	if spec == nil {
		return nil
	}
	p := &pruner{spec: *spec, events: spec.Events(steps)}
	var sizes []int
	for _, q := range params {
		if nn.Prunable(q) {
			p.ws, p.gs = append(p.ws, q.W), append(p.gs, q.G)
			sizes = append(sizes, len(q.W))
		}
	}
	if len(sizes) == 0 {
		panic("train: prune of a model without prunable weights")
	}
	p.masks = compress.NewMasks(sizes)
	return p
}

// after is called after the optimizer update of step n (0 before the
// first): it prunes when the schedule says so, and zeroes the pruned
// weights, which the update may have moved (momentum, Adam's moments and
// weight decay act on every value).
func (p *pruner) after(n int) {
	for p.next < len(p.events) && p.events[p.next].Step <= n {
		p.masks.Prune(p.ws, p.events[p.next].Sparsity, p.spec.Scope == "global")
		p.next++
	}
	p.masks.Apply(p.ws)
}

// maskGrads zeroes the gradients of the pruned weights before clipping, as
// PyTorch's weight_orig·mask reparametrisation does (the gradient of
// weight_orig is the weight's times the mask), so that clipping measures
// and scales the gradient of the weights that train.
func (p *pruner) maskGrads() { p.masks.Apply(p.gs) }

// costs fills res's deployed-model costs from model: its non-zero
// parameter values, its storage (compress.Stored.Bytes, float32 unless
// quantised) and nn.EffectiveFLOPs for one example of steps steps.
func costs(res *record.Result, model nn.Model, steps int, bits func(*nn.Param) (b, groups int)) {
	var st []compress.Stored
	nz := 0
	for _, p := range model.Params() {
		b, g := bits(p)
		st = append(st, compress.Stored{Values: p.W, Bits: b, Groups: g})
		nz += compress.NonZero(p.W)
	}
	res.NonzeroParams = int64(nz)
	res.ModelBytes = compress.ModelBytes(st)
	res.EffectiveFLOPs = float64(nn.EffectiveFLOPs(model, steps))
}

// quantizer holds train.quantize's state over the prunable weights (the
// ones quantised): with QAT, the float weights while a forward pass sees
// the fake-quantised ones, and the mask of values inside the range.
type quantizer struct {
	spec     compress.Quantize
	params   []*nn.Param
	master   [][]float32
	keep     [][]bool
	in       bool // the fake-quantised weights are in the model
	deployed bool // quantised for good after the last step
}

// newQuantizer returns the quantizer of spec over params, or nil for a nil
// spec.
func newQuantizer(spec *compress.Quantize, params []*nn.Param) *quantizer {
	if spec == nil {
		return nil
	}
	q := &quantizer{spec: *spec}
	for _, p := range params {
		if nn.Prunable(p) {
			q.params = append(q.params, p)
			if spec.QAT {
				q.master = append(q.master, make([]float32, len(p.W)))
				q.keep = append(q.keep, make([]bool, len(p.W)))
			}
		}
	}
	return q
}

// swapIn puts the fake-quantised weights in the model for a QAT forward
// pass, keeping the float ones; a no-op without QAT or once deployed.
func (q *quantizer) swapIn() {
	if q == nil || !q.spec.QAT || q.deployed {
		return
	}
	for i, p := range q.params {
		copy(q.master[i], p.W)
		q.spec.Apply(p.W, q.master[i], q.keep[i], p.Shape)
	}
	q.in = true
}

// swapOut puts the float weights back, and makes the gradient the
// straight-through estimator's: the fake-quantised weights' gradient, zero
// where the value fell outside the range (torch's fake-quantize backward).
func (q *quantizer) swapOut() {
	if q == nil || !q.in {
		return
	}
	for i, p := range q.params {
		copy(p.W, q.master[i])
		for j, k := range q.keep[i] {
			if !k {
				p.G[j] = 0
			}
		}
	}
	q.in = false
}

// deploy quantises the weights for good: the model as it would be
// deployed, which the final evaluation measures.
func (q *quantizer) deploy() {
	if q == nil || q.deployed {
		return
	}
	for _, p := range q.params {
		q.spec.Apply(p.W, p.W, nil, p.Shape)
	}
	q.deployed = true
}

// bits is the storage of parameter p for costs: the quantised bits and
// groups of a quantised weight once deployed, else float32.
func (q *quantizer) bits(p *nn.Param) (int, int) {
	if q != nil && q.deployed && nn.Prunable(p) {
		return q.spec.Bits, q.spec.Groups(p.Shape)
	}
	return 32, 0
}
