package model

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/coldint/coldint/model/synth"
)

func TestSampleOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		opts SampleOptions
		want string // substring of the error; "" for valid
	}{
		{"greedy", SampleOptions{}, ""},
		{"all set", SampleOptions{Temperature: 0.7, TopK: 40, TopP: 0.9, Seed: 3}, ""},
		{"negative temperature", SampleOptions{Temperature: -1}, "temperature"},
		{"nan temperature", SampleOptions{Temperature: math.NaN()}, "temperature"},
		{"inf temperature", SampleOptions{Temperature: math.Inf(1)}, "temperature"},
		{"negative top-k", SampleOptions{TopK: -2}, "top-k"},
		{"top-p over 1", SampleOptions{TopP: 1.5}, "top-p"},
		{"negative top-p", SampleOptions{TopP: -0.1}, "top-p"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func draw(t *testing.T, opts SampleOptions, logits []float32, n int) []int32 {
	t.Helper()
	s, err := NewSampler(opts)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int32, n)
	for i := range out {
		out[i] = s.Sample(logits)
	}
	return out
}

func TestSamplerRules(t *testing.T) {
	logits := []float32{0.5, 2, float32(math.NaN()), 1.9, -1, 2}
	tests := []struct {
		name    string
		opts    SampleOptions
		allowed []int32
	}{
		{"greedy takes the first maximum", SampleOptions{}, []int32{1}},
		{"top-k 1 is greedy", SampleOptions{Temperature: 1, TopK: 1, Seed: 5}, []int32{1}},
		{"top-k 2 keeps the tied maxima", SampleOptions{Temperature: 1, TopK: 2, Seed: 5}, []int32{1, 5}},
		{"tiny top-p keeps one", SampleOptions{Temperature: 1, TopP: 1e-6, Seed: 5}, []int32{1}},
		{"top-k 3 at high temperature", SampleOptions{Temperature: 50, TopK: 3, Seed: 9}, []int32{1, 5, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[int32]bool{}
			for _, id := range draw(t, tt.opts, logits, 300) {
				if !slices.Contains(tt.allowed, id) {
					t.Fatalf("sampled %d, allowed %v", id, tt.allowed)
				}
				seen[id] = true
			}
			if len(seen) != len(tt.allowed) {
				t.Fatalf("saw %v in 300 draws, want every one of %v", seen, tt.allowed)
			}
		})
	}
}

func TestSamplerDeterministicAndDistribution(t *testing.T) {
	p := []float64{0.5, 0.3, 0.15, 0.05}
	logits := make([]float32, len(p))
	for i, q := range p {
		logits[i] = float32(math.Log(q)) + 7 // a shift does not change softmax
	}
	opts := SampleOptions{Temperature: 1, Seed: 42}
	a := draw(t, opts, logits, 4000)
	b := draw(t, opts, logits, 4000)
	if !slices.Equal(a, b) {
		t.Fatal("the same seed gave different draws")
	}
	opts.Seed = 43
	if c := draw(t, opts, logits, 4000); slices.Equal(a, c) {
		t.Fatal("seeds 42 and 43 gave identical draws")
	}
	counts := make([]float64, len(p))
	for _, id := range a {
		counts[id]++
	}
	for i, q := range p {
		got := counts[i] / float64(len(a))
		// 4000 draws: the standard error is at most 0.008; allow 5 of them.
		if math.Abs(got-q) > 0.04 {
			t.Errorf("token %d drawn with frequency %.3f, want about %.3f", i, got, q)
		}
	}
	// top-p 0.8 keeps tokens 0 and 1 (0.5+0.3 reaches 0.8).
	for _, id := range draw(t, SampleOptions{Temperature: 1, TopP: 0.8, Seed: 1}, logits, 500) {
		if id > 1 {
			t.Fatalf("top-p 0.8 sampled token %d", id)
		}
	}
}

// byteDecoder decodes ids as raw bytes, like byte-fallback tokenizers do.
type byteDecoder struct{}

func (byteDecoder) Decode(ids []int, _ bool) (string, error) {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), nil
}

func TestTextStream(t *testing.T) {
	prompt := []int{'h', 'i', ' '}
	s, err := NewTextStream(byteDecoder{}, prompt)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, c := range []byte("a\u00e9\u20acb") {
		out, err := s.Add(int(c))
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, out)
	}
	want := []string{"a", "", "\u00e9", "", "", "\u20ac", "b"}
	if !slices.Equal(parts, want) {
		t.Fatalf("parts %q, want %q", parts, want)
	}
	if s.Text() != "a\u00e9\u20acb" {
		t.Fatalf("Text() = %q", s.Text())
	}
	// An incomplete character at the end comes out on Flush.
	if out, _ := s.Add(0xe2); out != "" {
		t.Fatalf("incomplete char emitted: %q", out)
	}
	if out, _ := s.Flush(); out != "\uFFFD" {
		t.Fatalf("Flush() = %q", out)
	}
}

func TestGenerate(t *testing.T) {
	e := testEngine(t)
	ctx := context.Background()
	dir := writeModel(t, synth.Spec{Arch: "llama", Layers: 2, Hidden: 32, Heads: 4, KVHeads: 2, Intermediate: 64, Vocab: 97, Seed: 11})
	m, err := e.Load(ctx, dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	prompt := synth.RandomIDs(3, 9, 97)

	t.Run("next logits equal the last row of Logits", func(t *testing.T) {
		all, err := m.Logits(ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		next, err := m.NextLogits(ctx, prompt)
		if err != nil {
			t.Fatal(err)
		}
		last := all[len(all)-97:]
		for i := range next {
			if d := math.Abs(float64(next[i] - last[i])); d > 1e-4 {
				t.Fatalf("logit %d: next %v, full %v", i, next[i], last[i])
			}
		}
	})
	t.Run("greedy is the argmax chain", func(t *testing.T) {
		got, err := m.Generate(ctx, prompt, GenerateOptions{MaxTokens: 6}, nil)
		if err != nil {
			t.Fatal(err)
		}
		seq := slices.Clone(prompt)
		for i := 0; i < 6; i++ {
			l, err := m.NextLogits(ctx, seq)
			if err != nil {
				t.Fatal(err)
			}
			id := argmax(l)
			if got[i] != id {
				t.Fatalf("token %d: generated %d, argmax %d", i, got[i], id)
			}
			seq = append(seq, id)
		}
	})
	t.Run("fixed seed is deterministic", func(t *testing.T) {
		opts := GenerateOptions{SampleOptions: SampleOptions{Temperature: 1.5, TopK: 50, TopP: 0.95, Seed: 7}, MaxTokens: 12}
		var streamed []int32
		a, err := m.Generate(ctx, prompt, opts, func(id int32) error { streamed = append(streamed, id); return nil })
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.Generate(ctx, prompt, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(a) != 12 || !slices.Equal(a, b) || !slices.Equal(a, streamed) {
			t.Fatalf("runs differ: %v / %v / streamed %v", a, b, streamed)
		}
		opts.Seed = 8
		c, err := m.Generate(ctx, prompt, opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Equal(a, c) {
			t.Fatalf("seeds 7 and 8 gave the same 12 tokens %v", a)
		}
	})
	t.Run("stop ids, callback stop and bad options", func(t *testing.T) {
		first, err := m.Generate(ctx, prompt, GenerateOptions{MaxTokens: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.Generate(ctx, prompt, GenerateOptions{MaxTokens: 5, StopIDs: first}, nil)
		if err != nil || len(got) != 0 {
			t.Fatalf("stop at first token: %v, %v", got, err)
		}
		n := 0
		got, err = m.Generate(ctx, prompt, GenerateOptions{MaxTokens: 5}, func(int32) error { n++; return ErrStop })
		if err != nil || len(got) != 1 || n != 1 {
			t.Fatalf("ErrStop: %v, %v, %d calls", got, err, n)
		}
		boom := errors.New("boom")
		if _, err := m.Generate(ctx, prompt, GenerateOptions{MaxTokens: 5}, func(int32) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("callback error: %v", err)
		}
		for _, o := range []GenerateOptions{{MaxTokens: 0}, {MaxTokens: MaxGenerateTokens + 1}, {MaxTokens: 3, SampleOptions: SampleOptions{TopP: 2}}} {
			if _, err := m.Generate(ctx, prompt, o, nil); err == nil {
				t.Fatalf("options %+v accepted", o)
			}
		}
		if _, err := m.Generate(ctx, nil, GenerateOptions{MaxTokens: 3}, nil); err == nil {
			t.Fatal("empty prompt accepted")
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := m.Generate(cctx, prompt, GenerateOptions{MaxTokens: 3}, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled ctx: %v", err)
		}
	})
}

func TestGenerateKVCache(t *testing.T) {
	e := testEngine(t)
	ctx := context.Background()
	for _, spec := range []synth.Spec{
		{Arch: "llama", Layers: 2, Hidden: 32, Heads: 4, KVHeads: 2, Intermediate: 64, Vocab: 97, Seed: 21},
		{Arch: "phi3", Layers: 2, Hidden: 32, Heads: 4, KVHeads: 4, Intermediate: 48, Vocab: 61, Seed: 22},
	} {
		t.Run(spec.Arch, func(t *testing.T) {
			m, err := e.Load(ctx, writeModel(t, spec), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if !m.cacheable() {
				t.Fatal("a resident model without a window should use the cache")
			}
			prompt := synth.RandomIDs(5, 7, spec.Vocab)
			// Logits step by step: cached vs full recomputation.
			d := m.newDecoder(1 << 20)
			defer d.close()
			seq := slices.Clone(prompt)
			feed := prompt
			for i := 0; i < 8; i++ {
				got, err := d.next(ctx, feed)
				if err != nil {
					t.Fatal(err)
				}
				want, err := m.NextLogits(ctx, seq)
				if err != nil {
					t.Fatal(err)
				}
				for j := range want {
					if diff := math.Abs(float64(got[j] - want[j])); diff > 1e-4*(1+math.Abs(float64(want[j]))) {
						t.Fatalf("step %d logit %d: cached %v, full %v", i, j, got[j], want[j])
					}
				}
				id := argmax(want)
				seq = append(seq, id)
				feed = []int32{id}
			}
			// Past a 10-token window both paths see the last 10 tokens.
			dc, du := m.newDecoder(10), m.newDecoder(10)
			du.cache = nil
			defer dc.close()
			feed = prompt
			for i := 0; i < 8; i++ {
				a, err := dc.next(ctx, feed)
				if err != nil {
					t.Fatal(err)
				}
				b, err := du.next(ctx, feed)
				if err != nil {
					t.Fatal(err)
				}
				if argmax(a) != argmax(b) || math.Abs(float64(a[0]-b[0])) > 1e-4 {
					t.Fatalf("window step %d: cached and full logits differ", i)
				}
				feed = []int32{argmax(b)}
			}
			for _, opts := range []GenerateOptions{
				{MaxTokens: 16},
				{MaxTokens: 16, SampleOptions: SampleOptions{Temperature: 1, TopK: 20, Seed: 3}},
			} {
				a, err := m.Generate(ctx, prompt, opts, nil)
				if err != nil {
					t.Fatal(err)
				}
				opts.noCache = true
				b, err := m.Generate(ctx, prompt, opts, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(a, b) {
					t.Fatalf("cached %v, uncached %v", a, b)
				}
			}
		})
	}
}

// BenchmarkGenerate times 64 greedy tokens after a 64-token prompt, with the
// KV cache and with full recomputation per token (`make bench-web` prints
// the ratio).
func BenchmarkGenerate(b *testing.B) {
	e := testEngine(b)
	ctx := context.Background()
	spec := synth.Spec{Arch: "llama", Layers: 4, Hidden: 128, Heads: 4, Intermediate: 344, Vocab: 257, Seed: 9}
	m, err := e.Load(ctx, writeModel(b, spec), LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	prompt := synth.RandomIDs(1, 64, spec.Vocab)
	for _, tc := range []struct {
		name    string
		noCache bool
	}{{"kvcache", false}, {"recompute", true}} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				out, err := m.Generate(ctx, prompt, GenerateOptions{MaxTokens: 64, noCache: tc.noCache}, nil)
				if err != nil || len(out) != 64 {
					b.Fatal(err, len(out))
				}
			}
			b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
