package best

import (
	"context"
	"fmt"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/modelhash"
)

// Fetch downloads the model b names, pinned to its commit, into the Hugging
// Face cache layout under cacheDir and checks its salted hash against the
// chain's as a validator does. It returns the snapshot folder.
func Fetch(ctx context.Context, h hf.Hub, b *Best, cacheDir string) (string, error) {
	repo := hf.RepoID{Namespace: b.ID.Namespace, Name: b.ID.Name}
	snap, _, err := hub.DownloadModel(ctx, h, repo, b.ID.Commit, cacheDir, 0, nil)
	if err != nil {
		return "", fmt.Errorf("download best model %s: %w", b.ID.Label(), err)
	}
	dh, err := modelhash.Dir(ctx, snap, modelhash.Options{})
	if err != nil {
		return "", fmt.Errorf("hash best model %s: %w", b.ID.Label(), err)
	}
	if got := modelhash.Salt(dh, b.Hotkey.String()); got != b.ID.Hash {
		return "", fmt.Errorf("best model %s: salted hash %s differs from the chain's %s", b.ID.Label(), got, b.ID.Hash)
	}
	return snap, nil
}

// Note says, for a model not chosen by incentive, what it was chosen by
// instead, in words for the miner; "" for a choice by incentive.
func (b *Best) Note() string {
	switch b.Basis {
	case ByWeights:
		return "every model of the competition has incentive 0 (no epoch has counted the validators' weights yet): choosing by the validators' stake-weighted weights instead"
	case ByAge:
		return "no incentive and no validator weights yet: the oldest commitment of the competition is taken as the best"
	}
	return ""
}
