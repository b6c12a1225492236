package grid

// The fields of clipalgo.Spec, nn.OptimSpec and nn.ArchSpec as the file
// spells them, how each is read, and the checks that keep a value from being
// silently replaced by Normalize.

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"cliplab/internal/config"
	"cliplab/internal/nn"

	"gopkg.in/yaml.v3"
)

// readOption reads node n into the field opt points at in s.
func readOption[S any](c *checker, s *S, opt config.Field[S], n *yaml.Node, field string) bool {
	switch p := opt.Ptr(s).(type) {
	case *string:
		var v string
		var ok bool
		if opt.Kind == config.KText {
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
	case *nn.Groups:
		n = resolve(n)
		elems := []*yaml.Node{n}
		if n != nil && n.Kind == yaml.SequenceNode {
			elems = n.Content
		}
		var g nn.Groups
		ok := true
		for i, e := range elems {
			f := field
			if n.Kind == yaml.SequenceNode {
				f = index(field, i)
			}
			name, good := c.text(e, f)
			if !good {
				ok = false
				continue
			}
			x, known := nn.ParseGroup(name)
			if !known {
				c.errAt(e, f, "unknown parameter group %q (allowed: %s)", name, strings.Join(nn.GroupNames, ", "))
				ok = false
				continue
			}
			if g&x != 0 {
				c.errAt(e, f, "%s is listed twice", name)
				ok = false
			}
			g |= x
		}
		*p = g
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
	panic(fmt.Sprintf("grid: option of unexpected type %T", opt.Ptr(s)))
}

// readFields reads the pairs of a mapping into raw by table, whose keys
// (for the message) are keys: an unknown key is an error at it. It returns
// the nodes given, by key, and whether every pair read without error.
func readFields[S any](c *checker, pairs []pair, table map[string]config.Field[S], keys []string, raw *S, field string) (map[string]*yaml.Node, bool) {
	given := map[string]*yaml.Node{}
	before := len(c.errs)
	for _, kv := range pairs {
		opt, known := table[kv.key]
		if !known {
			c.errAt(kv.keyNode, join(field, kv.key), "unknown field %q (allowed: %s)", kv.key, strings.Join(keys, ", "))
			continue
		}
		given[kv.key] = kv.val
		readOption(c, raw, opt, kv.val, join(field, kv.key))
	}
	return given, len(c.errs) == before
}

// resolveSpec returns raw normalized, after checking that the result
// validates and that Normalize replaced no value the file gave (both
// reported at their field, or at n). On failure it returns raw, false.
func resolveSpec[S interface {
	Normalize() S
	Validate() error
}](c *checker, table map[string]config.Field[S], given map[string]*yaml.Node, raw S, field string, n *yaml.Node) (S, bool) {
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
func keptByNormalize[S any](c *checker, table map[string]config.Field[S], given map[string]*yaml.Node, raw, norm S, field string) bool {
	ok := true
	for _, key := range sortedKeys(given) {
		opt, found := table[key]
		if !found {
			continue
		}
		a := reflect.ValueOf(opt.Ptr(&raw)).Elem().Interface()
		b := reflect.ValueOf(opt.Ptr(&norm)).Elem().Interface()
		if reflect.DeepEqual(a, b) || isEmptyInts(a) && isEmptyInts(b) {
			continue
		}
		za, zb := reflect.ValueOf(a).IsZero() || isEmptyInts(a), reflect.ValueOf(b).IsZero() || isEmptyInts(b)
		switch {
		case za:
			c.errAt(given[key], join(field, key), "%s means unset here and would become the default %s; leave it out, or give another value",
				config.ValueText(a), config.ValueText(b))
		case zb:
			c.errAt(given[key], join(field, key), "does not apply with the other settings of this entry and would be dropped; leave it out")
		default:
			c.errAt(given[key], join(field, key), "%s would be stored as %s; write %s", config.ValueText(a), config.ValueText(b), config.ValueText(b))
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
