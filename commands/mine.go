package commands

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/eval"
)

// mineOptions are the inputs of `coldint mine`: the three stages' options,
// filled by one set of flags.
type mineOptions struct {
	Train      mineTrainOptions
	Precheck   minePrecheckOptions
	Publish    minePublishOptions
	MinWinRate float64
}

// newMineCmd is `coldint mine`: train, pre-check and publish a model
// (docs/mining.md), or each step alone as a subcommand. runF replaces
// runMine in tests.
func newMineCmd(f *Factory, runF func(context.Context, *mineOptions) error) *cli.Command {
	o := &mineOptions{Train: mineTrainOptions{F: f}, Precheck: minePrecheckOptions{F: f}, Publish: minePublishOptions{F: f}}
	if runF == nil {
		runF = runMine
	}
	flags := append(mineTrainFlags(f, &o.Train), minePrecheckFlags(&o.Precheck)...)
	flags = append(append(flags, minePublishFlags(&o.Publish, false)...), mineSharedFlags(f, &o.Train.JSON)...)
	flags = append(flags, &cli.Float64Flag{Name: "min-win-rate", Value: 0.5, Usage: "publish only when the pre-check's expected win rate is at least this", Destination: &o.MinWinRate})
	return &cli.Command{
		Name:  "mine",
		Usage: "train a model, check it against the current best and publish it (hub upload + chain commitment)",
		Description: `Without a subcommand, runs train → precheck → publish with the same flags: it trains from
--init or --from-best, pre-checks the result in --competition, and when the expected win
rate reaches --min-win-rate publishes it to --repo. Each step is also a subcommand.`,
		Flags: flags,
		Action: func(c *cli.Context) error {
			o.Train.DataFilesSet, o.Train.DiskBudgetSet = c.IsSet("data-files"), c.IsSet("disk-budget")
			return runF(c.Context, o)
		},
		Subcommands: []*cli.Command{
			newMineTrainCmd(f, nil),
			newMinePrecheckCmd(f, nil),
			newMinePublishCmd(f, nil),
			newMineCommitCmd(f, nil),
		},
	}
}

// runMine trains, pre-checks the trained model with the training's
// competition, data, threads and run folder, and publishes it when its
// expected win rate is high enough and --repo is given. A process that did
// not write the final model (a --nproc launcher, a rank other than 0) stops
// after training.
func runMine(ctx context.Context, o *mineOptions) error {
	t := &o.Train
	dir, err := t.run(ctx)
	if err != nil || dir == "" {
		return err
	}
	pre := o.Precheck
	pre.Model, pre.Competition, pre.Competitions, pre.Data = dir, t.Competition, t.Competitions, t.Data
	pre.Threads, pre.Out, pre.JSON, pre.OwnDType = t.Threads, t.Out, t.JSON, false
	rate, err := pre.run(ctx)
	if err != nil {
		return err
	}
	if rate < o.MinWinRate {
		return fmt.Errorf("mine: expected win rate %.3f is below --min-win-rate %.3f; not publishing %q", rate, o.MinWinRate, dir)
	}
	if o.Publish.Repo == "" {
		slog.Warn("no --repo: the model is not published", "model", dir)
		return nil
	}
	pub := o.Publish
	pub.Model, pub.Competition, pub.JSON = dir, t.Competition, t.JSON
	return runMinePublish(ctx, &pub)
}

// mineSharedFlags are --json and the chain, wallet and hub flags of the
// miner's commands.
func mineSharedFlags(f *Factory, json *bool) []cli.Flag {
	return append(mineChainFlags(f, json), f.hubFlags()...)
}

// mineChainFlags are --json and the chain and wallet flags.
func mineChainFlags(f *Factory, json *bool) []cli.Flag {
	return append(append([]cli.Flag{jsonFlagTo(json)}, f.chainFlags()...), f.walletFlags()...)
}

// mineCompetitionFlagTo is --competition of the miner's commands (required
// where the command cannot work without it).
func mineCompetitionFlagTo(dest *string, required bool) cli.Flag {
	return &cli.StringFlag{Name: "competition", Required: required, Usage: "competition name (c00 ...)", Category: "competition", Destination: dest}
}

// competitionsFlagTo is --competitions: where competitions.json is read.
func competitionsFlagTo(dest *string, category string) cli.Flag {
	return &cli.StringFlag{Name: "competitions", Value: eval.CompetitionsURL, Usage: "competitions.json URL or file", Category: category, Destination: dest}
}
