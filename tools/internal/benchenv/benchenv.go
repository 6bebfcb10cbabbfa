// Package benchenv holds what the engine and miner bench tools share: the
// default thread count, the machine's load for the report, and the
// generated bench models cached between runs.
package benchenv

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/coldint/coldint/model/synth"
)

// DefaultThreads is OMP_NUM_THREADS when set to a positive number, else the
// number of CPUs.
func DefaultThreads() int {
	if n, err := strconv.Atoi(os.Getenv("OMP_NUM_THREADS")); err == nil && n > 0 {
		return n
	}
	return runtime.NumCPU()
}

// LoadAvg is the 1-minute load average ("?" when unknown): the benches
// share the machine, so every result line reports it.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// EnsureModel writes the synthetic model s into dir unless a previous run
// completed it (a .complete stamp written last); a partial folder is
// replaced.
func EnsureModel(dir string, s synth.Spec) error {
	stamp := filepath.Join(dir, ".complete")
	if _, err := os.Stat(stamp); err == nil {
		return nil
	}
	os.RemoveAll(dir)
	if err := synth.Write(dir, s); err != nil {
		return err
	}
	return os.WriteFile(stamp, nil, 0o644)
}
