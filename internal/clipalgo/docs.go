// The method tables of the docs (README.md, internal/grid/doc.go), written
// from the declarations; grid's TestMethodDocs keeps the files equal to them.

package clipalgo

import (
	"fmt"
	"strings"
)

// MarkdownTable returns the declared methods as a Markdown table: name,
// threshold, what it does, its reference, its options with their defaults,
// and what it needs from the engine when that is more than batch gradients.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| `method` | `threshold` | what it does (reference) | options (default) |\n")
	b.WriteString("| --- | --- | --- | --- |\n")
	for _, m := range registry {
		th := "–"
		if m.Threshold.Takes {
			th = m.Threshold.Doc
		}
		what := m.Doc + " (" + m.Reference + ")"
		if m.Needs != BatchGradients {
			what += "; needs " + m.Needs.String()
		}
		var opts []string
		for _, o := range m.Options {
			opts = append(opts, fmt.Sprintf("`%s` (%s): %s", o.Name, FormatValue(o.Default), o.Doc))
		}
		if len(opts) == 0 {
			opts = []string{"–"}
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", m.Name, th, escapeCell(what), escapeCell(strings.Join(opts, "; ")))
	}
	return b.String()
}

// DocList returns the declared methods as a Go doc comment list (without
// the comment markers): one item (one line) per method, with its threshold
// and its options.
func DocList() string {
	var b strings.Builder
	for _, m := range registry {
		fmt.Fprintf(&b, "  - %s: %s (%s).", m.Name, m.Doc, m.Reference)
		if m.Threshold.Takes {
			fmt.Fprintf(&b, " threshold: %s.", m.Threshold.Doc)
		} else {
			b.WriteString(" No threshold.")
		}
		if m.Needs != BatchGradients {
			fmt.Fprintf(&b, " Needs %s.", m.Needs)
		}
		var opts []string
		for _, o := range m.Options {
			opts = append(opts, fmt.Sprintf("%s (%s, default %s): %s", o.Name, o.Kind, FormatValue(o.Default), o.Doc))
		}
		if len(opts) > 0 {
			fmt.Fprintf(&b, " Options: %s.", strings.Join(opts, "; "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

func escapeCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
