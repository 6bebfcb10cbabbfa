package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestNonComputingCommandsSkipLibtorch runs the binary under the dynamic
// loader's trace: commands that compute nothing load neither the engine
// library nor libtorch; engine-info (the control) loads both.
func TestNonComputingCommandsSkipLibtorch(t *testing.T) {
	bin := coldintBin(t)
	loaded := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "LD_DEBUG=libs")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("coldint %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	for _, args := range [][]string{{"version"}, {"--help"}, {"hash", "--help"}, {"config", "dump", "eval"}} {
		if l := grepLines(loaded(args...), "file="); strings.Contains(l, "torch") {
			t.Errorf("coldint %v loads the engine:\n%s", args, l)
		}
	}
	if l := grepLines(loaded("engine-info"), "file="); !strings.Contains(l, "libcoldint_torch.so") || !strings.Contains(l, "libtorch") {
		t.Errorf("engine-info did not load the engine library (the trace does not show loads?)")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
