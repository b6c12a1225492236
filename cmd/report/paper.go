// The report as this command draws it: internal/report's model with the
// styles of its series.

package main

import (
	"context"

	"cliplab/internal/db"
	"cliplab/internal/report"
)

// paper is one experiment's report, drawn: figures, tables and the index.
type paper struct {
	*report.Report
}

// load reads experiment from d into a paper.
func load(ctx context.Context, d *db.DB, experiment string, target float64) (*paper, error) {
	rep, err := report.Load(ctx, d, experiment, target)
	if err != nil {
		return nil, err
	}
	return &paper{rep}, nil
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
