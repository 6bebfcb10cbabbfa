package commands

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/model"
	"github.com/urfave/cli/v2"
)

// validateCommand is `coldint validate`: the subnet-29 validator (docs/validator.md#overview).
func validateCommand() *cli.Command {
	flags := []cli.Flag{
		networkFlag(),
		&cli.UintFlag{Name: "netuid", Value: 29, Usage: "subnet id", Category: "chain"},
		&cli.StringFlag{Name: "competitions", Value: eval.CompetitionsURL, Usage: "competitions.json URL or file", Category: "config"},
		&cli.StringFlag{Name: "hall-of-fame", Value: eval.HOFURL, Usage: "hall_of_fame.json URL or file (\"\": none)", Category: "config"},
		&cli.StringSliceFlag{Name: "data", Usage: "local text source: .txt, .jsonl, .jsonl.gz files or folders (default: the datasets-server); NAME=PATH gives evaluation task NAME local text", Category: "data"},
		&cli.StringFlag{Name: "dataset", Value: "HuggingFaceFW/fineweb-edu-score-2", Usage: "dataset of the datasets-server (HF_DATASETS_SERVER sets its URL)", Category: "data"},
		&cli.StringFlag{Name: "model-dir", Value: "~/.coldint/validator", Usage: "folder of downloaded models, laid out as a Hugging Face cache (it may be ~/.cache/huggingface/hub to share models with other tools), and the validator state (vali-state/)"},
		validateDeviceFlag(),
		dtypeFlag(),
		maxMemoryFlag(),
		&cli.Int64Flag{Name: "max-memory-mb", Hidden: true, Usage: "the budget in MiB, as earlier versions spelled it (-1: no budget); --max-memory takes precedence"},
		&cli.IntFlag{Name: "threads", Usage: "engine threads (0: all cores)"},
		&cli.DurationFlag{Name: "eval-timeout", Value: eval.TTLModelEval, Usage: "hard time limit of one model's evaluation subprocess"},
		&cli.IntFlag{Name: "max-steps", Aliases: []string{"steps"}, Usage: "stop after this many evaluation passes (0: run forever)"},
		&cli.BoolFlag{Name: "offline", Usage: "no weight setting and no registration check"},
		&cli.BoolFlag{Name: "dont-set-weights", Usage: "evaluate but never set weights"},
		&cli.BoolFlag{Name: "hof-only", Usage: "v1.0.17 wind-down mode: no evaluation, hall-of-fame weights only (cap 1.0)"},
		&cli.BoolFlag{Name: "ignore-model-hash", Usage: "skip the salted-hash check (testing only)"},
		&cli.BoolFlag{Name: "no-clean", Usage: "never delete downloaded models"},
		&cli.DurationFlag{Name: "weights-interval", Value: eval.WeightSetMinInterval, Usage: "least time between weight sets (negative: every step)"},
		&cli.DurationFlag{Name: "chain-interval", Value: eval.ChainUpdateInterval, Usage: "metagraph and commitments refresh period (negative: continuously)"},
		&cli.DurationFlag{Name: "weights-tick", Value: 30e9, Usage: "how often the weights stage reveals due commits and checks the weights interval"},
		&cli.BoolFlag{Name: "hash-commit-reveal", Usage: "on a commit-reveal subnet, use hash commits and reveals even where timelocked commits are offered"},
		&cli.DurationFlag{Name: "idle-sleep", Value: 120e9, Usage: "sleep after a step that evaluated nothing"},
		&cli.Float64Flag{Name: "model-store-size-gb", Value: -eval.DefaultMinFreeGB, Usage: "disk policy: >0 caps the model folder, ≤0 keeps that many GB free (at least 30)"},
		&cli.Float64Flag{Name: "download-margin-gb", Value: eval.DownloadMinFreeMarginGB, Usage: "free disk needed over model_size before a download"},
		&cli.StringFlag{Name: "benchmark-file", Value: "benchmark.json", Usage: "benchmark.json: local models injected under a uid and evaluated with the miners' models, without hash or size checks (use offline or with --dont-set-weights)"},
		&cli.StringFlag{Name: "save-step-json", Usage: "write each step's report here as JSON, in the reference validator's format (uid_data keyed by uid) plus coldint's fields; inf/nan written as \"inf\"/\"nan\""},
		&cli.Uint64Flag{Name: "seed", Usage: "seed of the validator's randomness (0: random)"},
		&cli.BoolFlag{Name: "json", Usage: "write one JSON step report per line to stdout (the --save-step-json form)"},
	}
	flags = append(flags, walletFlags()...)
	return &cli.Command{
		Name:  "validate",
		Usage: "run the validator: sync models from the chain and hub, evaluate them, score and set weights",
		Description: "The subnet-29 validator loop (v1.0.16 behaviour, quirks fixed): chain sync, scheduling, model sync with\n" +
			"hash and constraint checks, samples, losses in an isolated worker process per model, eval cache, scoring, weights.\n" +
			"Defaults that work on one machine: --network local (coldint chain serve), --hub-dir or HF_ENDPOINT of `coldint hub serve`,\n" +
			"--data with local text files.",
		Flags:  append(flags, hubClientFlags()...),
		Action: runValidate,
	}
}

func runValidate(c *cli.Context) error {
	stdio := ioFrom(c)
	ctx := c.Context
	netuid := c.Uint("netuid")
	if netuid > 65535 {
		return usageErrorf("parse --netuid %d: must be at most 65535", netuid)
	}
	device := c.String("device")
	var ec engineChoice
	budget, err := parseMaxMemory(c.String("max-memory"))
	if err != nil {
		return usageErrorf("validate: --max-memory: %v", err)
	}
	if mb := c.Int64("max-memory-mb"); !c.IsSet("max-memory") && mb != 0 {
		if mb < -1 {
			return usageErrorf("parse --max-memory-mb %d: want a size in MiB, 0 (the device's default) or -1 (no budget)", mb)
		}
		budget = max(mb<<20, model.NoBudget)
	}
	if device != "random" {
		var err error
		if ec, err = resolveEngine(c, "validate"); err != nil {
			return err
		}
		// The workers would each compute the default; the budget check of
		// models that may not be sliced needs it here.
		if budget == 0 {
			if budget, err = model.DefaultBudget(ec.Device); err != nil {
				return fmt.Errorf("validate: %w", err)
			}
		}
	}
	modelDir := expandHome(c.String("model-dir"))
	if err := os.MkdirAll(modelDir, 0o755); err != nil {
		return fmt.Errorf("create model dir: %w", err)
	}
	cc, err := openChain(c)
	if err != nil {
		return err
	}
	defer cc.Close()

	h, err := openHub(c)
	if err != nil {
		return err
	}

	src, taskSources, err := validateSources(ctx, c.StringSlice("data"), c.String("dataset"))
	if err != nil {
		return err
	}

	var scorer eval.Scorer = eval.RandomScorer{}
	if device != "random" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find own executable for the eval worker: %w", err)
		}
		scorer = &eval.SubprocessScorer{Command: []string{exe, "--log-level", "warn", "eval-worker"}, Timeout: c.Duration("eval-timeout"), Stderr: stdio.Err}
	}

	opts := eval.Options{
		Chain: cc.Reader, Netuid: chain.NetUID(netuid), Hub: h, Source: src, TaskSources: taskSources, Scorer: scorer,
		Loader:   eval.NewLoader(c.String("competitions"), c.String("hall-of-fame")),
		ModelDir: modelDir, MaxMemory: budget, Threads: c.Int("threads"),
		Device: ec.Device.String(), DType: string(ec.DType), ParamBytes: ec.DType.Bytes(),
		WeightInterval: c.Duration("weights-interval"), ChainInterval: c.Duration("chain-interval"),
		WeightsTick: c.Duration("weights-tick"), HashCommitReveal: c.Bool("hash-commit-reveal"),
		HoFOnly: c.Bool("hof-only"), IgnoreHash: c.Bool("ignore-model-hash"), NoClean: c.Bool("no-clean"),
		StoreSizeGB: c.Float64("model-store-size-gb"), DownloadMargin: int64(c.Float64("download-margin-gb") * eval.GB),
		BenchmarkFile: c.String("benchmark-file"), SaveStepJSON: c.String("save-step-json"), Seed: c.Uint64("seed"),
		Logger: slog.Default(),
	}
	if opts.DownloadMargin <= 0 {
		opts.DownloadMargin = 1
	}
	if !c.Bool("offline") && !c.Bool("dont-set-weights") {
		hk, err := loadHotkey(c)
		if err != nil {
			return fmt.Errorf("validate: a hotkey is needed to set weights (or pass --dont-set-weights): %w", err)
		}
		opts.Hotkey = hk.AccountID()
		opts.Setter = cc.As(hk)
		if mg, err := cc.Reader.Metagraph(ctx, opts.Netuid); err == nil {
			nr, ok := mg.ByHotkey(opts.Hotkey)
			if !ok {
				return fmt.Errorf("validate: hotkey %s is not registered on subnet %d: %w", hk.AccountID(), netuid, chain.ErrNotRegistered)
			}
			opts.Loader.UID = int(nr.UID) // per-UID competitions override (docs/validator.md#competitionsjson)
		}
	}
	var bar *progress
	var barPhase string
	var mu sync.Mutex
	opts.OnProgress = func(phase string, done, total int) {
		mu.Lock()
		defer mu.Unlock()
		if phase != barPhase {
			bar.Finish()
			bar, barPhase = newProgress(stdio, int64(total), phase, false), phase
		}
		bar.Set(int64(done))
	}
	v, err := eval.New(opts)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdio.Out)
	return v.Run(ctx, c.Int("max-steps"), c.Duration("idle-sleep"), func(r *eval.StepReport) {
		mu.Lock()
		bar.Finish()
		bar, barPhase = nil, ""
		mu.Unlock()
		if c.Bool("json") {
			_ = enc.Encode(r)
		}
		_ = r.WriteTable(stdio.Err)
	})
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return p
}

// validateDeviceFlag is --device of the validator: an engine device, or
// random for fake losses (tests).
func validateDeviceFlag() cli.Flag {
	f := deviceFlag().(*cli.StringFlag)
	f.Usage += "; or random (fake losses, for tests)"
	return f
}
