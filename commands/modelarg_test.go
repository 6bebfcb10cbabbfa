package commands

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestModelFolderAsFlagOrArgument: every command whose argument is a model
// folder also takes it as --model (as eval and generate do), never both.
func TestModelFolderAsFlagOrArgument(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	if _, stderr, code := runCLI(t, "model", "init", "--arch", "llama", "--layers", "1", "--hidden", "32", "--heads", "4", "--vocab", "50", "--out", dir); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	for _, cmd := range [][]string{{"model", "inspect", "--json"}, {"surgeon", "inspect"}, {"hash"}} {
		pos, stderr, code := runCLI(t, append(cmd, dir)...)
		if code != 0 {
			t.Fatalf("%v DIR: %s", cmd, stderr)
		}
		flag, stderr, code := runCLI(t, append(cmd, "--model", dir)...)
		if code != 0 || flag != pos {
			t.Errorf("%v --model DIR: exit %d, %q; output differs from the DIR form:\n%s\n---\n%s", cmd, code, stderr, flag, pos)
		}
		if _, stderr, code := runCLI(t, append(cmd, "--model", dir, dir)...); code != ExitUsage || !strings.Contains(stderr, "not both") {
			t.Errorf("%v with both: exit %d, %q", cmd, code, stderr)
		}
	}
}
