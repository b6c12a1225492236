package config

// The fields of nn.OptimSpec and nn.ArchSpec as the experiment file and the
// labels spell them.

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"cliplab/internal/compress"
	"cliplab/internal/nn"
)

// Kind is how a field is read.
type Kind int

const (
	KString Kind = iota // a YAML string
	KText               // any scalar, as written (norm_type: 2)
	KBool
	KFloat  // a finite number
	KInt    // a whole number that fits an int32
	KInts   // a list of whole numbers, or one
	KGroups // a list of parameter group names (nn.GroupNames), or one
)

// Field is one field of a spec S: how to read it and where it lives.
type Field[S any] struct {
	Kind Kind
	Ptr  func(*S) any // *string, *bool, *float64, *int or *[]int
}

// OptimFields are nn.OptimSpec's yaml fields besides name, and OptimAllowed
// which optimizer takes which (from the comments of nn.OptimSpec: PyTorch's
// options of SGD, SGD with momentum, Adam and AdamW).
var OptimFields = map[string]Field[nn.OptimSpec]{
	"momentum":     {KFloat, func(s *nn.OptimSpec) any { return &s.Momentum }},
	"nesterov":     {KBool, func(s *nn.OptimSpec) any { return &s.Nesterov }},
	"dampening":    {KFloat, func(s *nn.OptimSpec) any { return &s.Dampening }},
	"beta1":        {KFloat, func(s *nn.OptimSpec) any { return &s.Beta1 }},
	"beta2":        {KFloat, func(s *nn.OptimSpec) any { return &s.Beta2 }},
	"eps":          {KFloat, func(s *nn.OptimSpec) any { return &s.Eps }},
	"weight_decay": {KFloat, func(s *nn.OptimSpec) any { return &s.WeightDecay }},
	"no_decay":     {KGroups, func(s *nn.OptimSpec) any { return &s.NoDecay }},
}

// ScheduleFields are nn.Schedule's yaml fields (train.lr_schedule).
var ScheduleFields = map[string]Field[nn.Schedule]{
	"warmup": {KFloat, func(s *nn.Schedule) any { return &s.Warmup }},
	"decay":  {KString, func(s *nn.Schedule) any { return &s.Decay }},
	"min_lr": {KFloat, func(s *nn.Schedule) any { return &s.MinLR }},
}

// ScheduleKeys are ScheduleFields' keys in the order the file lists them.
var ScheduleKeys = []string{"warmup", "decay", "min_lr"}

// PruneFields are compress.Prune's yaml fields (train.prune), and
// PruneKeys their order in the file.
var PruneFields = map[string]Field[compress.Prune]{
	"method":   {KString, func(s *compress.Prune) any { return &s.Method }},
	"scope":    {KString, func(s *compress.Prune) any { return &s.Scope }},
	"sparsity": {KFloat, func(s *compress.Prune) any { return &s.Sparsity }},
	"schedule": {KString, func(s *compress.Prune) any { return &s.Schedule }},
	"start":    {KFloat, func(s *compress.Prune) any { return &s.Start }},
	"end":      {KFloat, func(s *compress.Prune) any { return &s.End }},
	"every":    {KInt, func(s *compress.Prune) any { return &s.Every }},
}

var PruneKeys = []string{"method", "scope", "sparsity", "schedule", "start", "end", "every"}

// QuantizeFields are compress.Quantize's yaml fields (train.quantize), and
// QuantizeKeys their order in the file.
var QuantizeFields = map[string]Field[compress.Quantize]{
	"bits":        {KInt, func(s *compress.Quantize) any { return &s.Bits }},
	"scheme":      {KString, func(s *compress.Quantize) any { return &s.Scheme }},
	"granularity": {KString, func(s *compress.Quantize) any { return &s.Granularity }},
	"qat":         {KBool, func(s *compress.Quantize) any { return &s.QAT }},
}

var QuantizeKeys = []string{"bits", "scheme", "granularity", "qat"}

// OptimAllowed says which options each optimizer takes.
var OptimAllowed = map[string][]string{
	"sgd":      {"weight_decay", "no_decay"},
	"momentum": {"momentum", "nesterov", "dampening", "weight_decay", "no_decay"},
	"adam":     {"beta1", "beta2", "eps", "weight_decay", "no_decay"},
	"adamw":    {"beta1", "beta2", "eps", "weight_decay", "no_decay"},
}

// ArchFields are nn.ArchSpec's yaml fields besides type, and ArchAllowed
// which type takes which (from the comments of nn.ArchSpec).
var ArchFields = map[string]Field[nn.ArchSpec]{
	"hidden":     {KInts, func(s *nn.ArchSpec) any { return &s.Hidden }},
	"activation": {KString, func(s *nn.ArchSpec) any { return &s.Activation }},
	"channels":   {KInts, func(s *nn.ArchSpec) any { return &s.Channels }},
	"kernel":     {KInt, func(s *nn.ArchSpec) any { return &s.Kernel }},
	"pool":       {KInt, func(s *nn.ArchSpec) any { return &s.Pool }},
	"cell":       {KString, func(s *nn.ArchSpec) any { return &s.Cell }},
	"radius":     {KFloat, func(s *nn.ArchSpec) any { return &s.Radius }},
	// The transformer's.
	"layers":      {KInt, func(s *nn.ArchSpec) any { return &s.Layers }},
	"d_model":     {KInt, func(s *nn.ArchSpec) any { return &s.DModel }},
	"heads":       {KInt, func(s *nn.ArchSpec) any { return &s.Heads }},
	"d_ff":        {KInt, func(s *nn.ArchSpec) any { return &s.DFF }},
	"context":     {KInt, func(s *nn.ArchSpec) any { return &s.Context }},
	"tied":        {KBool, func(s *nn.ArchSpec) any { return &s.Tied }},
	"init":        {KString, func(s *nn.ArchSpec) any { return &s.Init }},
	"approximate": {KString, func(s *nn.ArchSpec) any { return &s.Approximate }},
	"trim":        {KBool, func(s *nn.ArchSpec) any { return &s.Trim }},
}

// ArchTypes are the arch types the file accepts.
var ArchTypes = []string{"mlp", "cnn", "rnn", "transformer"}

var ArchAllowed = map[string][]string{
	"mlp":         {"type", "hidden", "activation"},
	"cnn":         {"type", "channels", "kernel", "pool", "hidden", "activation"},
	"rnn":         {"type", "hidden", "cell", "init", "radius"},
	"transformer": {"type", "layers", "d_model", "heads", "d_ff", "context", "tied", "init", "approximate", "trim"},
}

// ValueText formats a value the way the file would write it.
func ValueText(v any) string {
	switch x := v.(type) {
	case float64:
		return FormatFloat(x)
	case string:
		if x == "" {
			return `""`
		}
		return x
	case []int:
		parts := make([]string, len(x))
		for i, n := range x {
			parts[i] = strconv.Itoa(n)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// FormatFloat is x in its shortest round-trip form.
func FormatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// NonDefault lists "key=value" for each option of the table's keys (in the
// given order) where s differs from def: what a label must show.
func NonDefault[S any](table map[string]Field[S], keys []string, s, def S) []string {
	var out []string
	for _, k := range keys {
		opt := table[k]
		a := reflect.ValueOf(opt.Ptr(&s)).Elem().Interface()
		b := reflect.ValueOf(opt.Ptr(&def)).Elem().Interface()
		if reflect.DeepEqual(a, b) {
			continue
		}
		if x, ok := a.(bool); ok && x {
			out = append(out, k)
			continue
		}
		out = append(out, k+"="+ValueText(a))
	}
	return out
}
