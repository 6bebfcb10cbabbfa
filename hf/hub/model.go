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

// ModelFiles returns the validator's allow-list of info's files (sorted),
// chosen by [modelhash.SelectRepo]: config.json, the generation config, the
// tokenizer files of the tokenizer's class, and model.safetensors or the
// safetensors index plus the shards it names. The small files that choice
// reads (the index, and the tokenizer and model configs when vocab files of
// several classes are present) are fetched from h into a temporary folder,
// each under its size cap.
func ModelFiles(ctx context.Context, h hf.Hub, info *hf.ModelInfo) ([]string, error) {
	return ModelFilesIn(ctx, h, info, "")
}

// ModelFilesIn is [ModelFiles] fetching the small files into the cache
// folder cacheDir (where the download that follows finds them), or a
// temporary folder when cacheDir is "".
func ModelFilesIn(ctx context.Context, h hf.Hub, info *hf.ModelInfo, cacheDir string) ([]string, error) {
	names := make([]string, len(info.Files))
	for i, f := range info.Files {
		names[i] = f.Path
	}
	files, err := modelhash.SelectRepo(ctx, names, RepoReader(h, info, cacheDir))
	if err != nil {
		return nil, fmt.Errorf("list model files of %q: %w", info.ID.String(), err)
	}
	return files, nil
}

// RepoReader is a [modelhash.ReadFunc] over the repo of info at its commit:
// it downloads the one file asked for, refusing it over the size asked for,
// into cacheDir (a temporary folder, removed after, when cacheDir is "").
func RepoReader(h hf.Hub, info *hf.ModelInfo, cacheDir string) modelhash.ReadFunc {
	return func(ctx context.Context, name string, max int64) ([]byte, error) {
		dir := cacheDir
		if dir == "" {
			tmp, err := os.MkdirTemp("", "coldint-repofile-*")
			if err != nil {
				return nil, err
			}
			defer os.RemoveAll(tmp)
			dir = tmp
		}
		snap, err := h.Download(ctx, info.ID, info.SHA, []string{name}, dir, hf.DownloadOptions{MaxTotalSize: max})
		if err != nil {
			return nil, err
		}
		return os.ReadFile(filepath.Join(snap, filepath.FromSlash(name)))
	}
}
