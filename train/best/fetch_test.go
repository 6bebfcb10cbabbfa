package best

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/chaintest"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/hf/safetensors"
)

// TestFetch downloads a committed model from a directory hub and checks its
// salted hash: the right hotkey and hash pass, a commitment whose hash was
// made for another hotkey or another model fails naming the model.
func TestFetch(t *testing.T) {
	ctx := context.Background()
	h, err := dirhub.Open(filepath.Join(t.TempDir(), "hub"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "model")
	cfg := &hf.ModelConfig{ModelType: "llama", VocabSize: 64, HiddenSize: 16, IntermediateSize: 32, NumHiddenLayers: 1,
		NumAttentionHeads: 2, NumKeyValueHeads: 2, HiddenAct: "silu", RMSNormEps: 1e-5, RopeTheta: 10000, InitializerRange: 0.02}
	if err := modeldir.Init(ctx, dir, cfg, modeldir.InitOptions{Seed: 1, DType: safetensors.BF16}); err != nil {
		t.Fatal(err)
	}
	repo := hf.RepoID{Namespace: "miner", Name: "tiny"}
	if err := h.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	var up []hf.UploadFile
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		up = append(up, hf.UploadFile{Path: e.Name(), Size: int64(len(b)), Content: bytes.NewReader(b)})
	}
	commit, err := h.Upload(ctx, repo, up, "model", hf.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dh, err := modelhash.Dir(ctx, dir, modelhash.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hk := chaintest.Hotkey(2).AccountID()
	id := chain.ModelID{Namespace: "miner", Name: "tiny", Commit: commit, Hash: modelhash.Salt(dh, hk.String()), Competition: "c00"}
	tests := []struct {
		name   string
		hotkey chain.Hotkey
		hash   string
		want   string // error text, "" for none
	}{
		{"matching hash", hk, id.Hash, ""},
		{"salted for another hotkey", chaintest.Hotkey(3).AccountID(), id.Hash, "salted hash"},
		{"another model's hash", hk, modelhash.Salt("x"+dh[1:], hk.String()), "differs from the chain's"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := &Best{UID: 2, Hotkey: tc.hotkey, ID: id}
			b.ID.Hash = tc.hash
			snap, err := Fetch(ctx, h, b, t.TempDir())
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), id.Label()) {
					t.Fatalf("error %v, want %q naming %s", err, tc.want, id.Label())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := modelhash.Dir(ctx, snap, modelhash.Options{}); err != nil || got != dh {
				t.Fatalf("fetched folder hashes to %s (%v), want %s", got, err, dh)
			}
		})
	}
	b := &Best{Hotkey: hk, ID: id}
	b.ID.Commit = strings.Repeat("0", 40)
	if _, err := Fetch(ctx, h, b, t.TempDir()); err == nil || !strings.Contains(err.Error(), "download best model") {
		t.Fatalf("missing commit: %v", err)
	}
}

// TestNote: a choice by incentive needs no note; the fallbacks say what
// they chose by.
func TestNote(t *testing.T) {
	for basis, want := range map[Basis]string{ByIncentive: "", ByWeights: "validators' stake-weighted weights", ByAge: "oldest commitment"} {
		got := (&Best{Basis: basis}).Note()
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%s: note %q, want %q", basis, got, want)
		}
	}
}
