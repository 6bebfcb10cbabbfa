package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/data"
	"github.com/coldint/coldint/miner"
)

// minePrecheckOptions are the inputs of `coldint mine precheck`, and of the
// pre-check stage of `coldint mine` (which fills Model, Competition,
// Competitions, Data, Threads and Out from its training flags).
type minePrecheckOptions struct {
	F       *Factory
	Samples int
	Dataset string
	// OldDataset is --dataset, as `mine precheck` spelled --precheck-dataset
	// before --dataset meant the training stream of `mine`.
	OldDataset   string
	Best         string
	Seed         uint64
	Model        string
	Competition  string
	Competitions string
	Data         cli.StringSlice
	Threads      int
	Out          string
	JSON         bool
	// OwnDType: --dtype is the pre-check's compute dtype. In `mine` it is
	// the training's, and the pre-check computes in the device's default.
	OwnDType bool
}

// newMinePrecheckCmd is `coldint mine precheck`. runF replaces
// runMinePrecheck in tests.
func newMinePrecheckCmd(f *Factory, runF func(context.Context, *minePrecheckOptions) error) *cli.Command {
	o := &minePrecheckOptions{F: f, OwnDType: true}
	if runF == nil {
		runF = runMinePrecheck
	}
	flags := append(minePrecheckFlags(o),
		&cli.StringFlag{Name: "model", Required: true, Usage: "model folder to check", Destination: &o.Model},
		mineCompetitionFlagTo(&o.Competition, true),
		competitionsFlagTo(&o.Competitions, ""),
		&cli.StringSliceFlag{Name: "data", Usage: "local text for samples (default: the datasets-server)", Destination: &o.Data},
		threadsFlagTo(&o.Threads),
		&cli.StringFlag{Name: "out", Usage: "folder for the downloaded best model (default: a temp folder)", Destination: &o.Out},
		&cli.StringFlag{Name: "dataset", Hidden: true, Usage: "--precheck-dataset, as earlier versions spelled it", Destination: &o.OldDataset},
	)
	flags = append(append(flags, f.engineFlags()...), mineSharedFlags(f, &o.JSON)...)
	return &cli.Command{
		Name:      "precheck",
		Usage:     "check a model against a competition's constraints and its current best (expected win rate)",
		UsageText: "coldint mine precheck --model DIR --competition C [--data PATH...] [flags]",
		Flags:     flags,
		Action: func(c *cli.Context) error {
			if o.OldDataset != "" && !c.IsSet("precheck-dataset") {
				o.Dataset = o.OldDataset
			}
			return runF(c.Context, o)
		},
	}
}

// minePrecheckFlags are the pre-check's own flags, bound to o: one
// constructor for `mine` and `mine precheck`.
func minePrecheckFlags(o *minePrecheckOptions) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "samples", Value: 200, Usage: "fresh samples for the local evaluation", Category: "precheck", Destination: &o.Samples},
		&cli.StringFlag{Name: "precheck-dataset", Value: data.DefaultDataset, Usage: "dataset of the datasets-server the pre-check samples from when --data is not given", Category: "precheck", Destination: &o.Dataset},
		&cli.StringFlag{Name: "best", Usage: "model folder of the current best (default: found on chain and downloaded)", Category: "precheck", Destination: &o.Best},
		&cli.Uint64Flag{Name: "precheck-seed", Usage: "seed of the sample choice (0: random)", Category: "precheck", Destination: &o.Seed},
	}
}

func runMinePrecheck(ctx context.Context, o *minePrecheckOptions) error {
	_, err := o.run(ctx)
	return err
}

// run pre-checks o.Model, prints the result and returns the expected win
// rate.
func (o *minePrecheckOptions) run(ctx context.Context) (float64, error) {
	po, err := o.minerOptions(ctx)
	if err != nil {
		return 0, err
	}
	res, err := miner.Precheck(ctx, po)
	if err != nil {
		return 0, err
	}
	if o.JSON {
		return res.WinRate, writeJSON(o.F.IO.Out, res)
	}
	_, err = fmt.Fprintf(o.F.IO.Out, "%s meets the constraints of %s (%s, %d repo bytes)\nsamples %d: loss %.4f vs best %.4f (best's advantage factor %.5f)\nexpected win rate %.3f (absolute %.3f)\n",
		res.Model, res.Competition, res.Check.ClassName, res.Check.RepoBytes, res.Samples, res.LossAvg, res.BestLossAvg, res.BestAdvFact, res.WinRate, res.WinAbsRate)
	return res.WinRate, err
}

// minerOptions checks the flags (a bad --device fails before any
// download), loads the competitions and opens the sample source.
func (o *minePrecheckOptions) minerOptions(ctx context.Context) (miner.PrecheckOptions, error) {
	var po miner.PrecheckOptions
	if o.Threads < 0 {
		return po, usageErrorf("parse --threads %d: must be >= 0", o.Threads)
	}
	dtype := "auto"
	if o.OwnDType {
		dtype = o.F.Engine.DType
	}
	ec, err := resolveEngineStrings("mine precheck", o.F.Engine.Device, dtype)
	if err != nil {
		return po, err
	}
	if o.Competition == "" {
		return po, usageErrorf("mine precheck: --competition is required")
	}
	if o.Samples < 1 {
		return po, usageErrorf("parse --samples %d: must be at least 1", o.Samples)
	}
	cfg, err := miner.LoadCompetitions(ctx, o.Competitions)
	if err != nil {
		return po, err
	}
	if _, ok := cfg.Competition(o.Competition); !ok {
		return po, usageErrorf("mine precheck: competition %q not in %s (have %s)", o.Competition, o.Competitions, strings.Join(cfg.Names(), ", "))
	}
	best, err := mineBestSource(o.F, o.Competition)
	if err != nil {
		return po, err
	}
	po = miner.PrecheckOptions{Model: o.Model, Config: cfg, Competition: o.Competition, BestDir: o.Best, Best: best, CacheDir: o.Out,
		Samples: o.Samples, Seed: o.Seed, Device: ec.Device, DType: ec.DType, Threads: o.Threads}
	if paths := o.Data.Value(); len(paths) > 0 {
		if po.Source, err = data.OpenLocal(ctx, paths, data.LocalOptions{}); err != nil {
			return po, err
		}
	} else {
		po.Source = data.NewServer(o.Dataset)
	}
	return po, nil
}
