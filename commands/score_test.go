package commands

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/eval"
)

// TestScoreCommand drives `coldint score` on the eval golden inputs and
// checks the CLI prints exactly what the eval package renders.
func TestScoreCommand(t *testing.T) {
	in := filepath.Join("..", "eval", "testdata", "score", "grouped_special.input.json")
	out, stderr, code := runCLI(t, "score", "--input", in, "--json", "--seed", "7")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want, err := os.ReadFile(filepath.Join("..", "eval", "testdata", "score", "grouped_special.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Fatalf("--json output differs from the golden file:\n%s\nwant\n%s", out, want)
	}
	tbl, _, code := runCLI(t, "score", "--input", in, "--seed", "7")
	wantTbl, _ := os.ReadFile(filepath.Join("..", "eval", "testdata", "score", "grouped_special.golden.txt"))
	if code != 0 || tbl != string(wantTbl) {
		t.Fatalf("table differs:\n%s", tbl)
	}
	// Without --seed a random seed is used and reported, so the run can be reproduced.
	out, _, code = runCLI(t, "score", "--input", in, "--json")
	var rep eval.ScoreReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("random seed run: %d %s", code, out)
	}
	again, _, _ := runCLI(t, "score", "--input", in, "--json", "--seed", jsonNumber(rep.Seed))
	if again != out {
		t.Fatal("reported seed does not reproduce the run")
	}
}

func jsonNumber(u uint64) string { b, _ := json.Marshal(u); return string(b) }

func TestScoreCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"current_block":1,"models":[{"uid":1,"losses":["x"]}]}`), 0o644)
	empty := filepath.Join(dir, "empty.json")
	os.WriteFile(empty, []byte(`{"current_block":1,"models":[{"uid":1,"losses":null}]}`), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no input", []string{"score"}, ExitUsage, "--input"},
		{"missing file", []string{"score", "--input", filepath.Join(dir, "nope.json")}, ExitError, "nope.json"},
		{"bad loss", []string{"score", "--input", bad}, ExitError, "parse loss"},
		{"no results", []string{"score", "--input", empty}, ExitError, "no results"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("code %d stderr %q", code, stderr)
			}
		})
	}
}

func TestScoreCommandStdin(t *testing.T) {
	b, _ := os.ReadFile(filepath.Join("..", "eval", "testdata", "score", "worked_example.input.json"))
	var out, errb bytes.Buffer
	code := Main(t.Context(), []string{"coldint", "score", "--input", "-", "--json"}, IO{In: bytes.NewReader(b), Out: &out, Err: &errb})
	if code != 0 {
		t.Fatalf("%d %s", code, errb.String())
	}
	var rep eval.ScoreReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.WinRate["1"] != 0.5 || rep.WinAbsRate["2"] != 0.5 {
		t.Fatalf("%+v", rep)
	}
}
