package privacy

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
)

// normalCDF is Φ(x).
func normalCDF(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }

// TestNoiseMoments: the noise added with standard deviation σC has mean 0
// and standard deviation σC within sampling error (4 standard errors: SE of
// the mean σC/√n, of the standard deviation σC/√(2n)), no lag-1
// correlation, and the normal distribution by Kolmogorov–Smirnov (D below
// 1.95/√n, its 0.1% critical value).
func TestNoiseMoments(t *testing.T) {
	const n = 1 << 20
	for _, c := range []struct {
		sigma, clip float64
		step        uint64
	}{{1.0, 1.0, 0}, {0.7, 0.1, 17}, {4, 2.5, 1 << 40}} {
		std := c.sigma * c.clip
		x := make([]float64, n)
		AddNoise(x, Noise{Seed: 42}, std, c.step, 0)
		var sum, sumSq, lag float64
		for i, v := range x {
			sum += v
			sumSq += v * v
			if i > 0 {
				lag += v * x[i-1]
			}
		}
		mean := sum / n
		sd := math.Sqrt(sumSq/n - mean*mean)
		corr := (lag / (n - 1)) / (sd * sd)
		if math.Abs(mean) > 4*std/math.Sqrt(n) {
			t.Errorf("σC=%v step %d: mean %.3g, more than 4 SE (%.3g) from 0", std, c.step, mean, std/math.Sqrt(n))
		}
		if math.Abs(sd-std) > 4*std/math.Sqrt(2*n) {
			t.Errorf("σC=%v step %d: sd %.6g, more than 4 SE (%.3g) from %v", std, c.step, sd, std/math.Sqrt(2*n), std)
		}
		if math.Abs(corr) > 4/math.Sqrt(n) {
			t.Errorf("σC=%v step %d: lag-1 correlation %.3g", std, c.step, corr)
		}
		slices.Sort(x)
		d := 0.0
		for i, v := range x {
			f := normalCDF(v / std)
			d = max(d, math.Abs(f-float64(i)/n), math.Abs(f-float64(i+1)/n))
		}
		if d > 1.95/math.Sqrt(n) {
			t.Errorf("σC=%v step %d: Kolmogorov–Smirnov D = %.3g > %.3g", std, c.step, d, 1.95/math.Sqrt(n))
		}
		t.Logf("σC=%v: mean %.2e, sd %.6f, lag-1 corr %.1e, KS D %.2e", std, mean, sd, corr, d)
	}
}

// TestNoiseSplits: the noise of a coordinate depends on (seed, stream,
// step, coordinate) only: a vector filled in one call, in random pieces
// out of order, and in pieces on several goroutines is bit-identical, in
// float32 as well (one rounding of the float64 sum).
func TestNoiseSplits(t *testing.T) {
	const n = 5000
	nz := Noise{Seed: 7, Stream: 3}
	whole := make([]float64, n)
	AddNoise(whole, nz, 1.5, 9, 0)

	rng := rand.New(rand.NewPCG(1, 2))
	var cuts []int
	for c := 0; c < n; c += 1 + rng.IntN(1500) {
		cuts = append(cuts, c)
	}
	cuts = append(cuts, n)
	pieces := make([]float64, n)
	var wg sync.WaitGroup
	for _, i := range rng.Perm(len(cuts) - 1) {
		wg.Go(func() { AddNoise(pieces[cuts[i]:cuts[i+1]], nz, 1.5, 9, cuts[i]) })
	}
	wg.Wait()
	for i := range whole {
		if whole[i] != pieces[i] {
			t.Fatalf("coordinate %d: %v in one call, %v in pieces %v", i, whole[i], pieces[i], cuts)
		}
	}
	if got, want := nz.Normal(9, 4321), whole[4321]/1.5; math.Abs(got-want) > 1e-15 {
		t.Errorf("Normal(9, 4321) = %v, AddNoise gave %v", got, want)
	}
	f32 := make([]float32, n)
	for i := range f32 {
		f32[i] = float32(i) / 7
	}
	AddNoise(f32, nz, 1.5, 9, 0)
	for i := range f32 {
		if want := float32(float64(float32(i)/7) + whole[i]); f32[i] != want {
			t.Fatalf("float32 coordinate %d: %v, want %v", i, f32[i], want)
		}
	}
}

// TestNoiseKeys: seeds, streams and steps give unrelated noise (the
// correlation of two vectors is within sampling error of 0), and the first
// values are pinned, so that a change of generator cannot pass unnoticed
// (it would change every DP run's results).
func TestNoiseKeys(t *testing.T) {
	const n = 1 << 16
	base := Noise{Seed: 1}
	a := make([]float64, n)
	AddNoise(a, base, 1, 5, 0)
	for _, other := range []struct {
		nz   Noise
		step uint64
	}{{Noise{Seed: 2}, 5}, {Noise{Seed: 1, Stream: 1}, 5}, {base, 6}} {
		b := make([]float64, n)
		AddNoise(b, other.nz, 1, other.step, 0)
		var dot float64
		for i := range a {
			dot += a[i] * b[i]
		}
		if r := dot / n; math.Abs(r) > 4/math.Sqrt(n) {
			t.Errorf("%+v step %d vs %+v step 5: correlation %.3g", other.nz, other.step, base, r)
		}
	}
	// Pinned by this implementation (wyrand from the hash of seed 1,
	// stream 0, step 5; the ziggurat), not by an outside reference.
	want := []float64{1.7617360107991042, 0.30917027417481036, -1.7168564477998323}
	for k, w := range want {
		if got := base.Normal(5, k); got != w {
			t.Errorf("Normal(5, %d) = %v, pinned %v", k, got, w)
		}
	}
}

// TestPoisson: batch sizes have mean qN and variance qN(1−q), every example
// is taken with frequency q (chi-square over the examples), batches are
// ascending and a function of (seed, step), and q = 0 and q = 1 give no
// example and every example.
func TestPoisson(t *testing.T) {
	const n, steps = 6000, 4000
	for _, q := range []float64{256.0 / 60000, 0.05, 0.5} {
		p := Poisson{Seed: 11, Rate: q}
		counts := make([]int, n)
		var sum, sumSq float64
		var batch []int
		for s := range uint64(steps) {
			batch = p.Batch(batch[:0], s, n)
			if !slices.IsSorted(batch) || len(slices.Compact(slices.Clone(batch))) != len(batch) {
				t.Fatalf("q=%v step %d: batch not ascending and unique", q, s)
			}
			if len(batch) > 0 && (batch[0] < 0 || batch[len(batch)-1] >= n) {
				t.Fatalf("q=%v step %d: index out of [0, %d)", q, s, n)
			}
			for _, i := range batch {
				counts[i]++
			}
			b := float64(len(batch))
			sum += b
			sumSq += b * b
		}
		mean := sum / steps
		variance := sumSq/steps - mean*mean
		wantMean, wantVar := q*n, q*n*(1-q)
		if math.Abs(mean-wantMean) > 4*math.Sqrt(wantVar/steps) {
			t.Errorf("q=%v: mean batch %.2f, want %.2f", q, mean, wantMean)
		}
		// The sample variance's SE is about σ²·√(2/steps).
		if math.Abs(variance-wantVar) > 4*wantVar*math.Sqrt(2.0/steps) {
			t.Errorf("q=%v: batch variance %.2f, want %.2f", q, variance, wantVar)
		}
		// Each count is Binomial(steps, q): chi-square with n−1 degrees of
		// freedom, within 4 of its standard deviation √(2(n−1)).
		var chi2 float64
		e := steps * q
		for _, c := range counts {
			chi2 += (float64(c) - e) * (float64(c) - e) / (e * (1 - q))
		}
		if math.Abs(chi2-(n-1)) > 4*math.Sqrt(2*(n-1)) {
			t.Errorf("q=%v: chi-square of the per-example counts %.0f, want about %d", q, chi2, n-1)
		}
		again := p.Batch(nil, 3, n)
		if first := p.Batch(nil, 3, n); !slices.Equal(first, again) {
			t.Errorf("q=%v: step 3 drawn twice differs", q)
		}
		if other := (Poisson{Seed: 12, Rate: q}).Batch(nil, 3, n); slices.Equal(other, again) {
			t.Errorf("q=%v: seeds 11 and 12 draw the same batch", q)
		}
	}
	if b := (Poisson{Rate: 0}).Batch(nil, 0, 10); len(b) != 0 {
		t.Errorf("q=0: batch %v", b)
	}
	if b := (Poisson{Rate: 1}).Batch(nil, 0, 5); !slices.Equal(b, []int{0, 1, 2, 3, 4}) {
		t.Errorf("q=1: batch %v", b)
	}
}

// BenchmarkAddNoise: the cost of noising one coordinate (b.N coordinates
// in mlp2-sized calls, 269,322 parameters), in wall time and in the
// thread's CPU time (cpu-ns/coord: the benchmark's thread is locked, so
// time spent waiting for a core on a loaded machine is not counted).
func BenchmarkAddNoise(b *testing.B) {
	g := make([]float32, 269322)
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0 := threadCPU()
	step := uint64(0)
	for b.Loop() {
		AddNoise(g, Noise{Seed: 1}, 1.0, step, 0)
		step++
	}
	per := float64(b.N) * float64(len(g))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/coord")
	b.ReportMetric(float64(threadCPU()-cpu0)/per, "cpu-ns/coord")
}

// threadCPU is the calling thread's CPU time in nanoseconds.
func threadCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil { // RUSAGE_THREAD
		panic(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkPoissonBatch: one MNIST step at batch 256 (q = 256/60000).
func BenchmarkPoissonBatch(b *testing.B) {
	p := Poisson{Seed: 1, Rate: 256.0 / 60000}
	var batch []int
	step := uint64(0)
	for b.Loop() {
		batch = p.Batch(batch[:0], step, 60000)
		step++
	}
}

// TestPCGIsGo: pcgNormal's draws and uniforms (Poisson sampling's) are
// math/rand/v2's PCG's, bit for bit.
func TestPCGIsGo(t *testing.T) {
	for _, s := range [][2]uint64{{1, 2}, {0, 0}, {0xdeadbeef, 1 << 63}} {
		ours := pcgNormal{hi: s[0], lo: s[1]}
		gos := rand.New(rand.NewPCG(s[0], s[1]))
		for i := range 1000 {
			if a, b := ours.uint64(), gos.Uint64(); a != b {
				t.Fatalf("state %v draw %d: %v, Uint64 %v", s, i, a, b)
			}
			if a, b := ours.float64(), gos.Float64(); a != b {
				t.Fatalf("state %v uniform %d: %v, Float64 %v", s, i, a, b)
			}
		}
	}
}

// wySource is wyrand as a rand.Source.
type wySource struct{ w wyrand }

func (s *wySource) Uint64() uint64 { return s.w.uint64() }

// TestZigguratIsGo: zigguratFrom over wyrand draws what math/rand/v2's
// NormFloat64 draws over the same wyrand as its Source, bit for bit,
// through the ziggurat's tail and wedges (4 million draws from each of
// three states).
func TestZigguratIsGo(t *testing.T) {
	for _, s := range []uint64{1, 0, 0xdeadbeef << 20} {
		ours := wyrand{s: s}
		gos := rand.New(&wySource{wyrand{s: s}})
		for i := range 4 << 20 {
			if a, b := zigguratFrom(ours.uint64(), &ours), gos.NormFloat64(); a != b {
				t.Fatalf("state %v draw %d: %v, NormFloat64 %v", s, i, a, b)
			}
		}
	}
}

// TestExpNear: expNear is within expNearErr of math.Exp on a fine grid of
// [-20, 0] (wedge tests need [-6, 0]), with half the bound to spare.
func TestExpNear(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 2_000_000; i++ {
		x := -20 * float64(i) / 2_000_000
		worst = max(worst, math.Abs(expNear(x)/math.Exp(x)-1))
	}
	if worst > expNearErr/2 {
		t.Errorf("expNear: largest relative error %.3g, bound %g", worst, expNearErr)
	}
	t.Logf("expNear: largest relative error %.3g", worst)
}

// TestWedgeAccept: wedgeAccept(a, x) is a < float32(math.Exp(−x²/2)) for a
// at float32(E), the float32s either side of it and a spread around it (the
// cases expNear cannot decide and those it can), over x in the wedges'
// range.
func TestWedgeAccept(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	undecided := 0
	for range 200_000 {
		x := (rng.Float64()*2 - 1) * 3.6
		e := float32(math.Exp(-.5 * x * x))
		as := []float32{e, math.Nextafter32(e, 0), math.Nextafter32(e, 2),
			e * float32(1+(rng.Float64()*2-1)*4*expNearErr), e * float32(rng.Float64()*2)}
		for _, a := range as {
			if got, want := wedgeAccept(a, x), a < e; got != want {
				t.Fatalf("wedgeAccept(%v, %v) = %v, want %v (exp %v)", a, x, got, want, e)
			}
			if af, en := float64(a), expNear(-.5*x*x); af >= en*(1-2*expNearErr) && af <= en*(1+2*expNearErr) {
				undecided++
			}
		}
	}
	if undecided == 0 {
		t.Error("no case left to math.Exp: the test does not reach that branch")
	}
}

// TestNoiseDefinition: AddNoise's z(step, k) is, written out, the ziggurat
// of wyrand's output at state base + (k+1)·γ, its further draws from a
// wyrand at mix64(base ⊕ mix64(k ⊕ 2<<56)), for coordinates that take the
// fast path and coordinates that do not (2.7% here: layer 1 of Go's
// ziggurat alone, kn[1] = 0, sends 1/128 of the draws on).
func TestNoiseDefinition(t *testing.T) {
	nz := Noise{Seed: 5, Stream: 2}
	const n = 200000
	got := make([]float64, n)
	AddNoise(got, nz, 1, 77, 0)
	h := mix64(5 ^ 0x9e3779b97f4a7c15)
	h = mix64(h ^ 2)
	base := mix64(h ^ 77)
	slow := 0
	for k := range n {
		s := base + uint64(k+1)*0xa0761d6478bd642f
		hi, lo := bits.Mul64(s, s^0xe7037ed1a0b428db)
		u := hi ^ lo
		rest := wyrand{s: mix64(base ^ mix64(uint64(k)^2<<56))}
		if want := zigguratFrom(u, &rest); got[k] != want {
			t.Fatalf("coordinate %d: %v, by definition %v", k, got[k], want)
		}
		if rest.s != mix64(base^mix64(uint64(k)^2<<56)) {
			slow++
		}
	}
	if slow < n/100 || slow > n/20 {
		t.Errorf("%d of %d coordinates left the fast path, want 1%% to 5%%", slow, n)
	}
	t.Logf("%d of %d coordinates left the ziggurat's fast path", slow, n)
}

// BenchmarkNormal: one standard normal from zigguratFrom over wyrand (the
// noise's normals) and from math/rand/v2's NormFloat64 over the same
// wyrand and over a PCG (the noise's generator before).
func BenchmarkNormal(b *testing.B) {
	var sink float64
	b.Run("wyrand", func(b *testing.B) {
		g := wyrand{s: 1}
		for b.Loop() {
			sink += zigguratFrom(g.uint64(), &g)
		}
	})
	b.Run("NormFloat64-wyrand", func(b *testing.B) {
		r := rand.New(&wySource{wyrand{s: 1}})
		for b.Loop() {
			sink += r.NormFloat64()
		}
	})
	b.Run("NormFloat64-PCG", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			sink += r.NormFloat64()
		}
	})
	_ = sink
}
