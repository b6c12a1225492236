package compress

// Magnitude pruning: train.prune's spec, Zhu & Gupta's schedule and the
// masks, as torch.nn.utils.prune computes them.

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Prune methods, scopes and schedules a Prune accepts.
var (
	PruneMethods   = []string{"magnitude"}
	PruneScopes    = []string{"global", "layer"}
	PruneSchedules = []string{"oneshot", "gradual"}
)

// Defaults of train.prune's fields besides sparsity, which has none.
const (
	DefaultPruneMethod   = "magnitude"
	DefaultPruneScope    = "global"
	DefaultPruneSchedule = "oneshot"
	DefaultPruneStart    = 0.5 // oneshot: prune half way, fine-tune after
	DefaultGradualStart  = 0.1 // gradual: Zhu & Gupta's t₀ as a fraction of the steps
	DefaultGradualEnd    = 0.6 // gradual: t₀ + n·Δt as a fraction of the steps
	DefaultPruneEvery    = 50  // gradual: Δt, steps between pruning steps
)

// Prune is train.prune: magnitude pruning of the weight matrices (dense,
// conv and recurrent weights, the transformer's projections and head; never
// biases, norms or embeddings) to Sparsity, the fraction of those weights
// set to zero. Scope global ranks all of them together (torch.nn.utils.prune
// .global_unstructured with L1Unstructured), layer each tensor on its own
// (l1_unstructured). Schedule oneshot prunes once, after step ⌊Start·N⌋ of
// a run of N steps (0: before the first step), and trains on with the mask;
// gradual follows Zhu & Gupta (2017): with t₀ = ⌊Start·N⌋ and t₁ = ⌊End·N⌋,
// after steps t₀ + k·Every < t₁ and after t₁ the sparsity is
//
//	s_t = s_f + (0 − s_f)·(1 − (t − t₀)/(t₁ − t₀))³
//
// Pruned weights never come back; each pruning step removes the smallest
// magnitudes among those still kept, round(s_t·n) in all (Python's round,
// as torch's _compute_nparams_toprune).
type Prune struct {
	Method   string  `json:"method"`
	Scope    string  `json:"scope"`
	Sparsity float64 `json:"sparsity"`
	Schedule string  `json:"schedule"`
	Start    float64 `json:"start"`
	End      float64 `json:"end,omitempty"`   // gradual only
	Every    int     `json:"every,omitempty"` // gradual only
}

// Normalize fills the defaults of the fields left at zero, except Start:
// a fraction whose 0 (prune at initialisation) is a value, so the caller
// fills it when the file leaves it out (DefaultStart).
func (p Prune) Normalize() Prune {
	if p.Method == "" {
		p.Method = DefaultPruneMethod
	}
	if p.Scope == "" {
		p.Scope = DefaultPruneScope
	}
	if p.Schedule == "" {
		p.Schedule = DefaultPruneSchedule
	}
	if p.Schedule == "gradual" {
		if p.End == 0 {
			p.End = DefaultGradualEnd
		}
		if p.Every == 0 {
			p.Every = DefaultPruneEvery
		}
	}
	return p
}

// DefaultStart is start's default under a schedule ("" for the default
// schedule).
func DefaultStart(schedule string) float64 {
	if schedule == "gradual" {
		return DefaultGradualStart
	}
	return DefaultPruneStart
}

// Validate reports the first thing wrong with a normalized Prune, as
// "field: message".
func (p Prune) Validate() error {
	switch {
	case !slices.Contains(PruneMethods, p.Method):
		return fmt.Errorf("method: unknown method %q (allowed: %s)", p.Method, strings.Join(PruneMethods, ", "))
	case !slices.Contains(PruneScopes, p.Scope):
		return fmt.Errorf("scope: unknown scope %q (allowed: %s)", p.Scope, strings.Join(PruneScopes, ", "))
	case !slices.Contains(PruneSchedules, p.Schedule):
		return fmt.Errorf("schedule: unknown schedule %q (allowed: %s)", p.Schedule, strings.Join(PruneSchedules, ", "))
	case math.IsNaN(p.Sparsity) || p.Sparsity < 0 || p.Sparsity >= 1:
		return fmt.Errorf("sparsity: must be in [0, 1), got %v", p.Sparsity)
	case math.IsNaN(p.Start) || p.Start < 0 || p.Start > 1:
		return fmt.Errorf("start: must be a fraction of the training in [0, 1], got %v", p.Start)
	}
	if p.Schedule == "oneshot" {
		switch {
		case p.End != 0:
			return fmt.Errorf("end: oneshot prunes once, at start; end is for schedule gradual")
		case p.Every != 0:
			return fmt.Errorf("every: oneshot prunes once, at start; every is for schedule gradual")
		}
		return nil
	}
	switch {
	case math.IsNaN(p.End) || p.End > 1:
		return fmt.Errorf("end: must be a fraction of the training in (start, 1], got %v", p.End)
	case p.End <= p.Start:
		return fmt.Errorf("end: the schedule ends (%v) before it starts (%v)", p.End, p.Start)
	case p.Every < 1:
		return fmt.Errorf("every: must be a whole number of steps ≥ 1, got %d", p.Every)
	}
	return nil
}

// String is the spec as a label shows it: "global:0.9", with the schedule
// when it is gradual ("layer:0.9,gradual:0.1-0.6/50") and oneshot's start
// off its default ("global:0.9@0").
func (p Prune) String() string {
	s := p.Scope + ":" + fmtF(p.Sparsity)
	if p.Schedule == "gradual" {
		return s + ",gradual:" + fmtF(p.Start) + "-" + fmtF(p.End) + "/" + fmt.Sprint(p.Every)
	}
	if p.Start != DefaultPruneStart {
		s += "@" + fmtF(p.Start)
	}
	return s
}

// Event is one pruning step: after optimizer step Step (0: before the
// first), the sparsity becomes Sparsity.
type Event struct {
	Step     int
	Sparsity float64
}

// stepAt is ⌊f·n⌋, with f·n within 1e-9 of a whole number taken as it
// (0.29·100 is 28.999999999999996 in float64).
func stepAt(f float64, n int) int { return int(math.Floor(f*float64(n) + 1e-9)) }

// Events returns the pruning steps of a run of n steps, in order; the
// gradual schedule's first step, at sparsity 0, is left out. It is empty
// when gradual's t₁ is not after t₀ (Fits says so).
func (p Prune) Events(n int) []Event {
	t0 := stepAt(p.Start, n)
	if p.Schedule == "oneshot" {
		return []Event{{t0, p.Sparsity}}
	}
	t1 := stepAt(p.End, n)
	var out []Event
	for t := t0 + p.Every; t < t1; t += p.Every {
		out = append(out, Event{t, ZhuGupta(p.Sparsity, t, t0, t1)})
	}
	if t1 > t0 {
		out = append(out, Event{t1, p.Sparsity})
	}
	return out
}

// Fits reports what is wrong with p in a run of n steps ("" when nothing
// is): a gradual schedule whose first and last steps coincide.
func (p Prune) Fits(n int) string {
	if p.Schedule == "gradual" && stepAt(p.End, n) <= stepAt(p.Start, n) {
		return fmt.Sprintf("the gradual schedule from step %d to step %d of %d has no pruning step; widen start..end or train longer", stepAt(p.Start, n), stepAt(p.End, n), n)
	}
	return ""
}

// ZhuGupta is the sparsity at step t of Zhu & Gupta's schedule from
// sparsity 0 at t0 to sf at t1: sf + (0 − sf)·(1 − (t − t0)/(t1 − t0))³.
func ZhuGupta(sf float64, t, t0, t1 int) float64 {
	x := 1 - float64(t-t0)/float64(t1-t0)
	return sf + (0-sf)*x*x*x
}

// Count is how many of n values a sparsity s prunes: round(s·n) with ties
// to even, as Python's round in torch's _compute_nparams_toprune.
func Count(s float64, n int) int { return int(math.RoundToEven(s * float64(n))) }

// Masks are the pruning state of a set of weight tensors: per tensor, the
// indices pruned (ascending), which never come back.
type Masks struct {
	Pruned [][]int32
	sizes  []int
}

// NewMasks returns the masks of tensors of these sizes, nothing pruned.
func NewMasks(sizes []int) *Masks {
	return &Masks{Pruned: make([][]int32, len(sizes)), sizes: slices.Clone(sizes)}
}

// Total is the number of values under the masks; Zeros how many are pruned.
func (m *Masks) Total() int {
	n := 0
	for _, s := range m.sizes {
		n += s
	}
	return n
}

func (m *Masks) Zeros() int {
	n := 0
	for _, p := range m.Pruned {
		n += len(p)
	}
	return n
}

// Prune raises the sparsity of weights ws (one slice per tensor, the sizes
// NewMasks was given) to s: globally, the round(s·N) smallest magnitudes of
// all N values are pruned (global_unstructured on the tensors in order),
// else round(s·nᵢ) of each tensor (l1_unstructured per tensor); the values
// already pruned count, and the new ones are the smallest magnitudes among
// those kept, ties broken as torch.topk breaks them (Smallest). A sparsity
// at or below the current one prunes nothing. Prune does not zero the
// weights: Apply does.
func (m *Masks) Prune(ws [][]float32, s float64, global bool) {
	if !global {
		for i, w := range ws {
			m.pruneSet([][]float32{w}, []int{i}, s)
		}
		return
	}
	idx := make([]int, len(ws))
	for i := range idx {
		idx[i] = i
	}
	m.pruneSet(ws, idx, s)
}

// pruneSet prunes tensors ws (the masks' tensors idx) as one vector.
func (m *Masks) pruneSet(ws [][]float32, idx []int, s float64) {
	total, pruned := 0, 0
	for _, i := range idx {
		total += m.sizes[i]
		pruned += len(m.Pruned[i])
	}
	k := Count(s, total) - pruned
	if k <= 0 {
		return
	}
	// t[mask == 1] of torch's _combine_masks: the kept values in order.
	type ref struct{ t, j int32 }
	var kept []ref
	var abs []float64
	for a, i := range idx {
		p := m.Pruned[i]
		for j := range ws[a] {
			if len(p) > 0 && p[0] == int32(j) {
				p = p[1:]
				continue
			}
			kept = append(kept, ref{int32(a), int32(j)})
			abs = append(abs, math.Abs(float64(ws[a][j])))
		}
	}
	for _, q := range Smallest(abs, k) {
		r := kept[q]
		i := idx[r.t]
		m.Pruned[i] = append(m.Pruned[i], r.j)
	}
	for _, i := range idx {
		slices.Sort(m.Pruned[i])
	}
}

// Apply sets the pruned values of xs (weights, gradients, or an
// optimizer's state: one slice per tensor) to zero.
func (m *Masks) Apply(xs [][]float32) {
	for i, p := range m.Pruned {
		x := xs[i]
		for _, j := range p {
			x[j] = 0
		}
	}
}

func fmtF(x float64) string { return fmt.Sprint(x) }
