package hfcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/internal/flock"
)

// SnapshotOf splits a snapshot folder path (<cache>/<repo folder>/snapshots/<commit>)
// into its repo and commit.
func SnapshotOf(dir string) (*Repo, string, error) {
	dir = filepath.Clean(dir)
	commit := filepath.Base(dir)
	snaps := filepath.Dir(dir)
	repoDir := filepath.Dir(snaps)
	if filepath.Base(snaps) != "snapshots" || !hf.IsCommitSHA(commit) {
		return nil, "", fmt.Errorf("read snapshot folder %q: not <repo>/snapshots/<commit>: %w", dir, ErrBadName)
	}
	if _, _, err := ParseFolderName(filepath.Base(repoDir)); err != nil {
		return nil, "", fmt.Errorf("read snapshot folder %q: %w", dir, err)
	}
	return &Repo{cache: filepath.Dir(repoDir), folder: filepath.Base(repoDir)}, commit, nil
}

// Usage is the disk space a snapshot takes: the blobs it links (each
// counted once) and any plain files in it.
func (r *Repo) Usage(commit string) (int64, error) {
	files, err := r.snapshotFiles(commit)
	var n int64
	for _, st := range files {
		n += st.Size()
	}
	return n, err
}

// snapshotFiles maps what a snapshot holds to its file info: "blob:<etag>"
// for entries that link into blobs/, "file:<path>" for plain files.
func (r *Repo) snapshotFiles(commit string) (map[string]fs.FileInfo, error) {
	out := map[string]fs.FileInfo{}
	root := r.SnapshotDir(commit)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			if etag, ok := r.linkedBlob(p); ok {
				if st, err := os.Stat(r.BlobPath(etag)); err == nil {
					out["blob:"+etag] = st
				}
			}
		case d.Type().IsRegular():
			if st, err := d.Info(); err == nil {
				out["file:"+p] = st
			}
		}
		return nil
	})
	return out, err
}

// linkedBlob returns the etag a snapshot symlink points at, when it points
// into this repo's blobs/.
func (r *Repo) linkedBlob(link string) (string, bool) {
	target, err := os.Readlink(link)
	if err != nil {
		return "", false
	}
	if !filepath.IsAbs(target) {
		target = filepath.Join(filepath.Dir(link), target)
	}
	if filepath.Dir(filepath.Clean(target)) != filepath.Join(r.Dir(), "blobs") {
		return "", false
	}
	etag := filepath.Base(target)
	return etag, ValidETag(etag)
}

// RemoveSnapshot deletes snapshots/<commit>, the refs that point at it and
// its .no_exist markers, then every blob it linked that no other snapshot
// of the repo links. It returns the bytes freed. Blobs are decided under
// their lock, so a download linking one at the same time keeps it.
func (r *Repo) RemoveSnapshot(ctx context.Context, commit string) (int64, error) {
	if !hf.IsCommitSHA(commit) {
		return 0, fmt.Errorf("remove snapshot %q: %w", commit, ErrBadName)
	}
	files, err := r.snapshotFiles(commit)
	if err != nil {
		return 0, fmt.Errorf("remove snapshot %q of %q: %w", commit, r.folder, err)
	}
	var freed int64
	var etags []string
	for k, st := range files {
		if etag, ok := strings.CutPrefix(k, "blob:"); ok {
			etags = append(etags, etag)
		} else {
			freed += st.Size()
		}
	}
	sort.Strings(etags)
	if err := os.RemoveAll(r.SnapshotDir(commit)); err != nil {
		return 0, fmt.Errorf("remove snapshot %q of %q: %w", commit, r.folder, err)
	}
	os.RemoveAll(filepath.Join(r.Dir(), ".no_exist", commit))
	r.dropRefsTo(commit)
	for _, etag := range etags {
		n, err := r.dropBlobIfUnused(ctx, etag)
		if err != nil {
			return freed, err
		}
		freed += n
	}
	return freed, nil
}

func (r *Repo) dropRefsTo(commit string) {
	refs := filepath.Join(r.Dir(), "refs")
	filepath.WalkDir(refs, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, err := os.ReadFile(p); err == nil {
				if c, err := ParseRef(b); err == nil && c == commit {
					os.Remove(p)
				}
			}
		}
		return nil
	})
}

func (r *Repo) dropBlobIfUnused(ctx context.Context, etag string) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(r.LockPath(etag)), 0o777); err != nil {
		return 0, err
	}
	lk, err := flock.Acquire(ctx, r.LockPath(etag))
	if err != nil {
		return 0, err
	}
	defer lk.Unlock()
	used, err := r.blobInUse(etag)
	if err != nil || used {
		return 0, err
	}
	st, err := os.Stat(r.BlobPath(etag))
	if err != nil {
		return 0, nil
	}
	if err := os.Remove(r.BlobPath(etag)); err != nil {
		return 0, fmt.Errorf("remove blob %q of %q: %w", etag, r.folder, err)
	}
	return st.Size(), nil
}

// blobInUse reports whether any snapshot links the blob.
func (r *Repo) blobInUse(etag string) (bool, error) {
	used := false
	err := filepath.WalkDir(filepath.Join(r.Dir(), "snapshots"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if e, ok := r.linkedBlob(p); ok && e == etag {
				used = true
				return filepath.SkipAll
			}
		}
		return nil
	})
	return used, err
}
