package nn

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// ErrSlowBLAS is returned by EnsureBLAS when OpenBLAS still runs a kernel
// set older than the CPU supports (typically its Prescott fallback).
var ErrSlowBLAS = errors.New("nn: OpenBLAS runs slow kernels")

// reexecEnv marks a process that EnsureBLAS has already re-executed, so that
// it never loops.
const reexecEnv = "CLIPLAB_BLAS_REEXEC"

// EnsureBLAS makes OpenBLAS use the kernels this CPU supports, on one
// thread. Call it first in main and in every TestMain, before anything else
// runs: it may replace the process.
//
// OpenBLAS 0.3.21 picks its kernels once, when the library loads, and
// mistakes some AVX-512 CPUs (AMD EPYC) for a Prescott, which runs GEMM
// 2.5–4.6× slower. It honours OPENBLAS_CORETYPE, read at load time only; so
// when that variable is unset and OpenBLAS's choice uses narrower vectors
// than the CPU's features call for (AVX-512 → SkylakeX, AVX2+FMA → Haswell,
// AVX → Sandybridge; OpenBLAS's own Cooperlake is as good as SkylakeX),
// EnsureBLAS re-executes /proc/self/exe with the same arguments and
// OPENBLAS_CORETYPE (and OPENBLAS_NUM_THREADS=1 when unset) added to the
// environment. It never asks for kernels the CPU lacks, and it respects an
// OPENBLAS_CORETYPE set by hand. Child processes inherit the setting.
//
// It returns an error wrapping ErrSlowBLAS when the kernels are still
// narrower than the CPU's (OPENBLAS_CORETYPE set by hand to an older core,
// or the re-exec failed); training then works, only slower, and the caller
// should say so loudly.
func EnsureBLAS() error {
	want := cpuCore()
	env := os.Getenv("OPENBLAS_CORETYPE")
	if core := reexecCore(env, BLASCore(), want, os.Getenv(reexecEnv) != ""); core != "" {
		vars := append(os.Environ(), "OPENBLAS_CORETYPE="+core, reexecEnv+"=1")
		if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
			vars = append(vars, "OPENBLAS_NUM_THREADS=1")
		}
		err := syscall.Exec("/proc/self/exe", os.Args, vars)
		// Exec returns only on failure: carry on with the slow kernels.
		setBLASThreads(1)
		return fmt.Errorf("%w: %s on a CPU that supports %s (re-exec with OPENBLAS_CORETYPE=%s failed: %v)", ErrSlowBLAS, BLASCore(), want, core, err)
	}
	if env == "" {
		// Children (the PyTorch benchmark, say) get the same kernels.
		os.Setenv("OPENBLAS_CORETYPE", BLASCore())
	}
	if os.Getenv("OPENBLAS_NUM_THREADS") == "" {
		// And children of this binary (runner run -worker-procs's worker
		// processes, runner bench's) load OpenBLAS without the threads it
		// would start before their EnsureBLAS pins it to one: those spin for
		// about 0.1 s of CPU, which the other workers' first runs lose.
		os.Setenv("OPENBLAS_NUM_THREADS", "1")
	}
	setBLASThreads(1)
	if coreLevel(BLASCore()) < coreLevel(want) {
		return fmt.Errorf("%w: %s on a CPU that supports %s (OPENBLAS_CORETYPE=%q; unset it or set %s)", ErrSlowBLAS, BLASCore(), want, env, want)
	}
	return nil
}

// reexecCore returns the core EnsureBLAS must restart the process with, or
// "" to keep it: env is OPENBLAS_CORETYPE, current OpenBLAS's choice, want
// the CPU's, again whether this process is already a restart.
func reexecCore(env, current, want string, again bool) string {
	if env != "" || want == "" || again || coreLevel(current) >= coreLevel(want) {
		return ""
	}
	return want
}

// coreLevel ranks OpenBLAS kernel sets by the widest vector instructions
// they use: 3 AVX-512, 2 AVX2, 1 AVX, 0 older or unknown.
func coreLevel(name string) int {
	switch strings.ToLower(name) {
	case "skylakex", "cooperlake", "sapphirerapids":
		return 3
	case "haswell", "zen", "excavator":
		return 2
	case "sandybridge", "bulldozer", "piledriver", "steamroller":
		return 1
	}
	return 0
}
