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

// demoCommand is `coldint demo`: a whole local competition on one machine.
func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a whole local competition: chain, hub, corpus, miners that train and publish, validator steps, leaderboard",
		Description: "Starts the embedded chain and a local hub server, creates a subnet with a competitions.json, registers\n" +
			"a validator and miners, builds the public-domain corpus from Debian packages (jargon-text, dict-devil), has\n" +
			"the miners train tiny LLaMA models differently (one from scratch, one by surgery on it, one a copy) and\n" +
			"publish them, runs validator steps and prints the leaderboard. Everything stays in --dir; the printed\n" +
			"commands (coldint serve, generate, validate) work against it afterwards.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "miners", Value: 3, Usage: "number of miners (2..8)"},
			&cli.IntFlag{Name: "validator-steps", Aliases: []string{"steps"}, Value: 3, Usage: "validator steps"},
			&cli.IntFlag{Name: "train-steps", Value: 60, Usage: "optimizer steps of the first miner"},
			&cli.StringFlag{Name: "dir", Value: "demo", Usage: "demo folder: a new or empty one, or one an earlier demo made (its contents are replaced); any other folder is refused"},
			&cli.IntFlag{Name: "threads", Usage: "libtorch threads (0: all cores)"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON on stdout (the report goes to stderr)"},
		},
		Action: runDemo,
	}
}

func runDemo(c *cli.Context) error {
	stdio := ioFrom(c)
	if c.Int("threads") < 0 {
		return usageErrorf("parse --threads %d: must be >= 0", c.Int("threads"))
	}
	if n := c.Int("miners"); n < 2 || n > 8 {
		return usageErrorf("parse --miners %d: must be between 2 and 8", n)
	}
	if n := c.Int("validator-steps"); n < 1 || n > 50 {
		return usageErrorf("parse --steps %d: must be between 1 and 50", n)
	}
	if n := c.Int("train-steps"); n < 1 || n > 100000 {
		return usageErrorf("parse --train-steps %d: must be between 1 and 100000", n)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable for the eval worker: %w", err)
	}
	eng, err := model.NewEngine(c.Int("threads"))
	if err != nil {
		return err
	}
	defer eng.Close()
	report := stdio.Out
	if c.Bool("json") {
		report = stdio.Err
	}
	// The demo writes its components' logs to demo.log in its folder and
	// tells their warnings in the report; --log-level debug also sends every
	// record to stderr as usual.
	var logger *slog.Logger
	if c.String("log-level") == "debug" {
		logger = slog.Default()
	}
	res, err := demorun.Run(c.Context, demorun.Options{
		Dir: c.String("dir"), Miners: c.Int("miners"), Steps: c.Int("validator-steps"), TrainSteps: c.Int("train-steps"),
		Trainer: &engineTrainer{eng: eng, out: report},
		Scorer: &eval.SubprocessScorer{Command: []string{exe, "--log-level", "warn", "eval-worker"},
			Timeout: 10 * time.Minute, Stderr: stdio.Err},
		Threads: c.Int("threads"), Exe: exe, Out: report, Logger: logger,
	})
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(stdio.Out, res)
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
