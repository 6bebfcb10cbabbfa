package commands

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/coldint/coldint/demorun"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/tokenizer"
	"github.com/coldint/coldint/train"
	"github.com/urfave/cli/v2"
)

// demoOptions are the inputs of `coldint demo`.
type demoOptions struct {
	IO             IO
	Miners         int
	ValidatorSteps int
	TrainSteps     int
	Dir            string
	Threads        int
	JSON           bool
	DebugLog       bool // --log-level debug: every record also goes to stderr
}

// newDemoCmd is `coldint demo`: a whole local competition on one machine.
// runF replaces runDemo in tests.
func newDemoCmd(f *Factory, runF func(context.Context, *demoOptions) error) *cli.Command {
	o := &demoOptions{IO: f.IO}
	if runF == nil {
		runF = runDemo
	}
	return &cli.Command{
		Name:  "demo",
		Usage: "run a whole local competition: chain, hub, corpus, miners that train and publish, validator steps, leaderboard",
		Description: "Starts the embedded chain and a local hub server, creates a subnet with a competitions.json, registers\n" +
			"a validator and miners, builds the public-domain corpus from Debian packages (jargon-text, dict-devil), has\n" +
			"the miners train tiny LLaMA models differently (one from scratch, one by surgery on it, one a copy) and\n" +
			"publish them, runs validator steps and prints the leaderboard. Everything stays in --dir; the printed\n" +
			"commands (coldint serve, generate, validate) work against it afterwards.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "miners", Value: 3, Usage: "number of miners (2..8)", Destination: &o.Miners},
			&cli.IntFlag{Name: "validator-steps", Aliases: []string{"steps"}, Value: 3, Usage: "validator steps", Destination: &o.ValidatorSteps},
			&cli.IntFlag{Name: "train-steps", Value: 60, Usage: "optimizer steps of the first miner", Destination: &o.TrainSteps},
			&cli.StringFlag{Name: "dir", Value: "demo", Usage: "demo folder: a new or empty one, or one an earlier demo made (its contents are replaced); any other folder is refused", Destination: &o.Dir},
			threadsFlagTo(&o.Threads),
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON on stdout (the report goes to stderr)", Destination: &o.JSON},
		},
		Action: func(c *cli.Context) error {
			o.DebugLog = c.String("log-level") == "debug"
			return runF(c.Context, o)
		},
	}
}

// check rejects flag values out of range.
func (o *demoOptions) check() error {
	if o.Threads < 0 {
		return usageErrorf("parse --threads %d: must be >= 0", o.Threads)
	}
	if n := o.Miners; n < 2 || n > 8 {
		return usageErrorf("parse --miners %d: must be between 2 and 8", n)
	}
	if n := o.ValidatorSteps; n < 1 || n > 50 {
		return usageErrorf("parse --steps %d: must be between 1 and 50", n)
	}
	if n := o.TrainSteps; n < 1 || n > 100000 {
		return usageErrorf("parse --train-steps %d: must be between 1 and 100000", n)
	}
	return nil
}

func runDemo(ctx context.Context, o *demoOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable for the eval worker: %w", err)
	}
	eng, err := model.NewEngine(o.Threads)
	if err != nil {
		return err
	}
	defer eng.Close()
	report := o.IO.Out
	if o.JSON {
		report = o.IO.Err
	}
	// The demo writes its components' logs to demo.log in its folder and
	// tells their warnings in the report; --log-level debug also sends every
	// record to stderr as usual.
	var logger *slog.Logger
	if o.DebugLog {
		logger = slog.Default()
	}
	res, err := demorun.Run(ctx, demorun.Options{
		Dir: o.Dir, Miners: o.Miners, Steps: o.ValidatorSteps, TrainSteps: o.TrainSteps,
		Trainer: &engineTrainer{eng: eng, out: report},
		Scorer: &eval.SubprocessScorer{Command: []string{exe, "--log-level", "warn", "eval-worker"},
			Timeout: 10 * time.Minute, Stderr: o.IO.Err},
		Threads: o.Threads, Exe: exe, Out: report, Logger: logger,
	})
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(o.IO.Out, res)
	}
	return nil
}

// engineTrainer implements demorun.Trainer with the engine's trainer and
// the train loop (what `coldint mine train` does).
type engineTrainer struct {
	eng *model.Engine
	out interface{ Write([]byte) (int, error) }
}

func (t *engineTrainer) Train(ctx context.Context, job demorun.TrainJob) (demorun.TrainResult, error) {
	tok, err := tokenizer.Load(job.Tokenizer)
	if err != nil {
		return demorun.TrainResult{}, err
	}
	eos := tok.Roles().EOS
	if eos < 0 {
		if id, ok := tok.TokenID(demorun.EndOfText); ok {
			eos = id
		}
	}
	corpus := &train.TextCorpus{Texts: job.Texts, EOS: int32(eos), Encode: encodeInt32(tok)}
	d, err := train.NewData(corpus, train.DataConfig{SeqLen: job.SeqLen, Pack: true, Seed: job.Seed,
		EvalDocs: min(40, len(job.Texts)/10), EvalRows: 16, PadID: int32(max(eos, 0))})
	if err != nil {
		return demorun.TrainResult{}, err
	}
	cfg := train.DefaultConfig()
	cfg.Steps, cfg.Batch, cfg.LR, cfg.Warmup = job.Steps, job.Batch, job.LR, max(1, job.Steps/10)
	cfg.EvalEvery, cfg.CheckpointEvery, cfg.Out = 0, 0, job.Out
	tr, err := t.eng.NewTrainer(ctx, job.Init)
	if err != nil {
		return demorun.TrainResult{}, err
	}
	defer tr.Close()
	start := time.Now()
	last := start
	final, err := train.Run(ctx, tr, d, cfg, nil, train.Hooks{Step: func(s train.StepInfo) {
		if time.Since(last) > 10*time.Second || s.Step == s.Total {
			last = time.Now()
			fmt.Fprintf(t.out, "          step %d/%d loss %.3f (%.0f tokens/s)\n", s.Step, s.Total, s.Loss, s.TokensPS)
		}
	}})
	if err != nil {
		return demorun.TrainResult{}, err
	}
	dst := filepath.Join(job.Out, "model")
	if err := tr.SaveModel(ctx, dst, safetensors.BF16); err != nil {
		return demorun.TrainResult{}, err
	}
	if err := modeldir.CopyTokenizer(job.Tokenizer, dst); err != nil {
		return demorun.TrainResult{}, err
	}
	res := demorun.TrainResult{Model: dst, Tokens: final.Tokens}
	if n := len(final.Evals); n > 0 {
		res.LossStart, res.LossEnd = final.Evals[0].Loss, final.Evals[n-1].Loss
	}
	slog.Debug("trained", "model", dst, "seconds", time.Since(start).Seconds())
	return res, nil
}
