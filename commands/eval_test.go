package commands

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/model/synth"
	"github.com/coldint/coldint/tokenizer"
)

// TestEvalCommand runs `coldint eval` on a synthetic model: plain and --json
// output agree, sliced (--max-memory) equals unsliced, invalid samples are
// inf, and out-of-vocabulary ids or text samples are clear errors.
func TestEvalCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	spec := synth.Spec{Arch: "llama", Layers: 3, Hidden: 32, Heads: 4, KVHeads: 2, Intermediate: 64, Vocab: 90, Std: 0.1, Seed: 3}
	if err := synth.Write(dir, spec); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "d.jsonl")
	lines := `{"ids": [1, 2, 3, 4, 5, 6]}
{"ids": [7, 8], "valid": false}

{"ids": [9]}
{"ids": ` + idsJSON(synth.RandomIDs(4, 40, spec.Vocab)) + `}
`
	os.WriteFile(data, []byte(lines), 0o644)

	out, stderr, code := runCLI(t, "eval", "--model", dir, "--data", data, "--threads", "1")
	if code != 0 {
		t.Fatalf("eval failed (%d): %s", code, stderr)
	}
	plain := strings.Fields(out)
	if len(plain) != 4 || plain[1] != "inf" || plain[2] != "0" {
		t.Fatalf("eval output %q", out)
	}
	for _, p := range []string{plain[0], plain[3]} {
		if v, err := strconv.ParseFloat(p, 64); err != nil || !(v > 0) {
			t.Errorf("loss %q is not a positive number", p)
		}
	}

	out, stderr, code = runCLI(t, "eval", "--model", dir, "--data", data, "--json", "--max-memory", "40KiB")
	if code != 0 {
		t.Fatalf("sliced eval failed (%d): %s", code, stderr)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for i := 0; i < 4; i++ {
		var r struct {
			Index  int             `json:"index"`
			Loss   json.RawMessage `json:"loss"`
			Tokens int             `json:"tokens"`
		}
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("json line %d of %q: %v", i, out, err)
		}
		want := plain[i]
		if want == "inf" {
			want = `"inf"`
		}
		if r.Index != i || string(r.Loss) != want {
			t.Errorf("line %d: %+v, want loss %s", i, r, want)
		}
	}

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"ids": [1, 90]}`+"\n"), 0o644)
	if _, stderr, code := runCLI(t, "eval", "--model", dir, "--data", bad); code != ExitError || !strings.Contains(stderr, "vocabulary") {
		t.Errorf("out-of-vocabulary: code %d, %s", code, stderr)
	}
	text := filepath.Join(t.TempDir(), "t.txt")
	os.WriteFile(text, []byte("hello\n"), 0o644)
	if _, stderr, code := runCLI(t, "eval", "--model", dir, "--data", text); code == 0 || !strings.Contains(stderr, "tokenizer") {
		t.Errorf("text samples: code %d, %s", code, stderr)
	}
	for _, args := range [][]string{
		{"eval", "--model", dir, "--data", data, "--max-memory", "lots"},
		{"eval", "--model", dir, "--data", data, "--threads", "-1"},
		{"eval", "--model", dir, "--data", filepath.Join(dir, "samples.csv")},
	} {
		if _, stderr, code := runCLI(t, args...); code != ExitUsage {
			t.Errorf("%v: code %d (%s), want usage error", args, code, stderr)
		}
	}
}

func idsJSON(ids []int32) string {
	b, _ := json.Marshal(ids)
	return string(b)
}

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1000", 1000, true}, {"1.5G", 1_500_000_000, true}, {"2GiB", 2 << 30, true}, {"64 MiB", 64 << 20, true},
		{"10KB", 10_000, true}, {"7B", 7, true}, {"", 0, false}, {"-1", 0, false}, {"1e400", 0, false}, {"G", 0, false},
	} {
		got, err := parseBytes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func TestFormatLoss(t *testing.T) {
	if formatLoss(math.Inf(1)) != "inf" || string(jsonLoss(math.Inf(1))) != `"inf"` || string(jsonLoss(1.5)) != "1.5" || formatLoss(math.NaN()) != "nan" {
		t.Error("non-finite loss formatting")
	}
}

func TestParseEvalLine(t *testing.T) {
	for _, tc := range []struct {
		line  string
		jsonl bool
		ok    bool
		ids   int
		text  bool
	}{
		{`{"ids": [1, 2]}`, true, true, 2, false},
		{`{"ids": []}`, true, true, 0, false},
		{`{"text": "hi"}`, true, true, 0, true},
		{`{"ids": [1.5]}`, true, false, 0, false},
		{`{"ids": [-1]}`, true, false, 0, false},
		{`{"ids": [4294967296]}`, true, false, 0, false},
		{`{}`, true, false, 0, false},
		{`[1,2]`, true, false, 0, false},
		{`plain text`, false, true, 0, true},
	} {
		got, err := parseEvalLine([]byte(tc.line), tc.jsonl)
		if (err == nil) != tc.ok {
			t.Errorf("%q: error %v", tc.line, err)
			continue
		}
		if err == nil && (len(got.IDs) != tc.ids || got.HasIDs == tc.text) {
			t.Errorf("%q: %+v", tc.line, got)
		}
	}
}

// FuzzParseEvalLine: sample lines never panic; ids that parse are in range.
func FuzzParseEvalLine(f *testing.F) {
	f.Add([]byte(`{"ids": [1, 2, 3], "valid": false}`), true)
	f.Add([]byte(`{"text": "x"}`), true)
	f.Add([]byte("a line"), false)
	f.Fuzz(func(t *testing.T, line []byte, jsonl bool) {
		s, err := parseEvalLine(line, jsonl)
		if err != nil {
			return
		}
		for _, id := range s.IDs {
			if id < 0 {
				t.Fatalf("negative id %d from %q", id, line)
			}
		}
		if !jsonl && !bytes.Equal([]byte(s.Text), line) {
			t.Fatalf("text line changed: %q -> %q", line, s.Text)
		}
	})
}

// TestEvalTextSamples tokenizes text with the model's own tokenizer as a
// validator does: EOS appended, and a tokenizer that does not give the exact
// text back (Mistral's inserts BOS) makes the sample invalid (+Inf).
func TestEvalTextSamples(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "texts.txt")
	os.WriteFile(data, []byte("The quick brown fox jumps over the lazy dog.\nTabs\tand  spaces.\n"), 0o644)
	tests := []struct {
		tokenizer string
		finite    bool
	}{
		{"gpt35turbo", true},
		{"llama2", false},
	}
	for _, tc := range tests {
		t.Run(tc.tokenizer, func(t *testing.T) {
			tokDir := testenv.LenmlTokenizer(t, tc.tokenizer)
			m := filepath.Join(dir, tc.tokenizer)
			if _, stderr, code := runCLI(t, "model", "init", "--vocab-from", tokDir, "--hidden", "16", "--layers", "1", "--heads", "2", "--tie", "--out", m); code != 0 {
				t.Fatal(stderr)
			}
			tok, err := tokenizer.Load(tokDir)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := tok.Encode("The quick brown fox jumps over the lazy dog.", true)
			out, stderr, code := runCLI(t, "eval", "--model", m, "--data", data, "--json", "--threads", "1")
			if code != 0 {
				t.Fatal(stderr)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 {
				t.Fatalf("want 2 results: %q", out)
			}
			var r struct {
				Loss   any `json:"loss"`
				Tokens int `json:"tokens"`
			}
			if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
				t.Fatal(err)
			}
			_, isNum := r.Loss.(float64)
			if isNum != tc.finite {
				t.Fatalf("loss %v: finite=%v, want %v", r.Loss, isNum, tc.finite)
			}
			if tc.finite && r.Tokens != len(want)+1 {
				t.Fatalf("tokens %d, want %d (+EOS)", r.Tokens, len(want)+1)
			}
		})
	}
}
