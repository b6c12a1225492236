// Who holds a run: this process's worker name, and whether another
// worker's process still runs.

package worker

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ID names this process for the runs it claims: host/pid/start, where start
// is the process's start time in clock ticks since boot, so that a recycled
// pid is not mistaken for us. Its workers are ID()+"#slot".
func ID() string {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return fmt.Sprintf("%s/%d/%s", host, pid, procStart(pid))
}

// procStart returns field 22 of /proc/pid/stat (start time), or "" if the
// process does not exist or the system has no /proc.
func procStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces; it ends at the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19] // field 22 overall: fields 3.. start at f[0]
}

// IsDead reports whether worker (as ID writes it, plus "#slot") was a
// process of this host that no longer runs. Workers of other hosts are
// never known dead: their runs wait for the heartbeat to go stale.
func IsDead(worker string) bool {
	id, _, _ := strings.Cut(worker, "#")
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return false
	}
	host, _ := os.Hostname()
	if parts[0] != host || parts[2] == "" {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return false
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return false // no /proc: cannot tell
	}
	return procStart(pid) != parts[2]
}
