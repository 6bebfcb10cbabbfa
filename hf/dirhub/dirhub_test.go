package dirhub_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/dirhub"
	"github.com/coldint/coldint/hf/hubtest"
)

func TestConformance(t *testing.T) {
	hubtest.Run(t, func(t *testing.T) hubtest.Backend {
		h, err := dirhub.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return hubtest.Backend{Hub: h, Namespace: "tester"}
	})
}

func TestCorruptObjectIsNotDownloaded(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	h, err := dirhub.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := hf.ParseRepoID("tester/corrupt")
	if err := h.CreateRepo(ctx, repo, false); err != nil {
		t.Fatal(err)
	}
	files := hubtest.Model(9, 5000)
	sha, err := h.Upload(ctx, repo, hubtest.UploadFiles(files), "m", hf.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := h.ModelInfo(ctx, repo, sha)
	fi, _ := info.File("model.safetensors")
	obj := filepath.Join(root, "objects", fi.LFS.SHA256[:2], fi.LFS.SHA256)
	os.Chmod(obj, 0o644)
	if err := os.WriteFile(obj, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	_, err = h.Download(ctx, repo, sha, []string{"model.safetensors"}, cache, hf.DownloadOptions{})
	if !errors.Is(err, hf.ErrIntegrity) {
		t.Fatalf("Download of a tampered object: got %v, want ErrIntegrity", err)
	}
	snap := filepath.Join(cache, repo.CacheDirName(), "snapshots", sha)
	if entries, _ := os.ReadDir(snap); len(entries) != 0 {
		t.Fatalf("snapshot holds %d entries after a failed download", len(entries))
	}
}

func TestCommitIDIsContentHash(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	h, _ := dirhub.Open(root)
	repo, _ := hf.ParseRepoID("tester/ids")
	h.CreateRepo(ctx, repo, false)
	sha, err := h.Upload(ctx, repo, hubtest.UploadFiles(hubtest.Model(1, 10)), "m", hf.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "repos", "tester", "ids", "commits", sha+".json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	b[len(b)-2] ^= 1
	os.WriteFile(p, b, 0o644)
	if _, err := h.ModelInfo(ctx, repo, sha); !errors.Is(err, hf.ErrIntegrity) {
		t.Fatalf("ModelInfo of an altered commit record: got %v, want ErrIntegrity", err)
	}
}

func TestUseLFS(t *testing.T) {
	for _, tc := range []struct {
		path   string
		size   int64
		sample []byte
		want   bool
	}{
		{"config.json", 100, []byte("{}"), false},
		{"model.safetensors", 100, []byte("x"), true},
		{"tokenizer.model", 100, []byte("x"), true},
		{"data.txt", dirhub.LFSThreshold, []byte("x"), true},
		{"data.txt", 100, []byte("a\x00b"), true},
		{"model.safetensors", 0, nil, false},
	} {
		if got := dirhub.UseLFS(tc.path, tc.size, tc.sample); got != tc.want {
			t.Errorf("UseLFS(%q, %d) = %v, want %v", tc.path, tc.size, got, tc.want)
		}
	}
}
