package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs coldint with args and returns stdout, stderr and the exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"coldint"}, args...), IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

func TestModelInitInspect(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	_, stderr, code := runCLI(t, "model", "init", "--arch", "phi3", "--layers", "1", "--hidden", "32", "--heads", "4", "--kv-heads", "2", "--vocab", "77", "--seed", "5", "--dtype", "f32", "--out", dir)
	if code != 0 {
		t.Fatalf("init failed (%d): %s", code, stderr)
	}
	out, stderr, code := runCLI(t, "model", "inspect", "--json", dir)
	if code != 0 {
		t.Fatalf("inspect failed: %s", stderr)
	}
	var info struct {
		ModelType string `json:"model_type"`
		Params    int64  `json:"params"`
		Rows      int64  `json:"embedding_rows"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	if info.ModelType != "phi3" || info.Rows != 77 || info.Params == 0 {
		t.Fatalf("inspect: %+v", info)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no vocab", []string{"model", "init", "--out", "x"}, ExitUsage, "exactly one of --vocab"},
		{"bad dtype", []string{"model", "init", "--vocab", "9", "--dtype", "f8", "--out", "x"}, ExitUsage, "--dtype"},
		{"bad heads", []string{"model", "init", "--vocab", "9", "--hidden", "30", "--heads", "4", "--out", "x"}, ExitUsage, "divisible"},
		{"inspect missing", []string{"model", "inspect", "/nonexistent"}, ExitError, "config.json"},
		{"bad log level", []string{"--log-level", "loud", "version"}, ExitUsage, "log-level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("code %d stderr %q; want %d and %q", code, stderr, tc.code, tc.want)
			}
		})
	}
}

func TestEnvVarSetsFlag(t *testing.T) {
	t.Setenv("COLDINT_LOG_LEVEL", "loud")
	_, stderr, code := runCLI(t, "version")
	if code != ExitUsage || !strings.Contains(stderr, "loud") {
		t.Fatalf("COLDINT_LOG_LEVEL was not applied: %d %q", code, stderr)
	}
	t.Setenv("COLDINT_LOG_LEVEL", "info")
	t.Setenv("COLDINT_NO_SUCH_FLAG", "1")
	_, stderr, _ = runCLI(t, "version")
	if !strings.Contains(stderr, "COLDINT_NO_SUCH_FLAG") {
		t.Fatalf("unknown variable not warned about: %q", stderr)
	}
}
