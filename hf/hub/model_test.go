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

// TestModelFilesAsLocal checks that the files chosen from a hub repo are
// those chosen from a folder with the same content (the tokenizer's own
// vocab files only), and that the small files read to choose them are
// fetched under a size cap.
func TestModelFilesAsLocal(t *testing.T) {
	ctx := context.Background()
	h, err := dirhub.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	repo := hf.RepoID{Namespace: "miner", Name: "vocab"}
	if err := h.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	files := []hubtest.File{
		{Path: "config.json", Data: []byte(`{"model_type":"llama"}`)},
		{Path: "tokenizer_config.json", Data: []byte(`{"tokenizer_class":"LlamaTokenizerFast"}`)},
		{Path: "tokenizer.json", Data: []byte(`{}`)},
		{Path: "tokenizer.model", Data: []byte("sp")},
		{Path: "vocab.json", Data: []byte(`{}`)},
		{Path: "merges.txt", Data: []byte("#")},
		{Path: "model.safetensors", Data: hubtest.RandomBytes(1, 100)},
	}
	sha, err := h.Upload(ctx, repo, hubtest.UploadFiles(files), "m", hf.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := h.ModelInfo(ctx, repo, sha)
	if err != nil {
		t.Fatal(err)
	}
	got, err := hub.ModelFiles(ctx, h, info)
	if err != nil {
		t.Fatal(err)
	}
	local := t.TempDir()
	for _, f := range files {
		if err := os.WriteFile(local+"/"+f.Path, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := modelhash.Allowed(ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") || strings.Contains(strings.Join(got, ","), "vocab.json") {
		t.Fatalf("hub repo files %v, local folder files %v (a Llama tokenizer fetches tokenizer.model only)", got, want)
	}
	if _, err := hub.RepoReader(h, info, "")(ctx, "tokenizer_config.json", 10); !errors.Is(err, hf.ErrTooLarge) {
		t.Fatalf("a file over the cap: %v", err)
	}
}
