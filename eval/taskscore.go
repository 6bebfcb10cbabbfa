package eval

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/coldint/coldint/chain"
)

// scoreModels scores one competition: [ScoreCompetition] over all samples
// without tasks, [ScoreTasks] with them.
func scoreModels(models []ModelLosses, p ScoreParams, bounds []int, weights []float64, rng *rand.Rand) (*ScoreResult, error) {
	if len(bounds) < 2 {
		return ScoreCompetition(models, p, rng)
	}
	return ScoreTasks(models, p, bounds, weights, rng)
}

// ScoreTasks scores a competition with weighted tasks. The samples of
// task i are [bounds[i], bounds[i+1]) of every loss vector. Each task is
// scored on its own as [ScoreCompetition] does (grouping, the win rule with
// time advantage); a model's win rate (and absolute win rate) is then the
// weighted sum of its per-task rates, and the weights are skewed from that
// combined rate. A task where no model has a usable sample adds nothing,
// and the weights of the others are renormalised. Wins count the combined
// rate times the samples (groups) of all tasks, rounded; the win matrix
// adds the tasks' counts up.
func ScoreTasks(models []ModelLosses, p ScoreParams, bounds []int, weights []float64, rng *rand.Rand) (*ScoreResult, error) {
	if len(weights) != len(bounds)-1 {
		return nil, fmt.Errorf("score tasks: %d weights for %d tasks", len(weights), len(bounds)-1)
	}
	var parts []*WinResult
	var used []float64
	for i := range weights {
		sub := make([]ModelLosses, len(models))
		for k, m := range models {
			sub[k] = ModelLosses{UID: m.UID, Block: m.Block}
			if m.Losses != nil {
				if len(m.Losses) < bounds[i+1] {
					return nil, fmt.Errorf("score tasks: uid %d has %d losses, want %d", m.UID, len(m.Losses), bounds[len(bounds)-1])
				}
				sub[k].Losses = m.Losses[bounds[i]:bounds[i+1]]
			}
		}
		r, err := ScoreCompetition(sub, p, rng)
		if errors.Is(err, ErrNoResults) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("score task %d: %w", i, err)
		}
		parts, used = append(parts, r.WinResult), append(used, weights[i])
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("score tasks: %w", ErrNoResults)
	}
	wr := combineWins(parts, used)
	all := make([]chain.UID, len(models))
	for i, m := range models {
		all[i] = m.UID
	}
	return &ScoreResult{WinResult: wr, Weights: SkewWeights(wr.WinRate, p.WeightSkewFactor, all...)}, nil
}

// combineWins folds per-task win results (same models in the same order)
// into one with weights w (renormalised to sum 1).
func combineWins(parts []*WinResult, w []float64) *WinResult {
	var sum float64
	for _, x := range w {
		sum += x
	}
	first := parts[0]
	out := &WinResult{Order: first.Order, Factors: first.Factors, Wins: map[chain.UID]int{}, AbsWins: map[chain.UID]int{},
		WinRate: map[chain.UID]float64{}, WinAbsRate: map[chain.UID]float64{}}
	for t, r := range parts {
		out.N += r.N
		for _, u := range r.Order {
			out.WinRate[u] += w[t] / sum * r.WinRate[u]
			out.WinAbsRate[u] += w[t] / sum * r.WinAbsRate[u]
		}
	}
	for _, u := range out.Order {
		out.Wins[u] = int(math.Round(out.WinRate[u] * float64(out.N)))
		out.AbsWins[u] = int(math.Round(out.WinAbsRate[u] * float64(out.N)))
	}
	out.Matrix = make([][]PairStats, len(first.Order))
	for a := range first.Order {
		out.Matrix[a] = make([]PairStats, len(first.Order))
		for b := range first.Order {
			var ps PairStats
			var diff float64
			for _, r := range parts {
				c := r.Matrix[a][b]
				ps.Less, ps.LessAdv, ps.Finite = ps.Less+c.Less, ps.LessAdv+c.LessAdv, ps.Finite+c.Finite
				diff += c.MeanDiff * float64(c.Finite)
			}
			if ps.Finite > 0 {
				ps.MeanDiff = diff / float64(ps.Finite)
			}
			out.Matrix[a][b] = ps
		}
	}
	return out
}
