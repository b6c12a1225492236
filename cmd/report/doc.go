// Command report turns a cliplab database into the figures and tables of a
// clipping paper: accuracy against cost, stability curves, divergence maps,
// threshold sensitivity, time to target and stability range, as PNG, SVG,
// PDF, Markdown, CSV and LaTeX, with an index.md and a self-contained
// index.html. The same database always gives byte-identical files.
//
// Usage:
//
//	report [-db runs.db] [-experiment NAME] [-out DIR] [-target 0.9] [-metric tail|last] [-watch 30s]
//
// With -watch, it keeps running: it writes the report again whenever the
// database changed (db.Changes), rewriting only the files that changed,
// and index.html reloads itself while runs have not ended; Ctrl-C ends it.
//
// With no -experiment, a database holding one experiment reports it; one
// holding several reports each of them, into DIR/NAME/ (default
// reports/NAME/). Several experiments (-experiment a,b) or databases (-db
// a.db -db b.db, or -db a.db,b.db) are compared in one report into DIR
// (default reports/a-vs-b/): the figures overlay them, the tables have a
// group of columns per experiment (compare.go). A grid with more than
// report.MaxLRs learning rates or thresholds gets figures over ranges of
// them, so that 10,000 runs give a few dozen figures (README, "Reports of
// 10,000 runs").
//
// What the report shows (settings, statistics, the data of each figure and
// table) is package internal/report; this command holds the flags, the
// styles and the rendering (gonum/plot, Markdown, CSV, LaTeX, HTML). What it
// writes, and the rules behind every number (chance levels, when a run
// counts as trained or collapsed, how diverged seeds count, how a best
// setting is chosen, steps to target, the stability range, the bootstrap),
// are stated in the index.md it writes, under "How to read it".
//
// Everything is deterministic: settings, series and files are sorted, the
// bootstrap is seeded per setting, and the PDF dates are fixed (fpdf would
// write the current time).
//
// References: see internal/report; the palette is Okabe & Ito (2008),
// "Color Universal Design".
package main
