package commands

import (
	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/miner"
	"github.com/coldint/coldint/train"
)

// mineStreamFlags are the flags of `mine train` that stream a dataset and
// log the run, bound to o.
func mineStreamFlags(o *mineTrainOptions) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "dataset", Usage: "stream the training text from a Hub dataset repo REPO[@REV] (its parquet shards, through the hub client) or a local folder of parquet files, instead of --data", Category: "train", Destination: &o.Dataset},
		&cli.StringFlag{Name: "data-files", Usage: "with --dataset: the shards to read, a glob such as \"data/CC-MAIN-*/*.parquet\" (comma-separated globs allowed; default: every .parquet file)", Category: "train", Destination: &o.DataFiles},
		&cli.StringFlag{Name: "text-column", Value: data.DefaultTextColumn, Usage: "with --dataset: the string column read as text", Category: "train", Destination: &o.TextColumn},
		&cli.StringFlag{Name: "disk-budget", Usage: "with --dataset: bytes of downloaded shards each rank keeps on disk at once (with K/M/G/KiB/MiB/GiB; default: no cap, one shard read and one fetched ahead)", Category: "train", Destination: &o.DiskBudget},
		&cli.BoolFlag{Name: "shuffle-shards", Usage: "with --dataset: read the shards in an order drawn from --data-seed instead of by name (rows within a shard keep their order; a resumed run must keep this setting)", Category: "train", Destination: &o.ShuffleShards},
		&cli.StringFlag{Name: "log-json", Usage: "append one JSON object per step, evaluation and checkpoint to this file (JSON Lines; default: metrics.jsonl in --out)", Category: "train", Destination: &o.LogJSON},
	}
}

// trainData checks that exactly one of --data and --dataset is given and
// describes the training text.
func (o *mineTrainOptions) trainData() (miner.TrainData, error) {
	local, ds := len(o.Data.Value()) > 0, o.Dataset != ""
	switch {
	case local && ds:
		return miner.TrainData{}, usageErrorf("mine train: give --data (local files) or --dataset (streamed), not both")
	case !local && !ds:
		return miner.TrainData{}, usageErrorf("mine train: --data or --dataset is required")
	case !ds && (o.DataFilesSet || o.DiskBudgetSet || o.ShuffleShards):
		return miner.TrainData{}, usageErrorf("mine train: --data-files, --disk-budget and --shuffle-shards go with --dataset")
	}
	td := miner.TrainData{Files: o.Data.Value(),
		Config: train.DataConfig{SeqLen: o.SeqLen, Pack: !o.NoPack, Seed: o.DataSeed, EvalDocs: o.EvalDocs, EvalRows: o.EvalRows}}
	if !ds {
		return td, nil
	}
	var budget int64
	if o.DiskBudget != "" {
		n, err := parseBytes(o.DiskBudget)
		if err != nil {
			return td, usageErrorf("mine train --disk-budget: %v", err)
		}
		budget = n
	}
	td.Stream = miner.StreamData{Dataset: o.Dataset, Files: o.DataFiles, Column: o.TextColumn, DiskBudget: budget,
		Hub: func() (data.HubFiles, error) { return o.F.HubClient() }}
	if o.ShuffleShards {
		td.Stream.ShuffleSeed = max(o.DataSeed, 1) // 0 would mean by name
	}
	return td, nil
}
