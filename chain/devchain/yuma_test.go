package devchain

import (
	"context"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/chaintest"
)

// TestYumaTwoValidators checks one epoch of Yuma consensus against numbers
// worked out by hand (see below) for two validators with stakes 3:1 that
// disagree: validator 0 weights miners (2, 3) as 3:1, validator 1 as 1:2.
//
//	stake S = (.75, .25); rows W0 = (.75, .25), W1 = (1/3, 2/3)
//	consensus, stake-weighted median at kappa ~ .5: C = (.75, .25)
//	clipped rows: (.75, .25), (1/3, .25); validator trust (1, .5833)
//	ranks: m2 = .75·.75 + .25/3 = .64583, m3 = .75·.25 + .25·.25 = .25
//	incentive = ranks / .89583 = (.72093, .27907)
//	bonds (first epoch) = column-normalised clipped·S: m2 (.87097, .12903), m3 (.75, .25)
//	dividends: v0 = .87097·.72093 + .75·.27907 = .83721, v1 = .16279
//
// Published values are floor(x · 65535); the chain computes in fixed point,
// so each may be one step off these.
func TestYumaTwoValidators(t *testing.T) {
	ctx := context.Background()
	c := openTemp(t, Options{})
	p := DefaultSubnetParams()
	p.Tempo = 10
	p.WeightsRateLimit = 0
	p.MaxValidators = 2
	netuid, err := c.CreateSubnet(ctx, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if _, err := c.Register(ctx, netuid, chaintest.Hotkey(i).AccountID(), coldkey()); err != nil {
			t.Fatal(err)
		}
	}
	for i, stake := range []uint64{300e9, 100e9} {
		if err := c.SetStake(ctx, netuid, chaintest.Hotkey(i).AccountID(), stake); err != nil {
			t.Fatal(err)
		}
	}
	for i, vals := range [][]uint16{{3, 1}, {1, 2}} {
		if _, err := c.As(chaintest.Hotkey(i)).SetWeights(ctx, netuid, []chain.UID{2, 3}, vals, 0); err != nil {
			t.Fatal(err)
		}
	}
	head, _ := c.BlockNumber(ctx)
	epochAt := head + 1
	for !isEpochBlock(netuid, p.Tempo, epochAt) {
		epochAt++
	}
	// Up to the block before the epoch nothing is published...
	if _, err := c.Advance(ctx, uint64(epochAt-1-head)); err != nil {
		t.Fatal(err)
	}
	mg, _ := c.Metagraph(ctx, netuid)
	for _, n := range mg.Neurons {
		if n.Incentive != 0 || n.Dividends != 0 {
			t.Fatalf("published before the epoch block: %+v", n)
		}
	}
	// ...and the epoch block publishes consensus.
	if _, err := c.Advance(ctx, 1); err != nil {
		t.Fatal(err)
	}
	mg, _ = c.Metagraph(ctx, netuid)
	type row struct{ inc, cons, div, vtrust uint16 }
	want := []row{
		{div: 54866, vtrust: 65535},
		{div: 10668, vtrust: 38228},
		{inc: 47246, cons: 49151},
		{inc: 18288, cons: 16383},
	}
	for i, w := range want {
		n := mg.Neurons[i]
		got := row{n.Incentive, n.Consensus, n.Dividends, n.ValidatorTrust}
		if !near(got.inc, w.inc) || !near(got.cons, w.cons) || !near(got.div, w.div) || !near(got.vtrust, w.vtrust) {
			t.Errorf("uid %d: got %+v, want %+v (±1)", i, got, w)
		}
		if (n.Emission > 0) != (w.inc > 0 || w.div > 0) {
			t.Errorf("uid %d: emission %d", i, n.Emission)
		}
	}
	// Unchanged weights: the next epoch publishes the same (bonds settle).
	if _, err := c.Advance(ctx, 11); err != nil {
		t.Fatal(err)
	}
	mg2, _ := c.Metagraph(ctx, netuid)
	for i := range want {
		a, b := mg.Neurons[i], mg2.Neurons[i]
		if !near(a.Incentive, b.Incentive) || !near(a.Dividends, b.Dividends) {
			t.Errorf("uid %d drifted between epochs: %+v then %+v", i, a, b)
		}
	}
}

// TestYumaMasks checks the weights that do not count: a validator without a
// permit, a self weight and a weight set before its target registered.
func TestYumaMasks(t *testing.T) {
	ctx := context.Background()
	c := openTemp(t, Options{})
	p := DefaultSubnetParams()
	p.Tempo = 10
	p.WeightsRateLimit = 0
	p.MaxValidators = 1
	netuid, _ := c.CreateSubnet(ctx, 0, p)
	for i := range 3 {
		if _, err := c.Register(ctx, netuid, chaintest.Hotkey(i).AccountID(), coldkey()); err != nil {
			t.Fatal(err)
		}
	}
	c.SetStake(ctx, netuid, chaintest.Hotkey(0).AccountID(), 100e9)
	c.SetStake(ctx, netuid, chaintest.Hotkey(1).AccountID(), 1e9) // no permit: MaxValidators 1
	// Validator 0 weights itself and uid 2; uid 1 (no permit) weights uid 2 only.
	if _, err := c.As(chaintest.Hotkey(0)).SetWeights(ctx, netuid, []chain.UID{0, 2}, []uint16{1, 1}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.As(chaintest.Hotkey(1)).SetWeights(ctx, netuid, []chain.UID{2}, []uint16{1}, 0); err != nil {
		t.Fatal(err)
	}
	// uid 3 registers after validator 0's weights: a weight to it would be stale.
	if _, err := c.Register(ctx, netuid, chaintest.Hotkey(3).AccountID(), coldkey()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Advance(ctx, 12); err != nil {
		t.Fatal(err)
	}
	mg, _ := c.Metagraph(ctx, netuid)
	inc := []uint16{mg.Neurons[0].Incentive, mg.Neurons[1].Incentive, mg.Neurons[2].Incentive, mg.Neurons[3].Incentive}
	if inc[0] != 0 || inc[1] != 0 || inc[2] != 65535 || inc[3] != 0 {
		t.Errorf("incentive %v, want all to uid 2 (self weight, permitless row masked)", inc)
	}
	if d := mg.Neurons[0].Dividends; d != 65535 {
		t.Errorf("dividends of the only permitted validator %d, want 65535", d)
	}
}

func TestWeightedMedianCols(t *testing.T) {
	w := [][]float64{{0.1}, {0.5}, {0.9}}
	for _, tc := range []struct {
		stake []float64
		kappa float64
		want  float64
	}{
		{[]float64{1. / 3, 1. / 3, 1. / 3}, 0.5, 0.5},
		{[]float64{0.6, 0.2, 0.2}, 0.5, 0.1},   // 60 % back at least 0.1
		{[]float64{0.2, 0.2, 0.6}, 0.5, 0.9},   // 60 % back 0.9
		{[]float64{0.25, 0.25, 0.5}, 0.5, 0.9}, // exactly half at 0.9 and below 0.9: the upper value
		{[]float64{0.2, 0.2, 0.6}, 0.7, 0.5},   // a 70 % majority only reaches 0.5
		{[]float64{0, 0, 0}, 0.5, 0},
	} {
		got := weightedMedianCols(tc.stake, w, 1, tc.kappa)[0]
		if got != tc.want {
			t.Errorf("stake %v kappa %v: %v, want %v", tc.stake, tc.kappa, got, tc.want)
		}
	}
}

func near(a, b uint16) bool { return a == b || a+1 == b || b+1 == a }
