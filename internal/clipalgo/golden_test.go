package clipalgo

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
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
	for k, raw := range g.Params {
		var num float64
		var str string
		var flag bool
		switch k {
		case "max_norm", "clip_norm", "clip_value", "clipping", "threshold", "percentile", "clip_percentile", "z_thresh":
			if err := json.Unmarshal(raw, &num); err != nil {
				return s, fmt.Errorf("param %s: %w", k, err)
			}
			s.Threshold = num
		case "norm_type":
			if json.Unmarshal(raw, &num) == nil {
				if num != 2 {
					return s, fmt.Errorf("param norm_type: %v is not supported", num)
				}
				s.NormType = "2"
			} else if err := json.Unmarshal(raw, &str); err != nil {
				return s, fmt.Errorf("param norm_type: %w", err)
			} else {
				s.NormType = str
			}
		case "variant", "mode", "clip_option":
			if err := json.Unmarshal(raw, &str); err != nil {
				return s, fmt.Errorf("param %s: %w", k, err)
			}
			switch k {
			case "variant":
				s.Variant = str
			case "mode":
				s.Mode = str
			case "clip_option":
				s.ClipOption = str
			}
		case "eps", "alpha", "max_grad_norm", "clip_factor":
			if err := json.Unmarshal(raw, &num); err != nil {
				return s, fmt.Errorf("param %s: %w", k, err)
			}
			switch k {
			case "eps":
				s.Eps = num
			case "alpha":
				s.Alpha = num
			case "max_grad_norm":
				s.MaxGradNorm = num
			case "clip_factor":
				s.ClipFactor = num
			}
		case "warmup_steps":
			var n int
			if err := json.Unmarshal(raw, &n); err != nil {
				return s, fmt.Errorf("param %s: %w", k, err)
			}
			s.WarmupSteps = n
		case "exclude_last", "skip_update_on_spike":
			if err := json.Unmarshal(raw, &flag); err != nil {
				return s, fmt.Errorf("param %s: %w", k, err)
			}
			if k == "exclude_last" {
				s.ExcludeLast = flag
			} else {
				s.SkipUpdateOnSpike = flag
			}
		default:
			return s, fmt.Errorf("param %s: unknown to this test", k)
		}
	}
	return s, nil
}

func roleOf(name string) (Role, error) {
	for _, r := range []Role{Dense, Conv, Bias, Recurrent} {
		if r.String() == name {
			return r, nil
		}
	}
	return 0, fmt.Errorf("unknown role %q", name)
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
		if s.NormType == "inf" {
			got = normInf
		}
		if math.Abs(got-*g.TotalNorm) > tol {
			t.Errorf("total norm (%s) = %.17g, reference %.17g", s.Normalize().NormType, got, *g.TotalNorm)
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
