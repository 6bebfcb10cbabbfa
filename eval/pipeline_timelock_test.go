package eval_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
	"github.com/coldint/coldint/chain/timelock"
	"github.com/coldint/coldint/eval"
)

// tlRecSetter passes timelocked commits to the devchain and records their blocks.
type tlRecSetter struct {
	chain.Chain
	mu     sync.Mutex
	blocks []chain.BlockNumber
}

func (r *tlRecSetter) CommitTimelockedWeights(ctx context.Context, netuid chain.NetUID, commit []byte, round uint64, version uint16) (chain.BlockNumber, error) {
	b, err := r.Chain.(chain.TimelockedWeightSetter).CommitTimelockedWeights(ctx, netuid, commit, round, version)
	if err == nil {
		r.mu.Lock()
		r.blocks = append(r.blocks, b)
		r.mu.Unlock()
	}
	return b, err
}

// nth returns the block of the i-th commit (0 if there is none yet).
func (r *tlRecSetter) nth(i int) chain.BlockNumber {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i >= len(r.blocks) {
		return 0
	}
	return r.blocks[i]
}

func (r *tlRecSetter) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.blocks)
}

// TestRunTimelockedCommitReveal: on a devchain subnet with commit-reveal
// version 4 the weights timer commits timelocked to the devchain's beacon
// (no hash commits, nothing to reveal by the validator), the weights stay
// hidden, and the chain itself reveals them at the epoch block of the reveal
// epoch; the row read back is the validator's vector.
func TestRunTimelockedCommitReveal(t *testing.T) {
	e := newVEnv(t, func(p *devchain.SubnetParams) { p.CommitReveal, p.Tempo, p.RevealPeriodEpochs = true, 9, 1 })
	writeComps(t, e)
	e.miner("Ann", 1)
	e.miner("Ben", 2)
	ctx := context.Background()
	bi, err := e.node.Beacon(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := timelock.FromBeaconInfo(bi)
	if err != nil {
		t.Fatal(err)
	}
	g := newGate()
	setter := &tlRecSetter{Chain: e.as(e.val)}
	v := e.validator(func(o *eval.Options) {
		o.Scorer, o.Setter, o.Beacon = g, setter, &info
		o.SyncTick, o.WeightsTick, o.WeightInterval = 50*time.Millisecond, 50*time.Millisecond, 150*time.Millisecond
	})
	reps := runPipeline(t, v, g)
	reps.get(t, 0)
	waitBlocked(t, g)
	vec := v.Weights()
	// A commit sent while the vector was last changed may carry the old
	// one; the second commit from now on carries vec.
	i := setter.count() + 1
	waitFor(t, "a timelocked commit", func() bool { return setter.nth(i) != 0 })
	b := setter.nth(i)
	// Before the first commit's reveal block nothing is on chain.
	w, _ := e.node.Weights(ctx, vNetuid, e.valUID)
	if head, _ := e.node.BlockNumber(ctx); head < revealBlock(setter.nth(0)) && len(w) != 0 {
		t.Fatalf("weights visible at block %d, before the first reveal: %v", head, w)
	}
	if n := len(v.State().PendingReveals); n != 0 {
		t.Fatalf("%d hash commits queued, want none (timelocked only)", n)
	}
	reveal := revealBlock(b)
	if head, _ := e.node.BlockNumber(ctx); head < reveal {
		if _, err := e.node.Advance(ctx, uint64(reveal-head)); err != nil {
			t.Fatal(err)
		}
	}
	want := map[chain.UID]float64{}
	for u, w := range vec {
		if w > 0 {
			want[chain.UID(u)] = w
		}
	}
	wantChainWeights(t, e.reader, e.valUID, want)
}

// revealBlock is where the devchain (tempo 9, reveal period 1) reveals a
// commit of block b: the last block of epoch(b)+1, with
// epoch(x) = (x+netuid+1)/(tempo+1).
func revealBlock(b chain.BlockNumber) chain.BlockNumber {
	e1 := (uint64(b)+uint64(vNetuid)+1)/10 + 1
	return chain.BlockNumber((e1+1)*10 - uint64(vNetuid) - 2)
}
