// The report as this command draws it: internal/report's model with the
// styles of its series.

package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cliplab/internal/clipalgo"
	"cliplab/internal/config"
	"cliplab/internal/db"
	"cliplab/internal/report"
)

// paper is one experiment's report, drawn: figures, tables and the index.
type paper struct {
	*report.Report
	// live: index.html reloads itself this often while runs have not
	// ended (report -watch); 0: never.
	live time.Duration
	// parts are the status lines of the experiments a comparison overlays,
	// "LABEL (DATABASE): N runs: …"; nil for one experiment.
	parts []string
}

// load reads experiment from d into a paper.
func load(ctx context.Context, d *db.DB, experiment string, target float64, metric report.Metric) (*paper, error) {
	rep, err := report.Load(ctx, d, experiment, target, metric)
	if err != nil {
		return nil, err
	}
	return &paper{Report: rep}, nil
}

// style is series si's style.
func (rep *paper) style(si int) style {
	s := rep.Series[si]
	return styleFor(s.Rank, s.Variant)
}

// Shorthands for the model's formatting.
var (
	fmtNum  = report.FmtNum
	sameNum = report.SameNum
)

// tailText names the tail window: "last 5% of steps", or the range of the
// fractions when settings set train.tail_fraction differently.
func (rep *paper) tailText() string {
	fs := rep.TailFractions
	if len(fs) == 0 {
		fs = []float64{config.DefaultTailFraction}
	}
	pct := func(f float64) string { return strconv.FormatFloat(100*f, 'g', 4, 64) }
	if len(fs) == 1 {
		return "last " + pct(fs[0]) + "% of steps"
	}
	return "last " + pct(fs[0]) + "–" + pct(fs[len(fs)-1]) + "% of steps (train.tail_fraction per setting)"
}

// metricNote says which final accuracy the report uses: it ends every
// caption and table note.
func (rep *paper) metricNote() string {
	if rep.Metric == report.Last {
		return "Final accuracy: the last evaluation of each run (-metric last; the default tail metric averages the " + rep.tailText() + ")."
	}
	s := "Final accuracy: the tail metric, the mean of each run's evaluations in its " + rep.tailText()
	if n := rep.LastFallbacks; n > 0 {
		s += fmt.Sprintf(" (%d done runs with no evaluation there: their last)", n)
	}
	return s + "."
}

// accLabel names the final test accuracy: "test acc (tail mean)" for a
// table column, "test accuracy (tail mean)" for an axis.
func (rep *paper) accLabel(axis bool) string {
	name, how := "test acc", "tail mean"
	if axis {
		name = "test accuracy"
	}
	if rep.Metric == report.Last {
		how = "last evaluation"
	}
	return name + " (" + how + ")"
}

// optionNote names the clip options in force that differ from their
// method's default, with the default ("Options that differ from the
// method's default: zclip max_grad_norm=-1 (default 1)."); "" when there
// are none. Series names show them too, so that no reader takes a
// configured method for its reference.
func (rep *paper) optionNote() string {
	seen := map[string]bool{}
	var parts []string
	for _, se := range rep.Series {
		for _, kv := range strings.Fields(se.Options) {
			name, v, _ := strings.Cut(kv, "=")
			def := report.DefaultText(se.Method, name)
			if def == "" || v == def || seen[se.Method+" "+kv] {
				continue
			}
			seen[se.Method+" "+kv] = true
			parts = append(parts, fmt.Sprintf("%s %s (default %s)", se.Method, kv, def))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "Options that differ from the method's default: " + strings.Join(parts, "; ") + "."
}

// thresholdUnit names method's threshold on an axis ("norm c", "λ", "z");
// "" for a method that takes none or is not declared.
func thresholdUnit(method string) string {
	if m, ok := clipalgo.Lookup(method); ok && m.Threshold.Takes {
		return m.Threshold.Unit
	}
	return ""
}
