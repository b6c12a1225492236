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
// process does not exist, is a zombie (it has exited and waits for its
// parent, or, an orphan, for an init that may never reap it), or the system
// has no /proc.
func procStart(pid int) string {
	st, ok := procStat(pid)
	if !ok || st.state == "Z" || st.state == "X" {
		return ""
	}
	return st.start
}

// stat is what /proc/pid/stat says of a process.
type stat struct {
	state string // field 3: R, S, D, Z (zombie), …
	ppid  int    // field 4
	start string // field 22: start time in clock ticks since boot
}

// procStat reads /proc/pid/stat; false if there is none.
func procStat(pid int) (stat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, false
	}
	// The command name (field 2) may hold spaces; it ends at the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return stat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return stat{state: f[0], ppid: ppid, start: f[19]}, true // fields 3.. start at f[0]
}

// parseID splits worker (as ID writes it, plus "#slot") into its pid and
// start time; false for a worker of another host or a name ID does not
// write.
func parseID(worker string) (pid int, start string, ok bool) {
	id, _, _ := strings.Cut(worker, "#")
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return 0, "", false
	}
	host, _ := os.Hostname()
	if parts[0] != host || parts[2] == "" {
		return 0, "", false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0, "", false
	}
	return pid, parts[2], true
}

// Related reports whether worker is a live process of this host that is
// this process's parent, one of its children, or a child of the same
// parent: runner run -workers N -worker-procs trains in itself and in N-1
// worker processes it starts (runner worker), which are related so.
func Related(worker string) bool {
	pid, start, ok := parseID(worker)
	if !ok || pid == os.Getpid() {
		return false
	}
	st, ok := procStat(pid)
	if !ok || st.state == "Z" || st.state == "X" || st.start != start {
		return false
	}
	return pid == os.Getppid() || st.ppid == os.Getpid() || st.ppid == os.Getppid()
}

// IsDead reports whether worker (as ID writes it, plus "#slot") was a
// process of this host that no longer runs (or is a zombie). Workers of other hosts are
// never known dead: their runs wait for the heartbeat to go stale.
func IsDead(worker string) bool {
	pid, start, ok := parseID(worker)
	if !ok {
		return false
	}
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return false // no /proc: cannot tell
	}
	return procStart(pid) != start
}
