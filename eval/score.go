package eval

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/coldint/coldint/chain"
)

// ModelLosses is one UID's per-sample losses in a competition. Losses == nil
// means the model has no results this step (it failed or was not evaluated).
type ModelLosses struct {
	UID    chain.UID
	Block  chain.BlockNumber // block of the model's commitment
	Losses []float64
}

// WinParams are the per-competition parameters of the win computation.
type WinParams struct {
	CurrentBlock     chain.BlockNumber
	AdvantageInitial float64
	AdvantageDecay   float64
}

// ErrNoResults means no model of a competition had results: the competition
// keeps its previous weights and reports 0 evaluations (docs/scoring.md#from-win-rates-to-weights).
var ErrNoResults = errors.New("no results to score")

// CleanLosses returns a copy of losses with every NaN and −Inf replaced by
// +Inf.
//
// Quirk fix (docs/scoring.md#win-rate, docs/validator.md#fixed-quirks "a NaN incumbent wins"): in the reference, a NaN
// held by the incumbent is unbeatable and argmin picks the first NaN when
// samples are not grouped. Here NaN (a failed sample) is +Inf whatever g is.
// −Inf cannot come from a cross-entropy sum; it is treated as a failure too,
// so that no non-finite value ever counts as a win (docs/validator.md#fixed-quirks, 2024-07-30).
func CleanLosses(losses []float64) []float64 {
	out := make([]float64, len(losses))
	for i, v := range losses {
		if math.IsNaN(v) || math.IsInf(v, -1) {
			v = math.Inf(1)
		}
		out[i] = v
	}
	return out
}

// GroupSamples turns per-sample loss vectors (one per UID, all the same
// length) into per-group sums (docs/scoring.md#grouping-samples): NaN→+Inf; every column where all
// UIDs are +Inf is set to 0; the vectors are truncated to n − (n mod g)
// columns and one random permutation (from rng) is applied to all alike; then
// each run of g columns is summed (any +Inf makes the group +Inf).
//
// With g ≤ 1 only the NaN→+Inf cleaning is applied and no randomness is used.
// A nil vector stays nil (a model without results). rng may be nil only when
// g ≤ 1.
func GroupSamples(losses [][]float64, g int, rng *rand.Rand) ([][]float64, error) {
	n := -1
	out := make([][]float64, len(losses))
	for i, l := range losses {
		if l == nil {
			continue
		}
		if n >= 0 && len(l) != n {
			return nil, fmt.Errorf("group samples: vector %d has %d losses, want %d", i, len(l), n)
		}
		n = len(l)
		out[i] = CleanLosses(l)
	}
	if g <= 1 || n < 0 {
		return out, nil
	}
	if rng == nil {
		return nil, errors.New("group samples: need a random source for g > 1")
	}
	for col := 0; col < n; col++ {
		allInf := true
		for _, l := range out {
			if l != nil && !math.IsInf(l[col], 1) {
				allInf = false
				break
			}
		}
		if allInf {
			for _, l := range out {
				if l != nil {
					l[col] = 0
				}
			}
		}
	}
	m := n - n%g
	perm := rng.Perm(m)
	for i, l := range out {
		if l == nil {
			continue
		}
		grouped := make([]float64, m/g)
		for j, p := range perm {
			grouped[j/g] += l[p]
		}
		out[i] = grouped
	}
	return out, nil
}

// AdvantageFactor is the time-advantage factor of a model committed at block
// (docs/scoring.md#time-advantage): with e = (current − block)/361 epochs, 1 if e < 0 (a block
// in the future, e.g. an injected benchmark at 2^31) or infinite, else
// 1 − initial·decay^e.
func AdvantageFactor(current, block chain.BlockNumber, initial, decay float64) float64 {
	e := (float64(current) - float64(block)) / BlocksPerEpoch
	if e < 0 || math.IsInf(e, 0) {
		return 1
	}
	return 1 - initial*math.Pow(decay, e)
}

// WinResult is the outcome of [ComputeWins] for one competition.
type WinResult struct {
	// Order lists the scored UIDs oldest commit first.
	Order []chain.UID
	// N is the number of samples (or groups) scored.
	N int
	// Factors are the advantage factors f of the scored UIDs.
	Factors map[chain.UID]float64
	// Wins and AbsWins count the samples each UID won.
	Wins, AbsWins map[chain.UID]int
	// WinRate = Wins/N and WinAbsRate = AbsWins/N; each sums to 1.
	WinRate, WinAbsRate map[chain.UID]float64
	// Matrix is the informative pairwise win matrix, indexed like Order.
	Matrix [][]PairStats
}

// PairStats compares model a (row) with model b (column) over all samples.
type PairStats struct {
	// Less counts samples with loss_a < loss_b.
	Less int `json:"less"`
	// LessAdv counts samples with f_a·loss_a < loss_b.
	LessAdv int `json:"less_adv"`
	// MeanDiff is the mean of loss_a − loss_b over samples where both are
	// finite (0 when there are none).
	MeanDiff float64 `json:"mean_diff"`
	// Finite counts the samples where both losses are finite (those MeanDiff
	// averages over).
	Finite int `json:"finite"`
}

// ComputeWins applies the sequential-incumbent win rule with time advantage
// (docs/scoring.md#win-rate). Models without results (nil Losses) are dropped; the rest are
// sorted by commit block, oldest first. For each sample the oldest model is
// the incumbent with best = loss·f; each later model whose raw loss is below
// best takes over with best = its loss·its f; the last incumbent gets the
// point. The absolute winner is the argmin of raw losses (ties → older). All
// +Inf → the oldest wins. Losses are cleaned with [CleanLosses] first.
//
// Quirk fix: the reference sorts by block with a stable sort over dict
// order; equal blocks are ordered here by ascending UID so the result does
// not depend on input order. All vectors must have the same length (the
// reference uses the oldest UID's count and fails on shorter vectors).
// Returns [ErrNoResults] when no model has results or there are no samples.
func ComputeWins(models []ModelLosses, p WinParams) (*WinResult, error) {
	ms, err := winOrder(models)
	if err != nil {
		return nil, err
	}
	n := len(ms[0].Losses)
	r := &WinResult{
		N:          n,
		Factors:    map[chain.UID]float64{},
		Wins:       map[chain.UID]int{},
		AbsWins:    map[chain.UID]int{},
		WinRate:    map[chain.UID]float64{},
		WinAbsRate: map[chain.UID]float64{},
	}
	f := make([]float64, len(ms))
	for i, m := range ms {
		r.Order = append(r.Order, m.UID)
		f[i] = AdvantageFactor(p.CurrentBlock, m.Block, p.AdvantageInitial, p.AdvantageDecay)
		r.Factors[m.UID] = f[i]
		r.Wins[m.UID] = 0
		r.AbsWins[m.UID] = 0
	}
	countWins(r, ms, f)
	for _, m := range ms {
		r.WinRate[m.UID] = float64(r.Wins[m.UID]) / float64(n)
		r.WinAbsRate[m.UID] = float64(r.AbsWins[m.UID]) / float64(n)
	}
	r.Matrix = pairMatrix(ms, f)
	return r, nil
}

// winOrder drops models without results, cleans the losses and sorts by
// commit block (then uid), checking that every model has the same number of
// samples and that there is at least one.
func winOrder(models []ModelLosses) ([]ModelLosses, error) {
	var ms []ModelLosses
	seen := map[chain.UID]bool{}
	for _, m := range models {
		if seen[m.UID] {
			return nil, fmt.Errorf("compute wins: duplicate uid %d", m.UID)
		}
		seen[m.UID] = true
		if m.Losses != nil {
			ms = append(ms, ModelLosses{UID: m.UID, Block: m.Block, Losses: CleanLosses(m.Losses)})
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("compute wins: %w", ErrNoResults)
	}
	sort.SliceStable(ms, func(i, j int) bool {
		if ms[i].Block != ms[j].Block {
			return ms[i].Block < ms[j].Block
		}
		return ms[i].UID < ms[j].UID
	})
	n := len(ms[0].Losses)
	for _, m := range ms {
		if len(m.Losses) != n {
			return nil, fmt.Errorf("compute wins: uid %d has %d losses, uid %d has %d", m.UID, len(m.Losses), ms[0].UID, n)
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("compute wins: no samples: %w", ErrNoResults)
	}
	return ms, nil
}

// countWins gives each sample's point to the last incumbent (advantage
// factors f) and its absolute point to the lowest raw loss.
func countWins(r *WinResult, ms []ModelLosses, f []float64) {
	for s := 0; s < r.N; s++ {
		w := 0
		best := ms[0].Losses[s] * f[0]
		abs := 0
		for u := 1; u < len(ms); u++ {
			l := ms[u].Losses[s]
			if l < best {
				w, best = u, l*f[u]
			}
			if l < ms[abs].Losses[s] {
				abs = u
			}
		}
		r.Wins[ms[w].UID]++
		r.AbsWins[ms[abs].UID]++
	}
}

// pairMatrix compares every pair of models sample by sample.
func pairMatrix(ms []ModelLosses, f []float64) [][]PairStats {
	m := make([][]PairStats, len(ms))
	for a := range ms {
		m[a] = make([]PairStats, len(ms))
		for b := range ms {
			m[a][b] = pairStats(ms[a].Losses, ms[b].Losses, f[a])
		}
	}
	return m
}

// pairStats compares the losses la of one model, with advantage factor fa,
// to lb of another.
func pairStats(la, lb []float64, fa float64) PairStats {
	var ps PairStats
	var sum float64
	for s := range la {
		if la[s] < lb[s] {
			ps.Less++
		}
		if fa*la[s] < lb[s] {
			ps.LessAdv++
		}
		if !math.IsInf(la[s], 0) && !math.IsInf(lb[s], 0) {
			sum += la[s] - lb[s]
			ps.Finite++
		}
	}
	if ps.Finite > 0 {
		ps.MeanDiff = sum / float64(ps.Finite)
	}
	return ps
}

// SkewWeights turns win rates into a competition's weights (docs/scoring.md#from-win-rates-to-weights):
// w = rate^k, normalised to sum 1, or all zero when the sum is 0. UIDs listed
// in uids but absent from winRate (no results) get 0.
func SkewWeights(winRate map[chain.UID]float64, k float64, uids ...chain.UID) map[chain.UID]float64 {
	out := make(map[chain.UID]float64, len(winRate)+len(uids))
	keys := sortedUIDs(winRate)
	var sum float64
	for _, u := range keys {
		w := 0.0
		if r := winRate[u]; r > 0 {
			w = math.Pow(r, k)
		}
		out[u] = w
		sum += w
	}
	if sum > 0 {
		for _, u := range keys {
			out[u] /= sum
		}
	}
	for _, u := range uids {
		if _, ok := out[u]; !ok {
			out[u] = 0
		}
	}
	return out
}

func sortedUIDs[V any](m map[chain.UID]V) []chain.UID {
	out := make([]chain.UID, 0, len(m))
	for u := range m {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ScoreParams are the inputs of [ScoreCompetition] besides the losses.
type ScoreParams struct {
	WinParams
	WeightSkewFactor float64
	GroupSamples     int
}

// ScoreResult is a competition's scoring before hall of fame and EMA.
type ScoreResult struct {
	*WinResult
	// Weights hold every input UID; models without results get 0.
	Weights map[chain.UID]float64
}

// ScoreCompetition groups the samples (docs/scoring.md#grouping-samples, rng is used when g > 1), computes
// wins (docs/scoring.md#win-rate) and skews them into weights (docs/scoring.md#from-win-rates-to-weights).
func ScoreCompetition(models []ModelLosses, p ScoreParams, rng *rand.Rand) (*ScoreResult, error) {
	vecs := make([][]float64, len(models))
	for i, m := range models {
		vecs[i] = m.Losses
	}
	grouped, err := GroupSamples(vecs, p.GroupSamples, rng)
	if err != nil {
		return nil, fmt.Errorf("score competition: %w", err)
	}
	gm := make([]ModelLosses, len(models))
	all := make([]chain.UID, len(models))
	for i, m := range models {
		gm[i] = ModelLosses{UID: m.UID, Block: m.Block, Losses: grouped[i]}
		all[i] = m.UID
	}
	wr, err := ComputeWins(gm, p.WinParams)
	if err != nil {
		return nil, fmt.Errorf("score competition: %w", err)
	}
	return &ScoreResult{WinResult: wr, Weights: SkewWeights(wr.WinRate, p.WeightSkewFactor, all...)}, nil
}
