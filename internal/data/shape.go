package data

import (
	"fmt"
	"strings"
)

// Task says what a dataset's outputs are.
type Task uint8

const (
	Classify Task = iota // softmax cross-entropy over Outputs classes
	Regress              // mean squared error on Outputs values
)

// Shape is what a model sees of one example.
type Shape struct {
	// Images: C×H×W (MNIST 1×28×28); zero for sequences.
	C, H, W int
	// Sequences: Features per step; Steps is the nominal length T (each
	// batch's length may exceed it, see the task). Zero for images.
	Steps, Features int
	// Token sequences (Features 1): the ids lie in [0, Vocab); 0 for
	// other inputs.
	Vocab int
	// OutSteps is the number of positions with an output, the last
	// OutSteps of the sequence (the copy task: one per symbol copied); 0
	// for one output per example.
	OutSteps int
	Outputs  int // classes, or regression outputs (per output position)
	Task     Task
}

// Names are the datasets Load knows.
var Names = []string{"mnist", "addition", "temporal-order", "modular", "copy"}

// ShapeFor returns the example shape of dataset name with options o: the
// sequence length of addition and temporal-order, the modulus of modular
// (p+2 tokens, p classes), the sequence length and vocabulary of copy
// (vocab+2 tokens: the symbols, the delimiter and the blank; vocab classes
// at each of the last seq_len of 2·seq_len+1 positions); the other options
// are not read.
func ShapeFor(name string, o Options) (Shape, error) {
	switch name {
	case "modular":
		return Shape{Steps: ModularSteps, Features: 1, Vocab: o.Modulus + 2, Outputs: o.Modulus, Task: Classify}, nil
	case "copy":
		return Shape{Steps: CopySteps(o.SeqLen), Features: 1, Vocab: o.Vocab + 2, OutSteps: o.SeqLen, Outputs: o.Vocab, Task: Classify}, nil
	}
	return ShapeOf(name, o.SeqLen)
}

// ShapeOf returns the example shape of dataset name with sequence length T
// (ignored for images). For modular, which needs its modulus, use ShapeFor.
func ShapeOf(name string, T int) (Shape, error) {
	switch name {
	case "mnist":
		return Shape{C: 1, H: 28, W: 28, Outputs: 10, Task: Classify}, nil
	case "addition":
		return Shape{Steps: T, Features: 2, Outputs: 1, Task: Regress}, nil
	case "temporal-order":
		return Shape{Steps: T, Features: 6, Outputs: 4, Task: Classify}, nil
	case "modular", "copy":
		return Shape{}, fmt.Errorf("dataset: %s: the shape depends on its data options; use ShapeFor", name)
	}
	return Shape{}, fmt.Errorf("dataset: unknown dataset %q (allowed: %s)", name, strings.Join(Names, ", "))
}
