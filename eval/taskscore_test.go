package eval_test

import (
	"math"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/eval"
)

// TestScoreTasksHandChecked scores a two-task competition (weights 3:1)
// whose wins were worked out by hand, without time advantage:
//
//	task 1 (4 samples): A wins s1, B s2, C s3 and s4 → A ¼, B ¼, C ½
//	task 2 (2 samples): A wins s1, B s2              → A ½, B ½, C 0
//	combined: A = ¾·¼ + ¼·½ = 5/16, B = 5/16, C = ¾·½ = 6/16
//	weights (skew 2): 25/86, 25/86, 36/86
//
// and checks that the result is the weighted sum of the two single-task
// runs.
func TestScoreTasksHandChecked(t *testing.T) {
	a, b, c := chain.UID(1), chain.UID(2), chain.UID(3)
	losses := map[chain.UID][]float64{
		a: {1, 5, 5, 5, 1, 1},
		b: {2, 1, 5, 5, 2, 0.5},
		c: {3, 3, 1, 1, 3, 3},
	}
	comp := &eval.Competition{Name: "c", WeightSkewFactor: 2, GroupSamples: 1, PoolSize: 3}
	step := eval.CompetitionStep{Competition: comp, Picked: []chain.UID{a, b, c}, Losses: losses,
		Blocks: map[chain.UID]chain.BlockNumber{a: 1, b: 2, c: 3}, TaskBounds: []int{0, 4, 6}, TaskWeights: []float64{0.75, 0.25}}
	cs := &eval.CompState{Pending: map[chain.UID]float64{}}
	out, err := eval.ScoreStep(cs, step, 10, 0.02, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantRate := map[chain.UID]float64{a: 5.0 / 16, b: 5.0 / 16, c: 6.0 / 16}
	wantWeight := map[chain.UID]float64{a: 25.0 / 86, b: 25.0 / 86, c: 36.0 / 86}
	wantWins := map[chain.UID]int{a: 2, b: 2, c: 2} // rate·6 samples, rounded
	for _, u := range step.Picked {
		if math.Abs(out.Result.WinRate[u]-wantRate[u]) > 1e-12 || math.Abs(cs.Weights[u]-wantWeight[u]) > 1e-12 || out.Result.Wins[u] != wantWins[u] {
			t.Errorf("uid %d: win rate %v weight %v wins %d, want %v %v %d", u, out.Result.WinRate[u], cs.Weights[u], out.Result.Wins[u],
				wantRate[u], wantWeight[u], wantWins[u])
		}
	}
	single := func(lo, hi int) map[chain.UID]float64 {
		one := step
		one.TaskBounds, one.TaskWeights = nil, nil
		one.Losses = map[chain.UID][]float64{}
		for u, l := range losses {
			one.Losses[u] = l[lo:hi]
		}
		o, err := eval.ScoreStep(&eval.CompState{}, one, 10, 0.02, nil)
		if err != nil {
			t.Fatal(err)
		}
		return o.Result.WinRate
	}
	r1, r2 := single(0, 4), single(4, 6)
	for _, u := range step.Picked {
		if w := 0.75*r1[u] + 0.25*r2[u]; math.Abs(out.Result.WinRate[u]-w) > 1e-12 {
			t.Errorf("uid %d: two-task win rate %v, weighted single-task rates %v", u, out.Result.WinRate[u], w)
		}
	}
	// A below B at samples 1 and 5; A−B = −1, 4, 0, 0, −1, 0.5: mean 2.5/6.
	if row := out.Result.Matrix[0][1]; row.Less != 2 || row.Finite != 6 || math.Abs(row.MeanDiff-2.5/6) > 1e-12 {
		t.Errorf("win matrix A vs B %+v: want less 2 of 6 finite, mean diff 2.5/6", row)
	}
}
