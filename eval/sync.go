package eval

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/hfcache"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
)

// SyncOutcome is what syncing one model (spec §6.5) found.
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

// ClassName classifies a model by config.json model_type (spec §6.5.4: the
// reference registers the class for the config, so architectures is ignored):
// llama → LlamaForCausalLM, phi3 → Phi3ForCausalLM, phi → PhiForCausalLM;
// another type is returned as "<type>(unsupported)", which no competition admits.
func ClassName(modelType string) string {
	switch modelType {
	case "llama":
		return "LlamaForCausalLM"
	case "phi3":
		return "Phi3ForCausalLM"
	case "phi":
		return "PhiForCausalLM"
	}
	return modelType + "(unsupported)"
}

// SnapshotDir is where a model at a commit lives under the model folder (the
// Hugging Face cache layout that [hf.Hub.Download] writes).
func SnapshotDir(modelDir string, repo hf.RepoID, commit string) string {
	return hfcache.OpenModel(modelDir, repo).SnapshotDir(commit)
}

// syncModel downloads and verifies one model (spec §6.5).
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
	modelSize := comp.ModelSize
	if modelSize <= 0 {
		modelSize = MaxModelSize
	}
	dir := SnapshotDir(v.opts.ModelDir, repo, meta.ID.Commit)
	var out SyncOutcome
	var dirHash string
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
		if info.TotalSize() > modelSize {
			return syncFail(SyncModelNotAllowed, "repo %s is %d bytes, over model_size %d", repo, info.TotalSize(), modelSize)
		}
		names := make([]string, len(info.Files))
		for i, f := range info.Files {
			names[i] = f.Path
		}
		var shards []string
		if _, single := info.File(modelhash.WeightsFile); !single {
			if _, ok := info.File(modelhash.IndexFile); ok {
				shards, err = v.indexShards(ctx, repo, info.SHA)
				if err != nil {
					return syncFail(SyncModelNotAllowed, "read safetensors index: %v", err)
				}
			}
		}
		files, err := modelhash.Select(names, shards)
		if err != nil {
			return syncFail(SyncModelNotAllowed, "select files: %v", err)
		}
		for _, f := range files {
			if fi, ok := info.File(f); ok {
				out.Downloaded += fi.Size
			}
		}
		if err := markDownload(v.opts.ModelDir, repo, info.SHA); err != nil {
			return syncFail(SyncDownloadFailed, "record download of %s: %v", repo, err)
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
	info, class, reason := checkModel(dir, comp)
	if reason != "" {
		return syncFail(SyncModelNotAllowed, "%s", reason)
	}
	out.Result, out.Dir, out.DirHash, out.Info, out.ClassName = SyncSuccess, dir, dirHash, info, class
	return out
}

// checkModel applies the constraint check of spec §6.5.4 (and the geometry
// sanity the engine needs): readable config and tensors, the class against
// model_types and the parameter count against parameters.
func checkModel(dir string, comp *Competition) (*modeldir.Info, string, string) {
	info, err := modeldir.Inspect(dir)
	if err != nil {
		return nil, "", fmt.Sprintf("model does not load: %v", err)
	}
	class := ClassName(info.ModelType)
	if !comp.Admits(class) {
		return info, class, fmt.Sprintf("model class %s (model_type %q) is not in model_types %v", class, info.ModelType, comp.ModelTypes)
	}
	if comp.Parameters > 0 && info.Params > comp.Parameters {
		return info, class, fmt.Sprintf("%d parameters exceed the limit of %d", info.Params, comp.Parameters)
	}
	const maxDim = 1 << 20
	for name, d := range map[string]int{"hidden_size": info.Hidden, "intermediate_size": info.Intermediate, "num_hidden_layers": info.Layers, "num_attention_heads": info.Heads} {
		if d <= 0 || d > maxDim {
			return info, class, fmt.Sprintf("config %s = %d is out of range", name, d)
		}
	}
	return info, class, ""
}

func canDownload(free, modelSize, margin int64) bool {
	if margin <= 0 {
		return CanDownload(free, modelSize)
	}
	return free >= modelSize+margin
}

func (v *Validator) indexShards(ctx context.Context, repo hf.RepoID, sha string) ([]string, error) {
	// The index goes into the model's own snapshot, where the download that
	// follows finds it.
	if err := markDownload(v.opts.ModelDir, repo, sha); err != nil {
		return nil, err
	}
	snap, err := v.opts.Hub.Download(ctx, repo, sha, []string{modelhash.IndexFile}, v.opts.ModelDir, hf.DownloadOptions{MaxTotalSize: 64 << 20})
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(snap, modelhash.IndexFile))
	if err != nil {
		return nil, err
	}
	return modelhash.ParseIndex(b)
}
