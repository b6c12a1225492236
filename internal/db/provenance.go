package db

import (
	"bufio"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Provenance says which code trained a run; Claim stores it with the run.
type Provenance struct {
	Version   string // cliplab version
	Revision  string // VCS revision (with "+dirty" when modified)
	GoVersion string
	Host      string
	CPUModel  string // the CPU's model name; "" where it cannot be read
}

// UnknownRevision is Provenance.Revision for a binary built without VCS
// information (outside a git clone, go run, -buildvcs=false) and without
// -ldflags "-X cliplab/internal/db.Revision=…".
const UnknownRevision = "unknown"

// Version is cliplab's version; Revision may be set at link time
// (-ldflags "-X cliplab/internal/db.Revision=...") where the build has no VCS
// information.
var (
	Version  = "0.1.0"
	Revision = ""
)

var prov = readProvenance()

func readProvenance() Provenance {
	p := Provenance{Version: Version, Revision: Revision, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if rev != "" {
			p.Revision = rev + dirty
		}
	}
	if p.Revision == "" {
		p.Revision = UnknownRevision
	}
	p.Host, _ = os.Hostname()
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		p.CPUModel = cpuModel(f)
		f.Close()
	}
	return p
}

// cpuModel returns the CPU's name from Linux's /proc/cpuinfo: its first
// "model name" (x86), else "Hardware" or "cpu model" (some ARM and MIPS
// kernels); "" when it has none of these.
func cpuModel(cpuinfo io.Reader) string {
	found := map[string]string{}
	sc := bufio.NewScanner(cpuinfo)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if ok && v != "" && found[k] == "" {
			found[k] = v
		}
	}
	for _, k := range []string{"model name", "Hardware", "cpu model"} {
		if found[k] != "" {
			return found[k]
		}
	}
	return ""
}

// nullIfEmpty is s, or NULL for "".
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CurrentProvenance is the provenance this process writes.
func CurrentProvenance() Provenance { return prov }
