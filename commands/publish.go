package commands

import (
	"context"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/evalproof"
	"github.com/coldint/coldint/hf"
)

// publishFlag is `coldint validate --publish`.
func publishFlag() cli.Flag {
	return &cli.StringFlag{Name: "publish", Category: "audit",
		Usage: "publish each step's samples, losses, win rates and weights with their root hash, for `coldint audit`: a folder, or hub:NAMESPACE/NAME for a Hub dataset repo; the root goes into the validator's chain commitment when it sets weights"}
}

// stepPublisher is the validator's --publish (nil when not asked for).
// committer (nil: offline) records the step roots on chain.
func stepPublisher(c *cli.Context, h hf.Hub, opts *eval.Options, committer chain.Committer) (*evalproof.Publisher, error) {
	dest := c.String("publish")
	if dest == "" {
		return nil, nil
	}
	p, err := evalproof.NewPublisher(expandHome(dest), h)
	if err != nil {
		return nil, usageErrorf("validate: --publish: %v", err)
	}
	p.Committer, p.Netuid, p.Logger = committer, opts.Netuid, slog.Default()
	p.Info = evalproof.StepInfo{Netuid: uint16(opts.Netuid), Dataset: "local"}
	if committer != nil {
		p.Info.Validator = opts.Hotkey.String()
	}
	if len(c.StringSlice("data")) == 0 {
		p.Info.Dataset = c.String("dataset")
	}
	return p, nil
}

// publishStep publishes one step report; a failure is logged, never fatal
// to the validator.
func publishStep(ctx context.Context, p *evalproof.Publisher, v *eval.Validator, r *eval.StepReport) {
	if p == nil {
		return
	}
	ids := map[string]*eval.ModelMetadata{}
	v.Inspect(func(st *eval.ValidatorState) {
		for hk, md := range st.HKMetadata {
			ids[hk] = md
		}
	})
	if _, err := p.Publish(ctx, r, ids); err != nil {
		slog.Warn("publish step", "step", r.Step, "err", err)
	}
}
