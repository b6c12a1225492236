// Pascanu et al.'s synthetic sequence tasks (addition, temporal order) as
// Datasets generated batch by batch from the seed.

package data

import (
	"fmt"
	"math/rand/v2"
)

// Feature layout of the addition task: the value, then the marker.
const (
	AddValue  = 0 // feature index of the value, U[0, 1)
	AddMarker = 1 // feature index of the marker, 0 or 1
)

// Symbols of the temporal-order task, as feature indices of the one-hot
// encoding: four distractors, then the two informative symbols.
const (
	SymA = iota
	SymB
	SymC
	SymD
	SymX
	SymY
)

// Classes of the temporal-order task: the informative symbols in order.
const (
	ClassXX = iota
	ClassXY
	ClassYX
	ClassYY
)

type seqTask uint8

const (
	taskAddition seqTask = iota
	taskTemporalOrder
)

type seqSet struct {
	task  seqTask
	o     Options
	shape Shape
	pcg   rand.PCG
	// The pascanu generator (pascanu.go): its generator, seed array and
	// scratch for positions and symbols.
	pascanu        bool
	mt             mt19937
	mtKey          [5]uint32
	p0, p1, v0, v1 []int
}

var _ Dataset = (*seqSet)(nil)

func newSeqSet(name string, o Options) (*seqSet, error) {
	if err := checkSizes(name, o, 0, 0); err != nil {
		return nil, err
	}
	if o.SeqLen < MinSeqLen {
		return nil, fmt.Errorf("data: %s: SeqLen = %d, want at least %d", name, o.SeqLen, MinSeqLen)
	}
	shape, err := ShapeOf(name, o.SeqLen)
	if err != nil {
		return nil, err
	}
	g, err := generatorIndex(name, o.Generator)
	if err != nil {
		return nil, err
	}
	s := &seqSet{o: o, shape: shape, pascanu: Generators[g] == "pascanu"}
	if name == "temporal-order" {
		s.task = taskTemporalOrder
	}
	return s, nil
}

func (s *seqSet) Shape() Shape { return s.shape }

func (s *seqSet) NumTrainBatches(b int) int { return numBatches(s.o.TrainSize, b) }

// TrainBatch generates batch i of epoch epoch afresh from (Seed, epoch, i).
func (s *seqSet) TrainBatch(dst *Batch, epoch, i, b int) {
	if epoch < 0 {
		panic(fmt.Sprintf("data: epoch %d, want at least 0", epoch))
	}
	lo, hi := span(s.o.TrainSize, i, b)
	if s.pascanu {
		s.pascanuBatch(dst, streamTrain, epoch, i, hi-lo)
		return
	}
	seedPCG(&s.pcg, s.o.Seed, streamTrain, uint64(epoch), uint64(i))
	s.generate(dst, hi-lo)
}

func (s *seqSet) NumEvalBatches(split string, b int) int {
	return numBatches(s.o.evalSize(split), b)
}

// EvalBatch generates batch i of the test stream, or for the train split
// the first sequences of epoch 0's training batch i.
func (s *seqSet) EvalBatch(dst *Batch, split string, i, b int) {
	lo, hi := span(s.o.evalSize(split), i, b)
	if s.pascanu {
		stream := streamTrain
		if split == SplitTest {
			stream = streamTest
		}
		s.pascanuBatch(dst, stream, 0, i, hi-lo)
		return
	}
	if split == SplitTest {
		seedPCG(&s.pcg, s.o.Seed, streamTest, 0, uint64(i))
	} else {
		seedPCG(&s.pcg, s.o.Seed, streamTrain, 0, uint64(i))
	}
	s.generate(dst, hi-lo)
}

// generate fills dst with n sequences from s.pcg: first the batch's
// length, then each sequence in turn, so that the first k sequences of a
// batch do not depend on n.
func (s *seqSet) generate(dst *Batch, n int) {
	T := s.o.SeqLen
	L := T + int(uintn(&s.pcg, uint64(T/10)))
	F := s.shape.Features
	dst.B, dst.Steps = n, L
	dst.X = grow(dst.X, n*L*F)
	switch s.task {
	case taskAddition:
		dst.Labels = dst.Labels[:0]
		dst.Targets = grow(dst.Targets, n)
		for k := range n {
			dst.Targets[k] = s.addition(dst.X[k*L*F : (k+1)*L*F])
		}
	case taskTemporalOrder:
		dst.Targets = dst.Targets[:0]
		dst.Labels = grow(dst.Labels, n)
		for k := range n {
			dst.Labels[k] = s.temporalOrder(dst.X[k*L*F:(k+1)*L*F], T)
		}
	}
}

// addition writes one addition sequence of len(x)/2 steps into x and
// returns its target, the mean of the two marked values.
func (s *seqSet) addition(x []float32) float32 {
	L := len(x) / 2
	p0 := int(uintn(&s.pcg, uint64(L/10)))
	p1 := L/10 + int(uintn(&s.pcg, uint64(L/2-L/10)))
	for t := range L {
		x[2*t+AddValue] = unitFloat32(s.pcg.Uint64())
		x[2*t+AddMarker] = 0
	}
	x[2*p0+AddMarker] = 1
	x[2*p1+AddMarker] = 1
	return (x[2*p0+AddValue] + x[2*p1+AddValue]) / 2
}

// temporalOrder writes one temporal-order sequence of len(x)/6 steps and
// nominal length T into x and returns its class.
func (s *seqSet) temporalOrder(x []float32, T int) int {
	L := len(x) / 6
	w := T / 10
	p0 := w + int(uintn(&s.pcg, uint64(w)))
	p1 := T/2 + int(uintn(&s.pcg, uint64(w)))
	xy := s.pcg.Uint64()
	v0, v1 := int(xy&1), int(xy>>1&1)
	clear(x)
	// Distractors take two bits each, 32 to a draw.
	for t0 := 0; t0 < L; t0 += 32 {
		u := s.pcg.Uint64()
		for t := t0; t < min(t0+32, L); t++ {
			x[6*t+int(u&3)] = 1
			u >>= 2
		}
	}
	clear(x[6*p0 : 6*p0+6])
	clear(x[6*p1 : 6*p1+6])
	x[6*p0+SymX+v0] = 1
	x[6*p1+SymX+v1] = 1
	return 2*v0 + v1
}
