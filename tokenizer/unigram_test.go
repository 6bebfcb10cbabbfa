package tokenizer

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// unigramVocab builds a Unigram vocabulary: the given leading pieces, the
// 256 <0xXX> pieces when bytes is set, printable ASCII, "▁", a few non-ASCII
// characters (others stay unknown) and pieces cut from words (whole words
// with and without "▁", prefixes and suffixes). score gives each piece its
// score from its rank and length.
func unigramVocab(lead []string, bytes bool, words []string, score func(rank, n int) float64) [][2]any {
	var pieces []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] && utf8.ValidString(s) {
			seen[s] = true
			pieces = append(pieces, s)
		}
	}
	for _, s := range lead {
		add(s)
	}
	if bytes {
		for b := 0; b < 256; b++ {
			add(byteName(byte(b)))
		}
	}
	for r := rune(' ' + 1); r < 127; r++ {
		add(string(r))
	}
	for _, s := range []string{"▁", "é", "日", "本", "ß", "▁▁", "▁▁▁▁", "--", "----", "..."} {
		add(s)
	}
	for _, w := range words {
		if len(pieces) > 4000 {
			break
		}
		add("▁" + w)
		add(w)
		rs := []rune(w)
		for k := 2; k <= 4 && k < len(rs); k++ {
			add(string(rs[:k]))
			add(string(rs[len(rs)-k:]))
			add("▁" + string(rs[:k]))
		}
	}
	out := make([][2]any, len(pieces))
	for i, p := range pieces {
		out[i] = [2]any{p, score(i, utf8.RuneCountInString(p))}
	}
	return out
}

// frequentWords returns the most frequent words of lines, deterministically.
func frequentWords(lines []string, n int) []string {
	count := map[string]int{}
	for _, l := range lines {
		for _, w := range strings.Fields(l) {
			w = strings.Trim(w, ".,;:!?\"'()[]")
			if w != "" && len(w) < 20 {
				count[w]++
			}
		}
	}
	words := make([]string, 0, len(count))
	for w := range count {
		words = append(words, w)
	}
	sort.Slice(words, func(i, j int) bool {
		if count[words[i]] != count[words[j]] {
			return count[words[i]] > count[words[j]]
		}
		return words[i] < words[j]
	})
	return words[:min(n, len(words))]
}

// unigramTokenizers are synthetic Unigram tokenizer.json files covering
// unk_id (set, null, not first), byte_fallback, fused unks, ties, positive
// scores, duplicated pieces, a model without "type", and the Metaspace,
// WhitespaceSplit, ByteLevel and SentencePiece-normalizer pipelines.
func unigramTokenizers(words []string) map[string][]byte {
	out := map[string][]byte{}
	mk := jsonAdder(out)
	// A log-probability-like score: shorter and earlier pieces more likely.
	real := func(rank, n int) float64 {
		return -math.Log(float64(rank+2)) - 0.37*float64(n) + float64(rank%7)*0.013
	}
	ties := func(rank, n int) float64 { return -float64(1 + n%3) }
	positive := func(rank, n int) float64 { return 30 + float64(rank%5) }
	special := []string{"<pad>", "</s>", "<unk>"}
	addedT5 := []any{added(0, "<pad>", true), added(1, "</s>", true), added(2, "<unk>", true)}
	metaspace := func(scheme string, split bool) map[string]any {
		return map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": scheme, "split": split}
	}
	// T5-like (without its Precompiled normalizer).
	mk("uni-t5like", map[string]any{
		"added_tokens": addedT5,
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": " {2,}"}, "content": " "}}},
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "WhitespaceSplit"}, metaspace("always", true)}},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"SpecialToken": map[string]any{"id": "</s>", "type_id": 0}}},
			"pair":           []any{},
			"special_tokens": map[string]any{"</s>": map[string]any{"id": "</s>", "ids": []int{1}, "tokens": []string{"</s>"}}}},
		"decoder": metaspace("always", true),
		"model":   map[string]any{"type": "Unigram", "unk_id": 2, "vocab": unigramVocab(special, false, words, real), "byte_fallback": false},
	})
	// Llama-style SentencePiece pipeline with byte fallback; no
	// pre-tokenizer, so a whole text is one lattice.
	spDecoder := map[string]any{"type": "Sequence", "decoders": []any{
		map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
		map[string]any{"type": "ByteFallback"}, map[string]any{"type": "Fuse"},
		map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0}}}
	mk("uni-bytefallback", map[string]any{
		"added_tokens": []any{added(0, "<unk>", true), added(1, "<s>", true), added(2, "</s>", true)},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"}}},
		"post_processor": map[string]any{"type": "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"pair":           []any{},
			"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{1}, "tokens": []string{"<s>"}}}},
		"decoder": spDecoder,
		"model":   map[string]any{"type": "Unigram", "unk_id": 0, "vocab": unigramVocab([]string{"<unk>", "<s>", "</s>"}, true, words, real), "byte_fallback": true},
	})
	// Ties everywhere; "<unk>" is not an added token, so a literal "<unk>"
	// in the text is a piece with the unk id and fuses with unknown chars.
	mk("uni-ties-literal-unk", map[string]any{
		"added_tokens":  []any{added(1, "<s>", true)},
		"pre_tokenizer": metaspace("first", false),
		"decoder":       metaspace("first", false),
		"model":         map[string]any{"type": "Unigram", "unk_id": 0, "vocab": unigramVocab([]string{"<unk>", "<s>"}, false, words, ties)},
	})
	// No unk_id: texts with an unknown character fail, as in the library.
	mk("uni-no-unk", map[string]any{
		"pre_tokenizer": metaspace("always", true),
		"decoder":       metaspace("always", true),
		"model":         map[string]any{"type": "Unigram", "unk_id": nil, "vocab": unigramVocab(nil, false, words, real)},
	})
	// Positive scores (two unks can beat a piece: the fused string is then
	// looked up), duplicated pieces (the last wins), unk_id not first, byte
	// pieces partly missing, no "type" and no decoder.
	dups := unigramVocab([]string{"a", "b", "<unk>"}, true, words, positive)
	dups = dups[:len(dups)-40]
	for i := 0; i < 300; i += 7 {
		dups = append(dups, [2]any{dups[i][0], 31.5 + float64(i%3)})
	}
	for i := 0x41; i < 0x60; i++ {
		dups[3+i] = [2]any{"dropped" + byteName(byte(i)), 33.0}
	}
	mk("uni-positive-dups", map[string]any{
		"pre_tokenizer": map[string]any{"type": "WhitespaceSplit"},
		"model":         map[string]any{"unk_id": 2, "vocab": dups, "byte_fallback": true},
	})
	// ByteLevel pipeline: pieces are in the byte-level alphabet.
	var blWords []string
	for _, w := range words {
		blWords = append(blWords, string(byteLevelEncode(w, nil)), string(byteLevelEncode(" "+w, nil)))
	}
	var blLead []string
	for b := 0; b < 256; b++ {
		if b%3 != 0 { // some bytes unknown: fused unk
			blLead = append(blLead, string(bytesChar[b]))
		}
	}
	mk("uni-bytelevel", map[string]any{
		"added_tokens":  []any{added(0, "<unk>", true), added(1, "<|end|>", true)},
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true, "trim_offsets": true},
		"decoder":       map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"model":         map[string]any{"type": "Unigram", "unk_id": 0, "vocab": unigramVocab(append([]string{"<unk>", "<|end|>"}, blLead...), false, blWords, real)},
	})
	return out
}

// TestOracleUnigram compares the Unigram model with the HF tokenizers Rust
// library on the synthetic Unigram tokenizers: ids (or the failure to
// encode), decode of the library's ids, round trips and random id lists.
func TestOracleUnigram(t *testing.T) {
	_, lines := debianTexts(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 6))
	words := frequentWords(lines, 1500)
	sampleWords := strings.Fields(strings.Join(sample(rng, lines, 200), " "))
	specials := []string{"<s>", "</s>", "<unk>", "<pad>", "<|end|>", " <s> ", "<0x41>"}
	nStress := stressCount(700)
	texts := append(stressTexts(rng, nStress, sampleWords, specials), sample(rng, lines, 300)...)
	for i, s := range texts {
		texts[i] = strings.ToValidUTF8(s, "\uFFFD")
	}
	texts = append(texts, "", " ", "  ", "   x   y   ", "\t\n", "<unk>", "x<unk>y", "é<unk>", "ç<unk>ç", "日本語", "日本人",
		"unknown‰", "Hello⅐how are⅑⅑", "ab  cd", "▁", "▁▁▁", "a▁b", strings.Repeat("the ", 200), strings.Repeat("ü", 50),
		"ÀÁÂ ÃÄÅ", "\U0001F600\U0001F600 x", "<0x41>", "e\u0301", "tab\there", "x\u00a0y")
	nTok, nTexts := 0, 0
	for name, data := range unigramTokenizers(words) {
		t.Run(name, func(t *testing.T) {
			path, tk := writeTokenizer(t, dir, name, data)
			randIDs := randomIDLists(rng, 150, tk.MaxID())
			nSpecial := 200
			ans := runOracle(t, oracleRequest{Tokenizer: path, Texts: texts, TextsSpecial: texts[:nSpecial], Decode: randIDs, DecodeSkip: randIDs,
				Tokens: []string{"<unk>", "<s>", "</s>", "a", "▁the"}})
			idMis, decMis, rtOK, rtChecked, failed := 0, 0, 0, 0, 0
			for k, set := range []struct {
				texts []string
				want  [][]int
			}{{texts, ans.IDs}, {texts[:nSpecial], ans.IDsSpecial}} {
				for i, text := range set.texts {
					got, err := tk.Encode(text, k == 1)
					want := set.want[i]
					switch {
					case want == nil && err == nil:
						idMis++
						t.Errorf("addSpecial=%v %q: the library fails, coldint gives %s", k == 1, trunc(text, 120), showIDs(tk, got[:min(len(got), 8)]))
					case want != nil && err != nil:
						idMis++
						t.Errorf("addSpecial=%v %q: coldint fails (%v), the library gives %s", k == 1, trunc(text, 120), err, showIDs(tk, want[:min(len(want), 8)]))
					case want == nil:
						if k == 0 {
							failed++
						}
					case !equalInts(got, want):
						idMis++
						if idMis <= 5 {
							j := firstDiff(got, want)
							t.Errorf("addSpecial=%v %q: ids differ at %d:\n got  %s\n want %s", k == 1, trunc(text, 120), j,
								showIDs(tk, got[max(0, j-2):min(len(got), j+4)]), showIDs(tk, want[max(0, j-2):min(len(want), j+4)]))
						}
					}
				}
			}
			for i, text := range texts {
				if ans.IDs[i] == nil {
					continue
				}
				if dec := tk.DecodeRaw(ans.IDs[i], false); dec != ans.Decoded[i] {
					decMis++
					if decMis <= 4 {
						t.Errorf("decode of %q:\n got  %q\n want %q", trunc(text, 120), trunc(dec, 200), trunc(ans.Decoded[i], 200))
					}
				}
				if ans.Decoded[i] == text {
					rtChecked++
					if got, err := tk.Encode(text, false); err == nil && tk.DecodeRaw(got, false) == text {
						rtOK++
					} else {
						t.Errorf("round trip of %q failed", trunc(text, 120))
					}
				}
			}
			decMis += checkRandomDecodes(t, tk, randIDs, ans)
			for i, tok := range []string{"<unk>", "<s>", "</s>", "a", "▁the"} {
				id, ok := tk.TokenID(tok)
				want := ans.TokenIDs[i]
				if ok != (want != nil) || (ok && id != *want) {
					t.Errorf("TokenID(%q) = %d, %v; the library says %v", tok, id, ok, want)
				}
			}
			if tk.VocabSize() != ans.VocabSize {
				t.Errorf("VocabSize = %d, the library says %d", tk.VocabSize(), ans.VocabSize)
			}
			if rtChecked == 0 {
				t.Errorf("no text round-trips through the library")
			}
			nTok++
			nTexts += len(texts) + nSpecial
			t.Logf("%d texts (+%d with special tokens): %d id mismatches (%d texts the library fails on, coldint too), %d decode mismatches (+%d random id lists ×2), round trip %d/%d",
				len(texts), nSpecial, idMis, failed, decMis, len(randIDs), rtOK, rtChecked)
		})
	}
	t.Logf("%d Unigram tokenizers, %d encodings compared", nTok, nTexts)
}

// bestScore is the best total score over all segmentations of s into the
// pieces of u, unknown characters scored as the model does (exhaustive
// dynamic programming over every byte position, independent of encodeWord).
func bestScore(u *unigram, s string) (float64, bool) {
	best := make([]float64, len(s)+1)
	ok := make([]bool, len(s)+1)
	ok[0] = true
	for i := 0; i < len(s); i++ {
		if !ok[i] || !utf8.RuneStart(s[i]) {
			continue
		}
		_, mb := utf8.DecodeRuneInString(s[i:])
		single := false
		for j := i + 1; j <= len(s); j++ {
			id, in := u.ids[s[i:j]]
			if !in {
				continue
			}
			if j-i == mb {
				single = true
			}
			if v := best[i] + u.scores[id]; !ok[j] || v > best[j] {
				best[j], ok[j] = v, true
			}
		}
		if !single && u.unk >= 0 {
			if v := best[i] + u.unkScore; !ok[i+mb] || v > best[i+mb] {
				best[i+mb], ok[i+mb] = v, true
			}
		}
	}
	return best[len(s)], ok[len(s)]
}

// TestUnigramBestPath checks, without the oracle, that encodeWord's path has
// the best total score (fusing off: each unk node counted on its own) on
// random vocabularies and texts.
func TestUnigramBestPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	alphabet := []string{"a", "b", "c", "é", "日", "x"}
	for round := 0; round < 200; round++ {
		vocab := [][2]any{{"<unk>", -float64(rng.IntN(4))}}
		seen := map[string]bool{"<unk>": true}
		for k := 0; k < 4+rng.IntN(20); k++ {
			var b strings.Builder
			for n := 1 + rng.IntN(3); n > 0; n-- {
				b.WriteString(alphabet[rng.IntN(len(alphabet)-1)]) // "x" is never a piece
			}
			if !seen[b.String()] {
				seen[b.String()] = true
				vocab = append(vocab, [2]any{b.String(), -float64(rng.IntN(8)) / 2})
			}
		}
		data, _ := json.Marshal(map[string]any{"model": map[string]any{"type": "Unigram", "unk_id": 0, "vocab": vocab}})
		tk, err := FromBytes(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		u := tk.uni
		for k := 0; k < 20; k++ {
			var b strings.Builder
			for n := rng.IntN(12); n > 0; n-- {
				b.WriteString(alphabet[rng.IntN(len(alphabet))])
			}
			s := b.String()
			// Score the chosen path node by node from the Viterbi arrays.
			var sc uniScratch
			if _, err := u.encodeWord(s, &sc, nil); err != nil {
				t.Fatal(err)
			}
			got := 0.0
			if len(s) > 0 {
				got = sc.score[len(s)]
			}
			sum := 0.0
			for e := len(s); e > 0; e = int(sc.from[e]) {
				if id := sc.id[e]; id == u.unk { // texts never hold "<unk>"
					sum += u.unkScore
				} else {
					sum += u.scores[id]
				}
			}
			want, ok := bestScore(u, s)
			if !ok || math.Abs(got-want) > 1e-9 || math.Abs(sum-want) > 1e-9 {
				t.Fatalf("vocab %v text %q: path score %v (sum %v), best %v", vocab, s, got, sum, want)
			}
			// Decoding (no decoder: pieces joined by spaces) covers the text.
			ids, err := tk.Encode(s, false)
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, id := range ids {
				p, _ := tk.Token(id)
				parts = append(parts, p)
			}
			hasUnk := false
			for _, id := range ids {
				hasUnk = hasUnk || id == int(u.unk)
			}
			if !hasUnk && strings.Join(parts, "") != s {
				t.Fatalf("vocab %v text %q: pieces %q do not cover the text", vocab, s, parts)
			}
		}
	}
}

// TestUnigramErrors checks the load errors for malformed Unigram models.
func TestUnigramErrors(t *testing.T) {
	for _, tc := range []struct {
		name, model, want string
	}{
		{"empty vocab with unk_id", `{"type":"Unigram","unk_id":0,"vocab":[]}`, `"vocab" is empty but "unk_id"`},
		{"unk_id out of range", `{"type":"Unigram","unk_id":2,"vocab":[["a",-1],["b",-2]]}`, `"unk_id" 2 is outside the vocabulary (2 pieces)`},
		{"negative unk_id", `{"type":"Unigram","unk_id":-1,"vocab":[["a",-1]]}`, `"unk_id" -1 is outside`},
		{"fractional unk_id", `{"type":"Unigram","unk_id":0.5,"vocab":[["a",-1]]}`, `unk_id`},
		{"infinite score", `{"type":"Unigram","unk_id":0,"vocab":[["a",-1],["b",1e999]]}`, `vocab entry 1 ("b"): score`},
		{"string score", `{"type":"Unigram","vocab":[["a","x"]]}`, `vocab entry 0 ("a"): score`},
		{"three fields", `{"type":"Unigram","vocab":[["a",-1,3]]}`, `vocab entry 0 ("a"): want [piece, score]`},
		{"piece not a string", `{"type":"Unigram","vocab":[[1,-1]]}`, `vocab entry 0: piece`},
		{"entry not a list", `{"type":"Unigram","vocab":[{"a":-1}]}`, `vocab entry 0: want [piece, score]`},
		{"object vocab", `{"type":"Unigram","vocab":{"a":0}}`, `Unigram "vocab" must be a list`},
		{"missing vocab", `{"type":"Unigram","unk_id":0}`, `Unigram model is missing "vocab"`},
		{"list vocab for BPE", `{"type":"BPE","vocab":[["a",-1]],"merges":[]}`, `BPE "vocab" must be an object`},
		{"other model type", `{"type":"WordPiece","vocab":{"a":0}}`, `type "WordPiece" is not supported (only BPE and Unigram)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromBytes([]byte(`{"model":`+tc.model+`}`), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	// An unknown character without unk_id fails the text, not the load.
	tk, err := FromBytes([]byte(`{"model":{"type":"Unigram","unk_id":null,"vocab":[["a",-1],["b",-2]]}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Encode("abc", false); err == nil || !strings.Contains(err.Error(), "no unk_id") {
		t.Fatalf("encode with an unknown character and no unk_id: error %v", err)
	}
	if _, err := tk.EncodeBatch([]string{"ab", "ba", "c", "a"}, false); err == nil {
		t.Fatal("EncodeBatch: no error for a text with an unknown character")
	}
	if ids, err := tk.Encode("abba", false); err != nil || len(ids) != 4 {
		t.Fatalf("encode abba: %v %v", ids, err)
	}
}

// FuzzUnigramModel loads arbitrary Unigram "model" objects: each load is an
// error or a tokenizer whose ids stay in range and that never panics.
func FuzzUnigramModel(f *testing.F) {
	for _, seed := range []string{
		`{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["a",-1],["ab",-1.5],["▁",-2]],"byte_fallback":true}`,
		`{"type":"Unigram","unk_id":null,"vocab":[["a",-1]]}`,
		`{"vocab":[["a",1e300],["b",-1e300],["<0x41>",-3]],"unk_id":1,"byte_fallback":true}`,
		`{"type":"Unigram","vocab":[]}`, `{"type":"Unigram","vocab":[["",0],["",1]],"unk_id":1}`,
		`{"type":"Unigram","unk_id":3,"vocab":[["a",-1]]}`, `{"type":"Unigram","vocab":[["a",-1,2]]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, model []byte) {
		data := append(append([]byte(`{"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true},"model":`), model...), '}')
		tk, err := fromBytes(data, nil)
		if err != nil {
			return
		}
		for _, s := range []string{"", "a b", "ab ab abc", "日本語 😀 <unk>", "AAA"} {
			ids, err := tk.Encode(s, true)
			if err != nil {
				continue
			}
			for _, id := range ids {
				if id < 0 || id > tk.MaxID() {
					t.Fatalf("%q: id %d out of range", s, id)
				}
			}
			_ = tk.DecodeRaw(ids, false)
		}
	})
}

// TestSerdeFloat checks num, the emulation of serde_json's default float
// parser: exact where one rounding suffices (at most 15 significant digits),
// within one ulp of the correctly rounded value otherwise, and really
// different from it for some 17-digit scores (as the library's are).
func TestSerdeFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	differ := 0
	for i := 0; i < 20000; i++ {
		x := -rng.Float64() * math.Pow(10, float64(rng.IntN(6)))
		prec := -1 // shortest round-trip form, as serde_json writes scores
		if i%2 == 0 {
			prec = 1 + rng.IntN(15)
		}
		text := strconv.FormatFloat(x, 'g', prec, 64)
		r := &jreader{b: []byte(text)}
		got, err := r.num()
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		want, _ := strconv.ParseFloat(text, 64)
		if got == want {
			continue
		}
		if prec > 0 && prec <= 15 && !strings.ContainsAny(text, "e") {
			t.Fatalf("%s: got %v, want %v (one rounding is exact)", text, got, want)
		}
		if math.Nextafter(want, got) != got {
			t.Fatalf("%s: got %v, more than one ulp from %v", text, got, want)
		}
		differ++
	}
	if differ == 0 {
		t.Fatal("no 17-digit value parsed differently from strconv: the serde_json emulation is not active")
	}
	t.Logf("%d of 10000 shortest-form values are one ulp off the correctly rounded value, as in serde_json", differ)
	for _, tc := range []struct {
		in string
		ok bool
	}{{"0", true}, {"-0", true}, {"1e308", true}, {"1e309", false}, {"1e-400", true}, {"123456789012345678901234567890", true},
		{"1.5e-2147483649", true}, {"1e2147483648", false}, {"0e2147483648", true}, {"01", false}, {"1.", false}, {"-", false}, {"1e", false}} {
		r := &jreader{b: []byte(tc.in)}
		_, err := r.num()
		if (err == nil) != tc.ok || (tc.ok && r.i != len(tc.in)) {
			t.Errorf("num(%q): error %v, read %d bytes", tc.in, err, r.i)
		}
	}
}
