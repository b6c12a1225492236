// The pascanu generator: the synthetic tasks drawn as Pascanu's addition.py
// and tempOrder.py draw them, from numpy's MT19937, bit for bit.

package data

import "fmt"

// Generators are the values of Options.Generator for the synthetic tasks
// ("" is the first, the default).
//
//   - cliplab: this package's PCG draws (see the package doc).
//   - pascanu: each batch is what AddTask.generate(b, T) or
//     TempOrderTask.generate(b, T) of pascanur/trainingRNNs returns for a
//     numpy.random.RandomState seeded with the array [Seed mod 2³²,
//     ⌊Seed/2³²⌋, stream, epoch, i] (stream 2 for training batches, 3 for
//     the test split, epoch 0 for both evaluation splits), laid out in
//     this package's feature order and classes.
var Generators = []string{"cliplab", "pascanu"}

// generatorIndex returns g's index in Generators ("" is 0), or an error
// naming the allowed values.
func generatorIndex(name, g string) (int, error) {
	if g == "" {
		return 0, nil
	}
	for i, n := range Generators {
		if n == g {
			return i, nil
		}
	}
	return 0, fmt.Errorf("data: %s: Generator = %q, want one of %v", name, g, Generators)
}

// seedMT seeds s.mt for the batch at (stream, epoch, i).
func (s *seqSet) seedMT(stream uint64, epoch, i int) {
	s.mtKey = [5]uint32{uint32(s.o.Seed), uint32(s.o.Seed >> 32), uint32(stream), uint32(epoch), uint32(i)}
	s.mt.seedArray(s.mtKey[:])
}

// tenths returns int(n*f) as Python computes it for an int n and a float
// f: the double product, truncated.
func tenths(n int, f float64) int { return int(float64(n) * f) }

// pascanuAddition fills dst with n addition sequences of nominal length T
// drawn from s.mt in addition.py's order: the length L = T + randint(⌊0.1T⌋),
// the first marker of every sequence in [0, ⌊0.1L⌋), the second in
// [⌊0.1L⌋, ⌊0.1L⌋+⌊0.4L⌋), then uniform(size=(L, n, 2)) time-major, of
// which the first feature is overwritten by the markers and the second is
// the value. Values are rounded to float32 (astype('float32')) before the
// target, their float32 mean, is formed.
func (s *seqSet) pascanuAddition(dst *Batch, n, T int) {
	m := &s.mt
	L := T + m.randint(tenths(T, .1))
	const F = 2
	dst.B, dst.Steps = n, L
	dst.X = grow(dst.X, n*L*F)
	dst.Labels = dst.Labels[:0]
	dst.Targets = grow(dst.Targets, n)
	s.p0, s.p1 = grow(s.p0, n), grow(s.p1, n)
	lo := tenths(L, .1)
	for k := range n {
		s.p0[k] = m.randint(lo)
	}
	for k := range n {
		s.p1[k] = m.randint(tenths(L, .4)) + lo
	}
	for t := range L {
		for k := range n {
			m.uniform() // the marker channel, overwritten
			x := dst.X[(k*L+t)*F:]
			x[AddValue] = float32(m.uniform())
			x[AddMarker] = 0
		}
	}
	for k := range n {
		x := dst.X[k*L*F : (k+1)*L*F]
		x[s.p0[k]*F+AddMarker] = 1
		x[s.p1[k]*F+AddMarker] = 1
		dst.Targets[k] = (x[s.p0[k]*F+AddValue] + x[s.p1[k]*F+AddValue]) / 2
	}
}

// pascanuTemporalOrder fills dst with n temporal-order sequences of length
// T (no extra length, as tempOrder.py) drawn from s.mt in tempOrder.py's
// order: first positions in [⌊0.1T⌋, 2⌊0.1T⌋), first symbols, second
// positions in [⌊0.5T⌋, ⌊0.5T⌋+⌊0.1T⌋), second symbols, then randint(4,
// size=(T, n)) distractors time-major. tempOrder.py's symbols 0 and 1 are
// SymX and SymY here and its distractors 2–5 are SymA–SymD; the label is
// 2·first + second (tempOrder.py: first + 2·second).
func (s *seqSet) pascanuTemporalOrder(dst *Batch, n, T int) {
	m := &s.mt
	const F = 6
	dst.B, dst.Steps = n, T
	dst.X = grow(dst.X, n*T*F)
	clear(dst.X)
	dst.Targets = dst.Targets[:0]
	dst.Labels = grow(dst.Labels, n)
	s.p0, s.p1 = grow(s.p0, n), grow(s.p1, n)
	s.v0, s.v1 = grow(s.v0, n), grow(s.v1, n)
	w, half := tenths(T, .1), tenths(T, .5)
	for k := range n {
		s.p0[k] = m.randint(w) + w
	}
	for k := range n {
		s.v0[k] = m.randint(2)
	}
	for k := range n {
		s.p1[k] = m.randint(w) + half
	}
	for k := range n {
		s.v1[k] = m.randint(2)
	}
	for t := range T {
		for k := range n {
			dst.X[(k*T+t)*F+SymA+m.randint(4)] = 1
		}
	}
	for k := range n {
		x := dst.X[k*T*F : (k+1)*T*F]
		clear(x[s.p0[k]*F : (s.p0[k]+1)*F])
		clear(x[s.p1[k]*F : (s.p1[k]+1)*F])
		x[s.p0[k]*F+SymX+s.v0[k]] = 1
		x[s.p1[k]*F+SymX+s.v1[k]] = 1
		dst.Labels[k] = 2*s.v0[k] + s.v1[k]
	}
}

// pascanuBatch fills dst with n sequences of the batch at (stream, epoch, i).
func (s *seqSet) pascanuBatch(dst *Batch, stream uint64, epoch, i, n int) {
	s.seedMT(stream, epoch, i)
	if s.task == taskAddition {
		s.pascanuAddition(dst, n, s.o.SeqLen)
	} else {
		s.pascanuTemporalOrder(dst, n, s.o.SeqLen)
	}
}
