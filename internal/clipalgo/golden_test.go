package clipalgo

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"cliplab/internal/tensor"
)

// goldenFile is one clipping call of a reference library, as
// shared/golden/clip/README.md describes it.
type goldenFile struct {
	Method    string                     `json:"method"`
	Params    map[string]json.RawMessage `json:"params"`
	Source    string                     `json:"source"`
	Layout    string                     `json:"layout"`
	TotalNorm *float64                   `json:"total_norm"`
	Tensors   []struct {
		Name    string    `json:"name"`
		Role    string    `json:"role"`
		Shape   []int     `json:"shape"`
		Last    bool      `json:"last"`
		Param   []float64 `json:"param"`
		Grad    []float64 `json:"grad"`
		Clipped []float64 `json:"clipped"`
	} `json:"tensors"`
}

// goldenDir is where the golden vectors live: $CLIPALGO_GOLDEN, or the shared
// folder beside the repository.
func goldenDir() string {
	if d := os.Getenv("CLIPALGO_GOLDEN"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "golden", "clip")
}

// specOf turns a golden file's method and params into a Spec. The threshold
// goes by the name the reference library gives it.
func specOf(g *goldenFile) (Spec, error) {
	s := Spec{Method: g.Method}
	m, ok := Lookup(g.Method)
	if !ok {
		return s, fmt.Errorf("unknown method %q", g.Method)
	}
	for k, raw := range g.Params {
		switch k {
		case "max_norm", "clip_norm", "clip_value", "clipping", "threshold", "percentile", "clip_percentile", "z_thresh":
			if err := json.Unmarshal(raw, &s.Threshold); err != nil {
				return s, fmt.Errorf("param %s: %w", k, err)
			}
			continue
		}
		o := m.Option(k)
		if o == nil && k == "variant" {
			continue // names the reference library; value and block_rms have one rule
		}
		if o == nil {
			return s, fmt.Errorf("param %s: not an option of %s", k, g.Method)
		}
		if o.Kind == KindText {
			// PyTorch's norm_type is a number: 2 is "2".
			var num float64
			if json.Unmarshal(raw, &num) == nil {
				raw = json.RawMessage(strconv.Quote(strconv.FormatFloat(num, 'g', -1, 64)))
			}
		}
		v, err := decodeKind(raw, o.Kind)
		if err != nil {
			return s, fmt.Errorf("param %s: %w", k, err)
		}
		s = s.With(k, v)
	}
	return s, nil
}

// roleOf reads a golden file's role names (../shared/golden/clip/README.md).
func roleOf(name string) (tensor.Role, error) {
	r, ok := map[string]tensor.Role{"dense": tensor.DenseWeight, "conv": tensor.ConvWeight,
		"bias": tensor.Bias, "recurrent": tensor.RecurrentWeight}[name]
	if !ok {
		return 0, fmt.Errorf("unknown role %q", name)
	}
	return r, nil
}

// runGolden runs one golden file in float64 and compares every output
// element at absolute tolerance tol.
func runGolden(t *testing.T, path string, tol float64) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatalf("parse: %v", err)
	}
	if g.Layout != "" && g.Layout != "pytorch" {
		t.Fatalf("layout %q: only pytorch is supported", g.Layout)
	}
	s, err := specOf(&g)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New[float64](s)
	if err != nil {
		t.Fatalf("New(%+v): %v", s, err)
	}
	ts := make([]Tensor[float64], len(g.Tensors))
	for i, gt := range g.Tensors {
		r, err := roleOf(gt.Role)
		if err != nil {
			t.Fatalf("tensor %s: %v", gt.Name, err)
		}
		if len(gt.Clipped) != len(gt.Grad) {
			t.Fatalf("tensor %s: %d clipped for %d grad elements", gt.Name, len(gt.Clipped), len(gt.Grad))
		}
		ts[i] = Tensor[float64]{Name: gt.Name, Role: r, Shape: gt.Shape, Last: gt.Last,
			Param: gt.Param, Grad: append([]float64(nil), gt.Grad...)}
	}
	inf := math.Inf(1)
	normBefore := GlobalNorm(ts, 2)
	normInf := GlobalNorm(ts, inf)
	st, err := c.Clip(ts)
	if err != nil {
		t.Fatalf("Clip: %v", err)
	}
	if math.Abs(st.NormBefore-normBefore) > tol {
		t.Errorf("NormBefore = %v, want GlobalNorm %v", st.NormBefore, normBefore)
	}
	if g.TotalNorm != nil {
		got := st.NormBefore
		nt, _ := s.Normalize().Option("norm_type")
		if nt == "inf" {
			got = normInf
		}
		if math.Abs(got-*g.TotalNorm) > tol {
			t.Errorf("total norm (%v) = %.17g, reference %.17g", nt, got, *g.TotalNorm)
		}
	}
	bad := 0
	for i, gt := range g.Tensors {
		for j, want := range gt.Clipped {
			if d := math.Abs(ts[i].Grad[j] - want); !(d <= tol) {
				if bad < 10 {
					t.Errorf("%s[%d] = %.17g, reference %.17g (|Δ| %.3g)", gt.Name, j, ts[i].Grad[j], want, d)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d elements off by more than %g", bad, tol)
	}
	if after := GlobalNorm(ts, 2); math.Abs(st.NormAfter-after) > tol {
		t.Errorf("NormAfter = %v, want GlobalNorm after %v", st.NormAfter, after)
	}
}

// TestGolden holds every method to the golden vectors that PyTorch and Optax
// produced (see the README.md in that folder), at absolute tolerance 1e-9.
func TestGolden(t *testing.T) {
	dir := goldenDir()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no *.json golden files in %s (set CLIPALGO_GOLDEN)", dir)
	}
	sort.Strings(files)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".json"), func(t *testing.T) {
			runGolden(t, f, 1e-9)
		})
	}
}
