package eval

import (
	"math"
	"sort"

	"github.com/coldint/coldint/chain"
)

// PoolCandidate is one UID evaluated in a competition this step, as the pool
// update sees it (docs/scoring.md#pool-and-discards).
type PoolCandidate struct {
	UID        chain.UID
	Block      chain.BlockNumber
	WinRate    float64
	WinAbsRate float64
	// HasLosses is true when the model had at least one non-NaN loss.
	HasLosses bool
	// Benchmark marks an injected model: never discarded.
	Benchmark bool
}

// PoolUpdate is the outcome of [UpdatePool].
type PoolUpdate struct {
	// Pool is the new pool, best first.
	Pool []chain.UID
	// Dropped are the candidates that left the competition (benchmarks included).
	Dropped []chain.UID
	// Discard are the dropped, non-benchmark UIDs whose commitment goes into
	// discarded_commitments: some non-NaN losses and both win_rate and
	// win_abs_rate below discard_winrate.
	Discard []chain.UID
}

// UpdatePool keeps the poolSize candidates with the highest win rate and
// drops the rest, marking low performers for discard (docs/scoring.md#pool-and-discards).
//
// Quirk fix: the reference breaks win-rate ties arbitrarily; here ties go to
// the older commitment, then to the lower UID, so every validator keeps the
// same pool.
func UpdatePool(cands []PoolCandidate, poolSize int, discardWinrate float64) PoolUpdate {
	cs := append([]PoolCandidate(nil), cands...)
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].WinRate != cs[j].WinRate {
			return cs[i].WinRate > cs[j].WinRate
		}
		if cs[i].Block != cs[j].Block {
			return cs[i].Block < cs[j].Block
		}
		return cs[i].UID < cs[j].UID
	})
	var out PoolUpdate
	for i, c := range cs {
		if i < poolSize {
			out.Pool = append(out.Pool, c.UID)
			continue
		}
		out.Dropped = append(out.Dropped, c.UID)
		if !c.Benchmark && c.HasLosses && c.WinRate < discardWinrate && c.WinAbsRate < discardWinrate {
			out.Discard = append(out.Discard, c.UID)
		}
	}
	return out
}

// CompetitionWeights is one competition's share in the global weight vector.
type CompetitionWeights struct {
	Reward  float64
	Weights map[chain.UID]float64
}

// CombineWeights builds the step's weight vector of n UIDs (docs/scoring.md#combining-competitions):
// new[uid] = Σ_c (1 − T)·reward_c·w_c[uid], plus the hall-of-fame weights rw,
// divided by its sum (left all-zero when the sum is 0). UIDs ≥ n are ignored.
// Competitions absent from state are simply not passed: the normalisation
// redistributes their share.
func CombineWeights(comps []CompetitionWeights, rw map[chain.UID]float64, hofTotal float64, n int) []float64 {
	out := make([]float64, n)
	for _, c := range comps {
		for _, u := range sortedUIDs(c.Weights) {
			if int(u) < n {
				out[u] += (1 - hofTotal) * c.Reward * c.Weights[u]
			}
		}
	}
	for _, u := range sortedUIDs(rw) {
		if int(u) < n {
			out[u] += rw[u]
		}
	}
	var sum float64
	for i, v := range out {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			out[i] = 0
			continue
		}
		sum += v
	}
	if sum > 0 {
		for i := range out {
			out[i] /= sum
		}
	}
	return out
}

// EMA folds the step's vector into the running weights (docs/scoring.md#combining-competitions): if
// prev is nil or all zero the result is next; otherwise
// alpha·prev + (1−alpha)·next (alpha = [WeightAlpha] = 0.5). NaN becomes 0.
// The running vector is not persisted: after a restart it starts over.
func EMA(prev, next []float64, alpha float64) []float64 {
	out := make([]float64, len(next))
	zero := true
	for _, v := range prev {
		if v != 0 && !math.IsNaN(v) {
			zero = false
			break
		}
	}
	for i, v := range next {
		if !zero && i < len(prev) {
			v = alpha*prev[i] + (1-alpha)*v
		}
		if math.IsNaN(v) {
			v = 0
		}
		out[i] = v
	}
	return out
}

// ShouldSetWeights reports whether the weight vector is worth setting: its
// sum must reach [WeightSetMinSum] (docs/validator.md#setting-weights).
func ShouldSetWeights(w []float64) bool {
	var s float64
	for _, v := range w {
		s += v
	}
	return s >= WeightSetMinSum
}
