package hub_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/hubtest"
	"github.com/coldint/coldint/hf/modelhash"
)

func TestDownloadModel(t *testing.T) {
	ctx := context.Background()
	h, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	repo := hf.RepoID{Namespace: "miner", Name: "sharded"}
	if err := h.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	files := []hubtest.File{
		{Path: "config.json", Data: []byte(`{"model_type":"llama"}`)},
		{Path: "tokenizer.json", Data: []byte(`{}`)},
		{Path: "model.safetensors.index.json", Data: []byte(`{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`)},
		{Path: "model-00001-of-00002.safetensors", Data: hubtest.RandomBytes(1, 3000)},
		{Path: "model-00002-of-00002.safetensors", Data: hubtest.RandomBytes(2, 3000)},
		{Path: "README.md", Data: []byte("readme")},
		{Path: "pytorch_model.bin", Data: hubtest.RandomBytes(3, 100)},
	}
	sha, err := h.Upload(ctx, repo, hubtest.UploadFiles(files), "m", hf.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	snap, got, err := hub.DownloadModel(ctx, h, repo, sha, cache, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "config.json,model-00001-of-00002.safetensors,model-00002-of-00002.safetensors,model.safetensors.index.json,tokenizer.json" {
		t.Errorf("fetched %v", got)
	}
	hubtest.CheckSnapshot(t, snap, files[:5])
	if _, err := modelhash.Dir(ctx, snap, modelhash.Options{}); err != nil {
		t.Fatal(err)
	}
	// Over the competition limit (all repo files count): refused, nothing written.
	cache2 := t.TempDir()
	if _, _, err := hub.DownloadModel(ctx, h, repo, sha, cache2, 6000, nil); !errors.Is(err, hf.ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if ents, _ := os.ReadDir(cache2); len(ents) != 0 {
		t.Errorf("refused download wrote into the cache")
	}
}
