package commands

import (
	"context"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/eval"
	"github.com/coldint/coldint/evalproof"
	"github.com/coldint/coldint/hf"
)

// publishFlagTo is `coldint validate --publish`.
func publishFlagTo(dest *string) cli.Flag {
	return &cli.StringFlag{Name: "publish", Category: "audit", Destination: dest,
		Usage: "publish each step's samples, losses, win rates and weights with their root hash, for coldint audit: a folder, or hub:NAMESPACE/NAME for a Hub dataset repo; the root goes into the validator's chain commitment when it sets weights"}
}

// stepPublisher is the validator's --publish dest (nil when ""): the step
// roots are committed with the validator's setter when it has one.
// dataset names the datasets-server dataset, "" for local data.
func stepPublisher(dest string, h hf.Hub, opts *eval.Options, dataset string) (*evalproof.Publisher, error) {
	if dest == "" {
		return nil, nil
	}
	p, err := evalproof.NewPublisher(keys.ExpandPath(dest), h)
	if err != nil {
		return nil, usageErrorf("validate: --publish: %v", err)
	}
	p.Netuid, p.Logger = opts.Netuid, slog.Default()
	p.Info = evalproof.StepInfo{Netuid: uint16(opts.Netuid), Dataset: dataset}
	if dataset == "" {
		p.Info.Dataset = "local"
	}
	if c, ok := opts.Setter.(chain.Committer); ok {
		p.Committer, p.Info.Validator = c, opts.Hotkey.String()
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
