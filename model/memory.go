package model

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrTooLarge is returned by [Engine.Load] for a model that cannot be
// evaluated within the memory budget even in layer slices: one unit
// (the embedding, a decoder layer, or the final norm with the LM head) alone
// is larger than the budget.
var ErrTooLarge = errors.New("model too large for the memory budget")

// GPUBudgetShare is the share of a GPU's total memory that resident weights
// may take by default, as the reference validator's sliced evaluation.
const GPUBudgetShare = 0.35

// CPUBudgetShare is the share of the host's available memory (MemAvailable)
// that resident weights may take by default on the CPU.
const CPUBudgetShare = 0.5

// NoBudget as LoadOptions.MaxMemory keeps every weight resident, however
// large the model.
const NoBudget int64 = -1

// DefaultBudget is the weight budget that LoadOptions.MaxMemory 0 means on
// dev: [GPUBudgetShare] of the GPU's total memory, or [CPUBudgetShare] of
// the host's available memory.
func DefaultBudget(dev Device) (int64, error) {
	if dev.CUDA {
		_, total, err := cudaMemInfo(dev.Index)
		if err != nil {
			return 0, fmt.Errorf("default memory budget on %s: %w", dev, err)
		}
		return int64(GPUBudgetShare * float64(total)), nil
	}
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("default memory budget on the CPU: %w", err)
	}
	avail, err := parseMemAvailable(data)
	if err != nil {
		return 0, fmt.Errorf("default memory budget on the CPU: %w", err)
	}
	return int64(CPUBudgetShare * float64(avail)), nil
}

// parseMemAvailable returns the MemAvailable line of /proc/meminfo in bytes.
func parseMemAvailable(data []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || key != "MemAvailable" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("parse meminfo: MemAvailable %q is not \"N kB\"", strings.TrimSpace(rest))
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n < 0 || n > 1<<53 {
			return 0, fmt.Errorf("parse meminfo: MemAvailable %q is not a size in kB", f[0])
		}
		return n << 10, nil
	}
	return 0, fmt.Errorf("parse meminfo: no MemAvailable line")
}

// resolveBudget turns LoadOptions.MaxMemory into a budget in bytes: 0 is
// the device's default, a negative value no budget (returned as 0).
func resolveBudget(maxMemory int64, dev Device) (int64, error) {
	switch {
	case maxMemory < 0:
		return 0, nil
	case maxMemory > 0:
		return maxMemory, nil
	}
	return DefaultBudget(dev)
}

// isOOM reports whether a libtorch error is an allocation failure: CUDA's
// "out of memory" or the CPU allocator's.
func isOOM(err error) bool {
	if err == nil {
		return false
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "out of memory") ||
		strings.Contains(msg, "can't allocate memory") ||
		strings.Contains(msg, "not enough memory")
}
