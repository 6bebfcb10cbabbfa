package tokenizer

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"
)

// buildCharsmap makes a SentencePiece precompiled_charsmap for the given
// rewrites: a darts-clone double array (node units hold the offset to
// their children, the label and a has-leaf bit; a leaf unit holds the
// byte index of the NUL-terminated replacement), built greedily here.
func buildCharsmap(rules map[string]string) string {
	keys := make([]string, 0, len(rules))
	for k := range rules {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var blob []byte
	index := map[string]uint32{}
	for _, k := range keys {
		index[k] = uint32(len(blob))
		blob = append(append(blob, rules[k]...), 0)
	}
	// Byte trie of the keys.
	type node struct {
		kids map[byte]int
		leaf bool
		key  string
	}
	nodes := []node{{kids: map[byte]int{}}}
	for _, k := range keys {
		n := 0
		for i := 0; i < len(k); i++ {
			c, ok := nodes[n].kids[k[i]]
			if !ok {
				c = len(nodes)
				nodes = append(nodes, node{kids: map[byte]int{}})
				nodes[n].kids[k[i]] = c
			}
			n = c
		}
		nodes[n].leaf, nodes[n].key = true, k
	}
	units := map[uint32]uint32{}
	used := map[uint32]bool{0: true}
	pos := map[int]uint32{0: 0}
	queue := []int{0}
	maxPos := uint32(0)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		p := pos[n]
		var labels []byte
		for c := range nodes[n].kids {
			labels = append(labels, c)
		}
		sort.Slice(labels, func(i, j int) bool { return labels[i] < labels[j] })
		base := uint32(1)
		for ; ; base++ {
			ok := !nodes[n].leaf || !used[base]
			for _, c := range labels {
				ok = ok && !used[base^uint32(c)]
			}
			if ok && (len(labels) > 0 || nodes[n].leaf) {
				break
			}
			if len(labels) == 0 && !nodes[n].leaf {
				break
			}
		}
		off := p ^ base
		units[p] |= off << 10
		if nodes[n].leaf {
			used[base] = true
			units[p] |= 1 << 8
			units[base] = index[nodes[n].key] | 1<<31
			maxPos = max(maxPos, base|0xFF)
		}
		for _, c := range labels {
			q := base ^ uint32(c)
			used[q] = true
			units[q] |= uint32(c)
			pos[nodes[n].kids[c]] = q
			queue = append(queue, nodes[n].kids[c])
			maxPos = max(maxPos, base|0xFF, q)
		}
	}
	size := maxPos + 1
	out := binary.LittleEndian.AppendUint32(nil, 4*size)
	for i := uint32(0); i < size; i++ {
		out = binary.LittleEndian.AppendUint32(out, units[i])
	}
	return base64.StdEncoding.EncodeToString(append(out, blob...))
}

// charsmapRules are NFKC-like rewrites plus the library's quirks: a whole
// grapheme cluster under 6 bytes is replaced by its shortest prefix key
// ("e" also rewrites "e" + U+0301), deletions, and multi-character keys.
var charsmapRules = map[string]string{
	"ﬁ": "fi", "Ａ": "A", "Ｂ": "B", "１": "1", "\u3000": " ", "\u00a0": " ", "…": "...", "\u200b": "", "\ufeff": "",
	"e\u0301": "é", "é": "e", "k": "K", "\r\n": " ", "\t": " ", "👍": ":+1:", "Å": "A", "ß": "ss", "²": "2",
	"n\u0303": "ñ", "ü": "u\u0308", "İ": "I", "Ⅻ": "XII", "ｶ": "カ", "\u2028": "\n", "x": "", "xy": "Z",
}

func precompiledTokenizers(words []string) map[string][]byte {
	cm := buildCharsmap(charsmapRules)
	out := map[string][]byte{}
	real := func(rank, n int) float64 { return -float64(rank%97)/7 - float64(n)*0.31 }
	t5 := map[string]any{
		"added_tokens": []any{added(0, "<pad>", true), added(1, "</s>", true), added(2, "<unk>", true)},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Precompiled", "precompiled_charsmap": cm},
			map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": " {2,}"}, "content": " "}}},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "WhitespaceSplit"},
			map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}}},
		"decoder": map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
		"model":   map[string]any{"type": "Unigram", "unk_id": 2, "vocab": unigramVocab([]string{"<pad>", "</s>", "<unk>"}, false, words, real)},
	}
	b, _ := json.Marshal(t5)
	out["precompiled-t5like"] = b
	albert := map[string]any{
		"added_tokens": []any{added(0, "<pad>", true), added(1, "<unk>", true), added(2, "[CLS]", true), added(3, "[SEP]", true), added(4, "[MASK]", true)},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "``"}, "content": "\""},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "''"}, "content": "\""},
			map[string]any{"type": "NFKD"}, map[string]any{"type": "StripAccents"}, map[string]any{"type": "Lowercase"},
			map[string]any{"type": "Precompiled", "precompiled_charsmap": cm}}},
		"pre_tokenizer": map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true, "prepend_scheme": "always"},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "[CLS]", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"SpecialToken": map[string]any{"id": "[SEP]", "type_id": 0}}},
			"pair": []any{},
			"special_tokens": map[string]any{"[CLS]": map[string]any{"id": "[CLS]", "ids": []int{2}, "tokens": []string{"[CLS]"}},
				"[SEP]": map[string]any{"id": "[SEP]", "ids": []int{3}, "tokens": []string{"[SEP]"}}}},
		"decoder": map[string]any{"type": "Metaspace", "replacement": "▁", "add_prefix_space": true, "prepend_scheme": "always"},
		"model":   map[string]any{"type": "Unigram", "unk_id": 1, "vocab": unigramVocab([]string{"<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"}, false, words, real)},
	}
	b, _ = json.Marshal(albert)
	out["precompiled-albertlike"] = b
	bl := map[string]any{
		"normalizer":    map[string]any{"type": "Precompiled", "precompiled_charsmap": cm},
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true, "trim_offsets": true},
		"decoder":       map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"model":         map[string]any{"type": "BPE", "vocab": byteLevelVocab(), "merges": []string{}},
	}
	b, _ = json.Marshal(bl)
	out["precompiled-bytelevel-bpe"] = b
	return out
}

// TestOraclePrecompiledNormalizer compares the Precompiled normalizer with
// the Rust library: ids of tokenizers that use a generated charsmap.
func TestOraclePrecompiledNormalizer(t *testing.T) {
	_, lines := debianTexts(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(8, 9))
	words := frequentWords(lines, 800)
	var keys []string
	for k := range charsmapRules {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	nStress := stressCount(500)
	texts := append(stressTexts(rng, nStress, strings.Fields(strings.Join(sample(rng, lines, 100), " ")), keys), sample(rng, lines, 200)...)
	for i, s := range texts {
		texts[i] = strings.ToValidUTF8(s, "\uFFFD")
	}
	texts = append(texts, "café", "cafe\u0301", "e\u0301\u0301", "ke\u0301", "xy", "xyz", "a\r\nb", "\r\n", "👍🏽 ok", "👍",
		"ﬁne Ａ１", "Straße", "n\u0303o", "k\u0301o", "x\u0308y", "kk\u0301\u0301", "\u200bx\ufeff", "ｶﾞ", "Ⅻ.", "İstanbul")
	nText := 0
	defer func() { t.Logf("%d encodings compared", nText) }()
	for name, data := range precompiledTokenizers(words) {
		t.Run(name, func(t *testing.T) {
			path, tk := writeTokenizer(t, dir, name, data)
			ans := runOracle(t, oracleRequest{Tokenizer: path, Texts: texts})
			mis, changed := 0, 0
			for i, text := range texts {
				if tk.norm.normalize(text) != text {
					changed++
				}
				got, err := tk.Encode(text, false)
				if err != nil || !equalInts(got, ans.IDs[i]) {
					mis++
					if mis <= 5 {
						j := firstDiff(got, ans.IDs[i])
						t.Errorf("%q (normalized %q): ids differ at %d (err %v):\n got  %s\n want %s", trunc(text, 100), trunc(tk.norm.normalize(text), 100), j, err,
							showIDs(tk, got[max(0, j-2):min(len(got), j+4)]), showIDs(tk, ans.IDs[i][max(0, j-2):min(len(ans.IDs[i]), j+4)]))
					}
				}
				if dec := tk.DecodeRaw(ans.IDs[i], false); dec != ans.Decoded[i] {
					mis++
					if mis <= 5 {
						t.Errorf("decode of %q: got %q, want %q", trunc(text, 100), dec, ans.Decoded[i])
					}
				}
			}
			if changed < len(texts)/4 {
				t.Errorf("the charsmap rewrites only %d of %d texts", changed, len(texts))
			}
			nText += len(texts)
			t.Logf("%d texts (%d rewritten by the charsmap): %d mismatches", len(texts), changed, mis)
		})
	}
}

// TestPrecompiledErrors checks the load errors of malformed charsmaps.
func TestPrecompiledErrors(t *testing.T) {
	for _, tc := range []struct{ charsmap, want string }{
		{`"AA=="`, "want at least 4"},
		{`"not base64!"`, "precompiled_charsmap: illegal base64"},
		{`"` + base64.StdEncoding.EncodeToString([]byte{64, 0, 0, 0, 1, 2}) + `"`, "does not fit"},
		{`"` + base64.StdEncoding.EncodeToString([]byte{0, 0, 0, 0, 0xff}) + `"`, "not valid UTF-8"},
		{`null`, `missing "precompiled_charsmap"`},
	} {
		_, err := FromBytes([]byte(`{"normalizer":{"type":"Precompiled","precompiled_charsmap":`+tc.charsmap+`},"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0]]}}`), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("charsmap %s: error %v, want one containing %q", tc.charsmap, err, tc.want)
		}
	}
}

// FuzzPrecompiled parses arbitrary charsmaps and normalizes text with them:
// an error or a result, never a panic.
func FuzzPrecompiled(f *testing.F) {
	seed, _ := base64.StdEncoding.DecodeString(buildCharsmap(charsmapRules))
	f.Add(seed, "ﬁne e\u0301 xy")
	f.Add([]byte{4, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 'a', 0}, "abc")
	f.Fuzz(func(t *testing.T, charsmap []byte, text string) {
		p, err := newPrecompiled(base64.StdEncoding.EncodeToString(charsmap))
		if err != nil {
			return
		}
		_ = p.normalize(text)
	})
}

// TestOracleCharNormalizers compares StripAccents and Nmt with the Rust
// library through a byte-level tokenizer (its ids spell the normalized
// text): every combining mark (by Go's tables and the library's older
// ones), the Vedic signs block, the control and space characters and a
// sample of all other code points.
func TestOracleCharNormalizers(t *testing.T) {
	var texts []string
	var b strings.Builder
	for r := rune(0); r < 0x110000; r++ {
		if (r >= 0xd800 && r < 0xe000) || !(unicode.Is(unicode.M, r) || r < 0x300 || (r >= 0x1cd0 && r < 0x1d00) ||
			(r >= 0x2000 && r < 0x2100) || r%61 == 0 || r == 0x111c9 || r == 0x1680 || r == 0x2581 || r >= 0xfef0 && r < 0x10000) {
			continue
		}
		b.WriteRune('a')
		b.WriteRune(r)
		if b.Len() > 4000 {
			texts = append(texts, b.String())
			b.Reset()
		}
	}
	texts = append(texts, b.String(), "", "café", "e\u0301\u0301", "\u0301start", "\x00a\x01\t\n", "\r\n x \ufffd")
	for _, norm := range []string{"StripAccents", "Nmt"} {
		t.Run(norm, func(t *testing.T) {
			tj := map[string]any{
				"normalizer":    map[string]any{"type": norm},
				"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false, "trim_offsets": true},
				"decoder":       map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
				"model":         map[string]any{"type": "BPE", "vocab": byteLevelVocab(), "merges": []string{}},
			}
			data, _ := json.Marshal(tj)
			path := filepath.Join(t.TempDir(), "norm.json")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			tk, err := FromBytes(data, nil)
			if err != nil {
				t.Fatal(err)
			}
			ans := runOracle(t, oracleRequest{Tokenizer: path, Texts: texts})
			mis, changed := 0, 0
			for i, text := range texts {
				got := tk.norm.normalize(text)
				if got != text {
					changed++
				}
				if got != ans.Decoded[i] {
					mis++
					g, w := []rune(got), []rune(ans.Decoded[i])
					j := 0
					for j < len(g) && j < len(w) && g[j] == w[j] {
						j++
					}
					t.Errorf("text %d: differs at rune %d: got %q, want %q", i, j, string(g[j:min(j+3, len(g))]), string(w[j:min(j+3, len(w))]))
				}
			}
			if changed == 0 {
				t.Error("the normalizer changed no text")
			}
			t.Logf("%d texts (%d changed): %d mismatches", len(texts), changed, mis)
		})
	}
}
