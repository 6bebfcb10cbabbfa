package tokenizer

import (
	"reflect"
	"strings"
	"testing"
)

// TestSplitBehaviors uses the example of HF's SplitDelimiterBehavior
// documentation: "the-final--countdown" split on "-".
func TestSplitBehaviors(t *testing.T) {
	tests := []struct {
		b    behavior
		want []string
	}{
		{bRemoved, []string{"the", "final", "countdown"}},
		{bIsolated, []string{"the", "-", "final", "-", "-", "countdown"}},
		{bMergedWithPrevious, []string{"the-", "final-", "-", "countdown"}},
		{bMergedWithNext, []string{"the", "-final", "-", "-countdown"}},
		{bContiguous, []string{"the", "-", "final", "--", "countdown"}},
	}
	ws := &workspace{}
	for _, tc := range tests {
		var got []string
		for _, p := range splitPiece(piece{s: "the-final--countdown"}, literalMatcher{"-"}, tc.b, false, nil, ws) {
			got = append(got, p.s)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("behavior %d: got %q, want %q", tc.b, got, tc.want)
		}
	}
}

// TestAppendLossy uses the example of the Unicode Standard (ch. 3, "U+FFFD
// substitution of maximal subparts"), which Rust's from_utf8_lossy follows.
func TestAppendLossy(t *testing.T) {
	in := []byte{0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80, 0xBF, 0x64}
	want := "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd"
	if got := string(appendLossy(nil, in)); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, s := range []string{"", "plain", "日本語 😀", "\u0085"} {
		if got := string(appendLossy(nil, []byte(s))); got != s {
			t.Errorf("valid %q changed to %q", s, got)
		}
	}
}

// TestByteLevelAlphabet checks GPT-2's byte-to-character table: printable
// Latin-1 maps to itself, the rest to U+0100 upwards, space to "Ġ".
func TestByteLevelAlphabet(t *testing.T) {
	seen := map[rune]bool{}
	for b := 0; b < 256; b++ {
		r := bytesChar[b]
		if seen[r] {
			t.Fatalf("byte %d maps to %q twice", b, r)
		}
		seen[r] = true
		back, ok := byteLevelDecodeToken(string(r), nil)
		if !ok || len(back) != 1 || back[0] != byte(b) {
			t.Fatalf("byte %d does not round-trip", b)
		}
	}
	if bytesChar[' '] != 'Ġ' || bytesChar['\n'] != 'Ċ' || bytesChar['a'] != 'a' {
		t.Errorf("space, newline, a map to %q %q %q", bytesChar[' '], bytesChar['\n'], bytesChar['a'])
	}
}

// TestLoadErrors checks that broken files give errors, never panics.
func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"not json", `{`, "parse tokenizer.json"},
		{"no model", `{}`, "missing \"model\""},
		{"unknown model", `{"model":{"type":"WordLevel","vocab":{"a":0},"unk_token":"a"}}`, "not supported"},
		{"bad merge", `{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]}}`, "missing from the vocabulary"},
		{"merge result", `{"model":{"type":"BPE","vocab":{"a":0,"b":1},"merges":["a b"]}}`, "not in the vocabulary"},
		{"merge form", `{"model":{"type":"BPE","vocab":{"a":0},"merges":["a"]}}`, "two tokens"},
		{"unk", `{"model":{"type":"BPE","vocab":{"a":0},"merges":[],"unk_token":"<unk>"}}`, "unk_token"},
		{"bad regex", `{"model":{"vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(?<"},"behavior":"Isolated"}}`, "compile regex"},
		{"bad behavior", `{"model":{"vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Split","pattern":{"String":"x"},"behavior":"Odd"}}`, "behavior"},
		{"unknown normalizer", `{"model":{"vocab":{"a":0},"merges":[]},"normalizer":{"type":"Odd"}}`, "not supported"},
		{"unknown decoder", `{"model":{"vocab":{"a":0},"merges":[]},"decoder":{"type":"Odd"}}`, "not supported"},
		{"template token", `{"model":{"vocab":{"a":0},"merges":[]},"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}}],"special_tokens":{}}}`, "not defined"},
		{"added without id", `{"model":{"vocab":{"a":0},"merges":[]},"added_tokens":[{"content":"x"}]}`, "bad id"},
		{"huge id", `{"model":{"vocab":{"a":2000000000},"merges":[]}}`, "out of range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromBytes([]byte(tc.json), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := FromBytes(tinyByteLevel(), []byte(`{"bos_token": 3`)); err == nil {
		t.Error("a broken tokenizer_config.json loaded")
	}
}

// TestByteLevelOddVocab loads a byte-level vocabulary holding a token outside
// the byte alphabet with the largest id: it must load and decode.
func TestByteLevelOddVocab(t *testing.T) {
	data := `{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"™odd":3},"merges":["a b"]},
		"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":false,"use_regex":true},"decoder":{"type":"ByteLevel"}}`
	tk, err := FromBytes([]byte(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if tk.MaxID() != 3 {
		t.Errorf("MaxID = %d, want 3", tk.MaxID())
	}
	ids, _ := tk.Encode("ab", false)
	if len(ids) != 1 || ids[0] != 2 {
		t.Errorf("Encode(ab) = %v, want [2]", ids)
	}
	if s := tk.DecodeRaw([]int{2, 3}, false); s != "ab™odd" {
		t.Errorf("DecodeRaw = %q", s)
	}
}

// TestConcurrentEncode checks that parallel encoding (EncodeBatch and plain
// goroutines sharing one Tokenizer) gives the sequential results; run it
// with -race.
func TestConcurrentEncode(t *testing.T) {
	for _, data := range [][]byte{tinyByteLevel(), tinySentencePiece(), tinyMixed()} {
		tk := mustTiny(t, data)
		var texts []string
		for i := 0; i < 400; i++ {
			texts = append(texts, strings.Repeat(fuzzSeeds[i%len(fuzzSeeds)]+" ", 1+i%7))
		}
		want := make([][]int, len(texts))
		for i, s := range texts {
			want[i], _ = tk.Encode(s, i%2 == 0)
		}
		got, err := tk.EncodeBatch(texts, false)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan [][]int, 4)
		for g := 0; g < 4; g++ {
			go func() {
				res := make([][]int, len(texts))
				for i, s := range texts {
					res[i], _ = tk.Encode(s, i%2 == 0)
				}
				done <- res
			}()
		}
		for i := range texts {
			w, _ := tk.Encode(texts[i], false)
			if !reflect.DeepEqual(got[i], w) {
				t.Fatalf("EncodeBatch differs on %q", texts[i])
			}
		}
		for g := 0; g < 4; g++ {
			res := <-done
			if !reflect.DeepEqual(res, want) {
				t.Fatal("concurrent Encode differs from sequential")
			}
		}
	}
}
