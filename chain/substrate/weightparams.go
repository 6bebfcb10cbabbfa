package substrate

import (
	"context"
	"fmt"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/scale"
	"github.com/coldint/coldint/chain/timelock"
)

// WeightParams reads the settings that decide how weights go on chain. The
// items that only newer runtimes have (RevealPeriodEpochs,
// CommitRevealWeightsVersion) take their defaults (1 and 0) when the
// runtime's metadata does not list them.
func (c *Client) WeightParams(ctx context.Context, netuid chain.NetUID) (chain.WeightParams, error) {
	h, err := c.Hyperparams(ctx, netuid)
	if err != nil {
		return chain.WeightParams{}, err
	}
	head, hash, err := c.head(ctx)
	if err != nil {
		return chain.WeightParams{}, fmt.Errorf("read weight params of %d: %w", netuid, err)
	}
	p := chain.WeightParams{Block: chain.BlockNumber(head), Tempo: h.Tempo, WeightsRateLimit: h.WeightsRateLimit,
		CommitRevealEnabled: h.CommitRevealEnabled, RevealPeriodEpochs: 1}
	m, err := c.runtime(ctx)
	if err != nil {
		return chain.WeightParams{}, err
	}
	if _, err := m.Storage("SubtensorModule", "RevealPeriodEpochs"); err == nil {
		v, _, err := c.Storage(ctx, &hash, "SubtensorModule", "RevealPeriodEpochs", u16le(uint16(netuid)))
		if err != nil {
			return chain.WeightParams{}, fmt.Errorf("read weight params of %d: %w", netuid, err)
		}
		d := scale.NewDecoder(v)
		p.RevealPeriodEpochs = d.U64()
		if err := d.Finish(); err != nil {
			return chain.WeightParams{}, fmt.Errorf("read weight params of %d: RevealPeriodEpochs: %w", netuid, err)
		}
	}
	if _, err := m.Storage("SubtensorModule", "CommitRevealWeightsVersion"); err == nil {
		v, _, err := c.Storage(ctx, &hash, "SubtensorModule", "CommitRevealWeightsVersion")
		if err != nil {
			return chain.WeightParams{}, fmt.Errorf("read weight params of %d: %w", netuid, err)
		}
		d := scale.NewDecoder(v)
		p.CommitRevealVersion = d.U16()
		if err := d.Finish(); err != nil {
			return chain.WeightParams{}, fmt.Errorf("read weight params of %d: CommitRevealWeightsVersion: %w", netuid, err)
		}
	}
	return p, nil
}

// TimelockedCall builds SubtensorModule.commit_timelocked_weights against
// the runtime metadata m; a runtime without the call (spec 218) gives an
// error wrapping ErrMetadata.
func TimelockedCall(m *Metadata, netuid chain.NetUID, commit []byte, revealRound uint64, version uint16) ([]byte, error) {
	args, err := timelock.CallArgs(uint16(netuid), commit, revealRound, version)
	if err != nil {
		return nil, err
	}
	return m.BuildCall(timelock.Pallet, timelock.Call, args...)
}

// CommitTimelockedWeights submits SubtensorModule.commit_timelocked_weights
// (commit-reveal version 4); the chain reveals the weights itself once the
// beacon round is published.
func (c *Client) CommitTimelockedWeights(ctx context.Context, netuid chain.NetUID, commit []byte, revealRound uint64, version uint16) (chain.BlockNumber, error) {
	m, err := c.runtime(ctx)
	if err != nil {
		return 0, err
	}
	call, err := TimelockedCall(m, netuid, commit, revealRound, version)
	if err != nil {
		return 0, fmt.Errorf("commit timelocked weights on subnet %d: %w", netuid, err)
	}
	r, err := c.Submit(ctx, call)
	if err != nil {
		return 0, fmt.Errorf("commit timelocked weights on subnet %d: %w", netuid, c.subnetErr(ctx, netuid, err))
	}
	return chain.BlockNumber(r.Block), nil
}
