package modeldir

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/safetensors"
)

func tinyConfig(arch string, tie bool) *hf.ModelConfig {
	return &hf.ModelConfig{ModelType: arch, VocabSize: 50, HiddenSize: 16, IntermediateSize: 24,
		NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2, TieWordEmbeddings: tie,
		HiddenAct: "silu", RMSNormEps: 1e-5, RopeTheta: 10000, InitializerRange: 0.02}
}

func TestInitInspect(t *testing.T) {
	tests := []struct {
		arch string
		tie  bool
		dt   safetensors.DType
	}{
		{"llama", true, safetensors.BF16},
		{"llama", false, safetensors.F32},
		{"phi3", false, safetensors.BF16},
	}
	for _, tc := range tests {
		t.Run(tc.arch+string(tc.dt), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "m")
			cfg := tinyConfig(tc.arch, tc.tie)
			if err := Init(context.Background(), dir, cfg, InitOptions{Seed: 3, DType: tc.dt}); err != nil {
				t.Fatal(err)
			}
			info, err := Inspect(dir)
			if err != nil {
				t.Fatal(err)
			}
			if info.Params != cfg.ParamCount() || info.DTypes[string(tc.dt)] != info.Params {
				t.Fatalf("params %d (%v) want %d", info.Params, info.DTypes, cfg.ParamCount())
			}
			if err := Init(context.Background(), dir, cfg, InitOptions{}); !errors.Is(err, ErrExists) {
				t.Fatalf("want ErrExists, got %v", err)
			}
		})
	}
}

func TestDeterministicSeed(t *testing.T) {
	cfg := tinyConfig("llama", true)
	a, _ := RandomTensors(cfg, 1, safetensors.F32)
	b, _ := RandomTensors(cfg, 1, safetensors.F32)
	c, _ := RandomTensors(cfg, 2, safetensors.F32)
	if string(a[0].Data) != string(b[0].Data) {
		t.Fatal("same seed gave different weights")
	}
	if string(a[0].Data) == string(c[0].Data) {
		t.Fatal("different seeds gave the same weights")
	}
}

func TestInspectMismatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	cfg := tinyConfig("llama", true)
	if err := Init(context.Background(), dir, cfg, InitOptions{Seed: 1}); err != nil {
		t.Fatal(err)
	}
	cfg.HiddenSize = 32
	js, _ := cfg.Marshal()
	os.WriteFile(filepath.Join(dir, "config.json"), js, 0o644)
	if _, err := Inspect(dir); !errors.Is(err, hf.ErrInvalidConfig) {
		t.Fatalf("want a dims mismatch error, got %v", err)
	}
}

func TestTokenizerVocabSize(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, js string
		want     int
	}{
		{"bpe", `{"model":{"type":"BPE","vocab":{"a":0,"b":5}},"added_tokens":[{"id":9,"content":"<s>"}]}`, 10},
		{"unigram", `{"model":{"type":"Unigram","vocab":[["a",0],["b",-1]]}}`, 2},
	}
	for _, tc := range tests {
		p := filepath.Join(dir, tc.name+".json")
		os.WriteFile(p, []byte(tc.js), 0o644)
		if n, err := TokenizerVocabSize(p); err != nil || n != tc.want {
			t.Errorf("%s: %d %v want %d", tc.name, n, err, tc.want)
		}
	}
	p := filepath.Join(dir, "bad.json")
	os.WriteFile(p, []byte(`{"model":{"vocab":7}}`), 0o644)
	if _, err := TokenizerVocabSize(p); err == nil {
		t.Error("want an error for a malformed vocab")
	}
}

// TestCopyFiles copies a folder's regular files, byte for byte, into a new
// folder, skipping subfolders and symlinks; a missing source is an error.
func TestCopyFiles(t *testing.T) {
	src := t.TempDir()
	files := map[string]string{"config.json": `{"model_type":"llama"}`, "model.safetensors": strings.Repeat("w", 70000)}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(src, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("config.json", filepath.Join(src, "link.json")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "new", "copy")
	if err := CopyFiles(src, dst); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != len(files) {
		t.Fatalf("copied %d entries, want the %d regular files", len(ents), len(files))
	}
	for name, body := range files {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || string(got) != body {
			t.Fatalf("%s: %d bytes, err %v; want %d bytes", name, len(got), err, len(body))
		}
	}
	if err := CopyFiles(filepath.Join(src, "missing"), dst); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing source: %v", err)
	}
}

// TestInspectFollowsLinks: a snapshot of the Hugging Face cache holds links
// to blobs; Inspect must see the same files as in a plain folder.
func TestInspectFollowsLinks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	if err := Init(context.Background(), dir, tinyConfig("llama", true), InitOptions{Seed: 3, DType: safetensors.F32}); err != nil {
		t.Fatal(err)
	}
	plain, err := Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snap")
	os.Mkdir(snap, 0o755)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if err := os.Symlink(filepath.Join(dir, e.Name()), filepath.Join(snap, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	linked, err := Inspect(snap)
	if err != nil {
		t.Fatal(err)
	}
	if linked.DirBytes != plain.DirBytes || len(linked.Files) != len(plain.Files) || len(plain.Files) == 0 {
		t.Errorf("linked folder: %d files, %d bytes; plain: %d files, %d bytes", len(linked.Files), linked.DirBytes, len(plain.Files), plain.DirBytes)
	}
}
