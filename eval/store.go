package eval

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/hfcache"
)

// The model folder is a Hugging Face cache (package hfcache), so it may be
// the one other tools share (~/.cache/huggingface/hub). The validator
// therefore records, under vali-state/downloads/<repo folder>/<commit>, which
// snapshots it downloaded, and its disk cleanup only ever deletes those (and
// snapshots of plain files, which only older coldint versions wrote).

func downloadMark(modelDir string, repo hf.RepoID, commit string) string {
	return filepath.Join(StateDir(modelDir), "downloads", hfcache.FolderName(hfcache.Model, repo), commit)
}

// markDownload records that the validator is downloading repo at commit.
func markDownload(modelDir string, repo hf.RepoID, commit string) error {
	p := downloadMark(modelDir, repo, commit)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// storeSnapshot is a snapshot the cleanup may delete.
type storeSnapshot struct {
	dir   string
	repo  *hfcache.Repo
	id    hf.RepoID
	sha   string
	mtime time.Time // newest entry (links count by their own time)
	size  int64     // the blobs it links, each once, and plain files
}

// ownSnapshot reads a snapshot folder and reports whether the validator
// downloaded it (a mark, or plain files from an older coldint).
func ownSnapshot(modelDir, dir string) (storeSnapshot, bool) {
	repo, sha, err := hfcache.SnapshotOf(dir)
	if err != nil {
		return storeSnapshot{}, false
	}
	_, id, err := hfcache.ParseFolderName(filepath.Base(repo.Dir()))
	if err != nil {
		return storeSnapshot{}, false
	}
	s := storeSnapshot{dir: dir, repo: repo, id: id, sha: sha}
	_, markErr := os.Stat(downloadMark(modelDir, id, sha))
	plain := false
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			plain = plain || e.Type().IsRegular()
			if fi, err := e.Info(); err == nil && fi.ModTime().After(s.mtime) {
				s.mtime = fi.ModTime()
			}
		}
		return nil
	})
	s.size, _ = repo.Usage(sha)
	return s, markErr == nil || plain
}

// removeSnapshot deletes the snapshot and the blobs no other snapshot links,
// returning the bytes freed. A blob another process is writing (its lock
// held past a short wait) is left to that process, which links it.
func removeSnapshot(ctx context.Context, modelDir string, s storeSnapshot) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	freed, err := s.repo.RemoveSnapshot(ctx, s.sha)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		os.Remove(downloadMark(modelDir, s.id, s.sha))
	}
	return freed, err
}
