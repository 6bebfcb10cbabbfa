package eval

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/coldint/coldint/chain"
)

func TestScoreStep(t *testing.T) {
	comp := &Competition{Name: "c00", PoolSize: 2, GroupSamples: 1, AdvantageInitial: 0.004, AdvantageDecay: 0.995, WeightSkewFactor: 2}
	in := CompetitionStep{
		Competition: comp,
		Picked:      []chain.UID{3, 1, 2, 4, 5},
		Losses:      map[chain.UID][]float64{},
		Blocks:      map[chain.UID]chain.BlockNumber{4: 1500, 5: 1600},
	}
	for _, m := range workedExample {
		in.Losses[m.UID] = m.Losses
		in.Blocks[m.UID] = m.Block
	}
	// uid 4 loses everything (discarded); uid 5 failed (no results, kept off the discard list).
	in.Losses[4] = []float64{1000, 1000, 1000, math.NaN()}
	state := &CompState{Weights: map[chain.UID]float64{9: 1}}
	out, err := ScoreStep(state, in, 1722, 0.02, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if out.Evaluated != 4 || out.Result.WinRate[1] != 0.5 || out.Result.WinRate[4] != 0 {
		t.Fatalf("%+v", out)
	}
	// Pool of 2: uid 1 (0.5), then the tie 2/3 at 0.25 goes to the older uid 2.
	if !reflect.DeepEqual(state.Pool, []chain.UID{1, 2}) || !reflect.DeepEqual(out.Pool.Discard, []chain.UID{4}) {
		t.Fatalf("pool %v discard %v dropped %v", state.Pool, out.Pool.Discard, out.Pool.Dropped)
	}
	if math.Abs(state.Weights[1]-2.0/3) > 1e-15 || state.Weights[5] != 0 || state.Weights[4] != 0 {
		t.Fatalf("weights %v", state.Weights)
	}
	// No results at all: previous weights are kept, 0 evaluations.
	prev := map[chain.UID]float64{1: 1}
	state = &CompState{Weights: prev, Pool: []chain.UID{1}}
	out, err = ScoreStep(state, CompetitionStep{Competition: comp, Picked: []chain.UID{1}}, 1722, 0.02, nil)
	if err != nil || out.Result != nil || out.Evaluated != 0 || state.Weights[1] != 1 || len(state.Pool) != 1 {
		t.Fatalf("no results: %+v %v %+v", out, err, state)
	}
}
