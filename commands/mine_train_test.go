package commands

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/model"
)

// TestMineTrainDeviceFlags checks how `mine train` reads --device and
// --dtype: a misspelt one is a usage error naming the flag, and CUDA asked
// for on an engine without it is a clear error (no fallback to the CPU)
// before anything is loaded.
func TestMineTrainDeviceFlags(t *testing.T) {
	if _, err := model.ResolveDevice("cuda"); err == nil {
		t.Skip("this engine has CUDA: --device cuda would train")
	}
	dir := t.TempDir()
	base := []string{"mine", "train", "--init", filepath.Join(dir, "none"), "--data", filepath.Join(dir, "none.txt"), "--out", filepath.Join(dir, "run")}
	tests := []struct {
		name  string
		extra []string
		code  int
		want  string
	}{
		{"cuda without CUDA", []string{"--device", "cuda"}, ExitError, "no CUDA device"},
		{"cuda:1 without CUDA", []string{"--device", "cuda:1", "--dtype", "bf16"}, ExitError, "no CUDA device"},
		{"bad device", []string{"--device", "tpu"}, ExitUsage, "--device"},
		{"bad gpu index", []string{"--device", "cuda:x"}, ExitUsage, "GPU index"},
		{"bad dtype", []string{"--dtype", "f8"}, ExitUsage, "--dtype"},
		{"bad save dtype", []string{"--save-dtype", "f8"}, ExitUsage, "f8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, append(base, tc.extra...)...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}
