package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/competition"
	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/hub"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/surgeon"
	"github.com/coldint/coldint/tokenizer"
	"github.com/coldint/coldint/train"
	"github.com/coldint/coldint/train/best"
	"github.com/coldint/coldint/train/precheck"
	"github.com/coldint/coldint/train/publish"
)

// mineCommand is `coldint mine`: train, pre-check and publish a model
// (docs/mining.md), or each step alone.
func mineCommand() *cli.Command {
	all := append(append(append(mineTrainFlags(), minePrecheckFlags(false)...), minePublishFlags(false)...), mineChainFlags()...)
	all = append(all, hubClientFlags()...)
	all = append(all, &cli.Float64Flag{Name: "min-win-rate", Value: 0.5, Usage: "publish only when the pre-check's expected win rate is at least this"})
	return &cli.Command{
		Name:  "mine",
		Usage: "train a model, check it against the current best and publish it (hub upload + chain commitment)",
		Description: `Without a subcommand, runs train → precheck → publish with the same flags: it trains from
--init or --from-best, pre-checks the result in --competition, and when the expected win
rate reaches --min-win-rate publishes it to --repo. Each step is also a subcommand.`,
		Flags: all,
		Action: func(c *cli.Context) error {
			dir, err := runMineTrain(c)
			if err != nil {
				return err
			}
			rate, err := runMinePrecheck(c, dir)
			if err != nil {
				return err
			}
			if rate < c.Float64("min-win-rate") {
				return fmt.Errorf("mine: expected win rate %.3f is below --min-win-rate %.3f; not publishing %q", rate, c.Float64("min-win-rate"), dir)
			}
			if c.String("repo") == "" {
				slog.Warn("no --repo: the model is not published", "model", dir)
				return nil
			}
			return runMinePublish(c, dir)
		},
		Subcommands: []*cli.Command{
			{
				Name:      "train",
				Usage:     "train a causal LM (AdamW, warmup + cosine LR, clipping, accumulation, packing, checkpoints, --resume)",
				UsageText: "coldint mine train (--init DIR | --from-best --competition c00 | --resume) (--data PATH... | --dataset REPO[@REV]) --out DIR [flags]",
				Flags:     append(append(mineTrainFlags(), mineChainFlags()...), hubClientFlags()...),
				Action: func(c *cli.Context) error {
					_, err := runMineTrain(c)
					return err
				},
			},
			{
				Name:      "precheck",
				Usage:     "check a model against a competition's constraints and its current best (expected win rate)",
				UsageText: "coldint mine precheck --model DIR --competition C [--data PATH...] [flags]",
				Flags:     append(append(minePrecheckFlags(true), mineChainFlags()...), hubClientFlags()...),
				Action: func(c *cli.Context) error {
					_, err := runMinePrecheck(c, c.String("model"))
					return err
				},
			},
			{
				Name:      "publish",
				Usage:     "upload a model to the hub and commit it on chain (resumable: a second run picks up where the first stopped)",
				UsageText: "coldint mine publish --model DIR --repo NS/NAME --competition C [flags]",
				Flags:     append(append(minePublishFlags(true), mineChainFlags()...), hubClientFlags()...),
				Action: func(c *cli.Context) error {
					return runMinePublish(c, c.String("model"))
				},
			},
			{
				Name:      "commit",
				Usage:     "commit an existing model id on chain and read it back",
				UsageText: "coldint mine commit --model-id NS:NAME:COMMIT:HASH:COMPETITION [flags]",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "model-id", Required: true, Usage: "the compressed model id"},
					&cli.IntFlag{Name: "commit-rounds", Value: 10, Usage: "commit attempts"},
					&cli.DurationFlag{Name: "read-back-delay", Value: 12 * time.Second, Usage: "wait between read-backs"},
					&cli.DurationFlag{Name: "rate-limit-delay", Value: 60 * time.Second, Usage: "wait after a rate-limited commit"},
				}, mineChainFlags()...),
				Action: runMineCommit,
			},
		},
	}
}

func mineChainFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
		networkFlag(),
		&cli.UintFlag{Name: "netuid", Value: 29, Usage: "subnet id", Category: "chain"},
	}, walletFlags()...)
}

func mineTrainFlags() []cli.Flag {
	d := train.DefaultConfig()
	return append([]cli.Flag{
		&cli.StringFlag{Name: "init", Usage: "model folder to start from (config.json, safetensors, tokenizer)", Category: "train"},
		&cli.BoolFlag{Name: "from-best", Usage: "start from the current best model of --competition (chain + hub)", Category: "train"},
		&cli.StringFlag{Name: "tokenizer", Usage: "tokenizer folder (default: the starting model's)", Category: "train"},
		&cli.StringSliceFlag{Name: "data", Usage: "training text: .txt, .jsonl, .jsonl.gz files or folders (a folder written by coldint data build-corpus)", Category: "train"},
		&cli.StringFlag{Name: "out", Usage: "run folder: checkpoint/ and the final model/", Category: "train"},
		&cli.BoolFlag{Name: "resume", Usage: "continue the run in --out from its last checkpoint", Category: "train"},
		&cli.IntFlag{Name: "seq-len", Value: 512, Usage: "tokens per row", Category: "train"},
		&cli.IntFlag{Name: "batch", Value: d.Batch, Usage: "rows per micro-batch", Category: "train"},
		&cli.IntFlag{Name: "accum", Value: d.Accum, Usage: "micro-batches per optimizer step (gradient accumulation)", Category: "train"},
		&cli.IntFlag{Name: "steps", Value: d.Steps, Usage: "optimizer steps", Category: "train"},
		&cli.Float64Flag{Name: "lr", Value: d.LR, Usage: "peak learning rate", Category: "train"},
		&cli.Float64Flag{Name: "min-lr-ratio", Value: d.MinLRRatio, Usage: "final learning rate as a fraction of --lr (cosine decay)", Category: "train"},
		&cli.IntFlag{Name: "warmup", Value: d.Warmup, DefaultText: fmt.Sprintf("%.0f%% of --steps", 100*train.WarmupShare), Usage: "linear warmup steps", Category: "train"},
		&cli.Float64Flag{Name: "weight-decay", Value: d.WeightDecay, Usage: "AdamW weight decay (matrices only)", Category: "train"},
		&cli.Float64Flag{Name: "beta1", Value: d.Beta1, Usage: "AdamW β1", Category: "train"},
		&cli.Float64Flag{Name: "beta2", Value: d.Beta2, Usage: "AdamW β2", Category: "train"},
		&cli.Float64Flag{Name: "clip", Value: d.Clip, Usage: "gradient norm clip (0: none)", Category: "train"},
		&cli.IntFlag{Name: "eval-every", Value: d.EvalEvery, Usage: "held-out evaluation interval in steps (0: start and end only)", Category: "train"},
		&cli.IntFlag{Name: "checkpoint-every", Value: d.CheckpointEvery, Usage: "checkpoint interval in steps (0: end and interrupt only)", Category: "train"},
		&cli.IntFlag{Name: "eval-docs", Value: 50, Usage: "documents held out for evaluation", Category: "train"},
		&cli.IntFlag{Name: "eval-rows", Value: 64, Usage: "at most this many held-out rows (0: all)", Category: "train"},
		&cli.BoolFlag{Name: "no-pack", Usage: "one document per row instead of packed windows", Category: "train"},
		&cli.Uint64Flag{Name: "data-seed", Aliases: []string{"seed"}, Value: 1, Usage: "seed of the held-out split and the data order", Category: "train"},
		deviceFlag(),
		dtypeFlag(),
		&cli.BoolFlag{Name: "grad-checkpointing", Usage: "recompute each layer's activations in the backward pass (less memory, one more forward pass per step)", Category: "train"},
		&cli.StringFlag{Name: "save-dtype", Usage: "dtype of the final model: bf16, f16 or f32 (default: f32 after --dtype f32, else bf16)", Category: "train"},
		&cli.IntFlag{Name: "threads", Usage: "libtorch threads (0: all cores)", Category: "train"},
		&cli.IntFlag{Name: "log-every", Value: 10, Usage: "log a line every N steps when stderr is not a terminal", Category: "train"},
		&cli.IntFlag{Name: "nproc", Usage: "train with N data-parallel ranks (processes) on this machine; without it, a run started by torchrun (WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT, LOCAL_RANK) joins its group", Category: "train"},
		&cli.DurationFlag{Name: "ddp-timeout", Value: 10 * time.Minute, Usage: "data-parallel runs: how long a rank waits for the others (rendezvous and every collective)", Category: "train"},
		&cli.StringFlag{Name: "competition", Usage: "competition name (c00 ...)", Category: "competition"},
		&cli.StringFlag{Name: "competitions", Value: eval.CompetitionsURL, Usage: "competitions.json URL or file", Category: "competition"},
	}, mineStreamFlags()...)
}

func minePrecheckFlags(standalone bool) []cli.Flag {
	f := []cli.Flag{
		&cli.IntFlag{Name: "samples", Value: 200, Usage: "fresh samples for the local evaluation", Category: "precheck"},
		&cli.StringFlag{Name: "precheck-dataset", Value: data.DefaultDataset, Usage: "dataset of the datasets-server the pre-check samples from when --data is not given", Category: "precheck"},
		&cli.StringFlag{Name: "best", Usage: "model folder of the current best (default: found on chain and downloaded)", Category: "precheck"},
		&cli.Uint64Flag{Name: "precheck-seed", Usage: "seed of the sample choice (0: random)", Category: "precheck"},
	}
	if standalone {
		f = append(f,
			&cli.StringFlag{Name: "model", Required: true, Usage: "model folder to check"},
			&cli.StringFlag{Name: "dataset", Hidden: true, Usage: "--precheck-dataset, as earlier versions spelled it"},
			&cli.StringFlag{Name: "competition", Required: true, Usage: "competition name"},
			&cli.StringFlag{Name: "competitions", Value: eval.CompetitionsURL, Usage: "competitions.json URL or file"},
			&cli.StringSliceFlag{Name: "data", Usage: "local text for samples (default: the datasets-server)"},
			&cli.IntFlag{Name: "threads", Usage: "libtorch threads (0: all cores)"},
			&cli.StringFlag{Name: "out", Usage: "folder for the downloaded best model (default: a temp folder)"},
			deviceFlag(),
			dtypeFlag(),
		)
	}
	return f
}

func minePublishFlags(standalone bool) []cli.Flag {
	f := []cli.Flag{
		&cli.StringFlag{Name: "repo", Usage: "hub repo ns/name (ns+name+competition ≤ 40 characters)", Category: "publish"},
		&cli.BoolFlag{Name: "keep-private", Usage: "leave the repo private (validators cannot download it)", Category: "publish"},
		&cli.StringFlag{Name: "upload-dtype", Usage: "convert the weights before upload: bf16, f16 or f32 (default: as saved)", Category: "publish"},
		&cli.StringFlag{Name: "publish-state", Aliases: []string{"state"}, Usage: "publish progress file (default: <model>.publish.json)", Category: "publish"},
		&cli.IntFlag{Name: "commit-rounds", Value: 10, Usage: "commit attempts", Category: "publish"},
		&cli.DurationFlag{Name: "read-back-delay", Value: 12 * time.Second, Usage: "wait between read-backs", Category: "publish"},
		&cli.DurationFlag{Name: "rate-limit-delay", Value: 60 * time.Second, Usage: "wait after a rate-limited commit", Category: "publish"},
	}
	if standalone {
		f[0] = &cli.StringFlag{Name: "repo", Required: true, Usage: "hub repo ns/name (ns+name+competition ≤ 40 characters)"}
		f = append(f,
			&cli.StringFlag{Name: "model", Required: true, Usage: "model folder to publish"},
			&cli.StringFlag{Name: "competition", Required: true, Usage: "competition name"},
		)
	}
	return f
}

// mineEngine starts the engine with --threads.
func mineEngine(c *cli.Context) (*model.Engine, error) {
	if c.Int("threads") < 0 {
		return nil, usageErrorf("parse --threads %d: must be >= 0", c.Int("threads"))
	}
	return model.NewEngine(c.Int("threads"))
}

// loadCompetitions reads --competitions.
func loadCompetitions(c *cli.Context) (*eval.Config, error) {
	l := eval.NewLoader(c.String("competitions"), "")
	if err := l.Refresh(c.Context); err != nil {
		return nil, fmt.Errorf("load competitions %q: %w", c.String("competitions"), err)
	}
	cfg, _ := l.Current()
	if cfg == nil {
		return nil, fmt.Errorf("load competitions %q: no config", c.String("competitions"))
	}
	return cfg, nil
}

func parseDType(s string) (safetensors.DType, error) {
	switch strings.ToLower(s) {
	case "bf16", "bfloat16":
		return safetensors.BF16, nil
	case "f16", "fp16", "float16":
		return safetensors.F16, nil
	case "f32", "fp32", "float32":
		return safetensors.F32, nil
	}
	return "", usageErrorf("parse dtype %q: want bf16, f16 or f32", s)
}

// ---- train ----

func runMineTrain(c *cli.Context) (string, error) {
	ctx := c.Context
	if n := c.Int("nproc"); n != 0 && os.Getenv(launchedEnv) == "" {
		return "", launchRanks(c, n)
	}
	rk, dist, err := readRankEnv()
	if err != nil {
		return "", usageErrorf("mine train: %v", err)
	}
	if dist {
		slog.SetDefault(slog.Default().With("rank", rk.Rank))
	}
	out := c.String("out")
	if out == "" {
		return "", usageErrorf("mine train: --out is required")
	}
	topts, dt, err := mineTrainOptions(c)
	if err != nil {
		return "", err
	}
	dev, err := model.ResolveDevice(c.String("device"))
	if err != nil {
		return "", fmt.Errorf("mine train: %w", err)
	}
	threads := c.Int("threads")
	if dist {
		dev, threads = rankDevice(dev, c.String("device"), rk), rankThreads(threads, rk)
	}
	cfg := train.Config{
		Steps: c.Int("steps"), Batch: c.Int("batch"), Accum: c.Int("accum"), LR: c.Float64("lr"), MinLRRatio: c.Float64("min-lr-ratio"),
		Warmup: c.Int("warmup"), WeightDecay: c.Float64("weight-decay"), Beta1: c.Float64("beta1"), Beta2: c.Float64("beta2"),
		Eps: 1e-8, Clip: c.Float64("clip"), EvalEvery: c.Int("eval-every"), CheckpointEvery: c.Int("checkpoint-every"), Out: out,
	}
	if err := cfg.Validate(); err != nil {
		return "", &UsageError{Err: err}
	}
	if w := cfg.WarmupWarning(); w != "" {
		slog.Warn(w)
	}
	if err := checkTrainData(c); err != nil {
		return "", err
	}
	var start string
	var st *train.State
	switch {
	case c.Bool("resume"):
		s, dir, err := train.LoadState(out)
		if err != nil {
			return "", err
		}
		st, start = s, dir
		slog.Info("resuming", "checkpoint", dir, "step", s.Step)
	case c.String("init") != "" && c.Bool("from-best"):
		return "", usageErrorf("mine train: give --init or --from-best, not both")
	case c.String("init") != "":
		start = c.String("init")
	case c.Bool("from-best"):
		best, err := downloadBest(c, filepath.Join(out, "best"))
		if err != nil {
			return "", err
		}
		start = best.Dir
	default:
		return "", usageErrorf("mine train: give --init DIR, --from-best --competition C, or --resume")
	}
	if !c.Bool("resume") {
		if _, _, err := train.LoadState(out); err == nil {
			return "", usageErrorf("mine train: %q already holds a checkpoint; use --resume or another --out", out)
		}
	}
	tokDir := c.String("tokenizer")
	if tokDir == "" {
		tokDir = start
	}
	tok, err := tokenizer.Load(tokDir)
	if err != nil {
		return "", fmt.Errorf("mine train: load tokenizer (give --tokenizer?): %w", err)
	}
	d, err := openTrainSource(c, tok, st, rk.Rank, max(rk.World, 1), out)
	if err != nil {
		return "", err
	}
	defer d.close()
	if c.Int("threads") < 0 {
		return "", usageErrorf("parse --threads %d: must be >= 0", c.Int("threads"))
	}
	eng, err := model.NewEngineWith(model.EngineOptions{Threads: threads, Device: dev})
	if err != nil {
		return "", err
	}
	defer eng.Close()
	tr, err := eng.NewTrainerWith(ctx, start, topts)
	if err != nil {
		return "", err
	}
	defer tr.Close()
	if dist {
		g, err := joinRun(ctx, eng, tr, rk, c.Duration("ddp-timeout"))
		if err != nil {
			return "", err
		}
		defer g.Close()
		cfg.Group = g
	}
	slog.Info("training", "device", tr.Device().String(), "dtype", string(tr.DType()), "grad_checkpointing", topts.GradCheckpointing)
	if rows := tr.Config().VocabSize; tok.MaxID() >= rows {
		slog.Warn("the tokenizer has ids beyond the embedding rows; such documents fail", "max_id", tok.MaxID(), "vocab_size", rows)
	}
	stdio := ioFrom(c)
	started := st
	if st != nil {
		cp := *st
		started = &cp
	}
	rep, err := newTrainReport(stdio, cfg, st, rk.Rank, c.String("log-json"), c.Int("log-every"))
	if err != nil {
		return "", err
	}
	final, err := train.Run(ctx, tr, d, cfg, st, rep.hooks())
	rep.close()
	if err != nil {
		if errors.Is(err, train.ErrInterrupted) {
			return "", fmt.Errorf("%w (continue with --resume --out %s)", err, out)
		}
		return "", err
	}
	if rk.Rank != 0 {
		return "", nil
	}
	dst := filepath.Join(out, "model")
	if err := os.RemoveAll(dst); err != nil {
		return "", err
	}
	if err := tr.SaveModel(ctx, dst, dt); err != nil {
		return "", err
	}
	if tr.Config().VocabSize > 0 && c.String("tokenizer") != "" {
		if err := modeldir.CopyTokenizer(c.String("tokenizer"), dst); err != nil {
			return "", err
		}
	}
	first, last := final.Evals[0], final.Evals[len(final.Evals)-1]
	if c.Bool("json") {
		return dst, writeJSON(stdio.Out, rep.summary(final, started, dst))
	}
	_, err = fmt.Fprintf(stdio.Out, "trained %d steps (%d tokens): held-out loss %.4f → %.4f; model in %s\n",
		final.Step, final.Tokens, first.Loss, last.Loss, dst)
	return dst, err
}

// mineTrainOptions reads --device's spelling, --dtype, --grad-checkpointing
// and --save-dtype (bf16 unless given, or f32 after --dtype f32).
func mineTrainOptions(c *cli.Context) (model.TrainerOptions, safetensors.DType, error) {
	if _, _, err := model.ParseDevice(c.String("device")); err != nil {
		return model.TrainerOptions{}, "", &UsageError{Err: fmt.Errorf("mine train --device: %w", err)}
	}
	cdt, err := model.ParseDType(c.String("dtype"))
	if err != nil {
		return model.TrainerOptions{}, "", &UsageError{Err: fmt.Errorf("mine train --dtype: %w", err)}
	}
	save := c.String("save-dtype")
	if save == "" {
		save = "bf16"
		if cdt == model.DTypeF32 {
			save = "f32"
		}
	}
	dt, err := parseDType(save)
	if err != nil {
		return model.TrainerOptions{}, "", err
	}
	return model.TrainerOptions{DType: cdt, GradCheckpointing: c.Bool("grad-checkpointing")}, dt, nil
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// ---- the current best ----

// bestModel is the current best model of a competition.
type bestModel struct {
	UID   chain.UID
	ID    chain.ModelID
	Block chain.BlockNumber
	Dir   string
}

// findBest picks the current best model of the competition (see package
// best) and says so when incentive could not decide it.
func findBest(ctx context.Context, r chain.Reader, netuid chain.NetUID, competition string) (*bestModel, error) {
	b, err := best.Find(ctx, r, netuid, competition)
	if err != nil {
		return nil, err
	}
	switch b.Basis {
	case best.ByWeights:
		slog.Warn("every model of the competition has incentive 0 (no epoch has counted the validators' weights yet): choosing by the validators' stake-weighted weights instead",
			"competition", competition, "uid", b.UID, "weight_share", fmt.Sprintf("%.3f", b.Score))
	case best.ByAge:
		slog.Warn("no incentive and no validator weights yet: the oldest commitment of the competition is taken as the best",
			"competition", competition, "uid", b.UID)
	}
	// Dir holds the hotkey (the hash salt) until the download replaces it by the folder.
	return &bestModel{UID: b.UID, ID: b.ID, Block: b.Block, Dir: b.Hotkey.String()}, nil
}

// downloadBest finds the best model of --competition and downloads it
// pinned to its commit, checking the salted hash as a validator does.
func downloadBest(c *cli.Context, cacheDir string) (*bestModel, error) {
	comp := c.String("competition")
	if comp == "" {
		return nil, usageErrorf("--from-best needs --competition")
	}
	netuid, err := mineNetuid(c)
	if err != nil {
		return nil, err
	}
	h, err := openHub(c)
	if err != nil {
		return nil, err
	}
	var best *bestModel
	err = withChain(c, func(cc *chainConn) error {
		best, err = findBest(c.Context, cc.Reader, netuid, comp)
		return err
	})
	if err != nil {
		return nil, err
	}
	hotkey := best.Dir
	repo := hf.RepoID{Namespace: best.ID.Namespace, Name: best.ID.Name}
	snap, _, err := hub.DownloadModel(c.Context, h, repo, best.ID.Commit, cacheDir, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("download best model %s: %w", best.ID.Label(), err)
	}
	dh, err := modelhash.Dir(c.Context, snap, modelhash.Options{})
	if err != nil {
		return nil, err
	}
	if got := modelhash.Salt(dh, hotkey); got != best.ID.Hash {
		return nil, fmt.Errorf("best model %s: salted hash %s differs from the chain's %s", best.ID.Label(), got, best.ID.Hash)
	}
	best.Dir = snap
	slog.Info("current best", "uid", best.UID, "model", best.ID.Label(), "block", best.Block, "dir", snap)
	return best, nil
}

func mineNetuid(c *cli.Context) (chain.NetUID, error) {
	n := c.Uint("netuid")
	if n > 65535 {
		return 0, usageErrorf("parse --netuid %d: must be at most 65535", n)
	}
	return chain.NetUID(n), nil
}

// ---- precheck ----

// precheckResult is the --json output of precheck.
type precheckResult struct {
	Model       string               `json:"model"`
	Competition string               `json:"competition"`
	Check       *surgeon.CheckReport `json:"check"`
	Best        string               `json:"best,omitempty"`
	Samples     int                  `json:"samples"`
	LossAvg     float64              `json:"loss_avg"`
	BestLossAvg float64              `json:"best_loss_avg,omitempty"`
	WinRate     float64              `json:"expected_win_rate"`
	WinAbsRate  float64              `json:"abs_win_rate"`
	BestAdvFact float64              `json:"best_advantage_factor,omitempty"`
}

func runMinePrecheck(c *cli.Context, dir string) (float64, error) {
	ctx := c.Context
	if _, err := precheckEngine(c); err != nil { // a bad --device fails before any download
		return 0, err
	}
	compName := c.String("competition")
	if compName == "" {
		return 0, usageErrorf("mine precheck: --competition is required")
	}
	cfg, err := loadCompetitions(c)
	if err != nil {
		return 0, err
	}
	comp, ok := cfg.Competition(compName)
	if !ok {
		return 0, usageErrorf("mine precheck: competition %q not in %s (have %s)", compName, c.String("competitions"), strings.Join(cfg.Names(), ", "))
	}
	rep, _, err := precheck.Admission(ctx, dir, cfg, compName)
	if err != nil {
		return 0, fmt.Errorf("mine precheck: %w", err)
	}
	res := precheckResult{Model: dir, Competition: compName, Check: rep}
	slog.Info("constraints met", "competition", compName, "class", rep.ClassName, "repo_bytes", rep.RepoBytes)

	// The current best.
	var best *bestModel
	var current chain.BlockNumber
	if b := c.String("best"); b != "" {
		best = &bestModel{Dir: b, Block: 0}
	} else {
		cache := c.String("out")
		if cache == "" {
			tmp, err := os.MkdirTemp("", "coldint-precheck-*")
			if err != nil {
				return 0, err
			}
			defer os.RemoveAll(tmp)
			cache = tmp
		}
		best, err = downloadBest(c, filepath.Join(cache, "best"))
		if errors.Is(err, chain.ErrNotFound) {
			slog.Warn("no current best model in this competition: a valid model wins every sample")
			res.WinRate, res.WinAbsRate = 1, 1
			return 1, printPrecheck(c, res)
		}
		if err != nil {
			return 0, err
		}
	}
	err = withChain(c, func(cc *chainConn) error {
		current, err = cc.Reader.BlockNumber(ctx)
		return err
	})
	if err != nil {
		return 0, err
	}
	res.Best = best.Dir
	// Fresh samples.
	n := c.Int("samples")
	if n < 1 {
		return 0, usageErrorf("parse --samples %d: must be at least 1", n)
	}
	seed := c.Uint64("precheck-seed")
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	var src data.Source
	if paths := c.StringSlice("data"); len(paths) > 0 {
		if src, err = data.OpenLocal(ctx, paths, data.LocalOptions{}); err != nil {
			return 0, err
		}
	} else {
		src = data.NewServer(precheckDataset(c))
	}
	rpp := cfg.Defaults.RowsPerPage
	if rpp <= 0 {
		rpp = 25
	}
	pages, err := data.Fetch(ctx, src, data.NewRand(seed), (n+rpp-1)/rpp, rpp)
	if err != nil && len(pages) == 0 {
		return 0, err
	}
	texts := data.Texts(pages)
	if len(texts) > n {
		texts = texts[:n]
	}
	res.Samples = len(texts)
	ec, err := precheckEngine(c)
	if err != nil {
		return 0, err
	}
	eng, err := ec.newEngine(c.Int("threads"))
	if err != nil {
		return 0, err
	}
	defer eng.Close()
	mine, err := precheckLosses(c, eng, comp, dir, texts)
	if err != nil {
		return 0, fmt.Errorf("evaluate %q: %w", dir, err)
	}
	theirs, err := precheckLosses(c, eng, comp, best.Dir, texts)
	if err != nil {
		return 0, fmt.Errorf("evaluate the best model %q: %w", best.Dir, err)
	}
	res.LossAvg, res.BestLossAvg = finiteMean(mine), finiteMean(theirs)
	// The validator's rule: the best is the older commit with its time
	// advantage; ours would be committed now.
	wp := eval.WinParams{CurrentBlock: current, AdvantageInitial: comp.AdvantageInitial, AdvantageDecay: comp.AdvantageDecay}
	wr, err := eval.ComputeWins([]eval.ModelLosses{{UID: 0, Block: best.Block, Losses: theirs}, {UID: 1, Block: current, Losses: mine}}, wp)
	if err != nil {
		return 0, err
	}
	res.WinRate, res.WinAbsRate, res.BestAdvFact = wr.WinRate[1], wr.WinAbsRate[1], wr.Factors[0]
	return res.WinRate, printPrecheck(c, res)
}

func finiteMean(v []float64) float64 {
	var s float64
	n := 0
	for _, x := range v {
		if !math.IsInf(x, 0) && !math.IsNaN(x) {
			s += x
			n++
		}
	}
	if n == 0 {
		return math.Inf(1)
	}
	return s / float64(n)
}

// precheckEngine reads the pre-check's --device and --dtype. Only the
// standalone `mine precheck` has its own --dtype (in `mine`, --dtype is the
// trained model's storage dtype), so elsewhere the compute dtype is auto.
func precheckEngine(c *cli.Context) (engineChoice, error) {
	if c.Int("threads") < 0 {
		return engineChoice{}, usageErrorf("parse --threads %d: must be >= 0", c.Int("threads"))
	}
	dtype := "auto"
	if c.Command.Name == "precheck" {
		dtype = c.String("dtype")
	}
	return resolveEngineStrings("mine precheck", c.String("device"), dtype)
}

func printPrecheck(c *cli.Context, r precheckResult) error {
	out := ioFrom(c).Out
	if c.Bool("json") {
		return writeJSON(out, r)
	}
	_, err := fmt.Fprintf(out, "%s meets the constraints of %s (%s, %d repo bytes)\nsamples %d: loss %.4f vs best %.4f (best's advantage factor %.5f)\nexpected win rate %.3f (absolute %.3f)\n",
		r.Model, r.Competition, r.Check.ClassName, r.Check.RepoBytes, r.Samples, r.LossAvg, r.BestLossAvg, r.BestAdvFact, r.WinRate, r.WinAbsRate)
	return err
}

// precheckLosses tokenizes texts as the validator would for this model and
// returns its summed losses (docs/scoring.md#per-sample-loss).
func precheckLosses(c *cli.Context, eng *model.Engine, comp *eval.Competition, dir string, texts []string) ([]float64, error) {
	rows, choice, err := precheck.Samples(c.Context, comp, dir, texts, competitionTokenizer(c))
	if err != nil {
		return nil, err
	}
	slog.Info("samples tokenized", "model", dir, "own_tokenizer", choice.Own, "competition_tokenizer", choice.Competition)
	samples := make([]model.Sample, len(rows))
	for i, r := range rows {
		if r == nil {
			continue
		}
		s := model.Sample{Valid: true, Ids: make([]int32, len(r))}
		for j, id := range r {
			s.Ids[j] = int32(id)
		}
		samples[i] = s
	}
	ec, err := precheckEngine(c)
	if err != nil {
		return nil, err
	}
	m, err := eng.Load(c.Context, dir, ec.loadOptions(0))
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return m.Losses(c.Context, samples, nil)
}

// competitionTokenizer loads a competition tokenizer as a validator does:
// a local folder, or the hub repo it names, fetched into the Hugging Face
// cache (--out when given).
func competitionTokenizer(c *cli.Context) precheck.LoadFunc {
	return func(ctx context.Context, id string) (*tokenizer.Tokenizer, error) {
		h, err := openHub(c)
		if err != nil {
			return nil, err
		}
		cache := c.String("out")
		if cache == "" {
			if cache, err = os.UserCacheDir(); err != nil {
				return nil, err
			}
			cache = filepath.Join(cache, "coldint", "tokenizers")
		}
		return competition.LoadTokenizer(ctx, h, id, cache)
	}
}

// ---- publish ----

// convertDType writes a copy of the model folder src with its weights in dt
// into a new folder dst.
func convertDType(ctx context.Context, src, dst string, dt safetensors.DType) error {
	cfg, err := hf.LoadModelConfig(src)
	if err != nil {
		return err
	}
	set, err := safetensors.OpenDir(src)
	if err != nil {
		return err
	}
	defer set.Close()
	var tensors []safetensors.Tensor
	for _, info := range set.Tensors() {
		if err := ctx.Err(); err != nil {
			return err
		}
		vals, shape, err := set.ReadFloat32(info.Name)
		if err != nil {
			return err
		}
		t, err := safetensors.Float32Tensor(info.Name, dt, shape, vals)
		if err != nil {
			return err
		}
		tensors = append(tensors, t)
	}
	cfg.TorchDtype = map[safetensors.DType]string{safetensors.BF16: "bfloat16", safetensors.F16: "float16", safetensors.F32: "float32"}[dt]
	return modeldir.WriteDir(dst, func(tmp string) error {
		if err := modeldir.WriteFiles(tmp, cfg, tensors, ""); err != nil {
			return err
		}
		for _, f := range modelhash.OptionalFiles {
			if f == hf.ConfigFile {
				continue
			}
			if err := copyIfExists(filepath.Join(src, f), filepath.Join(tmp, f)); err != nil {
				return err
			}
		}
		return nil
	})
}

func copyIfExists(src, dst string) error {
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func runMinePublish(c *cli.Context, dir string) error {
	ctx := c.Context
	repo, err := hf.ParseRepoID(c.String("repo"))
	if err != nil {
		return &UsageError{Err: err}
	}
	comp := c.String("competition")
	if comp == "" {
		return usageErrorf("mine publish: --competition is required")
	}
	netuid, err := mineNetuid(c)
	if err != nil {
		return err
	}
	state := c.String("publish-state")
	if state == "" {
		state = filepath.Clean(dir) + ".publish.json"
	}
	if s := c.String("upload-dtype"); s != "" {
		dt, err := parseDType(s)
		if err != nil {
			return err
		}
		conv := filepath.Clean(dir) + "." + strings.ToLower(string(dt))
		if _, err := os.Stat(conv); errors.Is(err, os.ErrNotExist) {
			if err := convertDType(ctx, dir, conv, dt); err != nil {
				return fmt.Errorf("convert %q to %s: %w", dir, dt, err)
			}
		}
		dir = conv
	}
	hk, err := loadHotkey(c)
	if err != nil {
		return err
	}
	h, err := openHub(c)
	if err != nil {
		return err
	}
	return withChain(c, func(cc *chainConn) error {
		mg, err := cc.Reader.Metagraph(ctx, netuid)
		if err != nil {
			return err
		}
		if _, ok := mg.ByHotkey(hk.AccountID()); !ok {
			return fmt.Errorf("mine publish: hotkey %s: %w %d", hk.Address(), chain.ErrNotRegistered, netuid)
		}
		bar := newProgress(ioFrom(c), -1, "publishing", true)
		st, err := publish.Run(ctx, publish.Options{
			Dir: dir, Repo: repo, Competition: comp, Netuid: netuid, Hotkey: hk.AccountID(), Hub: h, Chain: cc.As(hk),
			KeepPrivate: c.Bool("keep-private"), StateFile: state, CommitRounds: c.Int("commit-rounds"),
			ReadBackDelay: c.Duration("read-back-delay"), RateLimitDelay: c.Duration("rate-limit-delay"),
		})
		bar.Finish()
		if err != nil {
			return err
		}
		out := ioFrom(c).Out
		if c.Bool("json") {
			return writeJSON(out, st)
		}
		vis := "public"
		if !st.Public {
			vis = "private"
		}
		_, err = fmt.Fprintf(out, "published %s@%s (%s) and committed in block %d:\n%s\n", repo, st.Commit, vis, st.Block, st.ModelID)
		return err
	})
}

func runMineCommit(c *cli.Context) error {
	s := c.String("model-id")
	id, err := chain.ParseModelID(s)
	if err != nil {
		return &UsageError{Err: err}
	}
	if id.String() != s {
		return usageErrorf("parse --model-id %q: does not re-serialize identically", s)
	}
	if err := id.Validate(); err != nil {
		return &UsageError{Err: err}
	}
	netuid, err := mineNetuid(c)
	if err != nil {
		return err
	}
	hk, err := loadHotkey(c)
	if err != nil {
		return err
	}
	return withChain(c, func(cc *chainConn) error {
		b, err := publish.Commit(c.Context, publish.Options{Netuid: netuid, Hotkey: hk.AccountID(), Chain: cc.As(hk),
			CommitRounds: c.Int("commit-rounds"), ReadBackDelay: c.Duration("read-back-delay"), RateLimitDelay: c.Duration("rate-limit-delay")}, id, nil)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(ioFrom(c).Out, "%s committed by %s on netuid %d (block %d)\n", id, hk.Address(), netuid, b)
		return err
	})
}

// encodeInt32 encodes texts with tok, without special tokens, as the
// trainer's int32 ids.
func encodeInt32(tok *tokenizer.Tokenizer) func(string) ([]int32, error) {
	return func(s string) ([]int32, error) {
		ids, err := tok.Encode(s, false)
		if err != nil {
			return nil, err
		}
		out := make([]int32, len(ids))
		for i, id := range ids {
			out[i] = int32(id)
		}
		return out, nil
	}
}
