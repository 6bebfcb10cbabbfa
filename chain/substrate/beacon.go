package substrate

import (
	"context"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/timelock"
)

// Beacon returns drand quicknet, the beacon subtensor's pallet_drand
// follows. It does not read the pallet's BeaconConfig storage: no runtime
// the tests reach (spec 218) has the pallet, so a decoder of it could not be
// checked.
func (c *Client) Beacon(ctx context.Context) (chain.BeaconInfo, error) {
	if err := ctx.Err(); err != nil {
		return chain.BeaconInfo{}, err
	}
	return timelock.Quicknet().BeaconInfo(), nil
}

var _ chain.BeaconReader = (*Client)(nil)
