package grid

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/data"
	"cliplab/internal/nn"
)

// MaxConfigs is the most combinations a grid may have before its excludes
// are applied: a typo such as a 1000-value axis should fail fast, not fill a
// database. Raise it for a bigger study.
var MaxConfigs = 100_000

// Expand returns the grid's configurations: the product of its axes, minus
// the combinations an exclude entry matches, every one resolved and
// validated. The order is stable: an odometer over the axes seed, arch,
// seq_len, vocab, generator, modulus, operation, train_fraction, train_size, test_size,
// train_eval_size, optimizer, batch_size, epochs, eval_every, log_every,
// divergence_loss, drop_last, tail_fraction, spike_z, prune, quantize, lr, lr_schedule, clip — seed slowest,
// clip fastest — with each axis's values in file order (a clip entry's
// thresholds in theirs). Because Parse refuses duplicate values on an axis,
// no two configurations are equal.
//
// Errors (each positioned, all matching ErrInvalid): more than MaxConfigs
// combinations; an exclude entry that matches nothing (a typo, most likely);
// excludes that remove everything; a modular combination without a split
// (/ with a modulus that is not prime, a train_fraction leaving a set
// empty); a batch_size or train_eval_size larger
// than the train_size it is combined with; an lr_schedule whose warm-up is
// longer than the run or whose min_lr is above the lr.
func (e *Experiment) Expand() ([]config.Config, error) {
	if e == nil || e.gridNode == nil {
		return nil, errors.New("grid: Expand needs an Experiment from Parse")
	}
	l := &checker{errorList{path: e.Path, origin: e.origin}}
	total := 1
	for _, a := range e.axes {
		total *= len(a.vals)
		if total > MaxConfigs {
			l.errAt(e.gridNode, "grid", "more than %d combinations (grid.MaxConfigs); split the experiment", MaxConfigs)
			return nil, l.err()
		}
	}
	at := map[string]int{} // axis name → its index in e.axes
	for i, a := range e.axes {
		at[a.name] = i
	}
	_, trainEvalGiven := at["train_eval_size"]
	info, _ := config.Dataset(e.Dataset)

	plain := map[string]bool{} // keys of the configurations whose DP fields were dropped
	hits := make([]int, len(e.excludes))
	idx := make([]int, len(e.axes))
	out := make([]config.Config, 0, total)
	for range total {
		c := e.base
		for i, a := range e.axes {
			a.vals[idx[i]].set(&c)
		}
		c.Arch = cloneArch(e.Archs[c.ArchName])
		var unsized error // a modular combination without a split
		if info.Modular {
			unsized = modularSizes(&c)
		}
		if !trainEvalGiven {
			c.Data.TrainEvalSize = min(c.Data.TestSize, c.Data.TrainSize)
		}
		if c.BatchSize == fullBatch {
			c.BatchSize = c.Data.TrainSize
		}
		excluded := false
		for xi, x := range e.excludes {
			if x.matches(&c) {
				hits[xi]++
				excluded = true
			}
		}
		switch {
		case excluded:
		case unsized != nil:
			// At the value to change: / with a modulus that is not
			// prime, a fraction that leaves a set empty.
			field, msg, _ := strings.Cut(unsized.Error(), ": ")
			fallback := "operation"
			if field == "train_fraction" {
				fallback = "modulus"
			}
			e.report(l, idx, at, field, fallback, "%s", msg)
		default:
			e.private(l, &c, idx, at, plain)
			e.cross(l, &c, idx, at)
			out = append(out, c)
		}
		// Advance the odometer, last axis fastest.
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(e.axes[i].vals) {
				break
			}
			idx[i] = 0
		}
	}
	for xi, x := range e.excludes {
		if hits[xi] == 0 {
			l.errAt(x.node, x.field, "matches no configuration of the grid; check its values against the axes")
		}
	}
	if len(out) == 0 && total > 0 && !l.failed() {
		l.errAt(e.exclNode, "exclude", "the exclude entries remove all %d configurations", total)
	}
	if l.failed() {
		return nil, l.err()
	}
	seen := make(map[string]int, len(out))
	for i, c := range out {
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("%w: config %d (%s) passed the file's checks but not Validate: %w", errBug, i, c.Label(), err)
		}
		k := c.Key()
		if j, dup := seen[k]; dup {
			return nil, fmt.Errorf("%w: configs %d and %d have the same key", errBug, j, i)
		}
		seen[k] = i
	}
	return out, nil
}

// cross checks the constraints between fields of one combination, at the
// position of the value that the user would change.
func (e *Experiment) cross(l *checker, c *config.Config, idx []int, at map[string]int) {
	report := func(name, fallback, format string, args ...any) {
		e.report(l, idx, at, name, fallback, format, args...)
	}
	if c.BatchSize > c.Data.TrainSize {
		report("batch_size", "train_size", "batch_size %d is more than train_size %d", c.BatchSize, c.Data.TrainSize)
	}
	if c.Data.TrainEvalSize > c.Data.TrainSize {
		report("train_eval_size", "train_size", "train_eval_size %d is more than train_size %d", c.Data.TrainEvalSize, c.Data.TrainSize)
	}
	if msg := c.ScheduleFits(); msg != "" {
		report("lr_schedule", "epochs", "%s", msg)
	}
	if c.Prune != nil {
		if msg := c.Prune.Fits(c.Steps()); msg != "" {
			report("prune", "epochs", "%s", msg)
		}
	}
}

// dpAxes are the fields of config.DPSpec.
var dpAxes = []string{"noise_multiplier", "target_epsilon", "delta", "sampling"}

// private settles c's DP fields: defaults for a dp_ method, none for the
// other methods (the fields do not apply to them; a configuration that
// then repeats another is an error at the DP axis that makes it repeat).
func (e *Experiment) private(l *checker, c *config.Config, idx []int, at map[string]int, plain map[string]bool) {
	if !c.Private() {
		if c.DP == nil {
			return
		}
		c.DP = nil
		k := c.Key()
		if plain[k] {
			for _, name := range dpAxes {
				if i, ok := at[name]; ok && idx[i] > 0 {
					e.report(l, idx, at, name, "", "method %s adds no noise, so its configurations repeat for each value of %s; exclude them, e.g. exclude: [{method: %s, %s: %s}]",
						c.Clip.Method, name, c.Clip.Method, name, e.axes[i].vals[idx[i]].key)
					return
				}
			}
		}
		plain[k] = true
		return
	}
	setDP(func(d *config.DPSpec) {
		if _, ok := at["delta"]; !ok {
			d.Delta = config.DefaultDelta
		}
		if _, ok := at["sampling"]; !ok {
			d.Sampling = config.DefaultSampling
		}
	})(c)
	_, eps := at["target_epsilon"]
	if _, sigma := at["noise_multiplier"]; !sigma && !eps {
		return // Parse reported it
	}
	if err := c.Arch.PerExampleSupport(); err != nil {
		e.report(l, idx, at, "arch", "", "arch %s: method %s needs per-example gradients: %v", c.ArchName, c.Clip.Method, err)
		return
	}
	sigma, err := c.NoiseMultiplier()
	if err != nil {
		e.report(l, idx, at, "target_epsilon", "", "cannot be reached in the %d steps of batch_size %d over train_size %d (q = %s): %v",
			c.Steps(), c.BatchSize, c.Data.TrainSize, config.FormatFloat(c.SamplingRate()), err)
		return
	}
	if _, _, err := clipalgo.Sigmas(c.Clip, sigma, float64(c.BatchSize)); err != nil {
		name := "noise_multiplier"
		if eps {
			name = "target_epsilon"
		}
		e.report(l, idx, at, name, "clip", "method %s: %v", c.Clip.Method, err)
	}
}

// report puts a problem of one combination at the value of axis name (or
// of fallback, when name is not an axis) that the combination takes, or at
// grid: when neither is an axis.
func (e *Experiment) report(l *checker, idx []int, at map[string]int, name, fallback, format string, args ...any) {
	i, ok := at[name]
	if !ok {
		i, ok = at[fallback]
	}
	if !ok {
		l.errAt(e.gridNode, "grid", format, args...)
		return
	}
	a := e.axes[i]
	field := a.field
	if a.list {
		field = index(field, idx[i])
	}
	l.errAt(a.vals[idx[i]].node, field, format, args...)
}

// fullBatch stands for batch_size: full until Expand knows the train_size.
const fullBatch = -1

// modularSizes sets the train and test sizes of a modular combination from
// its modulus, operation and train_fraction (data.ModularSplit), or returns
// why they have none as "field: message".
func modularSizes(c *config.Config) error {
	train, test, err := data.ModularSplit(c.Data.Modulus, c.Data.Operation, c.Data.TrainFraction)
	if err != nil {
		return err
	}
	c.Data.TrainSize, c.Data.TestSize = train, test
	return nil
}

func cloneArch(a nn.ArchSpec) nn.ArchSpec {
	a.Hidden = slices.Clone(a.Hidden)
	a.Channels = slices.Clone(a.Channels)
	return a
}

// Load reads, parses and expands the experiment file at path. A file that
// cannot be read is an *Error naming it (errors.Is(err, fs.ErrNotExist)
// holds for a missing one).
func Load(path string) (*Experiment, []config.Config, error) { return LoadSet(path, nil) }

// LoadSet is Load with the command line's overrides (ParseSet), each
// "FIELD=VALUE" (-set train.epochs=2, -set grid.lr=0.1,0.3).
func LoadSet(path string, sets []string) (*Experiment, []config.Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error()
		}
		return nil, nil, &Error{Path: path, Msg: "cannot read the experiment file: " + msg, Err: err}
	}
	e, err := ParseSet(path, src, sets)
	if err != nil {
		return nil, nil, err
	}
	cfgs, err := e.Expand()
	if err != nil {
		return nil, nil, err
	}
	return e, cfgs, nil
}
