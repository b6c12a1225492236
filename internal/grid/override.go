package grid

// Overrides from the command line (runner run/plan -set FIELD=VALUE, after
// Hydra's habit): each changes the parsed YAML document before it is read,
// so the same checks apply, and errors in what an override brought name it.

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"cliplab/internal/nn"

	"gopkg.in/yaml.v3"
)

// A field path of -set: dotted names, each with optional [index]es.
var (
	setNameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	setIndexRE = regexp.MustCompile(`\[(\d+)\]`)
)

// setStep is one step of a -set field path: a mapping key, then indexes
// into the list it holds.
type setStep struct {
	key string
	idx []int
}

// ParseSet is Parse with overrides applied to the document first, each
// "FIELD=VALUE" (see LoadSet). The experiment's Source is then the
// document with its overrides, as YAML, headed by a comment naming the file
// and the overrides: a file that Parse reads to the same configurations.
func ParseSet(path string, src []byte, sets []string) (*Experiment, error) {
	p := &parser{checker: checker{errorList{path: path}}}
	root := p.document(src)
	if root == nil {
		return nil, p.err()
	}
	if len(sets) > 0 {
		for _, s := range sets {
			p.override(root, s)
		}
		if p.failed() {
			return nil, p.err()
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "# %s with runner -set overrides:\n", path)
		for _, s := range sets {
			fmt.Fprintf(&b, "#   -set %s\n", s)
		}
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(root); err != nil {
			p.add(&Error{Path: path, Msg: "write the experiment with its overrides: " + err.Error()})
			return nil, p.err()
		}
		src = b.Bytes()
	}
	e := &Experiment{Path: path, Source: bytes.Clone(src), Sets: sets, origin: p.origin}
	e.Archs = map[string]nn.ArchSpec{}
	p.experiment(e, root)
	if p.failed() {
		return nil, p.err()
	}
	return e, nil
}

// override applies one "FIELD=VALUE" to the document root: FIELD is a
// dotted path of keys (train.epochs, grid.lr, archs.mlp2.hidden), a key
// optionally followed by [i] to pick the i-th element of the list it holds
// (grid.clip[1].threshold). Sections and keys that are missing are added.
// VALUE is YAML (2, [64, 64], {method: norm, threshold: 1}); a VALUE with
// a comma that is not already a list, mapping or quoted string is a list
// (grid.lr=0.1,0.3 is [0.1, 0.3]). Setting a field of grid:, train: or
// data: removes it from the other two, so that -set grid.lr=0.1,0.3 turns
// a file's train.lr into an axis. Every node the override adds is recorded
// in p.origin, so that errors in it name the override.
func (p *parser) override(root *yaml.Node, set string) {
	where := p.path + " -set " + set
	bad := func(format string, a ...any) {
		p.add(&Error{Path: where, Msg: fmt.Sprintf(format, a...)})
	}
	field, value, ok := strings.Cut(set, "=")
	if !ok {
		bad("want -set FIELD=VALUE, e.g. -set train.epochs=2 or -set grid.lr=0.1,0.3")
		return
	}
	var steps []setStep
	for _, part := range strings.Split(field, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if rest != "" {
			rest = "[" + rest
		}
		if !setNameRE.MatchString(name) {
			bad("field %q: want dotted names such as train.epochs or grid.clip[0].threshold", field)
			return
		}
		st := setStep{key: name}
		for _, m := range setIndexRE.FindAllStringSubmatch(rest, -1) {
			i, err := strconv.Atoi(m[1])
			if err != nil {
				bad("field %q: index %s out of range", field, m[1])
				return
			}
			st.idx = append(st.idx, i)
		}
		if setIndexRE.ReplaceAllString(rest, "") != "" {
			bad("field %q: want dotted names such as train.epochs or grid.clip[0].threshold", field)
			return
		}
		steps = append(steps, st)
	}
	t := strings.TrimSpace(value)
	if strings.Contains(t, ",") && !strings.ContainsAny(t[:1], `[{"'`) {
		value = "[" + value + "]"
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(value), &doc); err != nil {
		bad("value %q is not YAML: %s", value, strings.TrimPrefix(err.Error(), "yaml: "))
		return
	}
	val := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
	if len(doc.Content) > 0 {
		val = doc.Content[0]
	}
	if p.origin == nil {
		p.origin = map[*yaml.Node]string{}
	}
	mark := func(n *yaml.Node) {
		var walk func(*yaml.Node)
		walk = func(n *yaml.Node) {
			p.origin[n] = where
			for _, c := range n.Content {
				walk(c)
			}
		}
		walk(n)
	}
	mark(val)

	cur, at := root, "" // at: the path of cur
	for i, st := range steps {
		if cur.Kind != yaml.MappingNode {
			what := at
			if what == "" {
				what = "the document"
			}
			bad("%s is %s, not a section with fields", what, describe(cur))
			return
		}
		at = join(at, st.key)
		lastKey := i == len(steps)-1
		if lastKey && len(st.idx) == 0 && i == 1 && isAxisSection(steps[0].key) {
			for _, other := range []string{"grid", "train", "data"} {
				if sec := lookup(root, other); other != steps[0].key && sec != nil && sec.Kind == yaml.MappingNode {
					remove(sec, st.key)
				}
			}
		}
		k := -1
		for j := 0; j+1 < len(cur.Content); j += 2 {
			if cur.Content[j].Kind == yaml.ScalarNode && cur.Content[j].Value == st.key {
				k = j
			}
		}
		if k < 0 {
			if len(st.idx) > 0 {
				bad("%s is not in the file: an index needs the list it picks from", at)
				return
			}
			key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: st.key}
			mark(key)
			cur.Content = append(cur.Content, key, nil)
			k = len(cur.Content) - 2
		}
		if lastKey && len(st.idx) == 0 {
			cur.Content[k+1] = val
			return
		}
		next := resolve(cur.Content[k+1])
		if isNull(next) && len(st.idx) == 0 {
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			mark(next)
			cur.Content[k+1] = next
		}
		for n, ix := range st.idx {
			if next.Kind != yaml.SequenceNode {
				bad("%s is %s, not a list", at, describe(next))
				return
			}
			if ix >= len(next.Content) {
				bad("%s has %d elements: no index %d", at, len(next.Content), ix)
				return
			}
			if lastKey && n == len(st.idx)-1 {
				next.Content[ix] = val
				return
			}
			at += "[" + strconv.Itoa(ix) + "]"
			next = resolve(next.Content[ix])
		}
		cur = next
	}
}

// isAxisSection reports whether sec is one of the sections that give the
// fields of a configuration (grid:, train:, data:).
func isAxisSection(sec string) bool { return sec == "grid" || sec == "train" || sec == "data" }

// lookup returns the value of key in mapping n (resolved), or nil.
func lookup(n *yaml.Node, key string) *yaml.Node {
	for j := 0; j+1 < len(n.Content); j += 2 {
		if n.Content[j].Kind == yaml.ScalarNode && n.Content[j].Value == key {
			return resolve(n.Content[j+1])
		}
	}
	return nil
}

// remove deletes key from mapping n.
func remove(n *yaml.Node, key string) {
	for j := 0; j+1 < len(n.Content); j += 2 {
		if n.Content[j].Kind == yaml.ScalarNode && n.Content[j].Value == key {
			n.Content = append(n.Content[:j], n.Content[j+2:]...)
			return
		}
	}
}
