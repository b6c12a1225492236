package db

import (
	"os"
	"runtime"
	"runtime/debug"
)

// Provenance says which code trained a run; Claim stores it with the run.
type Provenance struct {
	Version   string // cliplab version
	Revision  string // VCS revision (with "+dirty" when modified)
	GoVersion string
	Host      string
}

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
		p.Revision = "unknown"
	}
	p.Host, _ = os.Hostname()
	return p
}

// CurrentProvenance is the provenance this process writes.
func CurrentProvenance() Provenance { return prov }
