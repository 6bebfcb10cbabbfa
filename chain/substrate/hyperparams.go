package substrate

import (
	"context"
	"fmt"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/scale"
)

// Hyperparams are the subnet settings a validator looks at before setting
// weights, read from SubtensorModule storage at the best block.
type Hyperparams struct {
	Tempo               uint16 `json:"tempo"`
	WeightsRateLimit    uint64 `json:"weights_rate_limit"`
	WeightsVersionKey   uint64 `json:"weights_version_key"`
	CommitRevealEnabled bool   `json:"commit_reveal_weights_enabled"`
	MinAllowedWeights   uint16 `json:"min_allowed_weights"`
	MaxWeightsLimit     uint16 `json:"max_weights_limit"`
	MaxAllowedUids      uint16 `json:"max_allowed_uids"`
	SubnetworkN         uint16 `json:"subnetwork_n"`
}

// Hyperparams reads the subnet's weight-related settings.
func (c *Client) Hyperparams(ctx context.Context, netuid chain.NetUID) (Hyperparams, error) {
	_, hash, err := c.head(ctx)
	if err != nil {
		return Hyperparams{}, fmt.Errorf("read hyperparams of %d: %w", netuid, err)
	}
	if err := c.requireSubnet(ctx, netuid, &hash); err != nil {
		return Hyperparams{}, fmt.Errorf("read hyperparams: %w", err)
	}
	var h Hyperparams
	nu := u16le(uint16(netuid))
	for _, f := range []struct {
		item string
		read func(d *scale.Decoder)
	}{
		{"Tempo", func(d *scale.Decoder) { h.Tempo = d.U16() }},
		{"WeightsSetRateLimit", func(d *scale.Decoder) { h.WeightsRateLimit = d.U64() }},
		{"WeightsVersionKey", func(d *scale.Decoder) { h.WeightsVersionKey = d.U64() }},
		{"CommitRevealWeightsEnabled", func(d *scale.Decoder) { h.CommitRevealEnabled = d.Bool() }},
		{"MinAllowedWeights", func(d *scale.Decoder) { h.MinAllowedWeights = d.U16() }},
		{"MaxWeightsLimit", func(d *scale.Decoder) { h.MaxWeightsLimit = d.U16() }},
		{"MaxAllowedUids", func(d *scale.Decoder) { h.MaxAllowedUids = d.U16() }},
		{"SubnetworkN", func(d *scale.Decoder) { h.SubnetworkN = d.U16() }},
	} {
		v, _, err := c.Storage(ctx, &hash, "SubtensorModule", f.item, nu)
		if err != nil {
			return Hyperparams{}, fmt.Errorf("read hyperparams of %d: %w", netuid, err)
		}
		d := scale.NewDecoder(v)
		f.read(d)
		if err := d.Finish(); err != nil {
			return Hyperparams{}, fmt.Errorf("read hyperparams of %d: %s: %w", netuid, f.item, err)
		}
	}
	return h, nil
}
