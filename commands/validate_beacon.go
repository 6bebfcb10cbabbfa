package commands

import (
	"context"
	"fmt"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/timelock"
)

// chainBeacon returns the beacon timelocked weight commits are encrypted
// to: the chain's own where the backend reports one (a devchain is its own
// beacon), else nil, which the validator reads as drand quicknet, the beacon
// subtensor follows.
func chainBeacon(ctx context.Context, r chain.Reader) (*timelock.ChainInfo, error) {
	br, ok := r.(chain.BeaconReader)
	if !ok {
		return nil, nil
	}
	bi, err := br.Beacon(ctx)
	if err != nil {
		return nil, fmt.Errorf("validate: read the chain's beacon: %w", err)
	}
	info, err := timelock.FromBeaconInfo(bi)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return &info, nil
}
