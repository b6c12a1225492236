package config

import (
	"fmt"
	"strconv"

	"cliplab/internal/data"
	"cliplab/internal/nn"
)

// Axes are the names of the grid's axes, in the order a table shows them
// (AxisValue formats a configuration's value on each).
var Axes = []string{
	"arch", "seq_len", "vocab", "generator", "modulus", "operation", "train_fraction", "train_size", "test_size", "train_eval_size",
	"optimizer", "batch_size", "epochs", "eval_every", "log_every", "divergence_loss", "drop_last", "tail_fraction", "spike_z",
	"noise_multiplier", "target_epsilon", "delta", "sampling",
	"prune", "quantize", "lr", "lr_schedule", "clip", "seed",
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
	case "vocab":
		return strconv.Itoa(c.Data.Vocab)
	case "generator":
		if c.Data.Generator == "" {
			return data.Generators[0]
		}
		return c.Data.Generator
	case "modulus":
		return strconv.Itoa(c.Data.Modulus)
	case "operation":
		if c.Data.Operation == "" {
			return "none" // a dataset other than modular
		}
		return c.Data.Operation
	case "train_fraction":
		return FormatFloat(c.Data.TrainFraction)
	case "train_size":
		return strconv.Itoa(c.Data.TrainSize)
	case "test_size":
		return strconv.Itoa(c.Data.TestSize)
	case "train_eval_size":
		return strconv.Itoa(c.Data.TrainEvalSize)
	case "optimizer":
		return OptimLabel(c.Optimizer)
	case "batch_size":
		return strconv.Itoa(c.BatchSize)
	case "epochs":
		return strconv.Itoa(c.Epochs)
	case "eval_every":
		return strconv.Itoa(c.EvalEvery)
	case "log_every":
		return strconv.Itoa(c.LogEvery)
	case "drop_last":
		return strconv.FormatBool(c.DropLast)
	case "tail_fraction":
		f, _ := c.Tail()
		return FormatFloat(f)
	case "spike_z":
		return FormatFloat(c.Spike())
	case "noise_multiplier", "target_epsilon", "delta", "sampling":
		return c.dpAxisValue(axis)
	case "divergence_loss":
		return FormatFloat(c.DivergenceLoss)
	case "prune":
		if c.Prune == nil {
			return "none"
		}
		return c.Prune.String()
	case "quantize":
		if c.Quantize == nil {
			return "none"
		}
		return c.Quantize.String()
	case "lr":
		return FormatFloat(c.LR)
	case "lr_schedule":
		return c.LRSchedule.String()
	case "clip":
		return c.Clip.Label()
	case "seed":
		return strconv.FormatUint(c.Seed, 10)
	}
	return ""
}

// Label names c in a line: arch, clip, learning rate and seed, e.g.
// "mlp2 norm:0.5 lr=0.3 seed=1". Configurations of one grid that differ on
// other axes share a label; LabelAxes names those too.
func (c Config) Label() string {
	return fmt.Sprintf("%s %s lr=%s seed=%d", c.ArchName, c.Clip.Label(), FormatFloat(c.LR), c.Seed)
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

// OptimLabel is "sgd" or, with options off their defaults,
// "momentum,momentum=0.95,nesterov".
func OptimLabel(o nn.OptimSpec) string {
	out := o.Name
	def := nn.OptimSpec{Name: o.Name}.Normalize()
	for _, kv := range NonDefault(OptimFields, OptimAllowed[o.Name], o, def) {
		out += "," + kv
	}
	return out
}

// dpAxisValue is AxisValue of a DP field: "" for a configuration without
// DP, and for the one of noise_multiplier and target_epsilon not given.
func (c Config) dpAxisValue(axis string) string {
	d := c.DP
	if d == nil {
		return ""
	}
	switch axis {
	case "noise_multiplier":
		if d.TargetEpsilon == 0 {
			return FormatFloat(d.NoiseMultiplier)
		}
	case "target_epsilon":
		if d.TargetEpsilon > 0 {
			return FormatFloat(d.TargetEpsilon)
		}
	case "delta":
		return FormatFloat(d.Delta)
	case "sampling":
		return string(d.Sampling)
	}
	return ""
}
