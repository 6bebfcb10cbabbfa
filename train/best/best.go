// Package best finds the model a miner should compare with or start from:
// among the hotkeys whose commitment names a competition, the one with the
// highest on-chain incentive (what the reference miner's --load_best does),
// ties going to the older commitment.
//
// Incentive only exists once the chain has run an epoch over the
// validators' weights. Where every candidate's incentive is zero (a new
// subnet, or a local chain before its first epoch) the choice falls back to
// the validators' weights themselves: each candidate's share of the
// stake-weighted, row-normalised weight rows of the validators with a permit.
// [Best.Basis] says which was used, so that the miner can be told.
package best

import (
	"cmp"
	"context"
	"fmt"

	"github.com/coldint/coldint/chain"
)

// Basis names what a [Best] was chosen by.
type Basis string

const (
	ByIncentive Basis = "incentive"         // on-chain incentive (Yuma consensus)
	ByWeights   Basis = "validator weights" // stake-weighted validator weights, incentive all zero
	ByAge       Basis = "commitment age"    // neither incentive nor weights: the oldest commitment
)

// Best is the chosen model.
type Best struct {
	UID    chain.UID
	Hotkey chain.Hotkey
	ID     chain.ModelID
	Block  chain.BlockNumber // the commitment's block
	Score  float64           // its incentive (0..1) or weight share (0..1)
	Basis  Basis
}

type candidate struct {
	n  chain.Neuron
	id chain.ModelID
	b  chain.BlockNumber
}

// Find returns the best model of competition on netuid (chain.ErrNotFound
// when no hotkey committed one).
func Find(ctx context.Context, r chain.Reader, netuid chain.NetUID, competition string) (*Best, error) {
	mg, err := r.Metagraph(ctx, netuid)
	if err != nil {
		return nil, fmt.Errorf("find best model: %w", err)
	}
	cs, err := r.Commitments(ctx, netuid)
	if err != nil {
		return nil, fmt.Errorf("find best model: %w", err)
	}
	var cands []candidate
	for _, cm := range cs {
		id, err := chain.ParseModelID(cm.Data)
		if err != nil || id.Competition != competition {
			continue
		}
		if n, ok := mg.ByHotkey(cm.Hotkey); ok {
			cands = append(cands, candidate{n, id, cm.Block})
		}
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("find best model of %q on netuid %d: %w", competition, netuid, chain.ErrNotFound)
	}
	scores := make([]float64, len(cands))
	basis := ByIncentive
	for i, c := range cands {
		scores[i] = float64(c.n.Incentive) / 65535
	}
	if allZero(scores) {
		share, err := weightShares(ctx, r, mg)
		if err != nil {
			return nil, fmt.Errorf("find best model: %w", err)
		}
		basis = ByWeights
		for i, c := range cands {
			scores[i] = share[c.n.UID]
		}
		if allZero(scores) {
			basis = ByAge
		}
	}
	bi := 0
	for i := range cands {
		if c := cmp.Compare(scores[i], scores[bi]); c > 0 || c == 0 && cands[i].b < cands[bi].b {
			bi = i
		}
	}
	c := cands[bi]
	return &Best{UID: c.n.UID, Hotkey: c.n.Hotkey, ID: c.id, Block: c.b, Score: scores[bi], Basis: basis}, nil
}

// weightShares is Σ_i stake_i · w_ij / Σ_j w_ij over the validators with a
// permit and stake, normalised over the stake that set weights.
func weightShares(ctx context.Context, r chain.Reader, mg *chain.Metagraph) (map[chain.UID]float64, error) {
	out := map[chain.UID]float64{}
	total := 0.0
	for _, v := range mg.Neurons {
		if !v.ValidatorPermit || v.Stake == 0 {
			continue
		}
		row, err := r.Weights(ctx, mg.Netuid, v.UID)
		if err != nil {
			return nil, fmt.Errorf("read weights of uid %d: %w", v.UID, err)
		}
		sum := 0.0
		for _, w := range row {
			if w.UID != v.UID {
				sum += float64(w.Value)
			}
		}
		if sum == 0 {
			continue
		}
		total += float64(v.Stake)
		for _, w := range row {
			if w.UID != v.UID {
				out[w.UID] += float64(v.Stake) * float64(w.Value) / sum
			}
		}
	}
	if total > 0 {
		for u := range out {
			out[u] /= total
		}
	}
	return out, nil
}

func allZero(x []float64) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}
