package eval

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/competition"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/hfcache"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
)

// SyncOutcome is what syncing one model (docs/validator.md#syncing-a-model) found.
type SyncOutcome struct {
	Result SyncResult
	// Reason explains a result other than success.
	Reason string
	// Dir is the snapshot folder (set on success).
	Dir string
	// DirHash is the unsalted content hash of Dir (set on success).
	DirHash string
	// Info describes the model (set on success).
	Info *modeldir.Info
	// ClassName is the class the model is classified as.
	ClassName string
	// Downloaded is the number of bytes fetched (0 when the snapshot was reused).
	Downloaded int64
}

func syncFail(r SyncResult, format string, args ...any) SyncOutcome {
	return SyncOutcome{Result: r, Reason: fmt.Sprintf(format, args...)}
}

// ClassName is [competition.ClassName].
func ClassName(modelType string) string { return competition.ClassName(modelType) }

// SnapshotDir is where a model at a commit lives under the model folder (the
// Hugging Face cache layout that [hf.Hub.Download] writes).
func SnapshotDir(modelDir string, repo hf.RepoID, commit string) string {
	return hfcache.OpenModel(modelDir, repo).SnapshotDir(commit)
}

// syncModel downloads and verifies one model (docs/validator.md#syncing-a-model).
func (v *Validator) syncModel(ctx context.Context, hotkey string, meta *ModelMetadata, cfg *Config) SyncOutcome {
	if meta == nil || cfg == nil {
		return syncFail(SyncError, "no metadata or no competitions")
	}
	comp, ok := cfg.Competition(meta.ID.Competition)
	if !ok {
		return syncFail(SyncError, "competition %q is not in the competitions file", meta.ID.Competition)
	}
	repo, err := hf.ParseRepoID(meta.ID.RepoID())
	if err != nil {
		return syncFail(SyncModelNotAllowed, "bad repo id: %v", err)
	}
	modelSize := comp.SizeLimit()
	dir := SnapshotDir(v.opts.ModelDir, repo, meta.ID.Commit)
	var out SyncOutcome
	var dirHash string
	var repoBytes int64 // of every file in the repo, when its info was read
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		if h, err := modelhash.Dir(ctx, dir, modelhash.Options{}); err == nil &&
			(v.opts.IgnoreHash || modelhash.Salt(h, hotkey) == meta.ID.Hash) {
			dirHash = h
		}
	}
	if dirHash == "" {
		free, err := v.freeDisk()
		if err == nil && !canDownload(free, modelSize, v.opts.DownloadMargin) {
			return syncFail(SyncDownloadFailed, "%d bytes free, need model_size %d + margin", free, modelSize)
		}
		t0 := v.now()
		info, err := v.opts.Hub.ModelInfo(ctx, repo, meta.ID.Commit)
		switch {
		case errors.Is(err, hf.ErrRevisionNotFound), errors.Is(err, hf.ErrRepoNotFound):
			return syncFail(SyncModelNotAllowed, "repo %s at %s: %v", repo, meta.ID.Commit, err)
		case err != nil:
			return syncFail(SyncDownloadFailed, "model info %s: %v", repo, err)
		}
		repoBytes = info.TotalSize()
		if r := comp.AdmitRepo(repoBytes, nil); len(r) > 0 {
			return syncFail(SyncModelNotAllowed, "%s", r[0].Text)
		}
		// The small files that choose the allow-list go into the model's own
		// snapshot, where the download that follows finds them.
		if err := markDownload(v.opts.ModelDir, repo, info.SHA); err != nil {
			return syncFail(SyncDownloadFailed, "record download of %s: %v", repo, err)
		}
		names := make([]string, len(info.Files))
		for i, f := range info.Files {
			names[i] = f.Path
		}
		files, err := competition.ModelFiles(ctx, names, hub.RepoReader(v.opts.Hub, info, v.opts.ModelDir))
		if r := comp.AdmitRepo(repoBytes, err); len(r) > 0 {
			return syncFail(SyncModelNotAllowed, "%s", r[0].Text)
		}
		for _, f := range files {
			if fi, ok := info.File(f); ok {
				out.Downloaded += fi.Size
			}
		}
		snap, err := v.opts.Hub.Download(ctx, repo, meta.ID.Commit, files, v.opts.ModelDir, hf.DownloadOptions{MaxTotalSize: modelSize})
		if err != nil {
			if errors.Is(err, hf.ErrTooLarge) {
				return syncFail(SyncModelNotAllowed, "download %s: %v", repo, err)
			}
			return syncFail(SyncDownloadFailed, "download %s: %v", repo, err)
		}
		dir = snap
		v.timing.add("download", v.now().Sub(t0))
		t1 := v.now()
		h, err := modelhash.Dir(ctx, dir, modelhash.Options{})
		v.timing.add("hash", v.now().Sub(t1))
		if err != nil {
			return syncFail(SyncHashFailed, "hash %s: %v", repo, err)
		}
		if !v.opts.IgnoreHash && modelhash.Salt(h, hotkey) != meta.ID.Hash {
			return syncFail(SyncHashFailed, "salted hash %s of %s does not match the chain hash %s", modelhash.Salt(h, hotkey), repo, meta.ID.Hash)
		}
		dirHash = h
	}
	m := competition.Inspect(ctx, dir)
	if repoBytes > 0 {
		m.RepoBytes = repoBytes
	}
	verdict := comp.Admit(m)
	if !verdict.Admitted() {
		out := syncFail(SyncModelNotAllowed, "%s", verdict.Reason())
		out.ClassName = verdict.Class
		return out
	}
	info, class := m.Info, verdict.Class
	out.Result, out.Dir, out.DirHash, out.Info, out.ClassName = SyncSuccess, dir, dirHash, info, class
	return out
}

// checkModel applies the competition's admission rules to the injected
// model folder dir, without its size limit (injected models have none). It
// returns the model, its class and the reason it is not admitted ("" when it
// is).
func checkModel(dir string, comp *Competition) (*modeldir.Info, string, string) {
	m := competition.Inspect(context.Background(), dir)
	m.RepoBytes = 0
	v := comp.Admit(m)
	return m.Info, v.Class, v.Reason()
}

func canDownload(free, modelSize, margin int64) bool {
	if margin <= 0 {
		return CanDownload(free, modelSize)
	}
	return free >= modelSize+margin
}
