package evalproof

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/coldint/coldint/hf"
)

// ReadHubFile reads one file of repo at revision ("": main); an absent
// file wraps [ErrMissing].
func ReadHubFile(ctx context.Context, h hf.Hub, repo hf.RepoID, revision, name string) ([]byte, error) {
	info, err := h.ModelInfo(ctx, repo, revision)
	if err != nil {
		return nil, fmt.Errorf("read %s of %s: %w", name, repo, err)
	}
	return readInfoFile(ctx, h, info, name)
}

func readInfoFile(ctx context.Context, h hf.Hub, info *hf.ModelInfo, name string) ([]byte, error) {
	f, ok := info.File(name)
	if !ok {
		return nil, fmt.Errorf("read %s of %s@%s: %w", name, info.ID, info.SHA, ErrMissing)
	}
	if f.Size > MaxFileSize {
		return nil, fmt.Errorf("read %s of %s: %d bytes, over %d", name, info.ID, f.Size, MaxFileSize)
	}
	tmp, err := os.MkdirTemp("", "coldint-evalproof-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	snap, err := h.Download(ctx, info.ID, info.SHA, []string{name}, tmp, hf.DownloadOptions{MaxTotalSize: MaxFileSize})
	if err != nil {
		if errors.Is(err, hf.ErrEntryNotFound) {
			return nil, fmt.Errorf("read %s of %s: %w: %w", name, info.ID, ErrMissing, err)
		}
		return nil, fmt.Errorf("read %s of %s: %w", name, info.ID, err)
	}
	return os.ReadFile(filepath.Join(snap, filepath.FromSlash(name)))
}

// HubGetter reads step n of a publication in repo at revision ("": main; 0
// for n: the step latest.json names). It returns the getter, the step and
// the commit read.
func HubGetter(ctx context.Context, h hf.Hub, repo hf.RepoID, revision string, n uint64) (GetFunc, uint64, string, error) {
	info, err := h.ModelInfo(ctx, repo, revision)
	if err != nil {
		return nil, 0, "", fmt.Errorf("open publication %s: %w", repo, err)
	}
	if n == 0 {
		b, err := readInfoFile(ctx, h, info, LatestFile)
		if err != nil {
			return nil, 0, "", err
		}
		l, err := ParseLatest(b)
		if err != nil {
			return nil, 0, "", err
		}
		n = l.Step
	}
	dir := StepDir(n)
	var mu sync.Mutex
	get := func(ctx context.Context, name string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		b, err := readInfoFile(ctx, h, info, dir+"/"+name)
		if errors.Is(err, ErrMissing) {
			return nil, fmt.Errorf("%w: %w", fs.ErrNotExist, err)
		}
		return b, err
	}
	return get, n, info.SHA, nil
}
