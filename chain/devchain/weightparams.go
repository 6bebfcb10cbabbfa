package devchain

import (
	"context"
	"fmt"

	"github.com/coldint/coldint/chain"
)

// weightParams reads netuid's weight settings from a node's subnet list,
// with the subnet's commit-reveal version (4: timelocked commits).
func weightParams(ctx context.Context, n interface {
	BlockNumber(context.Context) (chain.BlockNumber, error)
	Subnets(context.Context) ([]SubnetInfo, error)
}, netuid chain.NetUID) (chain.WeightParams, error) {
	head, err := n.BlockNumber(ctx)
	if err != nil {
		return chain.WeightParams{}, fmt.Errorf("read weight params of %d: %w", netuid, err)
	}
	subnets, err := n.Subnets(ctx)
	if err != nil {
		return chain.WeightParams{}, fmt.Errorf("read weight params of %d: %w", netuid, err)
	}
	for _, s := range subnets {
		if s.Netuid == netuid {
			p := s.Params
			return chain.WeightParams{Block: head, Tempo: p.Tempo, WeightsRateLimit: p.WeightsRateLimit,
				CommitRevealEnabled: p.CommitReveal, RevealPeriodEpochs: p.RevealPeriodEpochs,
				CommitRevealVersion: p.CommitRevealVersion}, nil
		}
	}
	return chain.WeightParams{}, fmt.Errorf("read weight params of %d: %w", netuid, chain.ErrUnknownNetuid)
}

// WeightParams reads netuid's weight settings (see [chain.WeightParams]).
func (c *Chain) WeightParams(ctx context.Context, netuid chain.NetUID) (chain.WeightParams, error) {
	return weightParams(ctx, c, netuid)
}

// WeightParams reads netuid's weight settings (see [chain.WeightParams]).
func (c *Client) WeightParams(ctx context.Context, netuid chain.NetUID) (chain.WeightParams, error) {
	return weightParams(ctx, c, netuid)
}
