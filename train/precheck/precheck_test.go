package precheck

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coldint/coldint/competition"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/tokenizer"
)

// TestSamplesTokenizer checks that a model shipping its own tokenizer is
// fed samples tokenized with the competition tokenizer unless the
// competition frees the tokenizer, as a validator does.
func TestSamplesTokenizer(t *testing.T) {
	ctx := context.Background()
	ownDir, compDir := testenv.LenmlTokenizer(t, "gpt4o"), testenv.LenmlTokenizer(t, "gpt35turbo")
	vocab, err := modeldir.TokenizerVocabSize(ownDir) // the larger of the two
	if err != nil {
		t.Fatal(err)
	}
	mc := &hf.ModelConfig{ModelType: "llama", VocabSize: vocab, HiddenSize: 4, IntermediateSize: 8, NumHiddenLayers: 1,
		NumAttentionHeads: 1, NumKeyValueHeads: 1, RopeTheta: 10000, HiddenAct: "silu", RMSNormEps: 1e-5, TieWordEmbeddings: true}
	dir := filepath.Join(t.TempDir(), "m")
	if err := modeldir.Init(ctx, dir, mc, modeldir.InitOptions{Seed: 1, DType: safetensors.BF16, TokenizerDir: ownDir}); err != nil {
		t.Fatal(err)
	}
	texts := []string{"The quick brown fox jumps over the lazy dog.", "Tokenizers differ on  spacing\tand tabs."}
	want := func(tokDir string) [][]int {
		tok, err := tokenizer.Load(tokDir)
		if err != nil {
			t.Fatal(err)
		}
		var rows [][]int
		for _, s := range texts {
			ids, err := tok.Encode(s, true)
			if err != nil {
				t.Fatal(err)
			}
			rows = append(rows, append(ids, tok.Roles().EOS))
		}
		return rows
	}
	loads := 0
	load := func(ctx context.Context, id string) (*tokenizer.Tokenizer, error) {
		loads++
		return competition.LoadTokenizer(ctx, nil, id, "")
	}
	tests := []struct {
		name  string
		extra string
		own   bool
	}{
		{name: "competition tokenizer, not the model's", extra: `,"tokenizer":"` + compDir + `","max_sequence_len":4096`},
		{name: "free_tokenizer: the model's own", extra: `,"tokenizer":"` + compDir + `","free_tokenizer":true,"max_sequence_len":4096`, own: true},
		{name: "free_tokenizer without max_sequence_len: the competition's", extra: `,"tokenizer":"` + compDir + `","free_tokenizer":true`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := competition.Parse([]byte(`{"c":{"reward":1,"dataset":"d","model_types":["LlamaForCausalLM"],"model_size":1e9,"parameters":1e9` + tc.extra + `}}`))
			if err != nil {
				t.Fatal(err)
			}
			loads = 0
			rows, choice, err := Samples(ctx, &cfg.Competitions[0], dir, texts, load)
			if err != nil {
				t.Fatal(err)
			}
			if choice.Own != tc.own || (loads > 0) == tc.own {
				t.Fatalf("choice %+v after %d competition tokenizer loads, want own %v", choice, loads, tc.own)
			}
			w := want(compDir)
			if tc.own {
				w = want(ownDir)
			}
			if slices.Equal(want(compDir)[0], want(ownDir)[0]) {
				t.Fatal("the two tokenizers agree: the test cannot tell them apart")
			}
			for i := range w {
				if !slices.Equal(rows[i], w[i]) {
					t.Fatalf("sample %d: ids %v, want %v", i, rows[i], w[i])
				}
			}
		})
	}
	// No tokenizer anywhere: a clear error, not the model's own by default.
	cfg, _ := competition.Parse([]byte(`{"c":{"reward":1,"dataset":"d","model_types":["LlamaForCausalLM"],"model_size":1e9,"parameters":1e9}}`))
	if _, _, err := Samples(ctx, &cfg.Competitions[0], dir, texts, load); !errors.Is(err, competition.ErrNoTokenizer) || !strings.Contains(err.Error(), "max_sequence_len") {
		t.Fatalf("want ErrNoTokenizer naming max_sequence_len, got %v", err)
	}
}
