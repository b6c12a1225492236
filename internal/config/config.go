package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"cliplab/internal/clipalgo"
	"cliplab/internal/compress"
	"cliplab/internal/nn"
)

// DataSpec is how much of a dataset a configuration uses.
type DataSpec struct {
	TrainSize int `json:"train_size"` // training examples per epoch
	TestSize  int `json:"test_size"`  // examples in each test evaluation
	// TrainEvalSize is the fixed sample of the training set measured at
	// each evaluation (train accuracy, for the generalisation gap).
	TrainEvalSize int `json:"train_eval_size"`
	SeqLen        int `json:"seq_len,omitempty"` // sequence datasets: the nominal length T; copy: the symbols copied
	// Vocab is the copy task's number of symbols; zero for the other
	// datasets, and so absent from their keys.
	Vocab int `json:"vocab,omitempty"`
	// The modular task (Power et al. 2022): the modulus p, the operation
	// (+ - * /) and the fraction of the equations that train; TrainSize and
	// TestSize are the sizes of that split (data.ModularSplit). Zero for the
	// other datasets, and so absent from their keys.
	Modulus       int     `json:"modulus,omitempty"`
	Operation     string  `json:"operation,omitempty"`
	TrainFraction float64 `json:"train_fraction,omitempty"`
	// Generator draws the sequence datasets' examples: one of
	// data.Generators, with the default (cliplab) stored as "" so that keys
	// written before it existed stay as they were.
	Generator string `json:"generator,omitempty"`
}

// Config is one resolved configuration: every field explicit, defaults
// filled in, specs normalized. Its canonical JSON is the run's identity.
type Config struct {
	Dataset   string       `json:"dataset"`
	Data      DataSpec     `json:"data"`
	ArchName  string       `json:"arch"`
	Arch      nn.ArchSpec  `json:"arch_spec"`
	Optimizer nn.OptimSpec `json:"optimizer"`
	LR        float64      `json:"lr"`
	// LRSchedule turns LR into the rate of each step (warm-up, decay); the
	// zero value, the constant rate, is left out of the JSON, so keys
	// written before it existed stay as they were.
	LRSchedule nn.Schedule `json:"lr_schedule,omitzero"`
	BatchSize  int         `json:"batch_size"`
	// DropLast drops each epoch's partial last batch (PyTorch DataLoader's
	// drop_last); false keeps it.
	DropLast  bool `json:"drop_last,omitempty"`
	Epochs    int  `json:"epochs"`
	EvalEvery int  `json:"eval_every"` // steps between evaluations; 0: end of each epoch
	// TailFraction is the last fraction of the steps whose evaluations the
	// tail metrics (run_summary's test_acc_tail …) average; 0 stands for the
	// default DefaultTailFraction (so that keys written before it existed
	// stay as they were). Use Tail.
	TailFraction float64 `json:"tail_fraction,omitempty"`
	LogEvery     int     `json:"log_every"` // steps between logged steps
	// SpikeZ is the loss-spike rule's threshold in running standard
	// deviations (README "Loss spikes"); 0 stands for DefaultSpikeZ, so
	// that keys written before it existed stay as they were. Use Spike.
	SpikeZ         float64       `json:"spike_z,omitempty"`
	DivergenceLoss float64       `json:"divergence_loss"`
	Clip           clipalgo.Spec `json:"clip"`
	// DP is DP-SGD's noise, budget and sampling: set exactly when Clip's
	// method needs per-example gradients (Private), nil and absent from
	// the canonical JSON otherwise.
	DP *DPSpec `json:"dp,omitempty"`
	// Prune is train.prune, magnitude pruning of the weights; nil (and
	// absent from the canonical JSON, so that keys written before it
	// existed stay as they were) for none, which sparsity 0 also means.
	Prune *compress.Prune `json:"prune,omitempty"`
	// Quantize is train.quantize, the weights stored in fewer bits (after
	// training, or during it too with QAT); nil and absent for float32.
	Quantize *compress.Quantize `json:"quantize,omitempty"`
	Seed     uint64             `json:"seed"`
}

// DefaultTailFraction is train.tail_fraction's default: the tail metrics
// average the evaluations of the last 5% of the steps.
const DefaultTailFraction = 0.05

// DefaultSpikeZ is train.spike_z's default: ZClip's z_thresh.
const DefaultSpikeZ = 2.5

// Spike returns the spike_z in force.
func (c Config) Spike() float64 {
	if c.SpikeZ == 0 {
		return DefaultSpikeZ
	}
	return c.SpikeZ
}

// TailEvals is how many evaluations train makes in the tail window when
// eval_every is 0 (end of each epoch), spread evenly over it.
const TailEvals = 5

// StepsPerEpoch is the optimizer steps of one epoch: ⌈train_size/batch_size⌉,
// or ⌊train_size/batch_size⌋ with drop_last.
func (c Config) StepsPerEpoch() int {
	n := c.Data.TrainSize / c.BatchSize
	if !c.DropLast && c.Data.TrainSize%c.BatchSize != 0 {
		n++
	}
	return n
}

// Steps is the optimizer steps of the whole run, if it does not diverge.
func (c Config) Steps() int { return c.Epochs * c.StepsPerEpoch() }

// StepLR is the learning rate of step (1-based): LR under LRSchedule.
func (c Config) StepLR(step int) float64 { return c.LRSchedule.LR(c.LR, step, c.Steps()) }

// Tail returns the tail fraction in force and the first step of the tail
// window: the last ⌈fraction·Steps⌉ steps, at least one.
func (c Config) Tail() (fraction float64, from int) {
	fraction = c.TailFraction
	if fraction == 0 {
		fraction = DefaultTailFraction
	}
	n := c.Steps()
	w := max(1, int(math.Ceil(fraction*float64(n))))
	return fraction, n - min(w, n) + 1
}

// Canonical returns c as canonical JSON: encoding/json of the struct, so the
// fields come in the struct's order, numbers in their shortest exact form,
// and no whitespace. The experiment's name is not part of it. Canonical
// panics if c holds a NaN or infinity, which no validated Config does.
func (c Config) Canonical() []byte {
	b, err := json.Marshal(c)
	if err != nil {
		panic("config: canonical JSON of an invalid config: " + err.Error())
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

// SettingKey returns the key of c without its seed: the hex SHA-256 of
// Canonical with its "seed" member left out. Configurations that differ
// only in their seed share it; statistics over seeds group by it.
func (c Config) SettingKey() string {
	js := c.Canonical()
	seed := []byte(`,"seed":` + strconv.FormatUint(c.Seed, 10))
	i := bytes.Index(js, seed)
	if i < 0 || bytes.Count(js, []byte(`"seed":`)) != 1 {
		panic("config: canonical JSON without exactly one seed: " + string(js))
	}
	js = append(js[:i:i], js[i+len(seed):]...)
	sum := sha256.Sum256(js)
	return hex.EncodeToString(sum[:])
}
