package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/evalproof"
	"github.com/coldint/coldint/model"
)

// validateOptions are the inputs of `coldint validate`.
type validateOptions struct {
	F                *Factory
	Competitions     string
	HallOfFame       string
	Data             cli.StringSlice
	Dataset          string
	ModelDir         string
	MaxMemory        string
	MaxMemoryMB      int64 // legacy --max-memory-mb, used when --max-memory is not set
	MaxMemorySet     bool
	Threads          int
	EvalTimeout      time.Duration
	MaxSteps         int
	Offline          bool
	DontSetWeights   bool
	HoFOnly          bool
	IgnoreModelHash  bool
	NoClean          bool
	WeightsInterval  time.Duration
	ChainInterval    time.Duration
	WeightsTick      time.Duration
	HashCommitReveal bool
	IdleSleep        time.Duration
	StoreSizeGB      float64
	DownloadMarginGB float64
	BenchmarkFile    string
	SaveStepJSON     string
	Seed             uint64
	JSON             bool
	Publish          string
}

// newValidateCmd is `coldint validate`: the subnet-29 validator
// (docs/validator.md#overview). runF replaces runValidate in tests.
func newValidateCmd(f *Factory, runF func(context.Context, *validateOptions) error) *cli.Command {
	o := &validateOptions{F: f}
	if runF == nil {
		runF = runValidate
	}
	return &cli.Command{
		Name:  "validate",
		Usage: "run the validator: sync models from the chain and hub, evaluate them, score and set weights",
		Description: "The subnet-29 validator loop (v1.0.16 behaviour, quirks fixed): chain sync, scheduling, model sync with\n" +
			"hash and constraint checks, samples, losses in an isolated worker process per model, eval cache, scoring, weights.\n" +
			"Defaults that work on one machine: --network local (coldint chain serve), --hub-dir or HF_ENDPOINT of `coldint hub serve`,\n" +
			"--data with local text files.",
		Flags: validateFlags(f, o),
		Action: func(c *cli.Context) error {
			o.MaxMemorySet = c.IsSet("max-memory")
			return runF(c.Context, o)
		},
	}
}

func validateFlags(f *Factory, o *validateOptions) []cli.Flag {
	flags := append(f.chainFlags(),
		&cli.StringFlag{Name: "competitions", Value: eval.CompetitionsURL, Usage: "competitions.json URL or file", Category: "config", Destination: &o.Competitions},
		&cli.StringFlag{Name: "hall-of-fame", Value: eval.HOFURL, Usage: "hall_of_fame.json URL or file (\"\": none)", Category: "config", Destination: &o.HallOfFame},
		&cli.StringSliceFlag{Name: "data", Usage: "local text source: .txt, .jsonl, .jsonl.gz files or folders (default: the datasets-server); NAME=PATH gives evaluation task NAME local text", Category: "data", Destination: &o.Data},
		&cli.StringFlag{Name: "dataset", Value: "HuggingFaceFW/fineweb-edu-score-2", Usage: "dataset of the datasets-server (HF_DATASETS_SERVER sets its URL)", Category: "data", Destination: &o.Dataset},
		&cli.StringFlag{Name: "model-dir", Value: "~/.coldint/validator", Usage: "folder of downloaded models, laid out as a Hugging Face cache (it may be ~/.cache/huggingface/hub to share models with other tools), and the validator state (vali-state/)", Destination: &o.ModelDir},
		deviceFlagTo(&f.Engine.Device, "; or random (fake losses, for tests)"),
		dtypeFlagTo(&f.Engine.DType),
		maxMemoryFlagTo(&o.MaxMemory),
		&cli.Int64Flag{Name: "max-memory-mb", Hidden: true, Usage: "the budget in MiB, as earlier versions spelled it (-1: no budget); --max-memory takes precedence", Destination: &o.MaxMemoryMB},
		threadsFlagTo(&o.Threads),
		&cli.DurationFlag{Name: "eval-timeout", Value: eval.TTLModelEval, Usage: "hard time limit of one model's evaluation subprocess", Destination: &o.EvalTimeout},
		&cli.IntFlag{Name: "max-steps", Aliases: []string{"steps"}, Usage: "stop after this many evaluation passes (0: run forever)", Destination: &o.MaxSteps},
		&cli.BoolFlag{Name: "offline", Usage: "no weight setting and no registration check", Destination: &o.Offline},
		&cli.BoolFlag{Name: "dont-set-weights", Usage: "evaluate but never set weights", Destination: &o.DontSetWeights},
		&cli.BoolFlag{Name: "hof-only", Usage: "v1.0.17 wind-down mode: no evaluation, hall-of-fame weights only (cap 1.0)", Destination: &o.HoFOnly},
		&cli.BoolFlag{Name: "ignore-model-hash", Usage: "skip the salted-hash check (testing only)", Destination: &o.IgnoreModelHash},
		&cli.BoolFlag{Name: "no-clean", Usage: "never delete downloaded models", Destination: &o.NoClean},
		&cli.DurationFlag{Name: "weights-interval", Value: eval.WeightSetMinInterval, Usage: "least time between weight sets (negative: every step)", Destination: &o.WeightsInterval},
		&cli.DurationFlag{Name: "chain-interval", Value: eval.ChainUpdateInterval, Usage: "metagraph and commitments refresh period (negative: continuously)", Destination: &o.ChainInterval},
		&cli.DurationFlag{Name: "weights-tick", Value: 30e9, Usage: "how often the weights stage reveals due commits and checks the weights interval", Destination: &o.WeightsTick},
		&cli.BoolFlag{Name: "hash-commit-reveal", Usage: "on a commit-reveal subnet, use hash commits and reveals even where timelocked commits are offered", Destination: &o.HashCommitReveal},
		&cli.DurationFlag{Name: "idle-sleep", Value: 120e9, Usage: "sleep after a step that evaluated nothing", Destination: &o.IdleSleep},
		&cli.Float64Flag{Name: "model-store-size-gb", Value: -eval.DefaultMinFreeGB, Usage: "disk policy: >0 caps the model folder, ≤0 keeps that many GB free (at least 30)", Destination: &o.StoreSizeGB},
		&cli.Float64Flag{Name: "download-margin-gb", Value: eval.DownloadMinFreeMarginGB, Usage: "free disk needed over model_size before a download", Destination: &o.DownloadMarginGB},
		&cli.StringFlag{Name: "benchmark-file", Value: "benchmark.json", Usage: "benchmark.json: local models injected under a uid and evaluated with the miners' models, without hash or size checks (use offline or with --dont-set-weights)", Destination: &o.BenchmarkFile},
		&cli.StringFlag{Name: "save-step-json", Usage: "write each step's report here as JSON, in the reference validator's format (uid_data keyed by uid) plus coldint's fields; inf/nan written as \"inf\"/\"nan\"", Destination: &o.SaveStepJSON},
		&cli.Uint64Flag{Name: "seed", Usage: "seed of the validator's randomness (0: random)", Destination: &o.Seed},
		&cli.BoolFlag{Name: "json", Usage: "write one JSON step report per line to stdout (the --save-step-json form)", Destination: &o.JSON},
		publishFlagTo(&o.Publish),
	)
	flags = append(flags, f.walletFlags()...)
	return append(flags, f.hubFlags()...)
}

func runValidate(ctx context.Context, o *validateOptions) error {
	if o.F.Chain.Netuid > 65535 {
		return usageErrorf("parse --netuid %d: must be at most 65535", o.F.Chain.Netuid)
	}
	opts, err := o.evalOptions(ctx)
	if err != nil {
		return err
	}
	if !o.Offline && !o.DontSetWeights {
		if err := o.attachSetter(ctx, &opts); err != nil {
			return err
		}
	}
	bars := &stepBars{stdio: o.F.IO}
	opts.OnProgress = bars.progress
	v, err := eval.New(opts)
	if err != nil {
		return err
	}
	pub, err := o.publisher(&opts)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(o.F.IO.Out)
	return v.Run(ctx, o.MaxSteps, o.IdleSleep, func(r *eval.StepReport) {
		bars.finish()
		publishStep(ctx, pub, v, r)
		if o.JSON {
			_ = enc.Encode(r)
		}
		_ = r.WriteTable(o.F.IO.Err)
	})
}

// evalOptions builds the validator's options from the flags: engine and
// budget, model folder, chain, hub, text source and scorer.
func (o *validateOptions) evalOptions(ctx context.Context) (eval.Options, error) {
	ec, budget, err := o.engine()
	if err != nil {
		return eval.Options{}, err
	}
	modelDir := keys.ExpandPath(o.ModelDir)
	if err := os.MkdirAll(modelDir, 0o755); err != nil {
		return eval.Options{}, fmt.Errorf("create model dir: %w", err)
	}
	cc, err := o.F.ChainConn(ctx)
	if err != nil {
		return eval.Options{}, err
	}
	h, err := o.F.HubClient()
	if err != nil {
		return eval.Options{}, err
	}
	src, taskSources, err := validateSources(ctx, o.Data.Value(), o.Dataset)
	if err != nil {
		return eval.Options{}, err
	}
	scorer, err := o.scorer()
	if err != nil {
		return eval.Options{}, err
	}
	return eval.Options{
		Chain: cc.Reader, Netuid: chain.NetUID(o.F.Chain.Netuid), Hub: h, Source: src, TaskSources: taskSources, Scorer: scorer,
		Loader:   eval.NewLoader(o.Competitions, o.HallOfFame),
		ModelDir: modelDir, MaxMemory: budget, Threads: o.Threads,
		Device: ec.Device.String(), DType: string(ec.DType), ParamBytes: ec.DType.Bytes(),
		WeightInterval: o.WeightsInterval, ChainInterval: o.ChainInterval,
		WeightsTick: o.WeightsTick, HashCommitReveal: o.HashCommitReveal,
		HoFOnly: o.HoFOnly, IgnoreHash: o.IgnoreModelHash, NoClean: o.NoClean,
		StoreSizeGB: o.StoreSizeGB, DownloadMargin: max(int64(o.DownloadMarginGB*eval.GB), 1),
		BenchmarkFile: o.BenchmarkFile, SaveStepJSON: o.SaveStepJSON, Seed: o.Seed,
		Logger: slog.Default(),
	}, nil
}

// engine resolves the device (unless it is random) and the weight budget:
// --max-memory, else the legacy --max-memory-mb, else the device's default.
func (o *validateOptions) engine() (engineChoice, int64, error) {
	budget, err := parseMaxMemory(o.MaxMemory)
	if err != nil {
		return engineChoice{}, 0, usageErrorf("validate: --max-memory: %v", err)
	}
	if mb := o.MaxMemoryMB; !o.MaxMemorySet && mb != 0 {
		if mb < -1 {
			return engineChoice{}, 0, usageErrorf("parse --max-memory-mb %d: want a size in MiB, 0 (the device's default) or -1 (no budget)", mb)
		}
		budget = max(mb<<20, model.NoBudget)
	}
	if o.F.Engine.Device == "random" {
		return engineChoice{}, budget, nil
	}
	ec, err := o.F.EngineChoice("validate")
	if err != nil {
		return ec, 0, err
	}
	// The workers would each compute the default; the budget check of
	// models that may not be sliced needs it here.
	if budget == 0 {
		if budget, err = model.DefaultBudget(ec.Device); err != nil {
			return ec, 0, fmt.Errorf("validate: %w", err)
		}
	}
	return ec, budget, nil
}

// publisher is --publish (nil without it).
func (o *validateOptions) publisher(opts *eval.Options) (*evalproof.Publisher, error) {
	if o.Publish == "" {
		return nil, nil
	}
	dataset := ""
	if len(o.Data.Value()) == 0 {
		dataset = o.Dataset
	}
	return stepPublisher(o.Publish, opts.Hub, opts, dataset)
}

// scorer evaluates each model in an eval-worker subprocess of this
// executable, or fakes losses for --device random.
func (o *validateOptions) scorer() (eval.Scorer, error) {
	if o.F.Engine.Device == "random" {
		return eval.RandomScorer{}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable for the eval worker: %w", err)
	}
	return &eval.SubprocessScorer{Command: []string{exe, "--log-level", "warn", "eval-worker"}, Timeout: o.EvalTimeout, Stderr: o.F.IO.Err}, nil
}

// attachSetter loads the hotkey that sets weights and checks that it is
// registered (its uid selects per-uid competition overrides).
func (o *validateOptions) attachSetter(ctx context.Context, opts *eval.Options) error {
	hk, err := o.F.Hotkey(ctx)
	if err != nil {
		return fmt.Errorf("validate: a hotkey is needed to set weights (or pass --dont-set-weights): %w", err)
	}
	cc, err := o.F.ChainConn(ctx)
	if err != nil {
		return err
	}
	opts.Hotkey = hk.AccountID()
	opts.Setter = cc.As(hk)
	if opts.Beacon, err = chainBeacon(ctx, cc.Reader); err != nil {
		return err
	}
	mg, err := cc.Reader.Metagraph(ctx, opts.Netuid)
	if err != nil {
		return nil
	}
	nr, ok := mg.ByHotkey(opts.Hotkey)
	if !ok {
		return fmt.Errorf("validate: hotkey %s is not registered on subnet %d: %w", hk.AccountID(), opts.Netuid, chain.ErrNotRegistered)
	}
	opts.Loader.UID = int(nr.UID) // per-UID competitions override (docs/validator.md#competitionsjson)
	return nil
}

// stepBars draws one progress bar per phase of a validator step.
type stepBars struct {
	stdio IO
	mu    sync.Mutex
	bar   *progress
	phase string
}

func (b *stepBars) progress(phase string, done, total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if phase != b.phase {
		b.bar.Finish()
		b.bar, b.phase = newProgress(b.stdio, int64(total), phase, false), phase
	}
	b.bar.Set(int64(done))
}

func (b *stepBars) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bar.Finish()
	b.bar, b.phase = nil, ""
}
