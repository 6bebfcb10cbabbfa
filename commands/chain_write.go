package commands

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/coldint/coldint/chain"
	"github.com/urfave/cli/v2"
)

// chainCommitOptions are the inputs of `coldint chain commit`.
type chainCommitOptions struct {
	F          *Factory
	Netuid     uint
	Commitment string
}

// newChainCommitCmd is `coldint chain commit`. runF replaces runChainCommit
// in tests.
func newChainCommitCmd(f *Factory, runF func(context.Context, *chainCommitOptions) error) *cli.Command {
	o := &chainCommitOptions{F: f}
	if runF == nil {
		runF = runChainCommit
	}
	return &cli.Command{
		Name:  "commit",
		Usage: "publish a commitment (at most 128 bytes) for the wallet's hotkey",
		Flags: f.signedFlags(chainNetuidFlagTo(&o.Netuid),
			&cli.StringFlag{Name: "commitment", Aliases: []string{"data"}, Usage: "the commitment, e.g. ns:name:commit:hash:competition", Required: true, Destination: &o.Commitment}),
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runChainCommit(ctx context.Context, o *chainCommitOptions) error {
	netuid, err := checkNetuid(o.Netuid)
	if err != nil {
		return err
	}
	data := o.Commitment
	if len(data) > chain.MaxCommitmentLen {
		return usageErrorf("parse --data: %d bytes, at most %d fit a commitment", len(data), chain.MaxCommitmentLen)
	}
	if _, err := chain.ParseModelID(data); err != nil {
		slog.Warn("the data is not a model id; validators will ignore it", "err", err)
	}
	hk, signed, err := o.F.SignedChain(ctx)
	if err != nil {
		return err
	}
	b, err := signed.Commit(ctx, netuid, data)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.F.IO.Out, "committed by %s on netuid %d in block %d\n", hk.Address(), netuid, b)
	return err
}

// chainSetWeightsOptions are the inputs of `coldint chain set-weights`.
type chainSetWeightsOptions struct {
	F          *Factory
	Netuid     uint
	UIDs       string // comma-separated
	Weights    string // comma-separated, one per uid
	VersionKey uint64
}

// newChainSetWeightsCmd is `coldint chain set-weights`. runF replaces
// runChainSetWeights in tests.
func newChainSetWeightsCmd(f *Factory, runF func(context.Context, *chainSetWeightsOptions) error) *cli.Command {
	o := &chainSetWeightsOptions{F: f}
	if runF == nil {
		runF = runChainSetWeights
	}
	return &cli.Command{
		Name:  "set-weights",
		Usage: "set the wallet hotkey's weights (normalised like the bittensor SDK)",
		Flags: f.signedFlags(chainNetuidFlagTo(&o.Netuid),
			&cli.StringFlag{Name: "uids", Usage: "comma-separated uids", Required: true, Destination: &o.UIDs},
			&cli.StringFlag{Name: "weights", Usage: "comma-separated non-negative weights, one per uid", Required: true, Destination: &o.Weights},
			&cli.Uint64Flag{Name: "version-key", Usage: "weights version key (the validator's spec version)", Destination: &o.VersionKey},
		),
		Action: func(c *cli.Context) error { return runF(c.Context, o) },
	}
}

func runChainSetWeights(ctx context.Context, o *chainSetWeightsOptions) error {
	netuid, err := checkNetuid(o.Netuid)
	if err != nil {
		return err
	}
	uids, weights, err := parseWeights(o.UIDs, o.Weights)
	if err != nil {
		return err
	}
	nu, nv, err := chain.NormalizeWeights(uids, weights)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if len(nu) == 0 {
		return usageErrorf("parse --weights: all weights are zero")
	}
	hk, signed, err := o.F.SignedChain(ctx)
	if err != nil {
		return err
	}
	b, err := signed.SetWeights(ctx, netuid, nu, nv, o.VersionKey)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(o.F.IO.Out, "weights set by %s on netuid %d in block %d: uids %v values %v\n", hk.Address(), netuid, b, nu, nv)
	return err
}

// parseWeights parses the --uids and --weights lists.
func parseWeights(uidsArg, weightsArg string) ([]chain.UID, []float64, error) {
	split := func(s string) []string {
		var out []string
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" {
				out = append(out, f)
			}
		}
		return out
	}
	us, ws := split(uidsArg), split(weightsArg)
	if len(us) == 0 {
		return nil, nil, usageErrorf("parse --uids: no uids")
	}
	if len(us) != len(ws) {
		return nil, nil, usageErrorf("parse --uids/--weights: %d uids but %d weights", len(us), len(ws))
	}
	uids := make([]chain.UID, len(us))
	weights := make([]float64, len(ws))
	for i := range us {
		u, err := strconv.ParseUint(us[i], 10, 16)
		if err != nil {
			return nil, nil, usageErrorf("parse --uids: %q is not a uid (0-65535)", us[i])
		}
		w, err := strconv.ParseFloat(ws[i], 64)
		if err != nil {
			return nil, nil, usageErrorf("parse --weights: %q is not a number", ws[i])
		}
		uids[i], weights[i] = chain.UID(u), w
	}
	return uids, weights, nil
}
