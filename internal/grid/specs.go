package grid

// The fields of clipalgo.Spec, nn.OptimSpec and nn.ArchSpec as the file
// spells them, how each is read, and the checks that keep a value from being
// silently replaced by Normalize.

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"cliplab/internal/clipalgo"
	"cliplab/internal/nn"

	"gopkg.in/yaml.v3"
)

type kind int

const (
	kString kind = iota // a YAML string
	kText               // any scalar, as written (norm_type: 2)
	kBool
	kFloat // a finite number
	kInt   // a whole number that fits an int32
	kInts  // a list of whole numbers, or one
)

// option is one field of a spec S: how to read it and where it lives.
type option[S any] struct {
	kind kind
	ptr  func(*S) any // *string, *bool, *float64, *int or *[]int
}

// clipOptions are clipalgo.Spec's yaml fields besides method and threshold.
// Which method takes which is clipalgo.Options's business.
var clipOptions = map[string]option[clipalgo.Spec]{
	"norm_type":            {kText, func(s *clipalgo.Spec) any { return &s.NormType }},
	"variant":              {kString, func(s *clipalgo.Spec) any { return &s.Variant }},
	"exclude_last":         {kBool, func(s *clipalgo.Spec) any { return &s.ExcludeLast }},
	"eps":                  {kFloat, func(s *clipalgo.Spec) any { return &s.Eps }},
	"alpha":                {kFloat, func(s *clipalgo.Spec) any { return &s.Alpha }},
	"warmup_steps":         {kInt, func(s *clipalgo.Spec) any { return &s.WarmupSteps }},
	"max_grad_norm":        {kFloat, func(s *clipalgo.Spec) any { return &s.MaxGradNorm }},
	"mode":                 {kString, func(s *clipalgo.Spec) any { return &s.Mode }},
	"clip_option":          {kString, func(s *clipalgo.Spec) any { return &s.ClipOption }},
	"clip_factor":          {kFloat, func(s *clipalgo.Spec) any { return &s.ClipFactor }},
	"skip_update_on_spike": {kBool, func(s *clipalgo.Spec) any { return &s.SkipUpdateOnSpike }},
}

// optimOptions are nn.OptimSpec's yaml fields besides name, and optimAllowed
// which optimizer takes which (from the comments of nn.OptimSpec: PyTorch's
// options of SGD, SGD with momentum, Adam and AdamW).
var optimOptions = map[string]option[nn.OptimSpec]{
	"momentum":     {kFloat, func(s *nn.OptimSpec) any { return &s.Momentum }},
	"nesterov":     {kBool, func(s *nn.OptimSpec) any { return &s.Nesterov }},
	"dampening":    {kFloat, func(s *nn.OptimSpec) any { return &s.Dampening }},
	"beta1":        {kFloat, func(s *nn.OptimSpec) any { return &s.Beta1 }},
	"beta2":        {kFloat, func(s *nn.OptimSpec) any { return &s.Beta2 }},
	"eps":          {kFloat, func(s *nn.OptimSpec) any { return &s.Eps }},
	"weight_decay": {kFloat, func(s *nn.OptimSpec) any { return &s.WeightDecay }},
}

var optimAllowed = map[string][]string{
	"sgd":      {"weight_decay"},
	"momentum": {"momentum", "nesterov", "dampening", "weight_decay"},
	"adam":     {"beta1", "beta2", "eps", "weight_decay"},
	"adamw":    {"beta1", "beta2", "eps", "weight_decay"},
}

// archFields are nn.ArchSpec's yaml fields besides type, and archAllowed
// which type takes which (from the comments of nn.ArchSpec).
var archFields = map[string]option[nn.ArchSpec]{
	"hidden":     {kInts, func(s *nn.ArchSpec) any { return &s.Hidden }},
	"activation": {kString, func(s *nn.ArchSpec) any { return &s.Activation }},
	"channels":   {kInts, func(s *nn.ArchSpec) any { return &s.Channels }},
	"kernel":     {kInt, func(s *nn.ArchSpec) any { return &s.Kernel }},
	"pool":       {kInt, func(s *nn.ArchSpec) any { return &s.Pool }},
	"cell":       {kString, func(s *nn.ArchSpec) any { return &s.Cell }},
}

// ArchTypes are the arch types the file accepts.
var ArchTypes = []string{"mlp", "cnn", "rnn"}

var archAllowed = map[string][]string{
	"mlp": {"type", "hidden", "activation"},
	"cnn": {"type", "channels", "kernel", "pool", "hidden", "activation"},
	"rnn": {"type", "hidden", "cell"},
}

// readOption reads node n into the field opt points at in s.
func readOption[S any](c *checker, s *S, opt option[S], n *yaml.Node, field string) bool {
	switch p := opt.ptr(s).(type) {
	case *string:
		var v string
		var ok bool
		if opt.kind == kText {
			v, ok = c.text(n, field)
		} else {
			v, ok = c.str(n, field)
		}
		*p = v
		return ok
	case *bool:
		v, ok := c.boolean(n, field)
		*p = v
		return ok
	case *float64:
		v, ok := c.num(n, field)
		*p = v
		return ok
	case *int:
		v, ok := c.integer(n, field, math.MinInt32, math.MaxInt32)
		*p = int(v)
		return ok
	case *[]int:
		n = resolve(n)
		elems := []*yaml.Node{n}
		if n != nil && n.Kind == yaml.SequenceNode {
			elems = n.Content
		}
		out := make([]int, 0, len(elems))
		ok := true
		for i, e := range elems {
			f := field
			if n.Kind == yaml.SequenceNode {
				f = index(field, i)
			}
			v, good := c.integer(e, f, math.MinInt32, math.MaxInt32)
			ok = ok && good
			out = append(out, int(v))
		}
		*p = out
		return ok
	}
	panic(fmt.Sprintf("grid: option of unexpected type %T", opt.ptr(s)))
}

// resolveSpec returns raw normalized, after checking that the result
// validates and that Normalize replaced no value the file gave (both
// reported at their field, or at n). On failure it returns raw, false.
func resolveSpec[S interface {
	Normalize() S
	Validate() error
}](c *checker, table map[string]option[S], given map[string]*yaml.Node, raw S, field string, n *yaml.Node) (S, bool) {
	norm := raw.Normalize()
	if err := norm.Validate(); err != nil {
		c.specErr(err, field, given, n)
		return raw, false
	}
	if !keptByNormalize(c, table, given, raw, norm, field) {
		return raw, false
	}
	return norm, true
}

// keptByNormalize reports every field given in the file whose value Normalize
// replaced: the spec types read a zero value as "unset", so an explicit 0
// (or "") would silently become the default, and the key would not say so.
func keptByNormalize[S any](c *checker, table map[string]option[S], given map[string]*yaml.Node, raw, norm S, field string) bool {
	ok := true
	for _, key := range sortedKeys(given) {
		opt, found := table[key]
		if !found {
			continue
		}
		a := reflect.ValueOf(opt.ptr(&raw)).Elem().Interface()
		b := reflect.ValueOf(opt.ptr(&norm)).Elem().Interface()
		if reflect.DeepEqual(a, b) || isEmptyInts(a) && isEmptyInts(b) {
			continue
		}
		za, zb := reflect.ValueOf(a).IsZero() || isEmptyInts(a), reflect.ValueOf(b).IsZero() || isEmptyInts(b)
		switch {
		case za:
			c.errAt(given[key], join(field, key), "%s means unset here and would become the default %s; leave it out, or give another value",
				valueText(a), valueText(b))
		case zb:
			c.errAt(given[key], join(field, key), "does not apply with the other settings of this entry and would be dropped; leave it out")
		default:
			c.errAt(given[key], join(field, key), "%s would be stored as %s; write %s", valueText(a), valueText(b), valueText(b))
		}
		ok = false
	}
	return ok
}

func isEmptyInts(v any) bool {
	s, ok := v.([]int)
	return ok && len(s) == 0
}

// specErr turns a "field: message" error from a spec's Validate into a
// positioned one: at the field's node if the file gave it, else at fallback.
func (c *checker) specErr(err error, field string, given map[string]*yaml.Node, fallback *yaml.Node) {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i > 0 && !strings.ContainsAny(msg[:i], " ,") {
		key := msg[:i]
		n := given[key]
		if n == nil {
			n = fallback
		}
		c.errAt(n, join(field, key), "%s", msg[i+2:])
		return
	}
	c.errAt(fallback, field, "%s", msg)
}

// valueText formats a value the way the file would write it.
func valueText(v any) string {
	switch x := v.(type) {
	case float64:
		return formatFloat(x)
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

func formatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// nonDefault lists "key=value" for each option of the table's keys (in the
// given order) where s differs from def: what a label must show.
func nonDefault[S any](table map[string]option[S], keys []string, s, def S) []string {
	var out []string
	for _, k := range keys {
		opt := table[k]
		a := reflect.ValueOf(opt.ptr(&s)).Elem().Interface()
		b := reflect.ValueOf(opt.ptr(&def)).Elem().Interface()
		if reflect.DeepEqual(a, b) {
			continue
		}
		if x, ok := a.(bool); ok && x {
			out = append(out, k)
			continue
		}
		out = append(out, k+"="+valueText(a))
	}
	return out
}
