package hub

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modelhash"
)

// DownloadModel fetches what a validator fetches (docs/hashing.md#download-allow-list, docs/validator.md#syncing-a-model) from
// any [hf.Hub]: it reads the model info at commit, refuses the repo when its
// files sum to more than maxSize bytes (0: no limit) or hold an unsafe name,
// selects config.json, the tokenizer and generation files present, and
// model.safetensors (or the safetensors index and the shards it names), and
// downloads exactly those into the cache layout. It returns the snapshot
// folder and the files fetched; hashing that folder gives the model hash (docs/hashing.md#model-hash).
func DownloadModel(ctx context.Context, h hf.Hub, repo hf.RepoID, commit, cacheDir string, maxSize int64, progress hf.ProgressFunc) (string, []string, error) {
	info, err := h.ModelInfo(ctx, repo, commit)
	if err != nil {
		return "", nil, err
	}
	opts := hf.DownloadOptions{MaxTotalSize: maxSize, Progress: progress}
	if _, err := hf.PlanDownload(info, nil, opts); err != nil {
		return "", nil, err
	}
	files, err := ModelFiles(ctx, h, info)
	if err != nil {
		return "", nil, err
	}
	snap, err := h.Download(ctx, repo, info.SHA, files, cacheDir, opts)
	if err != nil {
		return "", nil, err
	}
	return snap, files, nil
}

// ModelFiles returns the validator's allow-list of info's files (sorted):
// config.json, the optional tokenizer and generation files present, and
// model.safetensors or the safetensors index plus the shards it names (the
// index is fetched from h to read them).
func ModelFiles(ctx context.Context, h hf.Hub, info *hf.ModelInfo) ([]string, error) {
	names := make([]string, len(info.Files))
	for i, f := range info.Files {
		names[i] = f.Path
	}
	var shards []string
	_, single := info.File(modelhash.WeightsFile)
	if _, indexed := info.File(modelhash.IndexFile); !single && indexed {
		var err error
		if shards, err = indexShards(ctx, h, info.ID, info.SHA); err != nil {
			return nil, fmt.Errorf("list model files of %q: %w", info.ID.String(), err)
		}
	}
	files, err := modelhash.Select(names, shards)
	if err != nil {
		return nil, fmt.Errorf("list model files of %q: %w", info.ID.String(), err)
	}
	return files, nil
}

// indexShards fetches the safetensors index alone into a temporary cache and
// returns the shard names it lists.
func indexShards(ctx context.Context, h hf.Hub, repo hf.RepoID, sha string) ([]string, error) {
	tmp, err := os.MkdirTemp("", "coldint-index-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	snap, err := h.Download(ctx, repo, sha, []string{modelhash.IndexFile}, tmp, hf.DownloadOptions{})
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(snap, modelhash.IndexFile))
	if err != nil {
		return nil, err
	}
	return modelhash.ParseIndex(b)
}
