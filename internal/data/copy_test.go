package data

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func copyOptions(n, vocab, train, test int, seed uint64) Options {
	return Options{SeqLen: n, Vocab: vocab, TrainSize: train, TestSize: test, TrainEvalSize: train, Seed: seed}
}

// copyExamples reads every example of a split as its tokens and labels.
func copyExamples(t *testing.T, ds Dataset, split string, b int) (xs [][]int, labels [][]int) {
	t.Helper()
	var batch Batch
	sh := ds.Shape()
	for i := range ds.NumEvalBatches(split, b) {
		ds.EvalBatch(&batch, split, i, b)
		if batch.Steps != sh.Steps {
			t.Fatalf("steps %d, want %d", batch.Steps, sh.Steps)
		}
		for k := range batch.B {
			var x []int
			for _, v := range batch.X[k*sh.Steps : (k+1)*sh.Steps] {
				x = append(x, int(v))
			}
			xs = append(xs, x)
			labels = append(labels, slices.Clone(batch.Labels[k*sh.OutSteps:(k+1)*sh.OutSteps]))
		}
	}
	return xs, labels
}

// TestCopyLayout: each example is seq_len symbols in [0, vocab), the
// delimiter vocab and seq_len blanks vocab+1, labelled by its symbols; the
// shape says so; every symbol occurs.
func TestCopyLayout(t *testing.T) {
	o := copyOptions(6, 5, 300, 70, 3)
	ds, err := Load("copy", o)
	if err != nil {
		t.Fatal(err)
	}
	want := Shape{Steps: 13, Features: 1, Vocab: 7, OutSteps: 6, Outputs: 5, Task: Classify}
	if ds.Shape() != want {
		t.Errorf("shape %+v, want %+v", ds.Shape(), want)
	}
	counts := make([]int, o.Vocab)
	for _, split := range []string{SplitTrain, SplitTest} {
		xs, labels := copyExamples(t, ds, split, 32)
		if wantN := o.evalSize(split); len(xs) != wantN {
			t.Fatalf("%s: %d examples, want %d", split, len(xs), wantN)
		}
		for i, x := range xs {
			for p, v := range x {
				switch {
				case p < 6:
					if v < 0 || v >= 5 || labels[i][p] != v {
						t.Fatalf("%s example %d: symbol %d at %d, label %d", split, i, v, p, labels[i][p])
					}
					counts[v]++
				case p == 6 && v != 5, p > 6 && v != 6:
					t.Fatalf("%s example %d: token %d at position %d (delimiter 5 at 6, blanks 6 after)", split, i, v, p)
				}
			}
		}
	}
	for c, n := range counts {
		// 370 examples × 6 symbols / 5 ≈ 444 each.
		if n < 300 || n > 600 {
			t.Errorf("symbol %d drawn %d times of %d", c, n, 370*6)
		}
	}
}

// TestCopyDeterministic: the same seed gives the same examples whatever
// the batch size and order asked; another seed others; an epoch is a
// permutation of the training set, which the train split lists in index
// order; the test split is not the training set.
func TestCopyDeterministic(t *testing.T) {
	o := copyOptions(8, 10, 100, 40, 11)
	a, _ := Load("copy", o)
	b, _ := Load("copy", o)
	xa, _ := copyExamples(t, a, SplitTest, 7)
	xb, _ := copyExamples(t, b, SplitTest, 40)
	if !slices.EqualFunc(xa, xb, slices.Equal) {
		t.Fatal("test split differs between batch sizes 7 and 40")
	}
	o2 := o
	o2.Seed = 12
	c, _ := Load("copy", o2)
	xc, _ := copyExamples(t, c, SplitTest, 40)
	if slices.EqualFunc(xa, xc, slices.Equal) {
		t.Fatal("seeds 11 and 12 give the same test split")
	}
	train, _ := copyExamples(t, a, SplitTrain, 100)
	key := func(x []int) string { return fmt.Sprint(x) }
	inTrain := map[string]int{}
	for _, x := range train {
		inTrain[key(x)]++
	}
	same := 0
	for _, x := range xa {
		same += inTrain[key(x)]
	}
	if same != 0 {
		t.Errorf("%d test sequences of 10^8 possible are training sequences", same)
	}
	for epoch := range 2 {
		var batch Batch
		seen := map[string]int{}
		var order [][]int
		for i := range a.NumTrainBatches(30) {
			// b's batches are asked in reverse: the same examples.
			b.TrainBatch(&batch, epoch, a.NumTrainBatches(30)-1-i, 30)
			a.TrainBatch(&batch, epoch, i, 30)
			for k := range batch.B {
				var x []int
				for _, v := range batch.X[k*17 : (k+1)*17] {
					x = append(x, int(v))
				}
				order = append(order, x)
				seen[key(x)]++
			}
		}
		for k, n := range inTrain {
			if seen[k] != n {
				t.Fatalf("epoch %d: sequence %s trained %d times, in the training set %d times", epoch, k, seen[k], n)
			}
		}
		if slices.EqualFunc(order, train, slices.Equal) {
			t.Errorf("epoch %d trains the examples in index order, not shuffled", epoch)
		}
	}
}

// TestCopyOptions: bad options are refused, naming the field.
func TestCopyOptions(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{copyOptions(0, 10, 10, 10, 1), "seq_len"},
		{copyOptions(MaxCopySeqLen+1, 10, 10, 10, 1), "seq_len"},
		{copyOptions(5, 1, 10, 10, 1), "vocab"},
		{copyOptions(5, MaxCopyVocab+1, 10, 10, 1), "vocab"},
		{copyOptions(5, 10, 0, 10, 1), "TrainSize"},
		{copyOptions(5, 10, 10, 0, 1), "TestSize"},
	} {
		if _, err := Load("copy", tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(copy, %+v): %v, want an error naming %s", tc.o, err, tc.want)
		}
	}
}
