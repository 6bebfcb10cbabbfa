package surgeon

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
)

func tiny(t *testing.T, arch string, tie bool, seed uint64) *Model {
	t.Helper()
	cfg := &hf.ModelConfig{ModelType: arch, VocabSize: 40, HiddenSize: 16, IntermediateSize: 24,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, TieWordEmbeddings: tie,
		HiddenAct: "silu", RMSNormEps: 1e-5, RopeTheta: 10000, InitializerRange: 0.02}
	dir := filepath.Join(t.TempDir(), "m")
	if err := modeldir.Init(context.Background(), dir, cfg, modeldir.InitOptions{Seed: seed, DType: safetensors.F32}); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAddLayers(t *testing.T) {
	for _, arch := range []string{"llama", "phi3"} {
		m := tiny(t, arch, false, 1)
		out, err := AddLayers(m, 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		if out.Config.NumHiddenLayers != 4 {
			t.Fatalf("layers %d", out.Config.NumHiddenLayers)
		}
		// old layer 1 is now layer 3; new layers 1 and 2 copy layer 0 with zeroed writers
		if !reflect.DeepEqual(out.Tensors["model.layers.3.input_layernorm.weight"].Data, m.Tensors["model.layers.1.input_layernorm.weight"].Data) {
			t.Fatal("layer renumbering lost data")
		}
		for _, n := range []string{"model.layers.1.self_attn.o_proj.weight", "model.layers.2.mlp.down_proj.weight"} {
			for _, v := range out.Tensors[n].Data {
				if v != 0 {
					t.Fatalf("%s not zeroed", n)
				}
			}
		}
	}
	if _, err := AddLayers(tiny(t, "llama", true, 1), 5, 1); !errors.Is(err, ErrGeometry) {
		t.Fatalf("want a geometry error, got %v", err)
	}
}

func TestGrowHidden(t *testing.T) {
	for _, arch := range []string{"llama", "phi3"} {
		m := tiny(t, arch, arch == "llama", 2)
		out, err := GrowHidden(m, 24, 7)
		if err != nil {
			t.Fatal(err)
		}
		c := out.Config
		if c.HiddenSize != 24 || c.NumAttentionHeads != 6 || c.NumKeyValueHeads != 3 || c.NormDivisor != 16 {
			t.Fatalf("geometry %+v", c)
		}
	}
	tests := []struct {
		to   int
		want string
	}{{16, "must exceed"}, {18, "head size"}, {20, "group ratio"}}
	for _, tc := range tests {
		if _, err := GrowHidden(tiny(t, "llama", false, 1), tc.to, 1); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("grow to %d: want %q, got %v", tc.to, tc.want, err)
		}
	}
}

func TestGrowIntermediateAndResize(t *testing.T) {
	m := tiny(t, "phi3", false, 3)
	out, err := GrowIntermediate(m, 40, 1)
	if err != nil {
		t.Fatal(err)
	}
	gu := out.Tensors["model.layers.0.mlp.gate_up_proj.weight"]
	old := m.Tensors["model.layers.0.mlp.gate_up_proj.weight"]
	// the up half must start at row 40 and equal the old up half's first rows
	if gu.Data[40*16] != old.Data[24*16] {
		t.Fatal("fused gate_up halves not padded separately")
	}
	r, err := ResizeVocab(m, 50, 16, InitMean, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Config.VocabSize != 64 || r.Tensors["lm_head.weight"].Rows() != 64 {
		t.Fatalf("resize %d", r.Config.VocabSize)
	}
	s, err := ResizeVocab(m, 30, 0, InitNormal, 1)
	if err != nil || s.Tensors["model.embed_tokens.weight"].Rows() != 30 {
		t.Fatalf("shrink: %v", err)
	}
}

func TestMerge(t *testing.T) {
	a, b := tiny(t, "llama", true, 1), tiny(t, "llama", true, 2)
	lin, err := Merge([]*Model{a, b}, MergeLinear, []float64{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	for n, ta := range a.Tensors {
		for i, v := range ta.Data {
			if math.Float32bits(v) != math.Float32bits(lin.Tensors[n].Data[i]) {
				t.Fatalf("linear (1,0) differs from A at %s[%d]", n, i)
			}
		}
	}
	self, err := Merge([]*Model{a, a.Clone()}, MergeSlerp, []float64{0.3})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(self.Tensors, a.Tensors) {
		t.Fatal("slerp of a model with itself is not itself")
	}
	half, _ := Merge([]*Model{a, b}, MergeSlerp, nil)
	if reflect.DeepEqual(half.Tensors, a.Tensors) {
		t.Fatal("slerp of different models returned A")
	}
	ta, err := Merge([]*Model{a, b}, MergeTask, []float64{1})
	if err != nil || !reflect.DeepEqual(ta.Tensors["model.norm.weight"].Data, b.Tensors["model.norm.weight"].Data) {
		t.Fatalf("task arithmetic with weight 1 should give B: %v", err)
	}
	c := tiny(t, "llama", false, 1)
	if _, err := Merge([]*Model{a, c}, MergeLinear, []float64{0.5, 0.5}); !errors.Is(err, ErrGeometry) || !strings.Contains(err.Error(), "lm_head.weight") {
		t.Fatalf("want a mismatch naming lm_head.weight, got %v", err)
	}
}

func TestSaveRoundTrip(t *testing.T) {
	m := tiny(t, "llama", true, 4)
	m.DType = safetensors.BF16
	dir := filepath.Join(t.TempDir(), "out")
	if err := m.Save(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if err := m.Save(context.Background(), dir); !errors.Is(err, modeldir.ErrExists) {
		t.Fatalf("want ErrExists, got %v", err)
	}
	back, err := Load(dir)
	if err != nil || back.DType != safetensors.BF16 {
		t.Fatalf("reload: %v %v", err, back.DType)
	}
}

func TestSlicePlan(t *testing.T) {
	tests := []struct {
		layers        int
		bytes, budget int64
		want          []int
	}{
		{8, 100, 200, []int{0, 8}},
		{8, 300, 100, []int{0, 2, 4, 6, 8}},
		{10, 250, 100, []int{0, 3, 6, 10}},
		{2, 1000, 10, []int{0, 1, 2}},
	}
	for _, tc := range tests {
		if got := SlicePlan(tc.layers, tc.bytes, tc.budget); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SlicePlan(%d,%d,%d) = %v want %v", tc.layers, tc.bytes, tc.budget, got, tc.want)
		}
	}
}
