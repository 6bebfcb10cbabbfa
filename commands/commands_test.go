package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
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

func TestSurgeonCLI(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	if _, stderr, code := runCLI(t, "model", "init", "--layers", "2", "--hidden", "16", "--heads", "4", "--kv-heads", "2", "--vocab", "40", "--dtype", "f32", "--out", a); code != 0 {
		t.Fatal(stderr)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"add layers", []string{"surgeon", "add-layers", a, "--at", "1", "--count", "2", "--out", filepath.Join(dir, "b")}, 0, "4 layers"},
		{"grow hidden", []string{"surgeon", "grow-hidden", a, "--to", "24", "--out", filepath.Join(dir, "c")}, 0, "hidden 24"},
		{"grow hidden breaks heads", []string{"surgeon", "grow-hidden", a, "--to", "18", "--out", filepath.Join(dir, "x")}, ExitError, "heads must grow whole"},
		{"grow intermediate", []string{"surgeon", "grow-intermediate", a, "--to", "64", "--out", filepath.Join(dir, "d")}, 0, "wrote"},
		{"resize", []string{"surgeon", "resize-vocab", a, "--to", "50", "--pad-multiple", "8", "--out", filepath.Join(dir, "e")}, 0, "vocab 56"},
		{"convert", []string{"surgeon", "convert", a, "--dtype", "bf16", "--out", filepath.Join(dir, "f")}, 0, "BF16"},
		{"merge", []string{"surgeon", "merge", a, filepath.Join(dir, "f"), "--weights", "1,0", "--out", filepath.Join(dir, "g")}, 0, "wrote"},
		{"merge mismatch", []string{"surgeon", "merge", a, filepath.Join(dir, "c"), "--out", filepath.Join(dir, "h")}, ExitError, "lm_head.weight"},
		{"out exists", []string{"surgeon", "convert", a, "--dtype", "f32", "--out", filepath.Join(dir, "b")}, ExitError, "already exists"},
		{"slice info", []string{"surgeon", "slice-info", a, "--max-memory", "10000"}, 0, "slice 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, code := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(out+stderr, tc.want) {
				t.Fatalf("code %d out %q err %q; want %d and %q", code, out, stderr, tc.code, tc.want)
			}
		})
	}
}

func TestInterspersed(t *testing.T) {
	app := NewApp(IO{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &bytes.Buffer{}})
	tests := []struct{ in, want string }{
		{"coldint surgeon grow-hidden DIR --to 24 --out X", "coldint surgeon grow-hidden --to 24 --out X DIR"},
		{"coldint --log-level debug model inspect DIR --json", "coldint --log-level debug model inspect --json DIR"},
		{"coldint surgeon merge A B --weights=1,0 -- --odd", "coldint surgeon merge --weights=1,0 A B -- --odd"},
		{"coldint version", "coldint version"},
	}
	for _, tc := range tests {
		got := strings.Join(interspersed(app, strings.Fields(tc.in)), " ")
		if got != tc.want {
			t.Errorf("interspersed(%q) = %q want %q", tc.in, got, tc.want)
		}
	}
}

func TestSurgeonSwapTokenizerErrors(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	if _, stderr, code := runCLI(t, "model", "init", "--vocab", "40", "--hidden", "16", "--out", a); code != 0 {
		t.Fatal(stderr)
	}
	_, stderr, code := runCLI(t, "surgeon", "swap-tokenizer", a, "--tokenizer", dir, "--out", filepath.Join(dir, "b"))
	if code != ExitError || !strings.Contains(stderr, "no tokenizer.json") {
		t.Fatalf("missing tokenizer: %d %q", code, stderr)
	}
}

func TestSurgeonCheckCLI(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a")
	if _, stderr, code := runCLI(t, "model", "init", "--vocab", "40", "--hidden", "16", "--out", a); code != 0 {
		t.Fatal(stderr)
	}
	comps := filepath.Join(dir, "competitions.json")
	os.WriteFile(comps, []byte(`{"c00":{"reward":1,"dataset":"fineweb2","model_types":["LlamaForCausalLM"],"model_size":1000000,"parameters":10,"tokenizer":"Xenova/gpt-4"}}`), 0o644)
	out, _, code := runCLI(t, "surgeon", "check", a, "--competitions", comps)
	if code != ExitError || !strings.Contains(out, "REJECTED") || !strings.Contains(out, "exceed the limit of 10") {
		t.Fatalf("check: %d %q", code, out)
	}
	os.WriteFile(comps, []byte(`{"c00":{"reward":1}}`), 0o644)
	_, stderr, code := runCLI(t, "surgeon", "check", a, "--competitions", comps)
	if code != ExitError || !strings.Contains(stderr, "dataset") {
		t.Fatalf("invalid competitions file: %d %q", code, stderr)
	}
}

func TestModelInitVocabFromTokenizer(t *testing.T) {
	dir := t.TempDir()
	tokDir := filepath.Join(dir, "tok")
	os.MkdirAll(tokDir, 0o755)
	os.WriteFile(filepath.Join(tokDir, "tokenizer.json"), []byte(`{"version":"1.0","model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},"added_tokens":[{"id":5,"content":"<eos>","special":true,"single_word":false,"lstrip":false,"rstrip":false,"normalized":false}]}`), 0o644)
	m := filepath.Join(dir, "m")
	if _, stderr, code := runCLI(t, "model", "init", "--vocab-from", tokDir, "--hidden", "16", "--out", m); code != 0 {
		t.Fatal(stderr)
	}
	if _, err := os.Stat(filepath.Join(m, "tokenizer.json")); err != nil {
		t.Fatal("tokenizer files were not copied")
	}
	out, _, _ := runCLI(t, "model", "inspect", "--json", m)
	if !strings.Contains(out, `"embedding_rows": 6`) {
		t.Fatalf("embedding rows should cover id 5: %s", out)
	}
	os.WriteFile(filepath.Join(tokDir, "tokenizer.json"), []byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[3]}}`), 0o644)
	_, stderr, code := runCLI(t, "model", "init", "--vocab-from", tokDir, "--hidden", "16", "--out", filepath.Join(dir, "m2"))
	if code != ExitError || !strings.Contains(stderr, "tokenizer") {
		t.Fatalf("malformed tokenizer: %d %q", code, stderr)
	}
}
