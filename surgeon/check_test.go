package surgeon

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
)

const checkComps = `{
 "default": {"dataset": "fineweb2", "model_size": 100000000, "free_tokenizer": true, "max_sequence_len": 4096},
 "c00": {"reward": 0.5, "model_types": ["LlamaForCausalLM"], "parameters": 1000000},
 "c01": {"reward": 0.3, "model_types": ["Phi3ForCausalLM"], "parameters": 1000000},
 "tiny": {"reward": 0.2, "model_types": ["LlamaForCausalLM"], "parameters": 1000, "model_size": 1000}
}`

func TestCheck(t *testing.T) {
	cfg, err := eval.ParseCompetitions([]byte(checkComps))
	if err != nil {
		t.Fatal(err)
	}
	tokDir := lenmlDir(t, "gpt35turbo")
	vocab, _ := modeldir.TokenizerVocabSize(tokDir)
	mc := &hf.ModelConfig{ModelType: "llama", VocabSize: vocab, HiddenSize: 8, IntermediateSize: 16,
		NumHiddenLayers: 1, NumAttentionHeads: 2, NumKeyValueHeads: 2, TieWordEmbeddings: true,
		HiddenAct: "silu", RMSNormEps: 1e-5, RopeTheta: 10000, InitializerRange: 0.02}
	dir := filepath.Join(t.TempDir(), "m")
	if err := modeldir.Init(context.Background(), dir, mc, modeldir.InitOptions{Seed: 1, DType: safetensors.BF16, TokenizerDir: tokDir}); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(context.Background(), dir, cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rep.Accepted(), ","); got != "c00" {
		t.Fatalf("accepted %q, want c00; report %+v", got, rep.Competitions)
	}
	for _, c := range rep.Competitions[1:] {
		t.Logf("%s: %v", c.Competition, c.Reasons)
	}
	if !strings.Contains(strings.Join(rep.Competitions[1].Reasons, ";"), "model_types") ||
		!strings.Contains(strings.Join(rep.Competitions[2].Reasons, ";"), "exceed the limit") ||
		!strings.Contains(strings.Join(rep.Competitions[2].Reasons, ";"), "over model_size") {
		t.Fatalf("wrong reasons: %+v", rep.Competitions)
	}
	// Embedding too small for the tokenizer, and a NaN weight.
	small := filepath.Join(t.TempDir(), "small")
	mc.VocabSize = 1000
	if err := modeldir.Init(context.Background(), small, mc, modeldir.InitOptions{Seed: 1, DType: safetensors.F32, TokenizerDir: tokDir}); err != nil {
		t.Fatal(err)
	}
	poisonFirstWeight(t, filepath.Join(small, "model.safetensors"))
	rep, err = Check(context.Background(), small, cfg, "c00")
	if err != nil {
		t.Fatal(err)
	}
	// Neither is an admission rule of the validator (it fails such a model
	// at evaluation): both are notes.
	why := strings.Join(rep.Competitions[0].Notes, ";")
	if !rep.Competitions[0].Accepted || !strings.Contains(why, "embedding rows") || !strings.Contains(why, "non-finite") {
		t.Fatalf("want max-id and NaN notes on an admitted model, got %+v", rep.Competitions[0])
	}
	if _, err := Check(context.Background(), dir, cfg, "c99"); err == nil {
		t.Fatal("unknown competition should be an error")
	}
}

// poisonFirstWeight writes a NaN into the first element of the data buffer.
func poisonFirstWeight(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := 8 + binary.LittleEndian.Uint64(raw)
	binary.LittleEndian.PutUint32(raw[off:], math.Float32bits(float32(math.NaN())))
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}
