package grid

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cliplab/internal/clipalgo"
	"cliplab/internal/data"
	"cliplab/internal/nn"
)

// DataSpec is how much of a dataset a configuration uses.
type DataSpec struct {
	TrainSize int `json:"train_size"` // training examples per epoch
	TestSize  int `json:"test_size"`  // examples in each test evaluation
	// TrainEvalSize is the fixed sample of the training set measured at
	// each evaluation (train accuracy, for the generalisation gap).
	TrainEvalSize int `json:"train_eval_size"`
	SeqLen        int `json:"seq_len,omitempty"` // sequence datasets: the nominal length T
}

// Config is one resolved configuration: every field explicit, defaults
// filled in, specs normalized. Its canonical JSON is the run's identity.
type Config struct {
	Dataset        string        `json:"dataset"`
	Data           DataSpec      `json:"data"`
	ArchName       string        `json:"arch"`
	Arch           nn.ArchSpec   `json:"arch_spec"`
	Optimizer      nn.OptimSpec  `json:"optimizer"`
	LR             float64       `json:"lr"`
	BatchSize      int           `json:"batch_size"`
	Epochs         int           `json:"epochs"`
	EvalEvery      int           `json:"eval_every"` // steps between evaluations; 0: end of each epoch
	LogEvery       int           `json:"log_every"`  // steps between logged steps
	DivergenceLoss float64       `json:"divergence_loss"`
	Clip           clipalgo.Spec `json:"clip"`
	Seed           uint64        `json:"seed"`
}

// Canonical returns c as canonical JSON: encoding/json of the struct, so the
// fields come in the struct's order, numbers in their shortest exact form,
// and no whitespace. The experiment's name is not part of it. Canonical
// panics if c holds a NaN or infinity, which no validated Config does.
func (c Config) Canonical() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic("grid: canonical JSON of an invalid config: " + err.Error())
	}
	return b
}

// Key returns the run's key: the hex SHA-256 of Canonical.
func (c Config) Key() string {
	sum := sha256.Sum256(c.Canonical())
	return hex.EncodeToString(sum[:])
}

// GridHash returns the hex SHA-256 of the configurations' keys, sorted and
// each followed by a newline: the same set of configurations gives the same
// hash whatever the order, so a different grid under the same name shows.
func GridHash(cfgs []Config) string {
	keys := make([]string, len(cfgs))
	for i, c := range cfgs {
		keys[i] = c.Key()
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DecodeConfig reads a configuration back from its canonical JSON (the
// runs.config_json column) and validates it. Unknown fields are an error.
func DecodeConfig(js []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("decode config: %w", err)
	}
	if dec.More() {
		return Config{}, errors.New("decode config: trailing data after the JSON object")
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("decode config: %w", err)
	}
	return c, nil
}

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
)

type datasetInfo struct {
	maxTrain, maxTest int
	defTrain, defTest int
	sequences         bool
}

var datasets = map[string]datasetInfo{
	"mnist":          {mnistTrain, mnistTest, mnistTrain, mnistTest, false},
	"addition":       {maxSynthetic, maxSynthetic, 10000, 1000, true},
	"temporal-order": {maxSynthetic, maxSynthetic, 10000, 1000, true},
}

// intRange is where an integer field may lie, for dataset ds.
func intRange(ds, field string) (lo, hi int64) {
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
		return 1, int64(info.maxTrain)
	case "test_size":
		return 1, int64(info.maxTest)
	case "train_eval_size":
		return 1, int64(info.maxTrain) // data.Load wants at least 1
	case "seq_len":
		return MinSeqLen, MaxSeqLen
	case "seed":
		return 0, math.MaxInt64 // SQLite integers are signed 64-bit
	}
	panic("grid: no range for " + field)
}

// positive reports what is wrong with a learning rate or divergence loss.
func positive(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) || x <= 0 {
		return "must be a finite number > 0, got " + formatFloat(x)
	}
	return ""
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

const nameRule = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"

// inputOf is what a model sees of dataset shape s. The synthetic tasks draw
// each batch's length from [T, 1.1T) (Pascanu et al. 2013, §5.1; addition.py
// in pascanur/trainingRNNs), so their inputs have no fixed number of steps.
func inputOf(s data.Shape) nn.Input {
	in := nn.Input{C: s.C, H: s.H, W: s.W, Feature: s.Features, Outputs: s.Outputs}
	if s.H == 0 {
		in.Steps = 0 // variable
	}
	return in
}

// fits reports whether arch a takes the inputs of dataset ds at sequence
// length T.
func fits(a nn.ArchSpec, ds string, T int) error {
	shape, err := data.ShapeOf(ds, T)
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
		lo, hi := intRange(c.Dataset, strings.TrimPrefix(f.name, "data."))
		if f.v < lo || f.v > hi {
			return fmt.Errorf("%s: must be %s, got %d", f.name, rangeText(lo, hi), f.v)
		}
	}
	if c.Seed > math.MaxInt64 {
		return fmt.Errorf("seed: must be ≤ %d, got %d", int64(math.MaxInt64), c.Seed)
	}
	switch {
	case info.sequences && (c.Data.SeqLen < MinSeqLen || c.Data.SeqLen > MaxSeqLen):
		return fmt.Errorf("data.seq_len: must be from %d to %d, got %d", MinSeqLen, MaxSeqLen, c.Data.SeqLen)
	case !info.sequences && c.Data.SeqLen != 0:
		return fmt.Errorf("data.seq_len: dataset %s takes no seq_len", c.Dataset)
	}
	if c.Data.TrainEvalSize > c.Data.TrainSize {
		return fmt.Errorf("data.train_eval_size: %d is more than train_size %d", c.Data.TrainEvalSize, c.Data.TrainSize)
	}
	if c.BatchSize > c.Data.TrainSize {
		return fmt.Errorf("batch_size: %d is more than train_size %d", c.BatchSize, c.Data.TrainSize)
	}
	if m := positive(c.LR); m != "" {
		return fmt.Errorf("lr: %s", m)
	}
	if m := positive(c.DivergenceLoss); m != "" {
		return fmt.Errorf("divergence_loss: %s", m)
	}
	if !nameRE.MatchString(c.ArchName) {
		return fmt.Errorf("arch: name %q: use %s", c.ArchName, nameRule)
	}
	if !reflect.DeepEqual(c.Arch, c.Arch.Normalize()) {
		return fmt.Errorf("arch_spec: not normalized")
	}
	if err := c.Arch.Validate(); err != nil {
		return fmt.Errorf("arch_spec: %w", err)
	}
	if err := fits(c.Arch, c.Dataset, c.Data.SeqLen); err != nil {
		return fmt.Errorf("arch_spec: does not fit dataset %s: %w", c.Dataset, err)
	}
	if c.Optimizer != c.Optimizer.Normalize() {
		return fmt.Errorf("optimizer: not normalized")
	}
	if err := c.Optimizer.Validate(); err != nil {
		return fmt.Errorf("optimizer: %w", err)
	}
	if c.Clip != c.Clip.Normalize() {
		return fmt.Errorf("clip: not normalized")
	}
	if err := c.Clip.Validate(); err != nil {
		return fmt.Errorf("clip: %w", err)
	}
	return nil
}

// Axes are the names of the grid's axes, in the order a table shows them
// (AxisValue formats a configuration's value on each).
var Axes = []string{
	"arch", "seq_len", "train_size", "test_size", "train_eval_size",
	"optimizer", "batch_size", "epochs", "eval_every", "log_every", "divergence_loss",
	"lr", "clip", "seed",
}

// AxisValue formats c's value on the named axis (one of Axes) as a label
// shows it: "mlp2", "0.3", "norm:0.5", "momentum,nesterov". It returns "" for
// a name that is not an axis.
func (c Config) AxisValue(axis string) string {
	switch axis {
	case "arch":
		return c.ArchName
	case "seq_len":
		return strconv.Itoa(c.Data.SeqLen)
	case "train_size":
		return strconv.Itoa(c.Data.TrainSize)
	case "test_size":
		return strconv.Itoa(c.Data.TestSize)
	case "train_eval_size":
		return strconv.Itoa(c.Data.TrainEvalSize)
	case "optimizer":
		return optimLabel(c.Optimizer)
	case "batch_size":
		return strconv.Itoa(c.BatchSize)
	case "epochs":
		return strconv.Itoa(c.Epochs)
	case "eval_every":
		return strconv.Itoa(c.EvalEvery)
	case "log_every":
		return strconv.Itoa(c.LogEvery)
	case "divergence_loss":
		return formatFloat(c.DivergenceLoss)
	case "lr":
		return formatFloat(c.LR)
	case "clip":
		return clipLabel(c.Clip)
	case "seed":
		return strconv.FormatUint(c.Seed, 10)
	}
	return ""
}

// Label names c in a line: arch, clip, learning rate and seed, e.g.
// "mlp2 norm:0.5 lr=0.3 seed=1". Configurations of one grid that differ on
// other axes share a label; LabelAxes names those too.
func (c Config) Label() string {
	return fmt.Sprintf("%s %s lr=%s seed=%d", c.ArchName, clipLabel(c.Clip), formatFloat(c.LR), c.Seed)
}

// LabelAxes is Label with the other axes in axes (as VaryingAxes returns
// them) added as name=value, e.g. "rnn norm:1 lr=0.01 seed=1 seq_len=100".
func (c Config) LabelAxes(axes []string) string {
	s := c.Label()
	for _, a := range axes {
		switch a {
		case "arch", "clip", "lr", "seed":
		default:
			if v := c.AxisValue(a); v != "" {
				s += " " + a + "=" + v
			}
		}
	}
	return s
}

// VaryingAxes returns the axes (in the order of Axes) on which cfgs do not
// all agree: the columns a table of them needs.
func VaryingAxes(cfgs []Config) []string {
	var out []string
	for _, a := range Axes {
		for _, c := range cfgs[min(1, len(cfgs)):] {
			if c.AxisValue(a) != cfgs[0].AxisValue(a) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// clipLabel is "none", "norm:0.5" or, with options off their defaults,
// "agc:0.01,exclude_last".
func clipLabel(s clipalgo.Spec) string {
	out := s.Method
	if clipalgo.NeedsThreshold(s.Method) {
		out += ":" + formatFloat(s.Threshold)
	}
	opts, _ := clipalgo.Options(s.Method)
	def := clipalgo.Spec{Method: s.Method, Threshold: s.Threshold}.Normalize()
	known := slices.DeleteFunc(slices.Clone(opts), func(k string) bool { _, ok := clipOptions[k]; return !ok })
	for _, kv := range nonDefault(clipOptions, known, s, def) {
		out += "," + kv
	}
	return out
}

// optimLabel is "sgd" or, with options off their defaults,
// "momentum,momentum=0.95,nesterov".
func optimLabel(o nn.OptimSpec) string {
	out := o.Name
	def := nn.OptimSpec{Name: o.Name}.Normalize()
	for _, kv := range nonDefault(optimOptions, optimAllowed[o.Name], o, def) {
		out += "," + kv
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
