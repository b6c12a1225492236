package train

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"cliplab/internal/data"
	"cliplab/internal/record"
)

// parityYAML is the cell of issue 17: mlp2 on full MNIST, SGD at lr 0.3,
// batch 64, one epoch, no clipping; evaluations at the end and in the tail.
const parityYAML = `
name: parity
dataset: mnist
data: {train_size: 60000, test_size: 10000, train_eval_size: 1000}
train: {epochs: 1, batch_size: 64, eval_every: 0, drop_last: DROP}
archs:
  mlp2: {type: mlp, hidden: [256, 256], activation: relu}
grid:
  arch: [mlp2]
  lr: [0.3]
  seed: [1]
  clip: [none]
`

// arm is one side of the parity study: per seed, the last and the tail
// test accuracy.
type arm struct {
	name       string
	last, tail []float64
}

func (a *arm) add(last, tail float64) { a.last, a.tail = append(a.last, last), append(a.tail, tail) }

// meanSD returns the mean, the sample standard deviation and the minimum.
func meanSD(x []float64) (mean, sd, lo float64) {
	lo = math.Inf(1)
	for _, v := range x {
		mean += v
		lo = min(lo, v)
	}
	mean /= float64(len(x))
	for _, v := range x {
		sd += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(sd / float64(len(x)-1)), lo
}

// correlation is Pearson's correlation of a and b.
func correlation(a, b []float64) float64 {
	ma, sa, _ := meanSD(a)
	mb, sb, _ := meanSD(b)
	var c float64
	for i := range a {
		c += (a[i] - ma) * (b[i] - mb)
	}
	return c / float64(len(a)-1) / (sa * sb)
}

// welch is the difference of means of a and b in standard errors.
func welch(a, b []float64) (diff, se float64) {
	ma, sa, _ := meanSD(a)
	mb, sb, _ := meanSD(b)
	return ma - mb, math.Sqrt(sa*sa/float64(len(a)) + sb*sb/float64(len(b)))
}

// TestParityHighLR is issue 17's cross-check, too slow for make test (36
// minutes for 100 seeds on two shared cores): make parity runs it. It
// trains the cell above for N seeds with cliplab (with and without
// drop_last) and with PyTorch (its own randperm order, and cliplab's order),
// and requires cliplab's and PyTorch's mean final and tail test accuracy to
// agree within 2.5 standard errors. CLIPLAB_PARITY_OUT names a file for the
// Markdown tables: per arm and metric (last, the final evaluation; tail, the
// mean of the tail evaluations) the mean, sd, standard error, minimum and
// runs below 0.94; the differences of means in standard errors (Welch); and
// cliplab against PyTorch fed cliplab's order seed by seed; and the
// correlation across seeds of the last accuracies of two arms. Each seed's
// accuracies go next to it, with .csv for .md.
func TestParityHighLR(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CLIPLAB_PARITY"))
	if n < 2 {
		t.Skip("CLIPLAB_PARITY=N (seeds) runs the 100-seed parity study (make parity)")
	}
	dir := mnistDir(t)
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no /usr/bin/python3 with PyTorch")
	}
	base := parseConfig(t, strings.ReplaceAll(parityYAML, "DROP", "false"))
	steps := base.Steps()
	_, from := base.Tail()
	evalSteps := tailEvals(base)
	t.Logf("%d steps, tail window from step %d, tail evaluations at %v", steps, from, evalSteps)

	cliplab := func(name string, drop bool) *arm {
		c := parseConfig(t, strings.ReplaceAll(parityYAML, "DROP", strconv.FormatBool(drop)))
		_, tailFrom := c.Tail()
		last, tail := make([]float64, n), make([]float64, n)
		var wg sync.WaitGroup
		seeds := make(chan int)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for s := range seeds {
					cs := c
					cs.Seed = uint64(s)
					ds, err := data.Load(cs.Dataset, DataOptions(cs, dir))
					if err != nil {
						t.Error(err)
						continue
					}
					var r recorder
					res, err := Run(context.Background(), cs, ds, &r)
					if err != nil || res.Status != record.Done {
						t.Errorf("seed %d: %v %v", s, res.Status, err)
						continue
					}
					var sum float64
					var k int
					for _, e := range r.evals {
						if e.Split != data.SplitTest {
							continue
						}
						last[s-1] = e.Acc
						if e.Step >= tailFrom {
							sum += e.Acc
							k++
						}
					}
					tail[s-1] = sum / float64(k)
					t.Logf("%s, seed %d: last %.4f, tail %.4f", name, s, last[s-1], tail[s-1])
				}
			}()
		}
		for s := 1; s <= n; s++ {
			seeds <- s
		}
		close(seeds)
		wg.Wait()
		return &arm{name: name, last: last, tail: tail}
	}
	arms := []*arm{cliplab("cliplab", false), cliplab("cliplab, drop_last", true)}

	// cliplab's orders for PyTorch, seed after seed.
	orders := filepath.Join(t.TempDir(), "orders.bin")
	f, err := os.Create(orders)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	var seedList []string
	for s := 1; s <= n; s++ {
		if err := binary.Write(w, binary.LittleEndian, data.Shuffle(uint64(s), base.Data.TrainSize, 0)); err != nil {
			t.Fatal(err)
		}
		seedList = append(seedList, strconv.Itoa(s))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	var evalList []string
	for _, s := range evalSteps {
		evalList = append(evalList, strconv.Itoa(s))
	}
	torch := func(name, order string) *arm {
		cmd := exec.Command(python, filepath.Join("testdata", "parity_torch.py"), "--mnist", dir,
			"--seeds", strings.Join(seedList, ","), "--order", order, "--lr", "0.3", "--batch", "64",
			"--eval-steps", strings.Join(evalList, ","))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a := &arm{name: name}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			var r struct {
				Seed int                `json:"seed"`
				Acc  map[string]float64 `json:"acc"`
			}
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("%s: %q: %v", name, line, err)
			}
			var sum float64
			for _, s := range evalSteps {
				sum += r.Acc[strconv.Itoa(s)]
			}
			a.add(r.Acc[strconv.Itoa(steps)], sum/float64(len(evalSteps)))
		}
		if len(a.last) != n {
			t.Fatalf("%s: %d seeds, want %d", name, len(a.last), n)
		}
		return a
	}
	var tw, to *arm
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); tw = torch("PyTorch 1.13, randperm", "randperm") }()
	go func() { defer wg.Done(); to = torch("PyTorch 1.13, cliplab's order", orders) }()
	wg.Wait()
	arms = append(arms, tw, to)

	var b strings.Builder
	fmt.Fprintf(&b, "| | metric | seeds | mean test acc | sd | standard error | min | runs < 0.94 |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, a := range arms {
		for _, m := range []struct {
			name string
			x    []float64
		}{{"last", a.last}, {"tail", a.tail}} {
			mean, sd, lo := meanSD(m.x)
			below := 0
			for _, v := range m.x {
				if v < 0.94 {
					below++
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %.4f | %.4f | %.4f | %.4f | %d |\n",
				a.name, m.name, len(m.x), mean, sd, sd/math.Sqrt(float64(len(m.x))), lo, below)
		}
	}
	fmt.Fprintf(&b, "\n| difference of means | last | in standard errors | tail | in standard errors |\n| --- | --- | --- | --- | --- |\n")
	for _, pair := range [][2]*arm{{arms[0], arms[2]}, {arms[0], arms[3]}, {arms[1], arms[2]}, {arms[3], arms[2]}} {
		d, se := welch(pair[0].last, pair[1].last)
		dt, set := welch(pair[0].tail, pair[1].tail)
		fmt.Fprintf(&b, "| %s − %s | %+.4f | %+.1f | %+.4f | %+.1f |\n", pair[0].name, pair[1].name, d, d/se, dt, dt/set)
	}
	// cliplab and PyTorch fed cliplab's order see the same batches in the
	// same order (from different initial weights): seed by seed, what the
	// order does to both cancels.
	fmt.Fprintf(&b, "\n| paired, seed by seed | metric | mean difference | sd | standard error | in standard errors | largest |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, m := range []struct {
		name string
		a, b []float64
	}{{"last", arms[0].last, arms[3].last}, {"tail", arms[0].tail, arms[3].tail}} {
		diff := make([]float64, n)
		var big float64
		for i := range diff {
			diff[i] = m.a[i] - m.b[i]
			if math.Abs(diff[i]) > math.Abs(big) {
				big = diff[i]
			}
		}
		mean, sd, _ := meanSD(diff)
		se := sd / math.Sqrt(float64(n))
		fmt.Fprintf(&b, "| %s − %s | %s | %+.4f | %.4f | %.4f | %+.1f | %+.4f |\n", arms[0].name, arms[3].name, m.name, mean, sd, se, mean/se, big)
	}
	// Whether the same seeds fall in both arms: a collapse that follows the
	// data order shows in both arms fed the same order, not in the others.
	fmt.Fprintf(&b, "\n| seed by seed | correlation of the last accuracies | runs < 0.94 in both |\n| --- | --- | --- |\n")
	for _, pair := range [][2]*arm{{arms[0], arms[3]}, {arms[0], arms[2]}, {arms[3], arms[2]}} {
		both := 0
		for i := range pair[0].last {
			if pair[0].last[i] < 0.94 && pair[1].last[i] < 0.94 {
				both++
			}
		}
		fmt.Fprintf(&b, "| %s, %s | %.3f | %d |\n", pair[0].name, pair[1].name, correlation(pair[0].last, pair[1].last), both)
	}
	t.Log("\n" + b.String())
	if out := os.Getenv("CLIPLAB_PARITY_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
		// Each seed's accuracies, for analyses the table does not make.
		var c strings.Builder
		c.WriteString("arm,seed,last,tail\n")
		for _, a := range arms {
			for i := range a.last {
				fmt.Fprintf(&c, "%q,%d,%.6f,%.6f\n", a.name, i+1, a.last[i], a.tail[i])
			}
		}
		if err := os.WriteFile(strings.TrimSuffix(out, ".md")+".csv", []byte(c.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
	// The parity rule: cliplab against PyTorch's own order, on both metrics.
	for _, m := range []struct {
		name string
		a, b []float64
	}{{"final", arms[0].last, arms[2].last}, {"tail", arms[0].tail, arms[2].tail}} {
		if d, se := welch(m.a, m.b); math.Abs(d) > 2.5*se {
			t.Errorf("%s test accuracy: cliplab − PyTorch = %+.4f, %.1f standard errors (limit 2.5)", m.name, d, d/se)
		}
	}
}
