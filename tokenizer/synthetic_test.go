package tokenizer

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// charVocab is a SentencePiece-style vocabulary: <unk> <s> </s>, the 256
// byte tokens, printable ASCII, "▁" and some merges (with their results).
func charVocab(prefix, suffix string) (map[string]int, [][2]string) {
	vocab := map[string]int{"<unk>": 0, "<s>": 1, "</s>": 2}
	for b := 0; b < 256; b++ {
		vocab[byteName(byte(b))] = len(vocab)
	}
	add := func(s string) {
		if _, ok := vocab[s]; !ok {
			vocab[s] = len(vocab)
		}
	}
	for r := rune(' '); r < 127; r++ {
		add(string(r))
		if prefix != "" {
			add(prefix + string(r))
		}
		if suffix != "" {
			add(string(r) + suffix)
		}
	}
	add("▁")
	var merges [][2]string
	for _, m := range [][2]string{{"▁", "t"}, {"t", "h"}, {"th", "e"}, {"▁t", "he"}, {"▁", "▁"}, {"▁▁", "▁▁"}, {"i", "n"},
		{"e", "r"}, {"a", "n"}, {"o", "n"}, {"▁", "a"}, {"e", "s"}, {"r", "e"}, {"-", "-"}, {"1", "2"}} {
		a, b := m[0], m[1]
		if prefix != "" {
			b = prefix + b
		}
		add(a)
		add(b)
		add(m[0] + m[1])
		merges = append(merges, [2]string{a, b})
	}
	return vocab, merges
}

func added(id int, content string, special bool, opts ...string) map[string]any {
	m := map[string]any{"id": id, "content": content, "special": special, "normalized": !special,
		"lstrip": false, "rstrip": false, "single_word": false}
	for _, o := range opts {
		switch o {
		case "lstrip", "rstrip", "single_word":
			m[o] = true
		case "normalized":
			m["normalized"] = true
		case "raw":
			m["normalized"] = false
		}
	}
	return m
}

// syntheticTokenizers covers the components the six real files do not use.
func syntheticTokenizers() map[string][]byte {
	out := map[string][]byte{}
	mk := jsonAdder(out)
	spDecoder := map[string]any{"type": "Sequence", "decoders": []any{
		map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
		map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"},
		map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0}}}
	model := func(prefix, suffix string, extra map[string]any) map[string]any {
		vocab, merges := charVocab(prefix, suffix)
		m := map[string]any{"type": "BPE", "vocab": vocab, "merges": merges, "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true}
		if prefix != "" {
			m["continuing_subword_prefix"] = prefix
		}
		if suffix != "" {
			m["end_of_word_suffix"] = suffix
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	baseAdded := func(n int) []any {
		return []any{added(0, "<unk>", true), added(1, "<s>", true), added(2, "</s>", true, "lstrip", "rstrip"),
			added(n, "[MASK]", true, "lstrip"), added(n+1, "hello", false, "single_word"), added(n+2, "World", false, "normalized"),
			added(n+3, "<b>", false, "raw", "rstrip")}
	}
	n := len(must(charVocab("", "")))
	for _, beh := range []string{"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"} {
		for _, inv := range []bool{false, true} {
			name := "split-" + beh
			if inv {
				name += "-invert"
			}
			mk(name, map[string]any{
				"added_tokens": baseAdded(n),
				"normalizer":   map[string]any{"type": "Lowercase"},
				"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
					map[string]any{"type": "Split", "pattern": map[string]any{"String": " "}, "behavior": beh, "invert": inv},
					map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\d+|[,.]`}, "behavior": beh, "invert": inv}}},
				"decoder": spDecoder,
				"model":   model("", "", nil),
			})
		}
	}
	for _, scheme := range []string{"always", "first", "never"} {
		for _, split := range []bool{true, false} {
			name := "metaspace-" + scheme
			if !split {
				name += "-nosplit"
			}
			mk(name, map[string]any{
				"added_tokens":  baseAdded(n),
				"normalizer":    map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "NFKC"}, map[string]any{"type": "Strip", "strip_left": false, "strip_right": true}}},
				"pre_tokenizer": map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": split},
				"post_processor": map[string]any{"type": "TemplateProcessing",
					"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
						map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}}},
					"pair":           []any{},
					"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{1}, "tokens": []string{"<s>"}}, "</s>": map[string]any{"id": "</s>", "ids": []int{2}, "tokens": []string{"</s>"}}}},
				"decoder": map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": split},
				"model":   model("", "", nil),
			})
		}
	}
	mk("whitespace-digits-punct", map[string]any{
		"added_tokens": baseAdded(n),
		"normalizer":   map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "NFD"}, map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": `\s+(?!\S)`}, "content": "_"}, map[string]any{"type": "Prepend", "prepend": "▁"}}},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Whitespace"}, map[string]any{"type": "Digits", "individual_digits": false},
			map[string]any{"type": "Punctuation", "behavior": "Isolated"}}},
		"post_processor": map[string]any{"type": "RobertaProcessing", "sep": []any{"</s>", 2}, "cls": []any{"<s>", 1}},
		"decoder":        map[string]any{"type": "Sequence", "decoders": []any{map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"}}},
		"model":          model("", "", map[string]any{"fuse_unk": false}),
	})
	mk("wordpiece-prefix", map[string]any{
		"added_tokens":  baseAdded(len(must(charVocab("##", "")))),
		"normalizer":    map[string]any{"type": "NFC"},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{map[string]any{"type": "WhitespaceSplit"}, map[string]any{"type": "Digits", "individual_digits": true}}},
		"decoder":       map[string]any{"type": "WordPiece", "prefix": "##", "cleanup": true},
		"model":         model("##", "", map[string]any{"byte_fallback": false}),
	})
	mk("bpe-suffix", map[string]any{
		"added_tokens":  baseAdded(len(must(charVocab("", "</w>")))),
		"pre_tokenizer": map[string]any{"type": "Whitespace"},
		"decoder":       map[string]any{"type": "BPEDecoder", "suffix": "</w>"},
		"model":         model("", "</w>", map[string]any{"byte_fallback": false, "fuse_unk": false}),
	})
	// GPT-2 style: ByteLevel with its own regex and a prefix space.
	for _, aps := range []bool{false, true} {
		vocab := byteLevelVocab()
		var merges []string
		for _, m := range [][2]string{{"Ġ", "t"}, {"h", "e"}, {"Ġt", "he"}, {"Ġ", "Ġ"}, {"ĠĠ", "ĠĠ"}, {"Ċ", "Ċ"}, {"i", "n"}, {"Ġ", "a"}} {
			if _, ok := vocab[m[0]+m[1]]; !ok {
				vocab[m[0]+m[1]] = len(vocab)
			}
			merges = append(merges, m[0]+" "+m[1])
		}
		k := len(vocab)
		name := "gpt2"
		if aps {
			name += "-prefix-space"
		}
		mk(name, map[string]any{
			"added_tokens":   []any{added(k, "<|endoftext|>", true), added(k+1, " hello", false, "rstrip"), added(k+2, "[X]", true, "lstrip", "rstrip")},
			"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": aps, "use_regex": true, "trim_offsets": true},
			"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": aps, "trim_offsets": true, "use_regex": true},
			"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": aps, "trim_offsets": true, "use_regex": true},
			"model":          map[string]any{"type": "BPE", "vocab": vocab, "merges": merges},
		})
	}
	return out
}

func must[T, U any](a T, _ U) T { return a }

// TestOracleSynthetic runs the oracle on generated tokenizer.json files that
// exercise every supported component, behavior and added-token flag.
func TestOracleSynthetic(t *testing.T) {
	_, lines := debianTexts(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	words := strings.Fields(strings.Join(sample(rng, lines, 200), " "))
	specials := []string{"<s>", "</s>", "[MASK]", "hello", "World", "<b>", "<|endoftext|>", " hello", "[X]", " <s> ", "  [MASK]  "}
	texts := append(stressTexts(rng, 600, words, specials), sample(rng, lines, 200)...)
	for i, s := range texts {
		// Known difference, left out here: the regexp2 fallback knows Go's
		// Unicode 15.0 classes, not Oniguruma's 16.0 ones.
		texts[i] = strings.Map(func(r rune) rune {
			if class16(r) != 0 {
				return 'x'
			}
			return r
		}, strings.ToValidUTF8(s, "\uFFFD"))
	}
	texts = append(texts, "hello", "a hello b", "ahello", "hello_", "World world WORLD", "x  </s>  y", "[MASK]", "  [MASK]x",
		"<b>  x", "12,345.67 and 8", "Hello, World!", " leading", "trailing  ", "a,b.c", "   ")
	for name, data := range syntheticTokenizers() {
		t.Run(name, func(t *testing.T) {
			path, tk := writeTokenizer(t, dir, name, data)
			randIDs := randomIDLists(rng, 100, tk.MaxID())
			ans := runOracle(t, oracleRequest{Tokenizer: path, Texts: texts, TextsSpecial: texts[:200], Decode: randIDs, DecodeSkip: randIDs})
			idMis, decMis := 0, 0
			for k, set := range []struct {
				texts []string
				want  [][]int
			}{{texts, ans.IDs}, {texts[:200], ans.IDsSpecial}} {
				got, _ := tk.EncodeBatch(set.texts, k == 1)
				for i := range set.texts {
					if !equalInts(got[i], set.want[i]) {
						idMis++
						if idMis <= 4 {
							j := firstDiff(got[i], set.want[i])
							t.Errorf("addSpecial=%v %q: ids differ at %d:\n got  %s\n want %s", k == 1, trunc(set.texts[i], 120), j,
								showIDs(tk, got[i][max(0, j-2):min(len(got[i]), j+4)]), showIDs(tk, set.want[i][max(0, j-2):min(len(set.want[i]), j+4)]))
						}
					}
				}
			}
			for i := range texts {
				if dec := tk.DecodeRaw(ans.IDs[i], false); dec != ans.Decoded[i] {
					decMis++
					if decMis <= 4 {
						t.Errorf("decode of %q:\n got  %q\n want %q", trunc(texts[i], 120), trunc(dec, 200), trunc(ans.Decoded[i], 200))
					}
				}
			}
			decMis += checkRandomDecodes(t, tk, randIDs, ans)
			t.Logf("%d texts: %d id mismatches, %d decode mismatches", len(texts)+200, idMis, decMis)
		})
	}
}
