package config

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"cliplab/internal/data"
	"cliplab/internal/nn"
)

// Limits of the datasets, and the defaults of data:.
const (
	mnistTrain   = 60000 // LeCun et al., the MNIST training set
	mnistTest    = 10000 // the MNIST test set
	maxSynthetic = 10_000_000
	// MinSeqLen is the shortest sequence the synthetic tasks take: Pascanu's
	// generators draw marker positions with rng.randint(int(T*.1)), which
	// needs T ≥ 10 (pascanur/trainingRNNs, addition.py and tempOrder.py).
	MinSeqLen = 10
	MaxSeqLen = 100_000
	// maxEquations is the most equations of the modular task.
	maxEquations = data.MaxModulus * data.MaxModulus
)

// DatasetInfo is what the configuration knows of a dataset: the largest and
// default train_size and test_size, and whether it is made of sequences
// (and so takes seq_len).
type DatasetInfo struct {
	MaxTrain, MaxTest int
	DefTrain, DefTest int
	Sequences         bool
	// Modular: the sizes follow from modulus and train_fraction (DefTrain
	// and DefTest are 0), and data: takes modulus, operation and
	// train_fraction.
	Modular bool
	// Copy: data: takes seq_len (default data.DefaultCopySeqLen, from
	// data.MinCopySeqLen) and vocab (default data.DefaultCopyVocab), the
	// copy task's sequence length and number of symbols.
	Copy bool
}

// TakesSeqLen reports whether the dataset reads data.seq_len.
func (i DatasetInfo) TakesSeqLen() bool { return i.Sequences || i.Copy }

// Dataset returns the facts of the dataset called name.
func Dataset(name string) (DatasetInfo, bool) {
	info, ok := datasets[name]
	return info, ok
}

var datasets = map[string]DatasetInfo{
	"mnist":          {mnistTrain, mnistTest, mnistTrain, mnistTest, false, false, false},
	"addition":       {maxSynthetic, maxSynthetic, 10000, 1000, true, false, false},
	"temporal-order": {maxSynthetic, maxSynthetic, 10000, 1000, true, false, false},
	"modular":        {maxEquations, maxEquations, 0, 0, false, true, false},
	"copy":           {data.MaxCopyExamples, data.MaxCopyExamples, data.DefaultCopyTrain, data.DefaultCopyTest, false, false, true},
}

// IntRange is where integer field (a train:, data: or grid: field name)
// may lie for dataset ds. It panics for a field that is not an integer.
func IntRange(ds, field string) (lo, hi int64) {
	info := datasets[ds]
	switch field {
	case "epochs":
		return 1, 1_000_000
	case "batch_size":
		return 1, math.MaxInt32
	case "eval_every":
		return 0, math.MaxInt32
	case "log_every":
		return 1, math.MaxInt32
	case "train_size":
		return 1, int64(info.MaxTrain)
	case "test_size":
		return 1, int64(info.MaxTest)
	case "train_eval_size":
		return 1, int64(info.MaxTrain) // data.Load wants at least 1
	case "seq_len":
		if info.Copy {
			return data.MinCopySeqLen, data.MaxCopySeqLen
		}
		return MinSeqLen, MaxSeqLen
	case "vocab":
		return data.MinCopyVocab, data.MaxCopyVocab
	case "modulus":
		return data.MinModulus, data.MaxModulus
	case "seed":
		return 0, math.MaxInt64 // SQLite integers are signed 64-bit
	}
	panic("config: no range for " + field)
}

// Positive reports what is wrong with a learning rate or divergence loss
// ("" when nothing is).
func Positive(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) || x <= 0 {
		return "must be a finite number > 0, got " + FormatFloat(x)
	}
	return ""
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidName reports whether s may name an experiment or an arch: they
// become file names in reports.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// NameRule says what ValidName accepts.
const NameRule = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"

// inputOf is what a model sees of dataset shape s. The synthetic tasks draw
// each batch's length from [T, 1.1T) (Pascanu et al. 2013, §5.1; addition.py
// in pascanur/trainingRNNs), so their inputs have no fixed number of steps.
// Token tasks (Vocab > 0) have a fixed length.
func inputOf(s data.Shape) nn.Input {
	in := nn.Input{C: s.C, H: s.H, W: s.W, Feature: s.Features, Vocab: s.Vocab, OutSteps: s.OutSteps, Outputs: s.Outputs}
	if s.Vocab > 0 {
		in.Steps = s.Steps
	}
	return in
}

// Fits reports whether arch a takes the inputs of dataset ds with the
// sizes d (the sequence length, the modulus, the vocabulary).
func Fits(a nn.ArchSpec, ds string, d DataSpec) error {
	shape, err := data.ShapeFor(ds, data.Options{SeqLen: d.SeqLen, Modulus: d.Modulus, Vocab: d.Vocab})
	if err != nil {
		return err
	}
	return a.Fits(inputOf(shape))
}

// Validate reports the first thing wrong with c, naming the field: what
// Expand checks with positions, checked again on the resolved value. A
// Config from Expand or DecodeConfig always validates.
func (c Config) Validate() error {
	info, ok := datasets[c.Dataset]
	if !ok {
		return fmt.Errorf("dataset: unknown dataset %q (allowed: %s)", c.Dataset, strings.Join(data.Names, ", "))
	}
	ints := []struct {
		name string
		v    int64
	}{
		{"epochs", int64(c.Epochs)}, {"batch_size", int64(c.BatchSize)}, {"eval_every", int64(c.EvalEvery)},
		{"log_every", int64(c.LogEvery)}, {"data.train_size", int64(c.Data.TrainSize)},
		{"data.test_size", int64(c.Data.TestSize)}, {"data.train_eval_size", int64(c.Data.TrainEvalSize)},
	}
	for _, f := range ints {
		lo, hi := IntRange(c.Dataset, strings.TrimPrefix(f.name, "data."))
		if f.v < lo || f.v > hi {
			return fmt.Errorf("%s: must be %s, got %d", f.name, RangeText(lo, hi), f.v)
		}
	}
	if c.Seed > math.MaxInt64 {
		return fmt.Errorf("seed: must be ≤ %d, got %d", int64(math.MaxInt64), c.Seed)
	}
	switch lo, hi := IntRange(c.Dataset, "seq_len"); {
	case info.TakesSeqLen() && (int64(c.Data.SeqLen) < lo || int64(c.Data.SeqLen) > hi):
		return fmt.Errorf("data.seq_len: must be from %d to %d, got %d", lo, hi, c.Data.SeqLen)
	case !info.TakesSeqLen() && c.Data.SeqLen != 0:
		return fmt.Errorf("data.seq_len: dataset %s takes no seq_len", c.Dataset)
	}
	if info.Copy {
		if err := data.CopyCheck(c.Data.SeqLen, c.Data.Vocab); err != nil {
			return fmt.Errorf("data.%w", err)
		}
	} else if c.Data.Vocab != 0 {
		return fmt.Errorf("data.vocab: dataset %s takes no vocab", c.Dataset)
	}
	switch g := c.Data.Generator; {
	case g == data.Generators[0]:
		return fmt.Errorf("data.generator: not normalized (the default %s is stored as \"\")", g)
	case g != "" && !info.Sequences:
		return fmt.Errorf("data.generator: dataset %s takes no generator", c.Dataset)
	case g != "" && !slices.Contains(data.Generators, g):
		return fmt.Errorf("data.generator: %q is not allowed (allowed: %s)", g, strings.Join(data.Generators, ", "))
	}
	if info.Modular {
		train, test, err := data.ModularSplit(c.Data.Modulus, c.Data.Operation, c.Data.TrainFraction)
		if err != nil {
			return fmt.Errorf("data.%w", err)
		}
		if c.Data.TrainSize != train || c.Data.TestSize != test {
			return fmt.Errorf("data.train_size, data.test_size: %d and %d, but the modular split makes %d and %d", c.Data.TrainSize, c.Data.TestSize, train, test)
		}
	} else if c.Data.Modulus != 0 || c.Data.Operation != "" || c.Data.TrainFraction != 0 {
		return fmt.Errorf("data.modulus: dataset %s takes no modulus, operation or train_fraction", c.Dataset)
	}
	if c.Data.TrainEvalSize > c.Data.TrainSize {
		return fmt.Errorf("data.train_eval_size: %d is more than train_size %d", c.Data.TrainEvalSize, c.Data.TrainSize)
	}
	if c.BatchSize > c.Data.TrainSize {
		return fmt.Errorf("batch_size: %d is more than train_size %d", c.BatchSize, c.Data.TrainSize)
	}
	if m := Positive(c.LR); m != "" {
		return fmt.Errorf("lr: %s", m)
	}
	if c.LRSchedule != c.LRSchedule.Normalize() {
		return fmt.Errorf("lr_schedule: not normalized")
	}
	if err := c.LRSchedule.Validate(); err != nil {
		return fmt.Errorf("lr_schedule.%w", err)
	}
	if msg := c.ScheduleFits(); msg != "" {
		return fmt.Errorf("lr_schedule: %s", msg)
	}
	switch f := c.TailFraction; {
	case f == DefaultTailFraction:
		return fmt.Errorf("tail_fraction: not normalized (the default %v is stored as 0)", f)
	case math.IsNaN(f) || f < 0 || f > 1:
		return fmt.Errorf("tail_fraction: must be in (0, 1], got %v", f)
	}
	switch z := c.SpikeZ; {
	case z == DefaultSpikeZ:
		return fmt.Errorf("spike_z: not normalized (the default %v is stored as 0)", z)
	case math.IsNaN(z) || math.IsInf(z, 0) || z < 0:
		return fmt.Errorf("spike_z: must be a positive number, got %v", z)
	}
	if m := Positive(c.DivergenceLoss); m != "" {
		return fmt.Errorf("divergence_loss: %s", m)
	}
	if !nameRE.MatchString(c.ArchName) {
		return fmt.Errorf("arch: name %q: use %s", c.ArchName, NameRule)
	}
	if !reflect.DeepEqual(c.Arch, c.Arch.Normalize()) {
		return fmt.Errorf("arch_spec: not normalized")
	}
	if err := c.Arch.Validate(); err != nil {
		return fmt.Errorf("arch_spec: %w", err)
	}
	if err := Fits(c.Arch, c.Dataset, c.Data); err != nil {
		return fmt.Errorf("arch_spec: does not fit dataset %s: %w", c.Dataset, err)
	}
	if c.Optimizer != c.Optimizer.Normalize() {
		return fmt.Errorf("optimizer: not normalized")
	}
	if err := c.Optimizer.Validate(); err != nil {
		return fmt.Errorf("optimizer: %w", err)
	}
	if !c.Clip.Equal(c.Clip.Normalize()) {
		return fmt.Errorf("clip: not normalized")
	}
	if err := c.Clip.Validate(); err != nil {
		return fmt.Errorf("clip: %w", err)
	}
	if err := c.validatePrune(); err != nil {
		return err
	}
	if q := c.Quantize; q != nil {
		if *q != q.Normalize() {
			return fmt.Errorf("quantize: not normalized")
		}
		if err := q.Validate(); err != nil {
			return fmt.Errorf("quantize.%w", err)
		}
	}
	return c.validateDP()
}

// validatePrune checks train.prune: normalized (sparsity 0 is stored as no
// prune), valid, and with a pruning step in this run.
func (c Config) validatePrune() error {
	p := c.Prune
	if p == nil {
		return nil
	}
	if p.Sparsity == 0 {
		return fmt.Errorf("prune: not normalized (sparsity 0 is stored as no prune)")
	}
	if *p != p.Normalize() {
		return fmt.Errorf("prune: not normalized")
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("prune.%w", err)
	}
	if msg := p.Fits(c.Steps()); msg != "" {
		return fmt.Errorf("prune: %s", msg)
	}
	return nil
}

// ScheduleFits says what is wrong with the schedule in this run ("" when
// nothing is): a warm-up longer than the run, a min_lr above lr.
func (c Config) ScheduleFits() string {
	if w, n := c.LRSchedule.WarmupSteps(c.Steps()), c.Steps(); w > n {
		return fmt.Sprintf("warm-up of %d steps exceeds the run's %d steps", w, n)
	}
	if c.LRSchedule.MinLR > c.LR {
		return fmt.Sprintf("min_lr %s is above lr %s", FormatFloat(c.LRSchedule.MinLR), FormatFloat(c.LR))
	}
	return ""
}

// RangeText says where an integer may lie: "≥ 1" or "from 1 to 60000".
func RangeText(lo, hi int64) string {
	if hi == math.MaxInt64 || hi == math.MaxInt {
		return fmt.Sprintf("≥ %d", lo)
	}
	return fmt.Sprintf("from %d to %d", lo, hi)
}
