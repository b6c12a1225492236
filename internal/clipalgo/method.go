// Method declarations: each clipping method says once what it is called,
// what its threshold means, which options it takes (kind, default, check,
// doc), what it needs from the engine and how it is built. Parsing,
// validation, canonical JSON, labels, the docs tables and the report's order
// and palette all derive from these declarations.

package clipalgo

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Kind is the type of an option's value.
type Kind uint8

const (
	KindString Kind = iota // a string from Allowed
	KindText               // any scalar as written (norm_type: 2 is "2"), from Allowed
	KindBool
	KindFloat // a finite float64
	KindInt   // an int that fits in 32 bits
)

// String returns the kind's name as docs print it.
func (k Kind) String() string {
	switch k {
	case KindString, KindText:
		return "string"
	case KindBool:
		return "bool"
	case KindFloat:
		return "number"
	case KindInt:
		return "integer"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Needs says what a method needs from the engine besides the parameters.
type Needs uint8

const (
	// BatchGradients: the gradients of the batch's mean loss, one per
	// parameter tensor (Clipper).
	BatchGradients Needs = iota
	// PerExampleGradients: each example's gradient (in practice, its norms
	// per tensor and a reweighted sum): DP-SGD's clipping.
	PerExampleGradients
)

// String returns "batch gradients" or "per-example gradients".
func (n Needs) String() string {
	switch n {
	case BatchGradients:
		return "batch gradients"
	case PerExampleGradients:
		return "per-example gradients"
	}
	return fmt.Sprintf("Needs(%d)", uint8(n))
}

// Option declares one option of a method besides its threshold.
type Option struct {
	Name    string // as the experiment file and the canonical JSON spell it
	Kind    Kind
	Default any      // float64, int, string or bool, as Kind
	Allowed []string // String and Text: the values allowed
	// Check says what is wrong with a value of the right kind ("" if
	// nothing), e.g. "must be > 0"; nil accepts every value.
	Check func(v any) string
	// Normalize maps a value to the one stored (zclip's max_grad_norm: every
	// negative value to -1); nil stores the value as given.
	Normalize func(v any) any
	// Applies says whether the option takes effect given the spec's other
	// options (zclip's clip_option only in mode zscore); nil: always. An
	// option that does not apply is left out of the normalized Spec.
	Applies func(s Spec) bool
	Doc     string // one line
}

// Threshold declares what a method's one number is.
type Threshold struct {
	Takes bool   // false: the method takes no threshold (none)
	Unit  string // its name on a figure's axis: "norm c", "λ", "percentile"
	// Check says what is wrong with a threshold > 0 ("" if nothing).
	Check func(x float64) string
	Doc   string
}

// Method declares one clipping method.
type Method struct {
	Name      string
	Doc       string // one line
	Reference string // the implementation it is matched to
	Threshold Threshold
	Options   []Option // in the order the canonical JSON writes them
	Needs     Needs
	build     builder
}

// builder makes a method's Clipper in either precision (batch gradients),
// or its ExampleClipper (per-example gradients).
type builder struct {
	f32     func(Spec) Clipper[float32]
	f64     func(Spec) Clipper[float64]
	example func(Spec, DP) ExampleClipper
	// sigmas splits σ between the clipped sum and a count (Sigmas); nil:
	// all of it on the sum.
	sigmas func(s Spec, sigma, expected float64) (sum, count float64, err error)
}

// build pairs a method's constructor in float32 (training) and float64 (the
// golden tests).
func build[A Clipper[float32], B Clipper[float64]](f32 func(Spec) A, f64 func(Spec) B) builder {
	return builder{
		f32: func(s Spec) Clipper[float32] { return f32(s) },
		f64: func(s Spec) Clipper[float64] { return f64(s) },
	}
}

// Option returns m's option called name, or nil.
func (m *Method) Option(name string) *Option {
	for i := range m.Options {
		if m.Options[i].Name == name {
			return &m.Options[i]
		}
	}
	return nil
}

// OptionNames returns the names of m's options in declaration order.
func (m *Method) OptionNames() []string {
	out := make([]string, len(m.Options))
	for i, o := range m.Options {
		out[i] = o.Name
	}
	return out
}

// Lookup returns the declaration of the method called name.
func Lookup(name string) (*Method, bool) {
	for _, m := range registry {
		if m.Name == name {
			return m, true
		}
	}
	return nil, false
}

// Methods returns the declared methods in the order reports list them.
func Methods() []*Method { return slices.Clone(registry) }

// MethodNames returns the names of the declared methods, in order.
func MethodNames() []string {
	out := make([]string, len(registry))
	for i, m := range registry {
		out[i] = m.Name
	}
	return out
}

// OptionKinds returns every option name some method declares, with its
// kind (an option name has one kind across methods: TestOptionKinds).
func OptionKinds() map[string]Kind {
	out := map[string]Kind{}
	for _, m := range registry {
		for _, o := range m.Options {
			out[o.Name] = o.Kind
		}
	}
	return out
}

// Rank is the position of method name in Methods, or len(Methods()) for a
// name that is not declared.
func Rank(name string) int {
	for i, m := range registry {
		if m.Name == name {
			return i
		}
	}
	return len(registry)
}

// check runs o's checks on v, which must be of o's kind: the message says
// what is wrong, "" when nothing is.
func (o *Option) check(v any) string {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprintf("must be a finite number, got %v", x)
		}
	case string:
		if len(o.Allowed) > 0 && !slices.Contains(o.Allowed, x) {
			return fmt.Sprintf("%q is not allowed (allowed: %s)", x, strings.Join(o.Allowed, ", "))
		}
	}
	if o.Check != nil {
		return o.Check(v)
	}
	return ""
}

// kindOf reports whether v has the Go type of kind k.
func kindOf(v any, k Kind) bool {
	switch v.(type) {
	case string:
		return k == KindString || k == KindText
	case bool:
		return k == KindBool
	case float64:
		return k == KindFloat
	case int:
		return k == KindInt
	}
	return false
}

// zeroOf is the zero value of kind k.
func zeroOf(k Kind) any {
	switch k {
	case KindBool:
		return false
	case KindFloat:
		return 0.0
	case KindInt:
		return 0
	}
	return ""
}

// Checks shared by declarations.

func positiveCheck(v any) string {
	if x, ok := v.(float64); ok && x <= 0 {
		return fmt.Sprintf("must be > 0, got %v", x)
	}
	if n, ok := v.(int); ok && n <= 0 {
		return fmt.Sprintf("must be ≥ 1, got %d", n)
	}
	return ""
}

func openUnitCheck(v any) string {
	if x := v.(float64); x <= 0 || x >= 1 {
		return fmt.Sprintf("must be in (0, 1), got %v", x)
	}
	return ""
}

// variantOption is the final rescale of the global-norm methods: "torch"
// (clip_grad_norm_) or "optax" (clip_by_global_norm).
func variantOption(doc string) Option {
	return Option{Name: "variant", Kind: KindString, Default: "torch", Allowed: []string{"torch", "optax"}, Doc: doc}
}
