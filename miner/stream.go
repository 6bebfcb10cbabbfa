package miner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/tokenizer"
	"github.com/coldint/coldint/train"
)

// StreamData names a dataset streamed during training.
type StreamData struct {
	// Dataset is a Hub dataset repo REPO[@REV] or a local folder of parquet
	// files.
	Dataset string
	// Files is a glob of the shards to read ("": every .parquet file).
	Files string
	// Column is the text column.
	Column string
	// DiskBudget is the bytes of downloaded shards a rank keeps at once
	// (0: no cap).
	DiskBudget int64
	// ShuffleSeed, when not 0, reads the shards in an order drawn from it
	// instead of by name (data.ShuffleShards).
	ShuffleSeed uint64
	// Hub opens the hub client for a Hub dataset (not called for a local
	// folder).
	Hub func() (data.HubFiles, error)
}

// ErrBadDataset wraps what is wrong with the dataset named by StreamData.
var ErrBadDataset = errors.New("mine train --dataset")

// openStreamData opens this rank's stream of the dataset and shapes it
// into rows.
func openStreamData(ctx context.Context, sd StreamData, dc train.DataConfig, tok *tokenizer.Tokenizer, st *train.State, rank, world int, out string) (*source, error) {
	sc, err := streamConfig(ctx, sd, st, rank, world, out)
	if err != nil {
		return nil, err
	}
	eos := tok.Roles().EOS
	sc.Encode, sc.EOS = EncodeInt32(tok), int32(eos)
	d, err := train.NewStreamData(sc, dc)
	if err != nil {
		return nil, err
	}
	return &source{Source: d, close: func() {
		if err := d.Close(); err != nil {
			slog.Warn("close the dataset stream", "err", err)
		}
	}}, nil
}

// streamConfig opens the dataset's shard store (at the commit of the
// checkpoint when resuming without a revision) and describes how each rank
// streams it.
func streamConfig(ctx context.Context, sd StreamData, st *train.State, rank, world int, out string) (train.StreamConfig, error) {
	store, err := openStore(ctx, sd, st)
	if err != nil {
		return train.StreamConfig{}, err
	}
	unit := data.SplitRowGroups
	if world > 1 {
		_, shards, err := store.List(ctx)
		if err != nil {
			return train.StreamConfig{}, fmt.Errorf("%w: %w", ErrBadDataset, err)
		}
		if len(shards) >= 2*world {
			unit = data.SplitShards // each rank downloads only its own shards
		}
	}
	// This rank's download folder: what an earlier process of this rank left
	// there when it was killed is deleted first.
	tmp := filepath.Join(out, ".stream", fmt.Sprintf("rank-%d", rank))
	if err := os.RemoveAll(tmp); err != nil {
		return train.StreamConfig{}, fmt.Errorf("mine train: clear the shard folder: %w", err)
	}
	column, budget, seed := sd.Column, sd.DiskBudget, sd.ShuffleSeed
	return train.StreamConfig{Dataset: sd.Dataset, Files: sd.Files, Column: column, Split: unit,
		Open: func(ctx context.Context, resume *data.Checkpoint, split data.RankSplit) (train.DocStream, error) {
			return data.OpenStream(ctx, store, data.StreamOptions{Column: column, TempDir: tmp, DiskBudget: budget, Ranks: split, Resume: resume, ShuffleSeed: seed})
		}}, nil
}

// openStore opens the dataset's shards: a local folder, or a Hub dataset
// repo at its revision (the checkpoint's commit when resuming without one).
func openStore(ctx context.Context, sd StreamData, st *train.State) (data.ShardStore, error) {
	ref := sd.Dataset
	_, statErr := os.Stat(strings.Split(ref, ",")[0])
	open := ref
	if statErr != nil && !strings.Contains(ref, "@") && st != nil && st.Stream != nil && st.Stream.Checkpoint.Commit != "" {
		open = ref + "@" + st.Stream.Checkpoint.Commit
		slog.Info("resuming the dataset at the checkpoint's commit", "dataset", ref, "commit", st.Stream.Checkpoint.Commit)
	}
	var hub data.HubFiles
	if statErr != nil {
		if sd.Hub == nil {
			return nil, fmt.Errorf("%w %q: not a local folder, and no hub to read it from", ErrBadDataset, ref)
		}
		h, err := sd.Hub()
		if err != nil {
			return nil, err
		}
		hub = h
	}
	store, err := data.OpenShardStore(ctx, open, hub, sd.Files)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDataset, err)
	}
	return store, nil
}
