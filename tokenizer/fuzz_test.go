package tokenizer

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// byteLevelVocab returns GPT-2's 256 byte-level tokens with ids 0-255.
func byteLevelVocab() map[string]int {
	v := map[string]int{}
	for b := 0; b < 256; b++ {
		v[string(bytesChar[b])] = b
	}
	return v
}

// tinyByteLevel is a cl100k-style tokenizer.json: cl100k regex Split +
// ByteLevel, a few merges, special and non-special added tokens.
func tinyByteLevel() []byte {
	vocab := byteLevelVocab()
	merges := [][2]string{{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"i", "n"}, {"Ġ", "a"}, {"e", "r"}, {"o", "n"},
		{"Ġ", "s"}, {"r", "e"}, {"a", "t"}, {"e", "n"}, {"Ġ", "w"}, {"Ġ", "o"}, {"Ġ", "Ġ"}, {"ĠĠ", "ĠĠ"}, {"Ċ", "Ċ"}, {"1", "2"}}
	var ms []string
	for _, m := range merges {
		if _, ok := vocab[m[0]+m[1]]; !ok {
			vocab[m[0]+m[1]] = len(vocab)
		}
		ms = append(ms, m[0]+" "+m[1])
	}
	n := len(vocab)
	tj := map[string]any{
		"added_tokens": []any{
			map[string]any{"id": n, "content": "<|end|>", "special": true, "normalized": false},
			map[string]any{"id": n + 1, "content": "hello", "special": false, "normalized": false, "single_word": true},
		},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": patCL100K}, "behavior": "Removed", "invert": true},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false},
		}},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<|end|>"}}, map[string]any{"Sequence": map[string]any{"id": "A"}}},
			"special_tokens": map[string]any{"<|end|>": map[string]any{"id": "<|end|>", "ids": []int{n}}}},
		"decoder": map[string]any{"type": "ByteLevel"},
		"model":   map[string]any{"type": "BPE", "vocab": vocab, "merges": ms, "ignore_merges": true},
	}
	b, _ := json.Marshal(tj)
	return b
}

// tinySentencePiece is a Mistral-style tokenizer.json: Prepend + Replace
// normalizer, byte fallback, fused unk, list-form merges.
func tinySentencePiece() []byte {
	vocab := map[string]int{"<unk>": 0, "<s>": 1, "</s>": 2}
	for b := 0; b < 256; b++ {
		vocab[byteName(byte(b))] = len(vocab)
	}
	for _, r := range "▁abcdefghijklmnopqrstuvwxyzTHE.," {
		vocab[string(r)] = len(vocab)
	}
	merges := [][2]string{{"▁", "t"}, {"h", "e"}, {"▁t", "he"}, {"▁", "▁"}, {"▁▁", "▁▁"}, {"i", "n"}, {"a", "n"}, {"▁", "a"}}
	for _, m := range merges {
		if _, ok := vocab[m[0]+m[1]]; !ok {
			vocab[m[0]+m[1]] = len(vocab)
		}
	}
	tj := map[string]any{
		"added_tokens": []any{
			map[string]any{"id": 0, "content": "<unk>", "special": true, "normalized": false},
			map[string]any{"id": 1, "content": "<s>", "special": true, "normalized": false},
			map[string]any{"id": 2, "content": "</s>", "special": true, "normalized": false},
		},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
		}},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{"<s>", "$A"},
			"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{1}}}},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": merges, "unk_token": "<unk>",
			"byte_fallback": true, "fuse_unk": true},
	}
	b, _ := json.Marshal(tj)
	return b
}

func byteName(b byte) string {
	const hex = "0123456789ABCDEF"
	return "<0x" + string(hex[b>>4]) + string(hex[b&15]) + ">"
}

// tinyMixed uses the remaining components: NFKC, Lowercase, Strip,
// Whitespace, Digits, Punctuation, Metaspace, a regex Split with look-ahead,
// an unknown-char unk, continuing_subword_prefix and a WordPiece decoder.
func tinyMixed() []byte {
	vocab := map[string]int{"[UNK]": 0, "[CLS]": 1, "[SEP]": 2}
	for _, r := range "abcdefghijklmnopqrstuvwxyz0123456789.,!?▁" {
		vocab[string(r)] = len(vocab)
		vocab["##"+string(r)] = len(vocab)
	}
	vocab["th"] = len(vocab)
	vocab["the"] = len(vocab)
	tj := map[string]any{
		"added_tokens": []any{
			map[string]any{"id": 1, "content": "[CLS]", "special": true, "normalized": false},
			map[string]any{"id": 2, "content": "[SEP]", "special": true, "normalized": false, "lstrip": true, "rstrip": true},
			map[string]any{"id": len(vocab), "content": "Foo", "special": false, "normalized": true},
		},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "NFKC"}, map[string]any{"type": "Lowercase"},
			map[string]any{"type": "Strip", "strip_left": true, "strip_right": true},
			map[string]any{"type": "NFD"}, map[string]any{"type": "NFC"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": `\s+(?!\S)`}, "content": " "},
		}},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\d+|\s+(?=\S)`}, "behavior": "Contiguous", "invert": false},
			map[string]any{"type": "Whitespace"},
			map[string]any{"type": "Digits", "individual_digits": true},
			map[string]any{"type": "Punctuation", "behavior": "MergedWithNext"},
			map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true},
		}},
		"post_processor": map[string]any{"type": "RobertaProcessing", "sep": []any{"[SEP]", 2}, "cls": []any{"[CLS]", 1}},
		"decoder":        map[string]any{"type": "WordPiece", "prefix": "##", "cleanup": true},
		"model": map[string]any{"type": "BPE", "vocab": vocab, "merges": [][2]string{{"t", "##h"}, {"th", "##e"}},
			"unk_token": "[UNK]", "continuing_subword_prefix": "##", "fuse_unk": false},
	}
	b, _ := json.Marshal(tj)
	return b
}

func mustTiny(t testing.TB, data []byte) *Tokenizer {
	t.Helper()
	tk, err := fromBytes(data, nil)
	if err != nil {
		t.Fatalf("load tiny tokenizer: %v", err)
	}
	return tk
}

var fuzzSeeds = []string{"", " ", "hello world", "Hello  world\n\n\tthe end<|end|>", "<s>the</s>", "a hello b", "ahello",
	"12345 ½ ٣", "don't WE'LL", "日本語 😀 e\u0301", "\r\n\u0085\u00a0", "[CLS] Foo bar [SEP]  x", "\xff\xfe invalid"}

// FuzzEncode checks that encoding and decoding never panic and that byte-level
// and byte-fallback tokenizers round-trip valid UTF-8.
func FuzzEncode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	bl, sp, mx := mustTiny(f, tinyByteLevel()), mustTiny(f, tinySentencePiece()), mustTiny(f, tinyMixed())
	f.Fuzz(func(t *testing.T, s string) {
		for i, tk := range []*Tokenizer{bl, sp, mx} {
			for _, add := range []bool{false, true} {
				ids, err := tk.Encode(s, add)
				if err != nil {
					t.Fatalf("tokenizer %d: encode %q: %v", i, s, err)
				}
				for _, id := range ids {
					if id < 0 || id > tk.MaxID() {
						t.Fatalf("tokenizer %d: id %d out of range", i, id)
					}
				}
				dec := tk.DecodeRaw(ids, false)
				if _, err := tk.Decode(ids, true); err != nil {
					t.Fatal(err)
				}
				if add || i == 2 || !utf8.ValidString(s) {
					continue
				}
				if i == 1 && (strings.Contains(s, "<s>") || strings.Contains(s, "</s>") || strings.Contains(s, "<unk>")) {
					continue // text after an added token gets its own "▁" prefix, as in HF
				}
				if dec != s {
					t.Fatalf("tokenizer %d: decode(encode(%q)) = %q", i, s, dec)
				}
			}
			// Arbitrary ids (including invalid ones) must decode without panic.
			raw := make([]int, 0, len(s))
			for j := 0; j < len(s); j++ {
				raw = append(raw, int(s[j])*7-20)
			}
			_ = tk.DecodeRaw(raw, false)
			_ = tk.DecodeRaw(raw, true)
		}
	})
}

// FuzzLoad checks that loading any tokenizer.json returns an error or a
// working tokenizer, never a panic.
func FuzzLoad(f *testing.F) {
	for _, seed := range [][]byte{tinyByteLevel(), tinySentencePiece(), tinyMixed(), []byte(`{}`), []byte(`null`),
		[]byte(`{"model":{"vocab":{"a":0},"merges":["a a"]}}`), []byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]}}`),
		[]byte(`{"model":{"vocab":{"a":0}},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(?!"},"behavior":"Isolated"}}`),
		[]byte(`{"normalizer":{"type":"Sequence","normalizers":[{"type":"Nmt"},{"type":"StripAccents"}]},"pre_tokenizer":{"type":"Metaspace"},` +
			`"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["▁a",-1.5],["a",-2],["<0x41>",-3]],"byte_fallback":true}}`),
		[]byte(`{"normalizer":{"type":"Precompiled","precompiled_charsmap":"` + buildCharsmap(map[string]string{"a": "b", "ﬁ": "fi"}) + `"},` +
			`"model":{"type":"Unigram","unk_id":null,"vocab":[["b",-1],["fi",-2]]}}`)} {
		f.Add(seed, []byte(`{"bos_token":"<s>","eos_token":{"content":"</s>"},"clean_up_tokenization_spaces":true}`))
	}
	regexTimeout = 20 * time.Millisecond
	f.Fuzz(func(t *testing.T, data, cfg []byte) {
		tk, err := fromBytes(data, cfg)
		if err != nil {
			return
		}
		for _, s := range []string{"", "Hello world <|end|> 123 \n\t", "日本語 😀", "<s> a b"} {
			for _, add := range []bool{false, true} {
				ids, err := tk.Encode(s, add)
				if err != nil {
					return
				}
				_ = tk.DecodeRaw(ids, false)
				_, _ = tk.Decode(ids, true)
			}
		}
		_ = tk.Roles()
		_ = tk.VocabSize()
	})
}

// scanAlphabet holds characters whose classes agree between regexp2 and
// Oniguruma, to compare the hand-coded scanners with a regex engine.
var scanAlphabet = []string{"a", "b", "s", "t", "l", "d", "m", "r", "e", "v", "S", "T", "L", "D", "M", "R", "E", "V", "Z",
	"é", "É", "ǅ", "ʰ", "中", "\u0301", "1", "2", "٣", "½", " ", " ", " ", "\t", "\n", "\r", "\u00a0", "'", "'", "/", ".",
	"-", "😀", "_", "\"", "!"}

// FuzzScanners compares the hand-coded GPT-2 / cl100k / Qwen2 / o200k
// scanners with regexp2 (which supports the look-ahead) on the same regexes.
func FuzzScanners(f *testing.F) {
	for _, s := range []string{"", "a", "hello world", "  x\n\n y", "'s'S'll don't", "12345 x", "\u00e9\u0301Ab", "a  \n\t b"} {
		f.Add([]byte(s))
	}
	pats := []string{patGPT2, patCL100K, patQwen2, patO200K}
	res := make([]*regexp2.Regexp, len(pats))
	for i, p := range pats {
		res[i] = regexp2.MustCompile(p, regexp2.Unicode)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b strings.Builder
		for _, c := range raw {
			b.WriteString(scanAlphabet[int(c)%len(scanAlphabet)])
		}
		s := b.String()
		for i, p := range pats {
			got := scanMatcher{knownScanner(p)}.findAll(s, nil)
			want := regexMatcher{res[i]}.findAll(s, nil)
			if len(got) != len(want) {
				t.Fatalf("pattern %d on %q: scanner %v, regex %v", i, s, got, want)
			}
			for k := range got {
				if got[k] != want[k] {
					t.Fatalf("pattern %d on %q: scanner %v, regex %v", i, s, got, want)
				}
			}
		}
	})
}
