package data

import (
	"slices"
	"strings"
	"testing"
)

func modOptions(p int, op string, frac float64, seed uint64) Options {
	train, test, err := ModularSplit(p, op, frac)
	if err != nil {
		panic(err)
	}
	return Options{Modulus: p, Operation: op, TrainFraction: frac, TrainSize: train, TestSize: test,
		TrainEvalSize: train, Seed: seed}
}

// equations reads every example of a split as (a, op, b, =, c) rows.
func equations(t *testing.T, ds Dataset, split string, b int) [][5]int {
	t.Helper()
	var out [][5]int
	var batch Batch
	for i := range ds.NumEvalBatches(split, b) {
		ds.EvalBatch(&batch, split, i, b)
		if batch.Steps != ModularSteps {
			t.Fatalf("steps %d, want %d", batch.Steps, ModularSteps)
		}
		for k := range batch.B {
			x := batch.X[k*4 : k*4+4]
			out = append(out, [5]int{int(x[0]), int(x[1]), int(x[2]), int(x[3]), batch.Labels[k]})
		}
	}
	return out
}

// TestModularSplit checks that train and test are disjoint, together every
// equation once, the tokens and answers right (against a brute-force
// answer), and the split sizes round(fraction·N).
func TestModularSplit(t *testing.T) {
	for _, tc := range []struct {
		p          int
		op         string
		frac       float64
		wantTrain  int
		wantEqs    int
		firstB     int
		answerOf   func(a, b, p int) int
		checkShape bool
	}{
		{97, "+", 0.3, 2823, 9409, 0, func(a, b, p int) int { return (a + b) % p }, true},
		{11, "-", 0.5, 61, 121, 0, func(a, b, p int) int { return ((a - b) + p) % p }, false},
		{10, "*", 0.25, 25, 100, 0, func(a, b, p int) int { return a * b % p }, false},
		{13, "/", 0.4, 62, 156, 1, func(a, b, p int) int {
			for c := range p {
				if c*b%p == a {
					return c
				}
			}
			return -1
		}, false},
	} {
		o := modOptions(tc.p, tc.op, tc.frac, 7)
		if o.TrainSize != tc.wantTrain || o.TrainSize+o.TestSize != tc.wantEqs {
			t.Errorf("p=%d %s %v: train %d test %d, want %d of %d", tc.p, tc.op, tc.frac, o.TrainSize, o.TestSize, tc.wantTrain, tc.wantEqs)
		}
		ds, err := Load("modular", o)
		if err != nil {
			t.Fatal(err)
		}
		if tc.checkShape {
			want := Shape{Steps: 4, Features: 1, Vocab: 99, Outputs: 97, Task: Classify}
			if ds.Shape() != want {
				t.Errorf("shape %+v, want %+v", ds.Shape(), want)
			}
		}
		seen := map[[2]int]string{}
		for _, split := range []string{SplitTrain, SplitTest} {
			for _, e := range equations(t, ds, split, 7) {
				a, b := e[0], e[2]
				if e[1] != tc.p || e[3] != tc.p+1 {
					t.Fatalf("%s: tokens %v, want op %d and = %d", split, e, tc.p, tc.p+1)
				}
				if a < 0 || a >= tc.p || b < tc.firstB || b >= tc.p {
					t.Fatalf("%s: operands out of range: %v", split, e)
				}
				if want := tc.answerOf(a, b, tc.p); e[4] != want {
					t.Fatalf("%d %s %d mod %d = %d, want %d", a, tc.op, b, tc.p, e[4], want)
				}
				if prev, dup := seen[[2]int{a, b}]; dup {
					t.Fatalf("(%d, %d) in %s and %s", a, b, prev, split)
				}
				seen[[2]int{a, b}] = split
			}
		}
		if len(seen) != tc.wantEqs {
			t.Errorf("p=%d %s: %d equations, want %d", tc.p, tc.op, len(seen), tc.wantEqs)
		}
	}
}

// TestModularDeterministic checks that the split and every batch follow
// from the seed alone, that another seed gives another split, and that an
// epoch's batches hold every training equation once.
func TestModularDeterministic(t *testing.T) {
	load := func(seed uint64) Dataset {
		ds, err := Load("modular", modOptions(23, "+", 0.3, seed))
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	a, b, c := load(5), load(5), load(6)
	if ta, tb := equations(t, a, SplitTest, 50), equations(t, b, SplitTest, 13); !slices.Equal(ta, tb) {
		t.Error("same seed, different test sets")
	}
	if slices.Equal(equations(t, a, SplitTest, 50), equations(t, c, SplitTest, 50)) {
		t.Error("seeds 5 and 6 give the same test set")
	}
	train := map[[5]int]bool{}
	for _, e := range equations(t, a, SplitTrain, 50) {
		train[e] = true
	}
	var ba, bb Batch
	for epoch := range 2 {
		got := map[[5]int]bool{}
		for i := range a.NumTrainBatches(16) {
			a.TrainBatch(&ba, epoch, i, 16)
			b.TrainBatch(&bb, epoch, i, 16)
			if !slices.Equal(ba.X, bb.X) || !slices.Equal(ba.Labels, bb.Labels) {
				t.Fatalf("epoch %d batch %d differs between two loads of one seed", epoch, i)
			}
			for k := range ba.B {
				x := ba.X[4*k:]
				e := [5]int{int(x[0]), int(x[1]), int(x[2]), int(x[3]), ba.Labels[k]}
				if !train[e] || got[e] {
					t.Fatalf("epoch %d: %v is not a training equation, or repeated", epoch, e)
				}
				got[e] = true
			}
		}
		if len(got) != len(train) {
			t.Fatalf("epoch %d: %d equations, want %d", epoch, len(got), len(train))
		}
	}
}

func TestModularErrors(t *testing.T) {
	for _, tc := range []struct {
		p    int
		op   string
		frac float64
		want string
	}{
		{1, "+", 0.3, "modulus: must be from 2"},
		{MaxModulus + 1, "+", 0.3, "modulus: must be from 2"},
		{97, "%", 0.3, `operation: "%" is not allowed`},
		{96, "/", 0.3, "modulus: division needs a prime modulus"},
		{97, "+", 0, "train_fraction: must be in (0, 1)"},
		{97, "+", 1, "train_fraction: must be in (0, 1)"},
		{2, "+", 0.1, "leaves the training or the test set empty"},
		{2, "+", 0.9, "leaves the training or the test set empty"},
	} {
		_, _, err := ModularSplit(tc.p, tc.op, tc.frac)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ModularSplit(%d, %q, %v) = %v, want %q", tc.p, tc.op, tc.frac, err, tc.want)
		}
	}
	o := modOptions(11, "+", 0.5, 1)
	o.TrainSize++
	if _, err := Load("modular", o); err == nil || !strings.Contains(err.Error(), "make 61 and 60") {
		t.Errorf("Load with a train size off the split: %v", err)
	}
}
