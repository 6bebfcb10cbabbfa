package commands

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/demorun"
)

func TestGenerateDeterministic(t *testing.T) {
	tok := filepath.Join(t.TempDir(), "tok")
	if err := demorun.WriteByteTokenizer(tok); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "m")
	if _, stderr, code := runCLI(t, "model", "init", "--vocab-from", tok, "--hidden", "32", "--layers", "2", "--heads", "2", "--seed", "4", "--out", dir); code != 0 {
		t.Fatalf("model init: %s", stderr)
	}
	gen := func(args ...string) string {
		t.Helper()
		out, stderr, code := runCLI(t, append([]string{"generate", "--model", dir, "--prompt", "Once upon", "--threads", "1"}, args...)...)
		if code != 0 {
			t.Fatalf("generate %v: %d %s", args, code, stderr)
		}
		return out
	}
	sampled := []string{"--max-tokens", "24", "--temperature", "1.2", "--top-k", "100", "--top-p", "0.95", "--seed", "11", "--no-stop"}
	a, b := gen(sampled...), gen(sampled...)
	if a != b {
		t.Fatalf("same seed, different text:\n%q\n%q", a, b)
	}
	if len(strings.TrimSuffix(a, "\n")) == 0 {
		t.Fatal("no text generated")
	}
	sampled[len(sampled)-2] = "12"
	if c := gen(sampled...); c == a {
		t.Fatalf("seeds 11 and 12 gave the same text %q", a)
	}
	if g1, g2 := gen("--max-tokens", "10", "--no-stop"), gen("--max-tokens", "10", "--no-stop", "--seed", "99"); g1 != g2 {
		t.Fatalf("greedy depends on the seed: %q vs %q", g1, g2)
	}
	if e := gen("--max-tokens", "3", "--echo"); !strings.HasPrefix(e, "Once upon") {
		t.Fatalf("--echo output %q", e)
	}
}

func TestGenerateUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"empty prompt", []string{"generate", "--model", "m", "--prompt", ""}, "prompt"},
		{"zero tokens", []string{"generate", "--model", "m", "--prompt", "x", "--max-tokens", "0"}, "--max-tokens"},
		{"huge tokens", []string{"generate", "--model", "m", "--prompt", "x", "--max-tokens", "100000"}, "--max-tokens"},
		{"negative temperature", []string{"generate", "--model", "m", "--prompt", "x", "--temperature", "-1"}, "temperature"},
		{"top-p over one", []string{"generate", "--model", "m", "--prompt", "x", "--top-p", "2"}, "top-p"},
		{"negative top-k", []string{"generate", "--model", "m", "--prompt", "x", "--top-k", "-1"}, "top-k"},
		{"serve bad addr", []string{"serve", "--state", ".", "--addr", "nonsense"}, "--addr"},
		{"serve bad max tokens", []string{"serve", "--state", ".", "--max-tokens", "0"}, "--max-tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tt.args...)
			if code != ExitUsage || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q; want %d with %q", code, stderr, ExitUsage, tt.want)
			}
		})
	}
}
