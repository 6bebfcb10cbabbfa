package commands

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/tokenizer"
	"github.com/coldint/coldint/train"
)

// mineStreamFlags are the flags of `mine train` that stream a dataset and
// log the run.
func mineStreamFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "dataset", Usage: "stream the training text from a Hub dataset repo REPO[@REV] (its parquet shards, through the hub client) or a local folder of parquet files, instead of --data", Category: "train"},
		&cli.StringFlag{Name: "data-files", Usage: "with --dataset: the shards to read, a glob such as \"data/CC-MAIN-*/*.parquet\" (comma-separated globs allowed; default: every .parquet file)", Category: "train"},
		&cli.StringFlag{Name: "text-column", Value: data.DefaultTextColumn, Usage: "with --dataset: the string column read as text", Category: "train"},
		&cli.StringFlag{Name: "disk-budget", Usage: "with --dataset: bytes of downloaded shards each rank keeps on disk at once (with K/M/G/KiB/MiB/GiB; default: no cap, one shard read and one fetched ahead)", Category: "train"},
		&cli.StringFlag{Name: "log-json", Usage: "append one JSON object per step, evaluation and checkpoint to this file (JSON Lines; default: metrics.jsonl in --out)", Category: "train"},
	}
}

// precheckDataset is the datasets-server dataset of the pre-check:
// --precheck-dataset, or --dataset as `mine precheck` alone also reads it
// (under `mine`, --dataset is the training data).
func precheckDataset(c *cli.Context) string {
	if c.Command != nil && c.Command.Name == "precheck" && !c.IsSet("precheck-dataset") && c.IsSet("dataset") {
		return c.String("dataset")
	}
	return c.String("precheck-dataset")
}

// checkTrainData fails unless exactly one of --data and --dataset is given.
func checkTrainData(c *cli.Context) error {
	local, ds := len(c.StringSlice("data")) > 0, c.String("dataset") != ""
	switch {
	case local && ds:
		return usageErrorf("mine train: give --data (local files) or --dataset (streamed), not both")
	case !local && !ds:
		return usageErrorf("mine train: --data or --dataset is required")
	case !ds && (c.IsSet("data-files") || c.IsSet("disk-budget")):
		return usageErrorf("mine train: --data-files and --disk-budget go with --dataset")
	}
	return nil
}

// trainSource is the data of `mine train` and what closes it.
type trainSource struct {
	train.Source
	close func()
}

// openTrainSource returns the rows of `mine train`: the local --data
// files, tokenized up front, or the --dataset streamed by each rank.
func openTrainSource(c *cli.Context, tok *tokenizer.Tokenizer, st *train.State, rank, world int, out string) (*trainSource, error) {
	ctx := c.Context
	eos := tok.Roles().EOS
	if eos < 0 {
		slog.Warn("the tokenizer has no EOS token; packed documents are joined without a separator")
	}
	pad := tok.Roles().PAD
	if pad < 0 {
		pad = max(eos, 0)
	}
	dc := train.DataConfig{SeqLen: c.Int("seq-len"), Pack: !c.Bool("no-pack"), Seed: c.Uint64("data-seed"),
		EvalDocs: c.Int("eval-docs"), EvalRows: c.Int("eval-rows"), PadID: int32(pad)}
	if c.String("dataset") == "" {
		texts, err := data.ReadLocalTexts(ctx, c.StringSlice("data"))
		if err != nil {
			return nil, err
		}
		corpus := &train.TextCorpus{Texts: texts, EOS: int32(eos), Encode: encodeInt32(tok)}
		dc.EvalDocs = min(dc.EvalDocs, len(texts)/10)
		d, err := train.NewData(corpus, dc)
		if err != nil {
			return nil, err
		}
		return &trainSource{Source: d, close: func() {}}, nil
	}
	sc, err := streamConfig(c, st, rank, world, out)
	if err != nil {
		return nil, err
	}
	sc.Encode, sc.EOS = encodeInt32(tok), int32(eos)
	d, err := train.NewStreamData(sc, dc)
	if err != nil {
		return nil, err
	}
	return &trainSource{Source: d, close: func() {
		if err := d.Close(); err != nil {
			slog.Warn("close the dataset stream", "err", err)
		}
	}}, nil
}

// streamConfig opens the --dataset store (at the commit of the checkpoint
// when resuming without a revision) and describes how each rank streams it.
func streamConfig(c *cli.Context, st *train.State, rank, world int, out string) (train.StreamConfig, error) {
	ctx := c.Context
	ref, glob, column := c.String("dataset"), c.String("data-files"), c.String("text-column")
	var budget int64
	if s := c.String("disk-budget"); s != "" {
		n, err := parseBytes(s)
		if err != nil {
			return train.StreamConfig{}, usageErrorf("mine train --disk-budget: %v", err)
		}
		budget = n
	}
	open := ref
	if _, err := os.Stat(ref); err != nil && !strings.Contains(ref, "@") && st != nil && st.Stream != nil && st.Stream.Checkpoint.Commit != "" {
		open = ref + "@" + st.Stream.Checkpoint.Commit
		slog.Info("resuming the dataset at the checkpoint's commit", "dataset", ref, "commit", st.Stream.Checkpoint.Commit)
	}
	var hub data.HubFiles
	if _, err := os.Stat(strings.Split(ref, ",")[0]); err != nil {
		h, err := openHub(c)
		if err != nil {
			return train.StreamConfig{}, err
		}
		hub = h
	}
	store, err := data.OpenShardStore(ctx, open, hub, glob)
	if err != nil {
		return train.StreamConfig{}, &UsageError{Err: fmt.Errorf("mine train --dataset: %w", err)}
	}
	unit := data.SplitRowGroups
	if world > 1 {
		_, shards, err := store.List(ctx)
		if err != nil {
			return train.StreamConfig{}, fmt.Errorf("mine train --dataset: %w", err)
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
	return train.StreamConfig{Dataset: ref, Files: glob, Column: column, Split: unit,
		Open: func(ctx context.Context, resume *data.Checkpoint, split data.RankSplit) (train.DocStream, error) {
			return data.OpenStream(ctx, store, data.StreamOptions{Column: column, TempDir: tmp, DiskBudget: budget, Ranks: split, Resume: resume})
		}}, nil
}
