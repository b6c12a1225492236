// Package cmdflag parses the command lines of runner and report the way
// users type them: flags before, between or after the arguments
// (`runner slurm x.yaml -shards 5`), each error said once.
package cmdflag

import (
	"errors"
	"flag"
	"io"
	"strings"
)

// ErrHelp is returned by Parse for -h, -help and --help, after the usage
// was printed.
var ErrHelp = errors.New("cmdflag: help requested")

// Reorder returns args with every flag of fs (and the value of a non-boolean
// flag given as the next argument) moved before the other arguments, which
// follow a "--" in their order. A "--" in args ends the flags: everything
// after it is an argument. A lone "-" is an argument. An unknown flag is
// left where Parse reports it.
func Reorder(fs *flag.FlagSet, args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil || isBool(f) {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	if len(rest) == 0 {
		return flags
	}
	return append(append(flags, "--"), rest...)
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// Parse parses args (flags in any position, see Reorder) into fs, which
// must use flag.ContinueOnError. Nothing is printed on an error: the caller
// prints the returned error once. For -h it calls fs.Usage and returns
// ErrHelp.
func Parse(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	fs.SetOutput(io.Discard)
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(Reorder(fs, args))
	fs.SetOutput(out)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return ErrHelp
	}
	return err
}
