package synth

import (
	"path/filepath"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/safetensors"
)

// TestWriteIsValid: written models parse, match their config's tensors and
// are deterministic in their seed.
func TestWriteIsValid(t *testing.T) {
	for _, s := range []Spec{
		{Arch: "llama", Layers: 2, Hidden: 16, Heads: 2, KVHeads: 1, Intermediate: 24, Vocab: 50, Seed: 1},
		{Arch: "phi3", Layers: 1, Hidden: 16, Heads: 4, Intermediate: 8, Vocab: 30, Tie: true, DType: safetensors.BF16, Seed: 2, Shards: 3, SlidingWindow: 8},
	} {
		dir := filepath.Join(t.TempDir(), s.Arch)
		if err := Write(dir, s); err != nil {
			t.Fatal(err)
		}
		cfg, err := hf.LoadModelConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		set, err := safetensors.OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.CheckTensors(set.Shapes()); err != nil {
			t.Errorf("%s: %v", s.Arch, err)
		}
		a, _, err := set.ReadFloat32("model.embed_tokens.weight")
		set.Close()
		if err != nil {
			t.Fatal(err)
		}
		dir2 := filepath.Join(t.TempDir(), "again")
		if err := Write(dir2, s); err != nil {
			t.Fatal(err)
		}
		set2, err := safetensors.OpenDir(dir2)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := set2.ReadFloat32("model.embed_tokens.weight")
		set2.Close()
		if err != nil || len(a) != len(b) || a[0] != b[0] || a[len(a)-1] != b[len(b)-1] {
			t.Errorf("%s: not deterministic in the seed", s.Arch)
		}
		if s.SlidingWindow > 0 && string(cfg.Raw["sliding_window"]) != "8" {
			t.Errorf("sliding_window %s", cfg.Raw["sliding_window"])
		}
	}
	if err := Write(t.TempDir(), Spec{Arch: "gpt2", Layers: 1, Hidden: 4, Heads: 1, Intermediate: 4, Vocab: 4}); err == nil {
		t.Error("unsupported arch: no error")
	}
}
