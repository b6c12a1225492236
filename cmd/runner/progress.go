package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"cliplab/internal/db"
	"cliplab/internal/record"
	"cliplab/internal/worker"
)

// progress shows how a grid advances: a bar on a terminal (runs finished of
// total, running, diverged, failed, ETA), or one plain line per finished run.
type progress struct {
	mu      sync.Mutex
	d       *db.DB
	exp     string
	w       io.Writer
	bar     *progressbar.ProgressBar // nil: lines or none
	lines   bool
	start   time.Time
	total   int
	ended   int // runs ended before this process started, and since
	mine    int // runs this process ended (for the ETA)
	running int
	div     int
	failed  int
	labels  map[int64]string
}

func newProgress(ctx context.Context, d *db.DB, exp, mode string, w io.Writer) (*progress, error) {
	cs, err := d.Counts(ctx, exp)
	if err != nil {
		return nil, err
	}
	p := &progress{d: d, exp: exp, w: w, start: time.Now(), labels: map[int64]string{}}
	if len(cs) == 1 {
		c := cs[0]
		p.total = c.Total
		p.ended = c.ByStatus[record.Done] + c.ByStatus[record.Diverged] + c.ByStatus[record.Failed]
		p.div, p.failed = c.ByStatus[record.Diverged], c.ByStatus[record.Failed]
	}
	if mode == "auto" {
		mode = "lines"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	switch mode {
	case "bar":
		p.bar = progressbar.NewOptions(p.total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(exp),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetWidth(30),
			// No throttle: the bar is drawn only when a run starts or ends,
			// and a throttled draw drops that state until the next event
			// (issue 13: "running 0" with one worker in flight).
			progressbar.OptionClearOnFinish(),
		)
		p.redraw()
	case "lines":
		p.lines = true
	}
	return p, nil
}

// Started and Finished make progress a worker.Observer.
var _ worker.Observer = (*progress)(nil)

func (p *progress) Started(c *db.Claim) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running++
	p.labels[c.ID] = label(c.ConfigJSON)
	p.redraw()
}

func (p *progress) Finished(c *db.Claim, o worker.Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running--
	lbl := p.labels[c.ID]
	delete(p.labels, c.ID)
	switch o.Status {
	case record.Done, record.Diverged, record.Failed:
		p.ended++
		p.mine++
	}
	switch o.Status {
	case record.Diverged:
		p.div++
	case record.Failed:
		p.failed++
	}
	if p.lines {
		acc := ""
		if o.Acc >= 0 && o.Status != record.Failed {
			acc = fmt.Sprintf(" test_acc=%.4f", o.Acc)
		}
		why := ""
		if o.Status != record.Done && o.Reason != "" {
			why = " (" + firstLine(o.Reason) + ")"
		}
		fmt.Fprintf(p.w, "run %d/%d %-8s %s%s steps=%d %.1fs%s\n", p.ended, p.total, o.Status, lbl, acc, o.Steps, o.Wall, why)
	}
	p.redraw()
}

// redraw updates the bar's text; the caller holds mu.
func (p *progress) redraw() {
	if p.bar == nil {
		return
	}
	p.bar.Describe(fmt.Sprintf("%s: running %d, diverged %d, failed %d, ETA %s", p.exp, p.running, p.div, p.failed, p.eta()))
	_ = p.bar.Set(p.ended)
}

// eta estimates the time left from this process's own pace.
func (p *progress) eta() string {
	left := p.total - p.ended
	if p.mine == 0 || left <= 0 {
		return "?"
	}
	per := time.Since(p.start) / time.Duration(p.mine)
	return (per * time.Duration(left)).Round(time.Second).String()
}

func (p *progress) close() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}

// summary prints where the experiment stands now, and why this process
// stopped if runs are left.
func (p *progress) summary(ctx context.Context, w io.Writer) error {
	cs, err := p.d.Counts(context.WithoutCancel(ctx), p.exp)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return nil
	}
	c := cs[0]
	fmt.Fprintf(w, "%s: %s\n", p.exp, countLine(c))
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %d runs marked interrupted; run the same command again to resume", c.ByStatus[record.Interrupted])
	}
	if n := c.ByStatus[record.Running]; n > 0 {
		fmt.Fprintf(w, "%d runs are held by other runner processes; they finish them (a dead one's runs are taken over after -stale)\n", n)
	}
	if n := c.ByStatus[record.Failed]; n > 0 {
		fmt.Fprintf(w, "%d runs failed (see runner status -failed); -retry-failed trains them again\n", n)
	}
	return nil
}

// countLine is "168 runs: 160 done, 5 diverged, 3 failed".
func countLine(c db.Count) string {
	s := fmt.Sprintf("%d runs:", c.Total)
	sep := " "
	for _, st := range record.Statuses {
		if n := c.ByStatus[st]; n > 0 {
			s += fmt.Sprintf("%s%d %s", sep, n, st)
			sep = ", "
		}
	}
	return s
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
