package best

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/chaintest"
	"github.com/coldint/coldint/chain/devchain"
)

// TestFind runs the choice on the embedded chain through its three stages:
// no weights (oldest commitment), weights but no epoch yet (the validators'
// weights), and after an epoch (incentive).
func TestFind(t *testing.T) {
	ctx := context.Background()
	c, err := devchain.Open(ctx, devchain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := devchain.DefaultSubnetParams()
	p.Tempo, p.WeightsRateLimit, p.CommitRateLimit, p.MaxValidators = 20, 0, 0, 2
	netuid, err := c.CreateSubnet(ctx, 0, p)
	if err != nil {
		t.Fatal(err)
	}
	cold := chain.Coldkey(chaintest.Hotkey(9).AccountID())
	for i := range 5 {
		if _, err := c.Register(ctx, netuid, chaintest.Hotkey(i).AccountID(), cold); err != nil {
			t.Fatal(err)
		}
	}
	// uid 0 and 1 validate; uids 2, 3, 4 mine (4 in another competition).
	c.SetStake(ctx, netuid, chaintest.Hotkey(0).AccountID(), 300e9)
	c.SetStake(ctx, netuid, chaintest.Hotkey(1).AccountID(), 100e9)
	for i, comp := range []string{2: "c00", 3: "c00", 4: "c01"} {
		if comp == "" {
			continue
		}
		id := chain.ModelID{Namespace: "m", Name: strings.Repeat("x", i), Commit: strings.Repeat("a", 40), Hash: "h", Competition: comp}
		if _, err := c.As(chaintest.Hotkey(i)).Commit(ctx, netuid, id.String()); err != nil {
			t.Fatal(err)
		}
	}
	best, err := Find(ctx, c, netuid, "c00")
	if err != nil || best.UID != 2 || best.Basis != ByAge {
		t.Fatalf("no weights: %+v, %v; want uid 2 (oldest commitment)", best, err)
	}
	// The big validator prefers uid 3, the small one uid 2 (and uid 4, which
	// is in another competition).
	c.As(chaintest.Hotkey(0)).SetWeights(ctx, netuid, []chain.UID{2, 3}, []uint16{1, 4}, 0)
	c.As(chaintest.Hotkey(1)).SetWeights(ctx, netuid, []chain.UID{2, 4}, []uint16{1, 1}, 0)
	best, err = Find(ctx, c, netuid, "c00")
	if err != nil || best.UID != 3 || best.Basis != ByWeights {
		t.Fatalf("weights before an epoch: %+v, %v; want uid 3 by validator weights", best, err)
	}
	if want := 0.75 * 0.8; best.Score < want-1e-5 || best.Score > want+1e-5 {
		t.Errorf("weight share %v, want %v", best.Score, want)
	}
	if _, err := c.Advance(ctx, 25); err != nil {
		t.Fatal(err)
	}
	best, err = Find(ctx, c, netuid, "c00")
	if err != nil || best.UID != 3 || best.Basis != ByIncentive || best.Score <= 0 {
		t.Fatalf("after an epoch: %+v, %v; want uid 3 by incentive", best, err)
	}
	if _, err := Find(ctx, c, netuid, "c99"); !errors.Is(err, chain.ErrNotFound) {
		t.Errorf("unknown competition: %v", err)
	}
}
