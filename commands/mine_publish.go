package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/miner"
	"github.com/coldint/coldint/train/publish"
)

// mineCommitFlags are the commitment's retry flags of `mine publish`,
// `mine commit` and `mine`.
type mineCommitFlags struct {
	Rounds         int
	ReadBackDelay  time.Duration
	RateLimitDelay time.Duration
}

func (m *mineCommitFlags) flags(category string) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "commit-rounds", Value: 10, Usage: "commit attempts", Category: category, Destination: &m.Rounds},
		&cli.DurationFlag{Name: "read-back-delay", Value: 12 * time.Second, Usage: "wait between read-backs", Category: category, Destination: &m.ReadBackDelay},
		&cli.DurationFlag{Name: "rate-limit-delay", Value: 60 * time.Second, Usage: "wait after a rate-limited commit", Category: category, Destination: &m.RateLimitDelay},
	}
}

// minePublishOptions are the inputs of `coldint mine publish`, and of the
// publishing stage of `coldint mine` (which fills Model and Competition).
type minePublishOptions struct {
	F           *Factory
	Repo        string
	KeepPrivate bool
	UploadDType string
	State       string
	Commit      mineCommitFlags
	Model       string
	Competition string
	JSON        bool
}

// newMinePublishCmd is `coldint mine publish`. runF replaces runMinePublish
// in tests.
func newMinePublishCmd(f *Factory, runF func(context.Context, *minePublishOptions) error) *cli.Command {
	o := &minePublishOptions{F: f}
	if runF == nil {
		runF = runMinePublish
	}
	flags := append(minePublishFlags(o, true),
		&cli.StringFlag{Name: "model", Required: true, Usage: "model folder to publish", Destination: &o.Model},
		mineCompetitionFlagTo(&o.Competition, true),
	)
	return &cli.Command{
		Name:      "publish",
		Usage:     "upload a model to the hub and commit it on chain (resumable: a second run picks up where the first stopped)",
		UsageText: "coldint mine publish --model DIR --repo NS/NAME --competition C [flags]",
		Flags:     append(flags, mineSharedFlags(f, &o.JSON)...),
		Action:    func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

// minePublishFlags are the publishing flags, bound to o: one constructor
// for `mine` (--repo optional: without it nothing is published) and
// `mine publish` (--repo required).
func minePublishFlags(o *minePublishOptions, standalone bool) []cli.Flag {
	category := "publish"
	if standalone {
		category = ""
	}
	return append([]cli.Flag{
		&cli.StringFlag{Name: "repo", Required: standalone, Usage: "hub repo ns/name (ns+name+competition ≤ 40 characters)", Category: category, Destination: &o.Repo},
		&cli.BoolFlag{Name: "keep-private", Usage: "leave the repo private (validators cannot download it)", Category: "publish", Destination: &o.KeepPrivate},
		&cli.StringFlag{Name: "upload-dtype", Usage: "convert the weights before upload: bf16, f16 or f32 (default: as saved)", Category: "publish", Destination: &o.UploadDType},
		&cli.StringFlag{Name: "publish-state", Aliases: []string{"state"}, Usage: "publish progress file (default: <model>.publish.json)", Category: "publish", Destination: &o.State},
	}, o.Commit.flags("publish")...)
}

func runMinePublish(ctx context.Context, o *minePublishOptions) error {
	repo, err := hf.ParseRepoID(o.Repo)
	if err != nil {
		return &UsageError{Err: err}
	}
	if o.Competition == "" {
		return usageErrorf("mine publish: --competition is required")
	}
	netuid, err := mineNetuid(o.F)
	if err != nil {
		return err
	}
	var dt safetensors.DType
	if o.UploadDType != "" {
		if dt, err = publish.ParseDType(o.UploadDType); err != nil {
			return &UsageError{Err: err}
		}
	}
	hk, err := o.F.Hotkey(ctx)
	if err != nil {
		return err
	}
	h, err := o.F.HubClient()
	if err != nil {
		return err
	}
	cc, err := o.F.ChainConn(ctx)
	if err != nil {
		return err
	}
	bar := newProgress(o.F.IO, -1, "publishing", true)
	st, err := miner.Publish(ctx, publish.Options{
		Dir: o.Model, Repo: repo, Competition: o.Competition, Netuid: netuid, Hotkey: hk.AccountID(), Hub: h, Chain: cc.As(hk),
		KeepPrivate: o.KeepPrivate, StateFile: o.State, CommitRounds: o.Commit.Rounds,
		ReadBackDelay: o.Commit.ReadBackDelay, RateLimitDelay: o.Commit.RateLimitDelay,
	}, dt)
	bar.Finish()
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(o.F.IO.Out, st)
	}
	vis := "public"
	if !st.Public {
		vis = "private"
	}
	_, err = fmt.Fprintf(o.F.IO.Out, "published %s@%s (%s) and committed in block %d:\n%s\n", repo, st.Commit, vis, st.Block, st.ModelID)
	return err
}

// mineCommitOptions are the inputs of `coldint mine commit`.
type mineCommitOptions struct {
	F       *Factory
	ModelID string
	Commit  mineCommitFlags
	JSON    bool
}

// newMineCommitCmd is `coldint mine commit`. runF replaces runMineCommit in
// tests.
func newMineCommitCmd(f *Factory, runF func(context.Context, *mineCommitOptions) error) *cli.Command {
	o := &mineCommitOptions{F: f}
	if runF == nil {
		runF = runMineCommit
	}
	flags := append([]cli.Flag{&cli.StringFlag{Name: "model-id", Required: true, Usage: "the compressed model id", Destination: &o.ModelID}}, o.Commit.flags("")...)
	return &cli.Command{
		Name:      "commit",
		Usage:     "commit an existing model id on chain and read it back",
		UsageText: "coldint mine commit --model-id NS:NAME:COMMIT:HASH:COMPETITION [flags]",
		Flags:     append(flags, mineChainFlags(f, &o.JSON)...),
		Action:    func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runMineCommit(ctx context.Context, o *mineCommitOptions) error {
	id, err := chain.ParseModelID(o.ModelID)
	if err != nil {
		return &UsageError{Err: err}
	}
	if id.String() != o.ModelID {
		return usageErrorf("parse --model-id %q: does not re-serialize identically", o.ModelID)
	}
	if err := id.Validate(); err != nil {
		return &UsageError{Err: err}
	}
	netuid, err := mineNetuid(o.F)
	if err != nil {
		return err
	}
	hk, signed, err := o.F.SignedChain(ctx)
	if err != nil {
		return err
	}
	b, err := publish.Commit(ctx, publish.Options{Netuid: netuid, Hotkey: hk.AccountID(), Chain: signed,
		CommitRounds: o.Commit.Rounds, ReadBackDelay: o.Commit.ReadBackDelay, RateLimitDelay: o.Commit.RateLimitDelay}, id, nil)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.F.IO.Out, "%s committed by %s on netuid %d (block %d)\n", id, hk.Address(), netuid, b)
	return err
}
