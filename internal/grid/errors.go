package grid

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ErrInvalid is matched (errors.Is) by every error that Parse, Expand and
// Load return because of what the experiment file says, or because it cannot
// be read: the runner's exit status 2.
var ErrInvalid = errors.New("grid: invalid experiment file")

// errBug marks a configuration that got past the positioned checks of Parse
// and Expand but fails config.Config.Validate: a bug in this package, never the
// user's. The fuzz targets fail on it.
var errBug = errors.New("grid: internal error")

// maxErrors is how many problems one call reports before it summarises the
// rest: enough to fix a file in one pass, not a wall of text.
const maxErrors = 20

// Error is one problem in an experiment file, at a position. Its text is
// "path:line:col: field: message", e.g.
//
//	experiments/x.yaml:12:18: grid.clip[1].threshold: method value needs a threshold > 0, got -1
//
// Line and Col are 1-based; Col is 0 for YAML syntax errors (the YAML
// library reports only the line) and both are 0 for errors about the whole
// file (it cannot be read).
type Error struct {
	Path      string
	Line, Col int
	Field     string // dotted path in the file, e.g. grid.clip[1].threshold; "" for the document
	Msg       string
	Err       error // the underlying error, e.g. from os.ReadFile; may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Col > 0 {
			b.WriteString(":" + strconv.Itoa(e.Col))
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// errorList collects problems and joins them, sorted by position, at the end.
type errorList struct {
	path string
	errs []*Error
	seen map[string]bool
	// origin names the override (ParseSet) each node it added came from;
	// an error at such a node is reported as the override's.
	origin map[*yaml.Node]string
}

func (l *errorList) add(e *Error) {
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	k := e.Error()
	if l.seen[k] {
		return
	}
	l.seen[k] = true
	l.errs = append(l.errs, e)
}

func (l *errorList) failed() bool { return len(l.errs) > 0 }

// err returns nil, or the problems as one error (errors.Join), sorted by
// position and cut to maxErrors.
func (l *errorList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sort.SliceStable(l.errs, func(i, j int) bool {
		a, b := l.errs[i], l.errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	var out []error
	for i, e := range l.errs {
		if i == maxErrors {
			out = append(out, &Error{Path: l.path, Msg: fmt.Sprintf("and %d more problems", len(l.errs)-maxErrors)})
			break
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}
