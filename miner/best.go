package miner

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/train/best"
)

// BestSource finds a competition's current best model on the chain and
// downloads it from the hub. Chain and Hub are called only when needed, so
// a command that never needs the best never connects.
type BestSource struct {
	Chain       func(ctx context.Context) (chain.Reader, error)
	Hub         func() (hf.Hub, error)
	Netuid      chain.NetUID
	Competition string
}

// Current finds the current best model, downloads it under cacheDir and
// checks its salted hash as a validator does. It returns the choice and its
// folder; an error wrapping chain.ErrNotFound means the competition has no
// model yet.
func (s BestSource) Current(ctx context.Context, cacheDir string) (*best.Best, string, error) {
	if s.Competition == "" {
		return nil, "", fmt.Errorf("find best model: no competition given")
	}
	r, err := s.Chain(ctx)
	if err != nil {
		return nil, "", err
	}
	b, err := best.Find(ctx, r, s.Netuid, s.Competition)
	if err != nil {
		return nil, "", err
	}
	if note := b.Note(); note != "" {
		slog.Warn(note, "competition", s.Competition, "uid", b.UID, "basis", string(b.Basis), "score", fmt.Sprintf("%.3f", b.Score))
	}
	h, err := s.Hub()
	if err != nil {
		return nil, "", err
	}
	dir, err := best.Fetch(ctx, h, b, cacheDir)
	if err != nil {
		return nil, "", err
	}
	slog.Info("current best", "uid", b.UID, "model", b.ID.Label(), "block", b.Block, "dir", dir)
	return b, dir, nil
}
