package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/miner"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/train"
	"github.com/coldint/coldint/train/publish"
)

// mineTrainOptions are the inputs of `coldint mine train`, and of the
// training stage of `coldint mine`.
type mineTrainOptions struct {
	F                 *Factory
	Init              string
	FromBest          bool
	Tokenizer         string
	Data              cli.StringSlice
	Dataset           string // streamed: a Hub dataset repo REPO[@REV] or a local parquet folder
	DataFiles         string
	TextColumn        string
	DiskBudget        string
	LogJSON           string
	ShuffleShards     bool
	DataFilesSet      bool
	DiskBudgetSet     bool
	Out               string
	Resume            bool
	SeqLen            int
	Batch             int
	Accum             int
	Steps             int
	LR                float64
	MinLRRatio        float64
	Warmup            int
	WeightDecay       float64
	Beta1, Beta2      float64
	Clip              float64
	EvalEvery         int
	CheckpointEvery   int
	EvalDocs          int
	EvalRows          int
	NoPack            bool
	DataSeed          uint64
	GradCheckpointing bool
	SaveDType         string
	Threads           int
	LogEvery          int
	Nproc             int
	DDPTimeout        time.Duration
	Competition       string
	Competitions      string
	JSON              bool
}

// newMineTrainCmd is `coldint mine train`. runF replaces runMineTrain in
// tests.
func newMineTrainCmd(f *Factory, runF func(context.Context, *mineTrainOptions) error) *cli.Command {
	o := &mineTrainOptions{F: f}
	if runF == nil {
		runF = runMineTrain
	}
	return &cli.Command{
		Name:      "train",
		Usage:     "train a causal LM (AdamW, warmup + cosine LR, clipping, accumulation, packing, checkpoints, --resume)",
		UsageText: "coldint mine train (--init DIR | --from-best --competition c00 | --resume) (--data PATH... | --dataset REPO[@REV]) --out DIR [flags]",
		Flags:     append(mineTrainFlags(f, o), mineSharedFlags(f, &o.JSON)...),
		Action: func(c *cli.Context) error {
			o.DataFilesSet, o.DiskBudgetSet = c.IsSet("data-files"), c.IsSet("disk-budget")
			return runF(c.Context, o)
		},
	}
}

// mineTrainFlags are the training flags, bound to o: one constructor for
// `mine` and `mine train`.
func mineTrainFlags(f *Factory, o *mineTrainOptions) []cli.Flag {
	d := train.DefaultConfig()
	return append([]cli.Flag{
		&cli.StringFlag{Name: "init", Usage: "model folder to start from (config.json, safetensors, tokenizer)", Category: "train", Destination: &o.Init},
		&cli.BoolFlag{Name: "from-best", Usage: "start from the current best model of --competition (chain + hub)", Category: "train", Destination: &o.FromBest},
		&cli.StringFlag{Name: "tokenizer", Usage: "tokenizer folder (default: the starting model's)", Category: "train", Destination: &o.Tokenizer},
		&cli.StringSliceFlag{Name: "data", Usage: "training text: .txt, .jsonl, .jsonl.gz files or folders (a folder written by coldint data build-corpus)", Category: "train", Destination: &o.Data},
		&cli.StringFlag{Name: "out", Usage: "run folder: checkpoint/ and the final model/", Category: "train", Destination: &o.Out},
		&cli.BoolFlag{Name: "resume", Usage: "continue the run in --out from its last checkpoint", Category: "train", Destination: &o.Resume},
		&cli.IntFlag{Name: "seq-len", Value: 512, Usage: "tokens per row", Category: "train", Destination: &o.SeqLen},
		&cli.IntFlag{Name: "batch", Value: d.Batch, Usage: "rows per micro-batch", Category: "train", Destination: &o.Batch},
		&cli.IntFlag{Name: "accum", Value: d.Accum, Usage: "micro-batches per optimizer step (gradient accumulation)", Category: "train", Destination: &o.Accum},
		&cli.IntFlag{Name: "steps", Value: d.Steps, Usage: "optimizer steps", Category: "train", Destination: &o.Steps},
		&cli.Float64Flag{Name: "lr", Value: d.LR, Usage: "peak learning rate", Category: "train", Destination: &o.LR},
		&cli.Float64Flag{Name: "min-lr-ratio", Value: d.MinLRRatio, Usage: "final learning rate as a fraction of --lr (cosine decay)", Category: "train", Destination: &o.MinLRRatio},
		&cli.IntFlag{Name: "warmup", Value: d.Warmup, DefaultText: fmt.Sprintf("%.0f%% of --steps", 100*train.WarmupShare), Usage: "linear warmup steps", Category: "train", Destination: &o.Warmup},
		&cli.Float64Flag{Name: "weight-decay", Value: d.WeightDecay, Usage: "AdamW weight decay (matrices only)", Category: "train", Destination: &o.WeightDecay},
		&cli.Float64Flag{Name: "beta1", Value: d.Beta1, Usage: "AdamW β1", Category: "train", Destination: &o.Beta1},
		&cli.Float64Flag{Name: "beta2", Value: d.Beta2, Usage: "AdamW β2", Category: "train", Destination: &o.Beta2},
		&cli.Float64Flag{Name: "clip", Value: d.Clip, Usage: "gradient norm clip (0: none)", Category: "train", Destination: &o.Clip},
		&cli.IntFlag{Name: "eval-every", Value: d.EvalEvery, Usage: "held-out evaluation interval in steps (0: start and end only)", Category: "train", Destination: &o.EvalEvery},
		&cli.IntFlag{Name: "checkpoint-every", Value: d.CheckpointEvery, Usage: "checkpoint interval in steps (0: end and interrupt only)", Category: "train", Destination: &o.CheckpointEvery},
		&cli.IntFlag{Name: "eval-docs", Value: 50, Usage: "documents held out for evaluation", Category: "train", Destination: &o.EvalDocs},
		&cli.IntFlag{Name: "eval-rows", Value: 64, Usage: "at most this many held-out rows (0: all)", Category: "train", Destination: &o.EvalRows},
		&cli.BoolFlag{Name: "no-pack", Usage: "one document per row instead of packed windows", Category: "train", Destination: &o.NoPack},
		&cli.Uint64Flag{Name: "data-seed", Aliases: []string{"seed"}, Value: 1, Usage: "seed of the held-out split and the data order", Category: "train", Destination: &o.DataSeed},
		deviceFlagTo(&f.Engine.Device, ""),
		dtypeFlagTo(&f.Engine.DType),
		&cli.BoolFlag{Name: "grad-checkpointing", Usage: "recompute each layer's activations in the backward pass (less memory, one more forward pass per step)", Category: "train", Destination: &o.GradCheckpointing},
		&cli.StringFlag{Name: "save-dtype", Usage: "dtype of the final model: bf16, f16 or f32 (default: f32 after --dtype f32, else bf16)", Category: "train", Destination: &o.SaveDType},
		threadsFlagTo(&o.Threads),
		&cli.IntFlag{Name: "log-every", Value: 10, Usage: "log a line every N steps when stderr is not a terminal", Category: "train", Destination: &o.LogEvery},
		&cli.IntFlag{Name: "nproc", Usage: "train with N data-parallel ranks (processes) on this machine; without it, a run started by torchrun (WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT, LOCAL_RANK) joins its group", Category: "train", Destination: &o.Nproc},
		&cli.DurationFlag{Name: "ddp-timeout", Value: 10 * time.Minute, Usage: "data-parallel runs: how long a rank waits for the others (rendezvous and every collective)", Category: "train", Destination: &o.DDPTimeout},
		mineCompetitionFlagTo(&o.Competition, false),
		competitionsFlagTo(&o.Competitions, "competition"),
	}, mineStreamFlags(o)...)
}

func runMineTrain(ctx context.Context, o *mineTrainOptions) error {
	_, err := o.run(ctx)
	return err
}

// run trains and prints the result; it returns the final model's folder
// ("" where this process did not write it: a launcher, or a rank other
// than 0).
func (o *mineTrainOptions) run(ctx context.Context) (string, error) {
	if o.Nproc != 0 && os.Getenv(miner.LaunchedEnv) == "" {
		return "", o.launch(ctx)
	}
	mo, err := o.minerOptions()
	if err != nil {
		return "", err
	}
	r, err := miner.Prepare(ctx, mo)
	if errors.Is(err, miner.ErrCheckpointExists) || errors.Is(err, miner.ErrBadDataset) {
		return "", &UsageError{Err: err}
	}
	if err != nil {
		return "", err
	}
	defer r.Close()
	rep, err := newTrainReport(o.F.IO, mo.Config, r.Resumed(), r.Rank(), o.LogJSON, o.LogEvery)
	if err != nil {
		return "", err
	}
	res, err := r.Train(ctx, rep.hooks())
	rep.close()
	if err != nil || res == nil {
		return "", err
	}
	sum := newTrainSummary(res)
	if o.JSON {
		return res.Model, writeJSON(o.F.IO.Out, rep.summary(res.Final, res.Started, res.Model))
	}
	_, err = fmt.Fprintf(o.F.IO.Out, "trained %d steps (%d tokens): held-out loss %.4f → %.4f; model in %s\n",
		sum.Steps, sum.Tokens, sum.EvalLossStart, sum.EvalLossEnd, sum.Model)
	return res.Model, err
}

// trainSummary is what the one-line result of `mine train` says.
type trainSummary struct {
	EvalLossEnd   float64 `json:"eval_loss_end"`
	EvalLossStart float64 `json:"eval_loss_start"`
	Model         string  `json:"model"`
	Steps         int     `json:"steps"`
	Tokens        int64   `json:"tokens"`
	TrainLossEnd  float64 `json:"train_loss_end"`
}

func newTrainSummary(res *miner.TrainResult) trainSummary {
	f := res.Final
	s := trainSummary{Model: res.Model, Steps: f.Step, Tokens: f.Tokens}
	if n := len(f.Evals); n > 0 {
		s.EvalLossStart, s.EvalLossEnd = f.Evals[0].Loss, f.Evals[n-1].Loss
	}
	if n := len(f.Curve); n > 0 {
		s.TrainLossEnd = f.Curve[n-1].Loss
	}
	return s
}

// minerOptions checks the flags and turns them into the run's options.
func (o *mineTrainOptions) minerOptions() (miner.TrainOptions, error) {
	rank, err := mineRank()
	if err != nil {
		return miner.TrainOptions{}, err
	}
	if o.Out == "" {
		return miner.TrainOptions{}, usageErrorf("mine train: --out is required")
	}
	mo, err := o.engineOptions()
	if err != nil {
		return mo, err
	}
	mo.Rank, mo.DDPTimeout, mo.Threads = rank, o.DDPTimeout, o.Threads
	mo.Config = train.Config{
		Steps: o.Steps, Batch: o.Batch, Accum: o.Accum, LR: o.LR, MinLRRatio: o.MinLRRatio,
		Warmup: o.Warmup, WeightDecay: o.WeightDecay, Beta1: o.Beta1, Beta2: o.Beta2,
		Eps: 1e-8, Clip: o.Clip, EvalEvery: o.EvalEvery, CheckpointEvery: o.CheckpointEvery, Out: o.Out,
	}
	if err := mo.Config.Validate(); err != nil {
		return mo, &UsageError{Err: err}
	}
	if w := mo.Config.WarmupWarning(); w != "" {
		slog.Warn(w)
	}
	if mo.Data, err = o.trainData(); err != nil {
		return mo, err
	}
	if err := o.start(&mo); err != nil {
		return mo, err
	}
	if o.Threads < 0 {
		return mo, usageErrorf("parse --threads %d: must be >= 0", o.Threads)
	}
	return mo, nil
}

// engineOptions reads --device, --dtype, --grad-checkpointing and
// --save-dtype (bf16 unless given, or f32 after --dtype f32).
func (o *mineTrainOptions) engineOptions() (miner.TrainOptions, error) {
	var mo miner.TrainOptions
	spelled := o.F.Engine.Device
	if _, _, err := model.ParseDevice(spelled); err != nil {
		return mo, &UsageError{Err: fmt.Errorf("mine train --device: %w", err)}
	}
	cdt, err := model.ParseDType(o.F.Engine.DType)
	if err != nil {
		return mo, &UsageError{Err: fmt.Errorf("mine train --dtype: %w", err)}
	}
	save := o.SaveDType
	if save == "" {
		save = "bf16"
		if cdt == model.DTypeF32 {
			save = "f32"
		}
	}
	if mo.SaveDType, err = publish.ParseDType(save); err != nil {
		return mo, &UsageError{Err: err}
	}
	if mo.Device, err = model.ResolveDevice(spelled); err != nil {
		return mo, fmt.Errorf("mine train: %w", err)
	}
	mo.DeviceIndexGiven = strings.Contains(spelled, ":")
	mo.Trainer = model.TrainerOptions{DType: cdt, GradCheckpointing: o.GradCheckpointing}
	return mo, nil
}

// start reads the start of the run: --resume, --init or --from-best.
func (o *mineTrainOptions) start(mo *miner.TrainOptions) error {
	switch {
	case o.Resume:
		mo.Resume = true
	case o.Init != "" && o.FromBest:
		return usageErrorf("mine train: give --init or --from-best, not both")
	case o.Init != "":
		mo.Init = o.Init
	case o.FromBest:
		src, err := mineBestSource(o.F, o.Competition)
		if err != nil {
			return err
		}
		mo.Best = &src
	default:
		return usageErrorf("mine train: give --init DIR, --from-best --competition C, or --resume")
	}
	mo.Tokenizer = o.Tokenizer
	return nil
}

// mineRank reads the torchrun variables: nil outside a data-parallel run.
func mineRank() (*miner.RankEnv, error) {
	rk, dist, err := miner.ReadRankEnv()
	if err != nil {
		return nil, usageErrorf("mine train: %v", err)
	}
	if !dist {
		return nil, nil
	}
	slog.SetDefault(slog.Default().With("rank", rk.Rank))
	return &rk, nil
}

// launch runs --nproc ranks of this command line on this machine.
func (o *mineTrainOptions) launch(ctx context.Context) error {
	if o.Nproc < 1 {
		return usageErrorf("mine train --nproc %d: want at least 1", o.Nproc)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("mine train --nproc: find this binary: %w", err)
	}
	return miner.LaunchRanks(ctx, o.Nproc, miner.Launch{Exe: exe, Args: os.Args[1:], Stdout: o.F.IO.Out, Stderr: o.F.IO.Err})
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// mineBestSource is the current best of competition, through the
// factory's chain and hub.
func mineBestSource(f *Factory, competition string) (miner.BestSource, error) {
	if competition == "" {
		return miner.BestSource{}, usageErrorf("--from-best needs --competition")
	}
	netuid, err := mineNetuid(f)
	if err != nil {
		return miner.BestSource{}, err
	}
	return miner.BestSource{
		Chain: func(ctx context.Context) (chain.Reader, error) {
			cc, err := f.ChainConn(ctx)
			if err != nil {
				return nil, err
			}
			return cc.Reader, nil
		},
		Hub: f.HubClient, Netuid: netuid, Competition: competition,
	}, nil
}

// mineNetuid reads --netuid.
func mineNetuid(f *Factory) (chain.NetUID, error) {
	if n := f.Chain.Netuid; n > 65535 {
		return 0, usageErrorf("parse --netuid %d: must be at most 65535", n)
	}
	return chain.NetUID(f.Chain.Netuid), nil
}

// encodeInt32 is the trainer's tokenisation (demo trains with it too).
var encodeInt32 = miner.EncodeInt32
