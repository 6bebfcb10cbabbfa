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

// writeTinyTokenizer writes a small byte-level BPE tokenizer.json: the 256
// byte tokens (ids 0-255), merges for " the", and <|end|> (259) appended by
// the post-processor.
func writeTinyTokenizer(t *testing.T) string {
	t.Helper()
	vocab := map[string]int{}
	n := 0
	for b := 0; b < 256; b++ {
		var r rune
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			r = rune(b)
		} else {
			r = rune(256 + n)
			n++
		}
		vocab[string(r)] = b
	}
	vocab["Ġt"], vocab["he"], vocab["Ġthe"], vocab["<|end|>"] = 256, 257, 258, 259
	tj := map[string]any{
		"version": "1.0",
		"added_tokens": []any{map[string]any{"id": 259, "content": "<|end|>", "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true}},
		"normalizer":    nil,
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"SpecialToken": map[string]any{"id": "<|end|>", "type_id": 0}}},
			"pair":           []any{},
			"special_tokens": map[string]any{"<|end|>": map[string]any{"id": "<|end|>", "ids": []int{259}, "tokens": []string{"<|end|>"}}}},
		"decoder": map[string]any{"type": "ByteLevel"},
		"model":   map[string]any{"type": "BPE", "vocab": vocab, "merges": []string{"Ġ t", "h e", "Ġt he"}},
	}
	data, err := json.Marshal(tj)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestTokenizeCommand(t *testing.T) {
	dir := writeTinyTokenizer(t)
	file := filepath.Join(dir, "tokenizer.json")
	tests := []struct {
		name string
		args []string
		in   string
		out  string
		code int
	}{
		{"encode", []string{"--tokenizer", dir}, "a the\n", "97 258\n", 0},
		{"encode file, no final newline", []string{"--tokenizer", file}, "the<|end|>", "116 257 259\n", 0},
		{"add special", []string{"--tokenizer", dir, "--add-special"}, "a\n", "97 259\n", 0},
		{"encode json", []string{"--tokenizer", dir, "--json"}, "\"a\\n the\"\n", "[97,10,258]\n", 0},
		{"decode", []string{"--tokenizer", dir, "--decode"}, "97 258 259\n", "a the<|end|>\n", 0},
		{"decode skip special", []string{"--tokenizer", dir, "--decode", "--skip-special"}, "97 258 259\n", "a the\n", 0},
		{"decode json", []string{"--tokenizer", dir, "--decode", "--json"}, "[97,10,258]\n[]\n", "\"a\\n the\"\n\"\"\n", 0},
		{"bad id", []string{"--tokenizer", dir, "--decode"}, "1 x\n", "", 1},
		{"bad json", []string{"--tokenizer", dir, "--json"}, "not json\n", "", 1},
		{"missing tokenizer", []string{"--tokenizer", filepath.Join(dir, "nope")}, "a\n", "", 1},
		{"no tokenizer flag", []string{}, "a\n", "", 2},
		{"extra argument", []string{"--tokenizer", dir, "x"}, "", "", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"coldint", "tokenize"}, tc.args...)
			code := Main(context.Background(), args, IO{In: strings.NewReader(tc.in), Out: &out, Err: &errb})
			if code != tc.code || (tc.code == 0 && out.String() != tc.out) {
				t.Fatalf("exit %d, out %q, err %q; want %d, %q", code, out.String(), errb.String(), tc.code, tc.out)
			}
		})
	}
}
