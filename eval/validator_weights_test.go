package eval_test

import (
	"context"
	"crypto/rand"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/chain/timelock"
	"github.com/coldint/coldint/eval"
)

// TestStepWeightsRateLimit: with the chain's WeightsSetRateLimit not yet
// passed, a second step does not try to set weights (and reports no error);
// the chain is asked once.
func TestStepWeightsRateLimit(t *testing.T) {
	e := newVEnv(t, func(p *devchain.SubnetParams) { p.WeightsRateLimit = 100 })
	e.miner("Ann", 1)
	e.miner("Ben", 2)
	setter := &recSetter{Chain: e.as(e.val)}
	v := e.validator(func(o *eval.Options) { o.Setter = setter })
	ctx := context.Background()
	// Registration counts as an update: wait the limit out once.
	if _, err := e.node.Advance(ctx, 101); err != nil {
		t.Fatal(err)
	}
	r1, err := v.Step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := v.Step(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r1.WeightsSet || r2.WeightsSet || r2.WeightsError != "" {
		t.Fatalf("step 1 set %v (%s); step 2 set %v (%s); want only step 1, no error", r1.WeightsSet, r1.WeightsError, r2.WeightsSet, r2.WeightsError)
	}
	if n := setter.setsSince(time.Time{}); n != 1 {
		t.Errorf("%d accepted set_weights, want 1", n)
	}
}

// v4Chain presents the devchain as a runtime with timelocked commit-reveal
// (version 4) and records the commit instead of sending it, so the test can
// open it with a beacon of its own.
type v4Chain struct {
	chain.Chain
	reader  chain.WeightParamsReader
	mu      sync.Mutex
	commits [][]byte
	rounds  []uint64
	version uint16
}

func (c *v4Chain) WeightParams(ctx context.Context, netuid chain.NetUID) (chain.WeightParams, error) {
	p, err := c.reader.WeightParams(ctx, netuid)
	p.CommitRevealEnabled, p.CommitRevealVersion = true, timelock.CommitRevealVersion
	return p, err
}

func (c *v4Chain) CommitTimelockedWeights(ctx context.Context, netuid chain.NetUID, commit []byte, round uint64, version uint16) (chain.BlockNumber, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits, c.rounds, c.version = append(c.commits, commit), append(c.rounds, round), version
	return c.Chain.BlockNumber(ctx)
}

// TestStepTimelockedCommit: on a subnet with commit-reveal version 4 the
// weights go out as a timelocked commit that opens, with the beacon's
// signature of its round, to the validator's normalised weight row.
func TestStepTimelockedCommit(t *testing.T) {
	e := newVEnv(t, nil)
	e.miner("Ann", 1)
	e.miner("Ben", 2)
	beacon, err := timelock.NewTestBeacon(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	info := beacon.Info()
	c := &v4Chain{Chain: e.as(e.val), reader: e.node}
	v := e.validator(func(o *eval.Options) {
		o.Chain = struct {
			chain.Reader
			chain.WeightParamsReader
		}{e.node, c}
		o.Setter, o.Beacon = c, &info
	})
	r, err := v.Step(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !r.WeightsSet || len(c.commits) != 1 || c.version != timelock.CommitRevealVersion {
		t.Fatalf("weights set %v (%s), %d timelocked commits (version %d); want one of version 4", r.WeightsSet, r.WeightsError, len(c.commits), c.version)
	}
	if w, _ := e.node.Weights(context.Background(), vNetuid, e.valUID); len(w) != 0 {
		t.Fatalf("plain weights on chain %v, want none", w)
	}
	sig, err := beacon.Sign(c.rounds[0])
	if err != nil {
		t.Fatal(err)
	}
	pt, err := timelock.Decrypt(sig, c.commits[0])
	if err != nil {
		t.Fatal(err)
	}
	p, err := timelock.DecodePayload(pt)
	if err != nil {
		t.Fatal(err)
	}
	w := v.Weights()
	uids := make([]chain.UID, len(w))
	for i := range uids {
		uids[i] = chain.UID(i)
	}
	nu, nv, err := chain.NormalizeWeights(uids, w)
	if err != nil {
		t.Fatal(err)
	}
	var wantU []uint16
	for _, u := range nu {
		wantU = append(wantU, uint16(u))
	}
	if p.Hotkey != e.val.AccountID() || p.VersionKey != eval.WeightsVersionKey || !slices.Equal(p.UIDs, wantU) || !slices.Equal(p.Values, nv) {
		t.Errorf("payload %+v, want hotkey %s uids %v values %v", p, e.val.AccountID(), wantU, nv)
	}
}
