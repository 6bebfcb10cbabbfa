package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/coldint/coldint/chain"
)

var inf = math.Inf(1)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// The docs/scoring.md#worked-example worked example: advantage 0.004/0.995, blocks 1000/1361/1722,
// current block 1722.
var workedExample = []ModelLosses{
	{UID: 1, Block: 1000, Losses: []float64{100, 200, 300, 400}},
	{UID: 2, Block: 1361, Losses: []float64{99.7, 199, 301, 398.5}},
	{UID: 3, Block: 1722, Losses: []float64{99.5, 199.5, 299, 400}},
}

var workedParams = WinParams{CurrentBlock: 1722, AdvantageInitial: 0.004, AdvantageDecay: 0.995}

func TestAdvantageFactor(t *testing.T) {
	tests := []struct {
		name           string
		current, block chain.BlockNumber
		want, tol      float64
	}{
		{"§6.10 u1, 2 epochs", 1722, 1000, 0.9960399, 1e-12},
		{"§6.10 u2, 1 epoch", 1722, 1361, 0.99602, 1e-12},
		{"§6.10 u3, fresh", 1722, 1722, 0.996, 1e-15},
		{"one week ≈ 0.998", 50400 + 1000, 1000, 0.998, 1e-4},
		{"future block → 1", 1000, 1 << 31, 1, 0},
		{"far past → 1", 1 << 40, 0, 1, 1e-12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AdvantageFactor(tc.current, tc.block, 0.004, 0.995)
			if !near(got, tc.want, tc.tol) {
				t.Fatalf("got %.10f want %.10f", got, tc.want)
			}
		})
	}
}

func TestComputeWinsWorkedExample(t *testing.T) {
	// Input order must not matter: reverse it.
	in := []ModelLosses{workedExample[2], workedExample[0], workedExample[1]}
	r, err := ComputeWins(in, workedParams)
	if err != nil {
		t.Fatal(err)
	}
	wantRate := map[chain.UID]float64{1: 0.5, 2: 0.25, 3: 0.25}
	wantAbs := map[chain.UID]float64{1: 0, 2: 0.5, 3: 0.5}
	for u := range wantRate {
		if r.WinRate[u] != wantRate[u] || r.WinAbsRate[u] != wantAbs[u] {
			t.Errorf("uid %d: win_rate %v win_abs_rate %v; want %v %v", u, r.WinRate[u], r.WinAbsRate[u], wantRate[u], wantAbs[u])
		}
	}
	if r.N != 4 || len(r.Order) != 3 || r.Order[0] != 1 || r.Order[2] != 3 {
		t.Fatalf("order %v n %d", r.Order, r.N)
	}
	for u, f := range map[chain.UID]float64{1: 0.9960399, 2: 0.99602, 3: 0.996} {
		if !near(r.Factors[u], f, 1e-12) {
			t.Errorf("factor %d = %v want %v", u, r.Factors[u], f)
		}
	}
	// Informative matrix: u1 vs u2 raw: 100<99.7 no, 200<199 no, 300<301 yes, 400<398.5 no.
	if m := r.Matrix[0][1]; m.Less != 1 || !near(m.MeanDiff, (0.3+1-1+1.5)/4, 1e-12) {
		t.Errorf("matrix[u1][u2] = %+v", m)
	}
}

func TestSkewWeightsSpec(t *testing.T) {
	// docs/scoring.md#worked-example: with skew 2 the weights are [1/6, 2/3, 1/6] for rates [0.25, 0.5, 0.25].
	w := SkewWeights(map[chain.UID]float64{1: 0.25, 2: 0.5, 3: 0.25}, 2, 4)
	want := map[chain.UID]float64{1: 1.0 / 6, 2: 2.0 / 3, 3: 1.0 / 6, 4: 0}
	for u, v := range want {
		if !near(w[u], v, 1e-15) {
			t.Errorf("w[%d] = %v want %v", u, w[u], v)
		}
	}
	if z := SkewWeights(map[chain.UID]float64{1: 0, 2: 0}, 1.2); z[1] != 0 || z[2] != 0 {
		t.Errorf("all-zero rates: %v", z)
	}
}

func TestComputeWinsEdgeCases(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name     string
		models   []ModelLosses
		wantRate map[chain.UID]float64
		wantAbs  map[chain.UID]float64
	}{
		{"NaN incumbent is beatable (quirk fix)",
			[]ModelLosses{{UID: 1, Block: 1, Losses: []float64{nan}}, {UID: 2, Block: 2, Losses: []float64{5}}},
			map[chain.UID]float64{1: 0, 2: 1}, map[chain.UID]float64{1: 0, 2: 1}},
		{"NaN challenger never wins",
			[]ModelLosses{{UID: 1, Block: 1, Losses: []float64{5}}, {UID: 2, Block: 2, Losses: []float64{nan}}},
			map[chain.UID]float64{1: 1, 2: 0}, map[chain.UID]float64{1: 1, 2: 0}},
		{"-Inf is a failure, not a win",
			[]ModelLosses{{UID: 1, Block: 1, Losses: []float64{5}}, {UID: 2, Block: 2, Losses: []float64{math.Inf(-1)}}},
			map[chain.UID]float64{1: 1, 2: 0}, map[chain.UID]float64{1: 1, 2: 0}},
		{"all +Inf: the oldest wins",
			[]ModelLosses{{UID: 7, Block: 5, Losses: []float64{inf, inf}}, {UID: 3, Block: 9, Losses: []float64{inf, inf}}},
			map[chain.UID]float64{7: 1, 3: 0}, map[chain.UID]float64{7: 1, 3: 0}},
		{"equal blocks: lower uid is older",
			[]ModelLosses{{UID: 9, Block: 5, Losses: []float64{1}}, {UID: 4, Block: 5, Losses: []float64{1}}},
			map[chain.UID]float64{4: 1, 9: 0}, map[chain.UID]float64{4: 1, 9: 0}},
		{"a copy (equal loss, newer) cannot beat the original",
			[]ModelLosses{{UID: 1, Block: 100, Losses: []float64{10, 20}}, {UID: 2, Block: 200, Losses: []float64{10, 20}}},
			map[chain.UID]float64{1: 1, 2: 0}, map[chain.UID]float64{1: 1, 2: 0}},
		{"nil losses are dropped",
			[]ModelLosses{{UID: 1, Block: 1, Losses: nil}, {UID: 2, Block: 2, Losses: []float64{3}}},
			map[chain.UID]float64{2: 1}, map[chain.UID]float64{2: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ComputeWins(tc.models, WinParams{CurrentBlock: 1000, AdvantageInitial: 0.004, AdvantageDecay: 0.995})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.WinRate) != len(tc.wantRate) {
				t.Fatalf("rates %v", r.WinRate)
			}
			var sum, sumAbs float64
			for u, v := range tc.wantRate {
				if r.WinRate[u] != v || r.WinAbsRate[u] != tc.wantAbs[u] {
					t.Errorf("uid %d: %v/%v want %v/%v", u, r.WinRate[u], r.WinAbsRate[u], v, tc.wantAbs[u])
				}
				sum += r.WinRate[u]
				sumAbs += r.WinAbsRate[u]
			}
			if sum != 1 || sumAbs != 1 {
				t.Errorf("rates sum to %v and %v", sum, sumAbs)
			}
		})
	}
}

func TestComputeWinsErrors(t *testing.T) {
	if _, err := ComputeWins(nil, workedParams); !errors.Is(err, ErrNoResults) {
		t.Errorf("empty: %v", err)
	}
	if _, err := ComputeWins([]ModelLosses{{UID: 1, Losses: []float64{}}}, workedParams); !errors.Is(err, ErrNoResults) {
		t.Errorf("no samples: %v", err)
	}
	if _, err := ComputeWins([]ModelLosses{{UID: 1, Losses: []float64{1}}, {UID: 2, Losses: []float64{1, 2}}}, workedParams); err == nil {
		t.Error("unequal lengths accepted")
	}
	if _, err := ComputeWins([]ModelLosses{{UID: 1, Losses: []float64{1}}, {UID: 1, Losses: []float64{1}}}, workedParams); err == nil {
		t.Error("duplicate uid accepted")
	}
}

func TestGroupSamples(t *testing.T) {
	nan := math.NaN()
	in := [][]float64{
		{1, 2, inf, nan, 5, 6, 7},
		nil,
		{10, 20, inf, 40, nan, 60, 70},
	}
	// After cleaning: column 2 is +Inf for every model → 0; NaN → +Inf; the
	// 7th column is truncated away (7 − 7 mod 2 = 6).
	clean := [][]float64{{1, 2, 0, inf, 5, 6}, nil, {10, 20, 0, 40, inf, 60}}
	for seed := uint64(0); seed < 5; seed++ {
		out, err := GroupSamples(in, 2, rand.New(rand.NewPCG(seed, 0)))
		if err != nil {
			t.Fatal(err)
		}
		perm := rand.New(rand.NewPCG(seed, 0)).Perm(6)
		if out[1] != nil || len(out[0]) != 3 || len(out[2]) != 3 {
			t.Fatalf("shapes: %v", out)
		}
		for _, r := range []int{0, 2} {
			for j := 0; j < 3; j++ {
				want := clean[r][perm[2*j]] + clean[r][perm[2*j+1]]
				if out[r][j] != want {
					t.Errorf("seed %d row %d group %d = %v, want %v", seed, r, j, out[r][j], want)
				}
			}
		}
	}
	out1, _ := GroupSamples(in, 2, rand.New(rand.NewPCG(7, 7)))
	out2, _ := GroupSamples(in, 2, rand.New(rand.NewPCG(7, 7)))
	for j := range out1[0] {
		if out1[0][j] != out2[0][j] {
			t.Fatal("same seed gave different groups")
		}
	}
	if g1, _ := GroupSamples(in, 1, nil); !math.IsInf(g1[0][3], 1) || len(g1[0]) != 7 || !math.IsInf(g1[0][2], 1) {
		t.Errorf("g=1 must only clean NaN: %v", g1[0])
	}
	if _, err := GroupSamples([][]float64{{1}, {1, 2}}, 2, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("unequal lengths accepted")
	}
}

func TestScoreCompetitionGroupedExample(t *testing.T) {
	// With g = 2 the four samples of the worked example become two groups;
	// whatever the pairing, the group sums are compared with the same rule.
	r, err := ScoreCompetition(workedExample, ScoreParams{WinParams: workedParams, WeightSkewFactor: 2, GroupSamples: 2}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 2 {
		t.Fatalf("n = %d", r.N)
	}
	var sum float64
	for _, w := range r.Weights {
		sum += w
	}
	if !near(sum, 1, 1e-12) {
		t.Fatalf("weights sum %v", sum)
	}
}
