package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/competition"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/evalproof"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/tokenizer"
)

// ErrModelGone means a published model is no longer on the Hub at its
// committed revision.
var ErrModelGone = errors.New("model no longer on the hub")

// modelLosses downloads m at its committed revision, checks its salted
// hash and computes its losses on texts the way the validator does
// (invalid samples and samples whose text did not check are +Inf / skipped).
func modelLosses(ctx context.Context, compName string, comp *competition.Competition, m *evalproof.Model, texts []string, o Options) ([]float64, error) {
	id, ok := m.ModelID(compName)
	if !ok {
		return nil, fmt.Errorf("no committed model id (a local benchmark model cannot be fetched)")
	}
	dir, err := download(ctx, comp, id.RepoID(), id.Commit, o)
	if err != nil {
		return nil, err
	}
	h, err := modelhash.Dir(ctx, dir, modelhash.Options{})
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", id.RepoID(), err)
	}
	if modelhash.Salt(h, m.Hotkey) != m.Hash {
		return nil, fmt.Errorf("the content of %s@%s does not give the published hash %s", id.RepoID(), id.Commit, m.Hash)
	}
	rows, err := tokenize(ctx, comp, dir, texts, o)
	if err != nil {
		return nil, err
	}
	job := &eval.EvalJob{Dir: dir, MaxMemory: o.MaxMemory, Threads: o.Threads, Device: o.Device, DType: o.DType, Samples: make([][]int32, len(rows))}
	for i, r := range rows {
		if r == nil {
			continue
		}
		job.Samples[i] = make([]int32, len(r))
		for j, t := range r {
			job.Samples[i][j] = int32(t)
		}
	}
	ls, err := o.Scorer.Score(ctx, job, nil)
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", id.RepoID(), err)
	}
	if len(ls) != len(rows) {
		return nil, fmt.Errorf("evaluate %s: %d losses for %d samples", id.RepoID(), len(ls), len(rows))
	}
	return ls, nil
}

// download fetches the model's files (the validator's allow-list) at
// commit into the cache folder.
func download(ctx context.Context, comp *competition.Competition, repoID, commit string, o Options) (string, error) {
	repo, err := hf.ParseRepoID(repoID)
	if err != nil {
		return "", fmt.Errorf("published repo %q: %w", repoID, err)
	}
	info, err := o.Hub.ModelInfo(ctx, repo, commit)
	if errors.Is(err, hf.ErrRepoNotFound) || errors.Is(err, hf.ErrRevisionNotFound) {
		return "", fmt.Errorf("%s at %s: %w: %w", repo, commit, ErrModelGone, err)
	}
	if err != nil {
		return "", fmt.Errorf("model info %s at %s: %w", repo, commit, err)
	}
	names := make([]string, len(info.Files))
	for i, f := range info.Files {
		names[i] = f.Path
	}
	files, err := competition.ModelFiles(ctx, names, hub.RepoReader(o.Hub, info, o.CacheDir))
	if err != nil {
		return "", fmt.Errorf("files of %s at %s: %w", repo, commit, err)
	}
	dir, err := o.Hub.Download(ctx, repo, info.SHA, files, o.CacheDir, hf.DownloadOptions{MaxTotalSize: comp.SizeLimit()})
	if err != nil {
		return "", fmt.Errorf("download %s at %s: %w", repo, commit, err)
	}
	return dir, nil
}

// tokenize picks the tokenizer the validator would (the model's own when
// the competition allows it and it works, else the competition's) and
// checks the ids against the model's embedding rows. A sample whose text
// did not check ("") is invalid.
func tokenize(ctx context.Context, comp *competition.Competition, dir string, texts []string, o Options) ([][]int, error) {
	_, statErr := os.Stat(filepath.Join(dir, "tokenizer.json"))
	var rows [][]int
	maxID := -1
	var ownErr error
	if comp.UsesOwnTokenizer(statErr == nil) {
		tok, err := tokenizer.Load(dir)
		if err == nil {
			rows, maxID, _, err = comp.Tokenize(texts, tok, true)
		}
		ownErr = err
	}
	if rows == nil {
		if comp.Tokenizer == "" {
			return nil, fmt.Errorf("no usable tokenizer (own: %v) and the competition names none", ownErr)
		}
		tok, err := competition.LoadTokenizer(ctx, o.Hub, comp.Tokenizer, o.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("competition tokenizer: %w", err)
		}
		if rows, maxID, _, err = comp.Tokenize(texts, tok, false); err != nil {
			return nil, fmt.Errorf("tokenize: %w", err)
		}
	}
	m := competition.Inspect(ctx, dir)
	if m.Info == nil {
		return nil, fmt.Errorf("inspect model: %v", m.LoadErr)
	}
	embed := m.Info.EmbeddingRows
	if embed <= 0 {
		embed = int64(m.Info.VocabSize)
	}
	if err := competition.CheckVocab(maxID, int(embed)); err != nil {
		return nil, err
	}
	for i, t := range texts {
		if t == "" && i < len(rows) {
			rows[i] = nil
		}
	}
	return rows, nil
}
