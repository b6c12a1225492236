package clipalgo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Spec says which method clips and how, as the experiment file writes it
// (one entry of the grid's clip axis, with one threshold): the method's
// name, its threshold, and the options its declaration lists. Normalize fills
// in the defaults and drops the options that do not apply, so that a resolved
// Spec marshals to the same canonical JSON however the file spelled it.
//
// The zero Spec is not valid; build one as Spec{Method: "norm", Threshold:
// 1}.With("variant", "optax").
type Spec struct {
	Method string
	// Threshold is the method's one number (see its declaration's
	// Threshold.Doc): the clip value, a max norm, λ, a percentile, a z
	// threshold. Zero for a method that takes none.
	Threshold float64
	opts      map[string]any // option name → float64, int, string or bool
}

// With returns a copy of s with option name set to v (a float64, int, string
// or bool). It does not check v; Validate does.
func (s Spec) With(name string, v any) Spec {
	opts := make(map[string]any, len(s.opts)+1)
	for k, x := range s.opts {
		opts[k] = x
	}
	opts[name] = v
	s.opts = opts
	return s
}

// Given reports whether s holds a value for option name (set by With, read
// from JSON, or filled in by Normalize).
func (s Spec) Given(name string) bool {
	_, ok := s.opts[name]
	return ok
}

// value is option name's value in s, its default when s holds none. It
// panics if s's method does not declare the option.
func (s Spec) value(name string) any {
	if v, ok := s.opts[name]; ok {
		return v
	}
	m, ok := Lookup(s.Method)
	if !ok {
		panic("clipalgo: option " + name + " of unknown method " + s.Method)
	}
	o := m.Option(name)
	if o == nil {
		panic("clipalgo: method " + s.Method + " declares no option " + name)
	}
	return o.Default
}

// Option returns option name's value in s (its default when s holds none),
// and whether s's method declares the option.
func (s Spec) Option(name string) (v any, declared bool) {
	if v, ok := s.opts[name]; ok {
		return v, true
	}
	m, ok := Lookup(s.Method)
	if !ok || m.Option(name) == nil {
		return nil, false
	}
	return m.Option(name).Default, true
}

// Float returns float option name (its default when not given). It panics
// if the method declares no such option or it is of another kind.
func (s Spec) Float(name string) float64 { return s.value(name).(float64) }

// Int returns int option name, as Float.
func (s Spec) Int(name string) int { return s.value(name).(int) }

// Str returns string option name, as Float.
func (s Spec) Str(name string) string { return s.value(name).(string) }

// Bool returns bool option name, as Float.
func (s Spec) Bool(name string) bool { return s.value(name).(bool) }

// Normalize returns s with its threshold cleared if its method takes none,
// every option its method declares filled in (the value given, or the
// default) and normalized, and the options that do not apply, or that the
// method does not declare, dropped. A Spec of an unknown method is returned
// as it is. Normalize does not validate.
func (s Spec) Normalize() Spec {
	m, ok := Lookup(s.Method)
	if !ok {
		return s
	}
	out := Spec{Method: s.Method, opts: make(map[string]any, len(m.Options))}
	if m.Threshold.Takes {
		out.Threshold = s.Threshold
	}
	for _, o := range m.Options {
		v, given := s.opts[o.Name]
		if !given || !kindOf(v, o.Kind) {
			if given {
				out.opts[o.Name] = v // of the wrong kind: kept for Validate
				continue
			}
			v = o.Default
		}
		if o.Normalize != nil {
			v = o.Normalize(v)
		}
		out.opts[o.Name] = v
	}
	for _, o := range m.Options {
		if o.Applies != nil && !o.Applies(out) {
			delete(out.opts, o.Name)
		}
	}
	if len(out.opts) == 0 {
		out.opts = nil
	}
	return out
}

// Validate reports the first thing wrong with s as "field: message", naming
// what is allowed. Call it on a normalized Spec.
func (s Spec) Validate() error {
	m, ok := Lookup(s.Method)
	if !ok {
		return fmt.Errorf("method: unknown clip method %q (allowed: %s)", s.Method, strings.Join(MethodNames(), ", "))
	}
	if m.Threshold.Takes {
		x := s.Threshold
		if math.IsNaN(x) || math.IsInf(x, 0) || x <= 0 {
			return fmt.Errorf("threshold: method %s needs a threshold > 0, got %v", s.Method, x)
		}
		if m.Threshold.Check != nil {
			if msg := m.Threshold.Check(x); msg != "" {
				return fmt.Errorf("threshold: %s", msg)
			}
		}
	} else if s.Threshold != 0 {
		return fmt.Errorf("threshold: method %s takes no threshold", s.Method)
	}
	for _, name := range sortedNames(s.opts) {
		if m.Option(name) == nil {
			return fmt.Errorf("%s: method %s takes no option %q", name, s.Method, name)
		}
	}
	for i := range m.Options {
		o := &m.Options[i]
		v, given := s.opts[o.Name]
		if !given {
			continue
		}
		if !kindOf(v, o.Kind) {
			return fmt.Errorf("%s: expected a %s, got %T", o.Name, o.Kind, v)
		}
		if msg := o.check(v); msg != "" {
			return fmt.Errorf("%s: %s", o.Name, msg)
		}
	}
	return nil
}

// Equal reports whether s and o marshal to the same canonical JSON.
func (s Spec) Equal(o Spec) bool {
	a, errA := json.Marshal(s)
	b, errB := json.Marshal(o)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// MarshalJSON writes s as the canonical JSON of run keys: method, then
// threshold when not zero, then the options s holds in the order the method
// declares them. An option whose value and default are both the zero value
// (false, 0, "") is left out, so that an option added later with a zero
// default leaves every existing key as it was.
func (s Spec) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"method":`)
	if err := writeJSON(&b, s.Method); err != nil {
		return nil, err
	}
	if s.Threshold != 0 {
		b.WriteString(`,"threshold":`)
		if err := writeJSON(&b, s.Threshold); err != nil {
			return nil, err
		}
	}
	if len(s.opts) > 0 {
		m, ok := Lookup(s.Method)
		if !ok {
			return nil, fmt.Errorf("clipalgo: options of unknown method %q", s.Method)
		}
		for _, name := range sortedNames(s.opts) {
			if m.Option(name) == nil {
				return nil, fmt.Errorf("clipalgo: method %s declares no option %q", s.Method, name)
			}
		}
		for _, o := range m.Options {
			v, ok := s.opts[o.Name]
			if !ok || (v == zeroOf(o.Kind) && o.Default == zeroOf(o.Kind)) {
				continue
			}
			b.WriteString(`,"` + o.Name + `":`)
			if err := writeJSON(&b, v); err != nil {
				return nil, err
			}
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, v any) error {
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b.Write(js)
	return nil
}

// UnmarshalJSON reads a Spec as MarshalJSON writes it, the options that
// MarshalJSON leaves out for holding their zero default included, so that a
// normalized Spec reads back equal (reflect.DeepEqual) to itself. A field
// the method does not declare, or a value of the wrong kind, is an error;
// values are not otherwise checked (Validate does).
func (s *Spec) UnmarshalJSON(js []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(js, &fields); err != nil {
		return err
	}
	out := Spec{}
	raw, ok := fields["method"]
	if !ok {
		return errors.New("clip: no method")
	}
	if err := json.Unmarshal(raw, &out.Method); err != nil {
		return fmt.Errorf("clip.method: %w", err)
	}
	m, ok := Lookup(out.Method)
	if !ok {
		return fmt.Errorf("clip.method: unknown clip method %q", out.Method)
	}
	for _, name := range sortedNames(fields) {
		raw := fields[name]
		switch name {
		case "method":
			continue
		case "threshold":
			if err := json.Unmarshal(raw, &out.Threshold); err != nil {
				return fmt.Errorf("clip.threshold: %w", err)
			}
			continue
		}
		o := m.Option(name)
		if o == nil {
			return fmt.Errorf("clip: method %s takes no option %q", out.Method, name)
		}
		v, err := decodeKind(raw, o.Kind)
		if err != nil {
			return fmt.Errorf("clip.%s: %w", name, err)
		}
		if out.opts == nil {
			out.opts = map[string]any{}
		}
		out.opts[name] = v
	}
	var filled []*Option
	for i := range m.Options {
		o := &m.Options[i]
		if _, ok := out.opts[o.Name]; !ok && o.Default == zeroOf(o.Kind) {
			if out.opts == nil {
				out.opts = map[string]any{}
			}
			out.opts[o.Name] = o.Default
			filled = append(filled, o)
		}
	}
	for _, o := range filled {
		if o.Applies != nil && !o.Applies(out) {
			delete(out.opts, o.Name)
		}
	}
	if len(out.opts) == 0 {
		out.opts = nil
	}
	*s = out
	return nil
}

func decodeKind(raw json.RawMessage, k Kind) (any, error) {
	switch k {
	case KindString, KindText:
		var v string
		err := json.Unmarshal(raw, &v)
		return v, err
	case KindBool:
		var v bool
		err := json.Unmarshal(raw, &v)
		return v, err
	case KindFloat:
		var v float64
		err := json.Unmarshal(raw, &v)
		return v, err
	case KindInt:
		var v int32
		err := json.Unmarshal(raw, &v)
		return int(v), err
	}
	return nil, fmt.Errorf("kind %v", k)
}

// Label names s in a line: "none", "norm:0.5" or, with options off their
// defaults, "agc:0.01,exclude_last" (see NonDefault).
func (s Spec) Label() string {
	out := s.Method
	if m, ok := Lookup(s.Method); ok && m.Threshold.Takes {
		out += ":" + FormatFloat(s.Threshold)
	}
	for _, kv := range s.NonDefault() {
		out += "," + kv
	}
	return out
}

// NonDefault lists the options of s that differ from their defaults, in
// declaration order, as "name=value", or "name" alone for a true bool: what a
// label must show for a reader not to assume the reference method.
func (s Spec) NonDefault() []string {
	m, ok := Lookup(s.Method)
	if !ok {
		return nil
	}
	var out []string
	for _, o := range m.Options {
		v, given := s.opts[o.Name]
		if !given || v == o.Default {
			continue
		}
		if b, ok := v.(bool); ok && b {
			out = append(out, o.Name)
			continue
		}
		out = append(out, o.Name+"="+FormatValue(v))
	}
	return out
}

// FormatValue writes an option value as the experiment file would: numbers
// in their shortest form, strings as they are ("" for the empty string).
func FormatValue(v any) string {
	switch x := v.(type) {
	case float64:
		return FormatFloat(x)
	case int:
		return strconv.Itoa(x)
	case string:
		if x == "" {
			return `""`
		}
		return x
	}
	return fmt.Sprint(v)
}

// FormatFloat is x in its shortest round-trip form ("0.5", "1e-06").
func FormatFloat(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func sortedNames[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
