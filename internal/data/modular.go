// The modular-arithmetic task of Power et al. (2022), "Grokking", as a
// Dataset generated from the seed.

package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Defaults and limits of the modular task (data: {modulus, operation,
// train_fraction}).
const (
	DefaultModulus       = 97
	DefaultOperation     = "+"
	DefaultTrainFraction = 0.3
	MinModulus           = 2
	// MaxModulus keeps the p² equations (and the p+2 tokens) a size two
	// cores can hold and evaluate: 4,000,000 equations.
	MaxModulus = 2000
	// ModularSteps is the length of an equation: a, op, b, =.
	ModularSteps = 4
)

// Operations are the operations of the modular task: a+b, a−b, a·b and
// a·b⁻¹ (mod p), written as the file writes them.
var Operations = []string{"+", "-", "*", "/"}

// IsPrime reports whether p is a prime.
func IsPrime(p int) bool {
	if p < 2 {
		return false
	}
	for d := 2; d*d <= p; d++ {
		if p%d == 0 {
			return false
		}
	}
	return true
}

// ModularEquations returns the number of equations "a op b =" of the task:
// p² pairs, or p(p−1) for / (b ≠ 0).
func ModularEquations(p int, op string) int {
	if op == "/" {
		return p * (p - 1)
	}
	return p * p
}

// ModularSplit checks a modular task's options and returns its training and
// test set sizes: round(train_fraction·N) equations for training (as Power
// et al.'s ArithmeticDataset rounds), the other N − train for test. Errors
// name the field: the modulus outside [MinModulus, MaxModulus], an unknown
// operation, / with a modulus that is not prime, a fraction outside (0, 1)
// or one that leaves either set empty.
func ModularSplit(p int, op string, frac float64) (train, test int, err error) {
	if p < MinModulus || p > MaxModulus {
		return 0, 0, fmt.Errorf("modulus: must be from %d to %d, got %d", MinModulus, MaxModulus, p)
	}
	if !slices.Contains(Operations, op) {
		return 0, 0, fmt.Errorf("operation: %q is not allowed (allowed: %s)", op, strings.Join(Operations, ", "))
	}
	if op == "/" && !IsPrime(p) {
		return 0, 0, fmt.Errorf("modulus: division needs a prime modulus (every b ≠ 0 invertible), got %d", p)
	}
	if math.IsNaN(frac) || frac <= 0 || frac >= 1 {
		return 0, 0, fmt.Errorf("train_fraction: must be in (0, 1), got %v", frac)
	}
	n := ModularEquations(p, op)
	train = int(math.Round(frac * float64(n)))
	if train < 1 || train > n-1 {
		return 0, 0, fmt.Errorf("train_fraction: %v of %d equations leaves the training or the test set empty", frac, n)
	}
	return train, n - train, nil
}

// ModularAnswer returns a op b mod p (for /, a·b^(p−2)); b must not be 0
// for /.
func ModularAnswer(a, b, p int, op string) int {
	switch op {
	case "+":
		return (a + b) % p
	case "-":
		return ((a-b)%p + p) % p
	case "*":
		return a * b % p
	case "/":
		return a * powMod(b, p-2, p) % p
	}
	panic("data: unknown modular operation " + op)
}

func powMod(b, e, p int) int {
	r, b := 1, b%p
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = r * b % p
		}
		b = b * b % p
	}
	return r
}

// modSet is the modular task: every equation "a op b =" numbered e =
// a·nb + (b − b0) (nb values of b from b0: 0 and p, or 1 and p−1 for /),
// split once by a seeded shuffle into training and test equations.
//
// Tokens: the numbers 0 … p−1 are themselves, the operation is p and "="
// is p+1 (p+2 tokens). The answer c is the class, in [0, p).
type modSet struct {
	o         Options
	shape     Shape
	p, nb, b0 int
	train     []int32    // training equations, in split order
	test      []int32    // test equations, in split order
	order     epochOrder // this epoch's order of the training equations
	pcg       rand.PCG
}

var _ Dataset = (*modSet)(nil)

func newModSet(o Options) (*modSet, error) {
	nTrain, nTest, err := ModularSplit(o.Modulus, o.Operation, o.TrainFraction)
	if err != nil {
		return nil, fmt.Errorf("data: modular: %w", err)
	}
	if o.TrainSize != nTrain || o.TestSize != nTest {
		return nil, fmt.Errorf("data: modular: TrainSize %d, TestSize %d; modulus %d, %s and train_fraction %v make %d and %d",
			o.TrainSize, o.TestSize, o.Modulus, o.Operation, o.TrainFraction, nTrain, nTest)
	}
	if err := checkSizes("modular", o, nTrain, nTest); err != nil {
		return nil, err
	}
	s := &modSet{o: o, p: o.Modulus, nb: o.Modulus}
	if o.Operation == "/" {
		s.nb, s.b0 = o.Modulus-1, 1
	}
	s.shape, _ = ShapeFor("modular", o)
	// The split: a Fisher–Yates shuffle of every equation by the seed's
	// split stream; the first nTrain train, the rest test.
	all := make([]int32, nTrain+nTest)
	for i := range all {
		all[i] = int32(i)
	}
	p := &s.pcg
	seedPCG(p, o.Seed, streamSplit, 0, 0)
	for i := len(all) - 1; i > 0; i-- {
		j := uintn(p, uint64(i+1))
		all[i], all[j] = all[j], all[i]
	}
	s.train, s.test = all[:nTrain], all[nTrain:]
	s.order = newEpochOrder(nTrain)
	return s, nil
}

func (s *modSet) Shape() Shape { return s.shape }

func (s *modSet) NumTrainBatches(b int) int { return numBatches(s.o.TrainSize, b) }

// TrainBatch takes batch i of epoch epoch's shuffle of the training
// equations (the same Fisher–Yates shuffle of (seed, epoch) as mnist).
func (s *modSet) TrainBatch(dst *Batch, epoch, i, b int) {
	lo, hi := span(s.o.TrainSize, i, b)
	s.size(dst, hi-lo)
	for k, j := range s.order.batch(s.o.Seed, epoch, lo, hi) {
		s.write(dst, k, s.train[j])
	}
}

func (s *modSet) NumEvalBatches(split string, b int) int {
	return numBatches(s.o.evalSize(split), b)
}

// EvalBatch takes the split's equations in split order: the test split is
// every test equation, the train split the first TrainEvalSize training
// equations.
func (s *modSet) EvalBatch(dst *Batch, split string, i, b int) {
	lo, hi := span(s.o.evalSize(split), i, b)
	eqs := s.train
	if split == SplitTest {
		eqs = s.test
	}
	s.size(dst, hi-lo)
	for k := range hi - lo {
		s.write(dst, k, eqs[lo+k])
	}
}

func (s *modSet) size(dst *Batch, n int) {
	dst.B, dst.Steps = n, ModularSteps
	dst.X = grow(dst.X, n*ModularSteps)
	dst.Labels = grow(dst.Labels, n)
	dst.Targets = dst.Targets[:0]
}

// write puts equation e as example k of dst.
func (s *modSet) write(dst *Batch, k int, e int32) {
	a, b := int(e)/s.nb, int(e)%s.nb+s.b0
	x := dst.X[k*ModularSteps : (k+1)*ModularSteps]
	x[0], x[1], x[2], x[3] = float32(a), float32(s.p), float32(b), float32(s.p+1)
	dst.Labels[k] = ModularAnswer(a, b, s.p, s.o.Operation)
}
