package surgeon

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/tokenizer"
)

func lenmlDir(t *testing.T, name string) string { return testenv.LenmlTokenizer(t, name) }

func TestSwapTokenizerCl100kToMistral(t *testing.T) {
	oldDir, newDir := lenmlDir(t, "gpt35turbo"), lenmlDir(t, "llama2")
	vocab, err := modeldir.TokenizerVocabSize(oldDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &hf.ModelConfig{ModelType: "llama", VocabSize: vocab, HiddenSize: 8, IntermediateSize: 16,
		NumHiddenLayers: 1, NumAttentionHeads: 2, NumKeyValueHeads: 2, TieWordEmbeddings: true,
		HiddenAct: "silu", RMSNormEps: 1e-5, RopeTheta: 10000, InitializerRange: 0.02}
	dir := filepath.Join(t.TempDir(), "m")
	if err := modeldir.Init(context.Background(), dir, cfg, modeldir.InitOptions{Seed: 1, DType: safetensors.F32, TokenizerDir: oldDir}); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	oldTok, err := tokenizer.Load(oldDir)
	if err != nil {
		t.Fatal(err)
	}
	newTok, err := tokenizer.Load(newDir)
	if err != nil {
		t.Fatal(err)
	}
	out, rep, err := SwapTokenizer(m, oldTok, newTok, newDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("swap report: %+v", rep)
	if rep.NewVocab != 32000 || out.Config.VocabSize != 32000 {
		t.Fatalf("new vocab %d", rep.NewVocab)
	}
	if rep.Copied < 10000 || rep.Composed == 0 || rep.Copied+rep.Composed+rep.Special+rep.New != rep.NewVocab {
		t.Fatalf("implausible report %+v", rep)
	}
	if rep.ParamsAfter >= rep.ParamsBefore {
		t.Fatalf("no parameter saving: %+v", rep)
	}
	// " the" is one token in both: its new row must equal the old row exactly.
	newID, _ := newTok.Encode(" the", false)
	oldID, _ := oldTok.Encode(" the", false)
	if len(newID) == 1 && len(oldID) == 1 {
		ne, oe := out.Tensors["model.embed_tokens.weight"], m.Tensors["model.embed_tokens.weight"]
		for c := 0; c < 8; c++ {
			if ne.Data[newID[0]*8+c] != oe.Data[oldID[0]*8+c] {
				t.Fatalf("row of %q was not copied", " the")
			}
		}
	}
	dst := filepath.Join(t.TempDir(), "swapped")
	if err := out.Save(context.Background(), dst); err != nil {
		t.Fatal(err)
	}
	info, err := modeldir.Inspect(dst)
	if err != nil || info.TokenizerSize > int(info.EmbeddingRows) {
		t.Fatalf("swapped model inconsistent: %v %+v", err, info)
	}
}
