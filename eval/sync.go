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

// syncModel downloads and verifies one model (docs/validator.md#syncing-a-model):
// a snapshot already on disk with the right salted hash is reused, else the
// repo is checked against the competition's limits and allow-list,
// downloaded and hashed; then the folder is admitted or refused.
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
	dl := download{repo: repo, meta: meta, hotkey: hotkey, comp: comp}
	dl.dir = SnapshotDir(v.opts.ModelDir, repo, meta.ID.Commit)
	dl.dirHash = v.reusableHash(ctx, dl.dir, hotkey, meta)
	if dl.dirHash == "" {
		if fail, failed := v.fetchModel(ctx, &dl); failed {
			return fail
		}
	}
	return v.admitSynced(ctx, &dl)
}

// download is one model's sync in progress.
type download struct {
	repo      hf.RepoID
	meta      *ModelMetadata
	hotkey    string
	comp      *Competition
	dir       string // the snapshot folder
	dirHash   string // its unsalted hash, once verified
	repoBytes int64  // of every file in the repo, when its info was read
	bytes     int64  // fetched
}

// reusableHash returns the hash of a snapshot already on disk whose salted
// hash matches the commitment ("" when there is none).
func (v *Validator) reusableHash(ctx context.Context, dir, hotkey string, meta *ModelMetadata) string {
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return ""
	}
	h, err := modelhash.Dir(ctx, dir, modelhash.Options{})
	if err != nil || !(v.opts.IgnoreHash || modelhash.Salt(h, hotkey) == meta.ID.Hash) {
		return ""
	}
	return h
}

// fetchModel checks the repo against the disk and the competition's
// limits, downloads the allowed files and verifies the salted hash.
func (v *Validator) fetchModel(ctx context.Context, dl *download) (SyncOutcome, bool) {
	modelSize := dl.comp.SizeLimit()
	free, err := v.freeDisk()
	if err == nil && !canDownload(free, modelSize, v.opts.DownloadMargin) {
		return syncFail(SyncDownloadFailed, "%d bytes free, need model_size %d + margin", free, modelSize), true
	}
	t0 := v.now()
	files, fail, failed := v.allowedFiles(ctx, dl)
	if failed {
		return fail, true
	}
	snap, err := v.opts.Hub.Download(ctx, dl.repo, dl.meta.ID.Commit, files, v.opts.ModelDir, hf.DownloadOptions{MaxTotalSize: modelSize})
	if err != nil {
		if errors.Is(err, hf.ErrTooLarge) {
			return syncFail(SyncModelNotAllowed, "download %s: %v", dl.repo, err), true
		}
		return syncFail(SyncDownloadFailed, "download %s: %v", dl.repo, err), true
	}
	dl.dir = snap
	v.timing.add("download", v.now().Sub(t0))
	t1 := v.now()
	h, err := modelhash.Dir(ctx, dl.dir, modelhash.Options{})
	v.timing.add("hash", v.now().Sub(t1))
	if err != nil {
		return syncFail(SyncHashFailed, "hash %s: %v", dl.repo, err), true
	}
	if salted := modelhash.Salt(h, dl.hotkey); !v.opts.IgnoreHash && salted != dl.meta.ID.Hash {
		return syncFail(SyncHashFailed, "salted hash %s of %s does not match the chain hash %s", salted, dl.repo, dl.meta.ID.Hash), true
	}
	dl.dirHash = h
	return SyncOutcome{}, false
}

// allowedFiles reads the repo's file list at the commitment and returns the
// files the competition's allow-list downloads, refusing repos over the
// size limit or the index caps.
func (v *Validator) allowedFiles(ctx context.Context, dl *download) ([]string, SyncOutcome, bool) {
	info, err := v.opts.Hub.ModelInfo(ctx, dl.repo, dl.meta.ID.Commit)
	switch {
	case errors.Is(err, hf.ErrRevisionNotFound), errors.Is(err, hf.ErrRepoNotFound):
		return nil, syncFail(SyncModelNotAllowed, "repo %s at %s: %v", dl.repo, dl.meta.ID.Commit, err), true
	case err != nil:
		return nil, syncFail(SyncDownloadFailed, "model info %s: %v", dl.repo, err), true
	}
	dl.repoBytes = info.TotalSize()
	if r := dl.comp.AdmitRepo(dl.repoBytes, nil); len(r) > 0 {
		return nil, syncFail(SyncModelNotAllowed, "%s", r[0].Text), true
	}
	// The small files that choose the allow-list go into the model's own
	// snapshot, where the download that follows finds them.
	if err := markDownload(v.opts.ModelDir, dl.repo, info.SHA); err != nil {
		return nil, syncFail(SyncDownloadFailed, "record download of %s: %v", dl.repo, err), true
	}
	names := make([]string, len(info.Files))
	for i, f := range info.Files {
		names[i] = f.Path
	}
	files, err := competition.ModelFiles(ctx, names, hub.RepoReader(v.opts.Hub, info, v.opts.ModelDir))
	if r := dl.comp.AdmitRepo(dl.repoBytes, err); len(r) > 0 {
		return nil, syncFail(SyncModelNotAllowed, "%s", r[0].Text), true
	}
	for _, f := range files {
		if fi, ok := info.File(f); ok {
			dl.bytes += fi.Size
		}
	}
	return files, SyncOutcome{}, false
}

// admitSynced applies the competition's admission rules to the synced folder.
func (v *Validator) admitSynced(ctx context.Context, dl *download) SyncOutcome {
	m := competition.Inspect(ctx, dl.dir)
	if dl.repoBytes > 0 {
		m.RepoBytes = dl.repoBytes
	}
	verdict := dl.comp.Admit(m)
	if !verdict.Admitted() {
		out := syncFail(SyncModelNotAllowed, "%s", verdict.Reason())
		out.ClassName = verdict.Class
		return out
	}
	return SyncOutcome{Result: SyncSuccess, Dir: dl.dir, DirHash: dl.dirHash, Info: m.Info, ClassName: verdict.Class, Downloaded: dl.bytes}
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
