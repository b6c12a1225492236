package nn

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// TestBLASCore: after EnsureBLAS (TestMain), OpenBLAS must not be on its
// Prescott fallback on a CPU with AVX; with OPENBLAS_CORETYPE unset it runs
// the widest kernels the CPU has.
func TestBLASCore(t *testing.T) {
	core, want := BLASCore(), cpuCore()
	t.Logf("OpenBLAS core %s, CPU calls for %s; %s", core, want, BLASConfig())
	if want != "" && strings.EqualFold(core, "Prescott") {
		t.Fatalf("OpenBLAS runs its Prescott kernels on a CPU that supports %s", want)
	}
}

func TestReexecCore(t *testing.T) {
	for _, tc := range []struct {
		env, current, want string
		again              bool
		reexec             string
	}{
		{"", "Prescott", "SkylakeX", false, "SkylakeX"},
		{"", "Haswell", "SkylakeX", false, "SkylakeX"},
		{"", "Cooperlake", "SkylakeX", false, ""}, // as wide as SkylakeX
		{"", "SkylakeX", "SkylakeX", false, ""},
		{"", "Prescott", "Haswell", false, "Haswell"},
		{"", "Zen", "Haswell", false, ""},
		{"", "Prescott", "SkylakeX", true, ""},        // never loop
		{"Haswell", "Haswell", "SkylakeX", false, ""}, // set by hand: respected
		{"", "Prescott", "", false, ""},               // no AVX: OpenBLAS knows best
	} {
		if got := reexecCore(tc.env, tc.current, tc.want, tc.again); got != tc.reexec {
			t.Errorf("reexecCore(%q, %q, %q, %v) = %q, want %q", tc.env, tc.current, tc.want, tc.again, got, tc.reexec)
		}
	}
}

// TestSgemm checks the cblas wrapper's transposes and strides against a
// direct sum.
func TestSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		ta, tb  bool
		m, n, k int
	}{{false, false, 3, 4, 5}, {true, false, 3, 4, 5}, {false, true, 2, 7, 3}, {true, true, 4, 1, 6}} {
		lda, ldb, ldc := tc.k+1, tc.n+2, tc.n+3 // padded rows
		if tc.ta {
			lda = tc.m + 1
		}
		if tc.tb {
			ldb = tc.k + 2
		}
		a, b := randu(rng, 10*lda, 1), randu(rng, 10*ldb, 1)
		c := randu(rng, tc.m*ldc, 1)
		c0 := append([]float32(nil), c...)
		sgemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, 2, a, lda, b, ldb, 0.5, c, ldc)
		for i := 0; i < tc.m; i++ {
			for j := 0; j < ldc; j++ {
				want := float64(c0[i*ldc+j])
				if j < tc.n {
					s := 0.0
					for p := 0; p < tc.k; p++ {
						av, bv := a[i*lda+p], b[p*ldb+j]
						if tc.ta {
							av = a[p*lda+i]
						}
						if tc.tb {
							bv = b[j*ldb+p]
						}
						s += float64(av) * float64(bv)
					}
					want = 2*s + 0.5*want
				}
				if math.Abs(float64(c[i*ldc+j])-want) > 1e-5 {
					t.Fatalf("%+v: c[%d,%d] = %v, want %v", tc, i, j, c[i*ldc+j], want)
				}
			}
		}
	}
}

// TestEnsureBLASChildThreads: after EnsureBLAS, child processes get
// OPENBLAS_NUM_THREADS=1 when it was unset (OpenBLAS would start threads
// at load that only spin), and keep a value set by hand. TestMain's
// EnsureBLAS set OPENBLAS_CORETYPE, so calling it again never re-executes.
func TestEnsureBLASChildThreads(t *testing.T) {
	if os.Getenv("OPENBLAS_CORETYPE") == "" {
		t.Skip("OPENBLAS_CORETYPE unset after TestMain: EnsureBLAS could re-execute the test")
	}
	t.Setenv("OPENBLAS_NUM_THREADS", "")
	os.Unsetenv("OPENBLAS_NUM_THREADS")
	EnsureBLAS()
	if got := os.Getenv("OPENBLAS_NUM_THREADS"); got != "1" {
		t.Errorf("OPENBLAS_NUM_THREADS unset: children get %q, want 1", got)
	}
	t.Setenv("OPENBLAS_NUM_THREADS", "3")
	EnsureBLAS()
	if got := os.Getenv("OPENBLAS_NUM_THREADS"); got != "3" {
		t.Errorf("OPENBLAS_NUM_THREADS=3: children get %q, want 3", got)
	}
}
