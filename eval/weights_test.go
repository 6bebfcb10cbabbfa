package eval

import (
	"math"
	"testing"

	"github.com/coldint/coldint/chain"
)

func TestCombineWeightsSpec(t *testing.T) {
	// docs/scoring.md#from-win-rates-to-weights with the HEAD config: c00 and c01 each reward 0.5. c00 holds the
	// docs/scoring.md#win-rate worked example scored with skew 2 (rates 0.5/0.25/0.25 →
	// 2/3, 1/6, 1/6); c01 has a single winner, uid 5. The Emission control
	// HoF entry (uid 9) is capped at T = 0.4.
	r, err := ComputeWins(workedExample, workedParams)
	if err != nil {
		t.Fatal(err)
	}
	c00 := SkewWeights(r.WinRate, 2)
	if math.Abs(c00[1]-2.0/3) > 1e-15 || math.Abs(c00[2]-1.0/6) > 1e-15 || math.Abs(c00[3]-1.0/6) > 1e-15 {
		t.Fatalf("c00 weights %v", c00)
	}
	comps := []CompetitionWeights{{Reward: 0.5, Weights: c00}, {Reward: 0.5, Weights: map[chain.UID]float64{5: 1}}}
	hotkeys := make([]string, 10)
	hotkeys[9] = emissionControl
	rw, T := HoFWeights(HallOfFame{emissionControl: {{Block: 5020713, Reward: 1e9}}}, hotkeys, 5020713, RewardsMaxFraction)
	if T != 0.4 || rw[9] != 0.4 {
		t.Fatalf("rw %v T %v", rw, T)
	}
	w := CombineWeights(comps, rw, T, NUIDs)
	want := map[int]float64{1: 0.6 * 0.5 * 2 / 3, 2: 0.6 * 0.5 / 6, 3: 0.6 * 0.5 / 6, 5: 0.3, 9: 0.4}
	checkVec(t, "v1.0.16", w, want)

	// v1.0.17: the cap is 1.0, so the competitions are multiplied by 0 and the
	// Emission control hotkey takes 100 %.
	rw, T = HoFWeights(HallOfFame{emissionControl: {{Block: 5020713, Reward: 1e9}}}, hotkeys, 5020713, RewardsMaxFractionV1017)
	checkVec(t, "v1.0.17", CombineWeights(comps, rw, T, NUIDs), map[int]float64{9: 1})

	// A competition absent from state is skipped; the normalisation
	// redistributes its share.
	checkVec(t, "one competition, no HoF", CombineWeights(comps[1:], nil, 0, NUIDs), map[int]float64{5: 1})
	if z := CombineWeights(nil, nil, 0, 4); z[0] != 0 || len(z) != 4 {
		t.Fatalf("empty: %v", z)
	}

	// EMA: the first vector is taken as is, then W = 0.5·W + 0.5·new.
	e1 := EMA(nil, w, WeightAlpha)
	checkVec(t, "ema first", e1, want)
	next := make([]float64, NUIDs)
	next[5] = 1
	e2 := EMA(e1, next, WeightAlpha)
	checkVec(t, "ema second", e2, map[int]float64{1: 0.1, 2: 0.025, 3: 0.025, 5: 0.65, 9: 0.2})
	nanv := []float64{math.NaN(), 1}
	if e := EMA([]float64{0.5, 0.5}, nanv, 0.5); e[0] != 0 || e[1] != 0.75 {
		t.Fatalf("NaN → 0: %v", e)
	}
	if !ShouldSetWeights(e2) || ShouldSetWeights(make([]float64, 3)) {
		t.Fatal("ShouldSetWeights")
	}
}

func checkVec(t *testing.T, name string, got []float64, want map[int]float64) {
	t.Helper()
	for i, v := range got {
		if math.Abs(v-want[i]) > 1e-12 {
			t.Errorf("%s: w[%d] = %v want %v", name, i, v, want[i])
		}
	}
}

func TestUpdatePool(t *testing.T) {
	cands := []PoolCandidate{
		{UID: 1, Block: 10, WinRate: 0.5, WinAbsRate: 0.4, HasLosses: true},
		{UID: 2, Block: 20, WinRate: 0.3, WinAbsRate: 0.3, HasLosses: true},
		{UID: 3, Block: 5, WinRate: 0.01, WinAbsRate: 0.01, HasLosses: true}, // discard
		{UID: 4, Block: 6, WinRate: 0.01, WinAbsRate: 0.05, HasLosses: true}, // abs rate saves it
		{UID: 5, Block: 7, WinRate: 0, WinAbsRate: 0, HasLosses: false},      // failed: never discarded
		{UID: 6, Block: 1 << 31, WinRate: 0, WinAbsRate: 0, HasLosses: true, Benchmark: true},
		{UID: 7, Block: 30, WinRate: 0.3, WinAbsRate: 0.3, HasLosses: true}, // ties uid 2, newer
	}
	got := UpdatePool(cands, 3, 0.02)
	eq := func(a, b []chain.UID) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i] != b[i] {
				return false
			}
		}
		return true
	}
	if !eq(got.Pool, []chain.UID{1, 2, 7}) || !eq(got.Dropped, []chain.UID{3, 4, 5, 6}) || !eq(got.Discard, []chain.UID{3}) {
		t.Fatalf("%+v", got)
	}
	if d := UpdatePool(cands, 3, 0); len(d.Discard) != 0 {
		t.Fatalf("discard_winrate 0 disables discarding: %v", d.Discard)
	}
}
