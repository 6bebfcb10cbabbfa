package e2e

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/surgeon"
	"github.com/coldint/coldint/tokenizer"
)

// realSamples tokenizes entries of the Jargon File (Debian jargon-text) with
// the Mistral tokenizer: real English text, up to maxTok tokens each.
func realSamples(t *testing.T, n, maxTok int) []model.Sample {
	t.Helper()
	entries := jargonDocs(t)
	tok := loadTokenizer(t, "llama2")
	var out []model.Sample
	for _, e := range entries[100:] {
		ids, err := tok.Encode(e, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) < 16 {
			continue
		}
		if len(ids) > maxTok {
			ids = ids[:maxTok]
		}
		s := model.Sample{Valid: true, Ids: make([]int32, len(ids))}
		for i, id := range ids {
			s.Ids[i] = int32(id)
		}
		out = append(out, s)
		if len(out) == n {
			break
		}
	}
	return out
}

func lenmlDir(t *testing.T, name string) string { return testenv.LenmlTokenizer(t, name) }

func loadTokenizer(t *testing.T, name string) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Load(lenmlDir(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func newEngine(t *testing.T) *model.Engine {
	t.Helper()
	e, err := model.NewEngine(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func losses(t *testing.T, e *model.Engine, dir string, samples []model.Sample) []float64 {
	t.Helper()
	m, err := e.Load(context.Background(), dir, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.Losses(context.Background(), samples, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func baseModel(t *testing.T, arch string, tie bool) string {
	t.Helper()
	cfg := &hf.ModelConfig{ModelType: arch, VocabSize: 32000, HiddenSize: 32, IntermediateSize: 64,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, TieWordEmbeddings: tie,
		HiddenAct: "silu", RMSNormEps: 1e-5, RopeTheta: 10000, InitializerRange: 0.02}
	dir := filepath.Join(t.TempDir(), arch)
	// A larger init than 0.02 makes the random model's predictions far from
	// uniform, so a surgery that changed the function would show.
	cfg.InitializerRange = 0.2
	if err := modeldir.Init(context.Background(), dir, cfg, modeldir.InitOptions{Seed: 11, DType: safetensors.F32}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSurgeryPreservesLosses measures function preservation with the engine:
// per-sample summed losses on real text before and after each growth
// operation agree within 1e-5 relative (f32).
func TestSurgeryPreservesLosses(t *testing.T) {
	samples := realSamples(t, 4, 160)
	e := newEngine(t)
	ops := []struct {
		name string
		op   func(*surgeon.Model) (*surgeon.Model, error)
	}{
		{"add-layers", func(m *surgeon.Model) (*surgeon.Model, error) { return surgeon.AddLayers(m, 1, 2) }},
		{"add-layers-front", func(m *surgeon.Model) (*surgeon.Model, error) { return surgeon.AddLayers(m, 0, 1) }},
		{"grow-hidden", func(m *surgeon.Model) (*surgeon.Model, error) { return surgeon.GrowHidden(m, 48, 3) }},
		{"grow-intermediate", func(m *surgeon.Model) (*surgeon.Model, error) { return surgeon.GrowIntermediate(m, 96, 3) }},
		// Negative control: growing the hidden size without keeping the norm
		// divisor changes every RMSNorm, so the losses must move.
		{"control-grow-hidden-without-norm-divisor", func(m *surgeon.Model) (*surgeon.Model, error) {
			out, err := surgeon.GrowHidden(m, 48, 3)
			if err == nil {
				out.Config.NormDivisor = 0
			}
			return out, err
		}},
	}
	for _, arch := range []string{"llama", "phi3"} {
		base := baseModel(t, arch, arch == "llama")
		before := losses(t, e, base, samples)
		for _, tc := range ops {
			t.Run(arch+"/"+tc.name, func(t *testing.T) {
				m, err := surgeon.Load(base)
				if err != nil {
					t.Fatal(err)
				}
				out, err := tc.op(m)
				if err != nil {
					t.Fatal(err)
				}
				dst := filepath.Join(t.TempDir(), "out")
				if err := out.Save(context.Background(), dst); err != nil {
					t.Fatal(err)
				}
				after := losses(t, e, dst, samples)
				if strings.HasPrefix(tc.name, "control-") {
					if rel := math.Abs(after[0]-before[0]) / before[0]; rel < 1e-3 {
						t.Fatalf("control surgery left the loss unchanged (rel %.2e): the test cannot see changes", rel)
					}
					return
				}
				for i := range before {
					rel := math.Abs(after[i]-before[i]) / math.Abs(before[i])
					if !(rel <= 1e-5) {
						t.Fatalf("sample %d: loss %.6f before, %.6f after (rel %.2e)", i, before[i], after[i], rel)
					}
				}
				t.Logf("%d samples, max loss %.2f: preserved", len(before), maxOf(before))
			})
		}
	}
}

// TestResizeVocabPreservesOldLogits checks resize-vocab upward: the logits of
// every id below the old size are unchanged (1e-5 relative to the logit
// scale). The summed loss itself moves by the probability mass the softmax
// gives the new rows, which no initialisation of a linear lm_head can make
// zero.
func TestResizeVocabPreservesOldLogits(t *testing.T) {
	samples := realSamples(t, 2, 64)
	e := newEngine(t)
	for _, tie := range []bool{true, false} {
		base := baseModel(t, "llama", tie)
		m, err := surgeon.Load(base)
		if err != nil {
			t.Fatal(err)
		}
		out, err := surgeon.ResizeVocab(m, 32003, 64, surgeon.InitMean, 1)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(t.TempDir(), "out")
		if err := out.Save(context.Background(), dst); err != nil {
			t.Fatal(err)
		}
		a := logits(t, e, base, samples[0].Ids)
		b := logits(t, e, dst, samples[0].Ids)
		const oldV, newV = 32000, 32064
		var scale float64
		for _, v := range a {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for pos := 0; pos < len(samples[0].Ids); pos++ {
			for id := 0; id < oldV; id++ {
				x, y := a[pos*oldV+id], b[pos*newV+id]
				if math.Abs(float64(x-y)) > 1e-5*scale {
					t.Fatalf("tie=%v pos %d id %d: logit %v became %v", tie, pos, id, x, y)
				}
			}
		}
	}
}

func logits(t *testing.T, e *model.Engine, dir string, ids []int32) []float32 {
	t.Helper()
	m, err := e.Load(context.Background(), dir, model.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	l, err := m.Logits(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}
