package cmdflag

import (
	"bytes"
	"errors"
	"flag"
	"slices"
	"strings"
	"testing"
)

func newSet(out *bytes.Buffer) (*flag.FlagSet, *int, *bool, *string) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { out.WriteString("usage: x [-n N] [-v] [-s S] FILE\n") }
	return fs, fs.Int("n", 1, ""), fs.Bool("v", false, ""), fs.String("s", "", "")
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args []string
		n    int
		v    bool
		s    string
		rest []string
	}{
		{[]string{"f.yaml"}, 1, false, "", []string{"f.yaml"}},
		{[]string{"f.yaml", "-n", "5"}, 5, false, "", []string{"f.yaml"}},
		{[]string{"-v", "f.yaml", "-s=a", "g"}, 1, true, "a", []string{"f.yaml", "g"}},
		{[]string{"f.yaml", "--n", "3", "-v=false"}, 3, false, "", []string{"f.yaml"}},
		{[]string{"f.yaml", "-s", "-v"}, 1, false, "-v", []string{"f.yaml"}}, // a string flag takes the next argument as is
		{[]string{"a", "--", "-n", "7"}, 1, false, "", []string{"a", "-n", "7"}},
		{[]string{"-", "-n", "2"}, 2, false, "", []string{"-"}},
		{nil, 1, false, "", nil},
	} {
		var out bytes.Buffer
		fs, n, v, s := newSet(&out)
		if err := Parse(fs, tc.args); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if *n != tc.n || *v != tc.v || *s != tc.s || !slices.Equal(fs.Args(), tc.rest) {
			t.Errorf("%q: n=%d v=%v s=%q args %q; want %d %v %q %q", tc.args, *n, *v, *s, fs.Args(), tc.n, tc.v, tc.s, tc.rest)
		}
		if out.Len() != 0 {
			t.Errorf("%q printed %q", tc.args, out.String())
		}
	}
}

// TestParseErrorsOnce: a bad flag is returned, never printed; -h prints the
// usage and returns ErrHelp.
func TestParseErrorsOnce(t *testing.T) {
	for _, args := range [][]string{{"f", "-wrong"}, {"-n", "x", "f"}, {"f", "-n"}} {
		var out bytes.Buffer
		fs, _, _, _ := newSet(&out)
		err := Parse(fs, args)
		if err == nil || errors.Is(err, ErrHelp) || out.Len() != 0 {
			t.Errorf("%q: error %v, printed %q; want an error, nothing printed", args, err, out.String())
		}
	}
	var out bytes.Buffer
	fs, _, _, _ := newSet(&out)
	if err := Parse(fs, []string{"f", "-h"}); !errors.Is(err, ErrHelp) || !strings.HasPrefix(out.String(), "usage: x") {
		t.Errorf("-h: error %v, printed %q; want ErrHelp and the usage", err, out.String())
	}
}
