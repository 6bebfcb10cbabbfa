package eval

import (
	"errors"
	"math"
	"math/rand/v2"

	"github.com/coldint/coldint/chain"
)

// CompetitionStep is the input of [ScoreStep] for one competition.
type CompetitionStep struct {
	Competition *Competition
	// Picked are the UIDs evaluated this step ([SelectUIDs]).
	Picked []chain.UID
	// Losses maps a picked UID to its per-sample losses; a missing or nil
	// entry means the model failed (no results).
	Losses map[chain.UID][]float64
	// Blocks maps a picked UID to its commitment block.
	Blocks map[chain.UID]chain.BlockNumber
	// Benchmarks marks injected UIDs (never discarded).
	Benchmarks map[chain.UID]bool
	// Samples identify the evaluated samples, in the order of every loss
	// vector in Losses (nil when unknown).
	Samples []SampleRef
	// TaskBounds split the samples into tasks: task i is samples
	// [TaskBounds[i], TaskBounds[i+1]) (nil: one task). TaskWeights are
	// the tasks' normalised weights.
	TaskBounds  []int
	TaskWeights []float64
}

// StepOutcome is what [ScoreStep] did to a competition.
type StepOutcome struct {
	// Result is nil when no model had results: the competition then keeps
	// its previous weights and reports 0 evaluations (docs/scoring.md#from-win-rates-to-weights).
	Result *ScoreResult
	// Evaluated counts the models with results.
	Evaluated int
	// Pool is the pool update (zero when Result is nil).
	Pool PoolUpdate
}

// ScoreStep scores one competition's step and updates its state
// (docs/scoring.md#grouping-samples): grouping, wins, skewed weights into state.Weights, the new
// pool into state.Pool. The caller turns Pool.Discard into
// discarded_commitments keys ([DiscardKey]) and deletes dropped models when
// the disk policy needs space.
func ScoreStep(state *CompState, in CompetitionStep, current chain.BlockNumber, discardWinrate float64, rng *rand.Rand) (StepOutcome, error) {
	c := in.Competition
	models := make([]ModelLosses, 0, len(in.Picked))
	var out StepOutcome
	for _, u := range in.Picked {
		l := in.Losses[u]
		if l != nil {
			out.Evaluated++
		}
		models = append(models, ModelLosses{UID: u, Block: in.Blocks[u], Losses: l})
	}
	res, err := scoreModels(models, ScoreParams{
		WinParams:        WinParams{CurrentBlock: current, AdvantageInitial: c.AdvantageInitial, AdvantageDecay: c.AdvantageDecay},
		WeightSkewFactor: c.WeightSkewFactor,
		GroupSamples:     c.GroupSamples,
	}, in.TaskBounds, in.TaskWeights, rng)
	if errors.Is(err, ErrNoResults) {
		return StepOutcome{}, nil
	}
	if err != nil {
		return StepOutcome{}, err
	}
	out.Result = res
	state.Weights = res.Weights
	cands := make([]PoolCandidate, 0, len(in.Picked))
	for _, u := range in.Picked {
		has := false
		for _, v := range in.Losses[u] {
			if !math.IsNaN(v) {
				has = true
				break
			}
		}
		cands = append(cands, PoolCandidate{
			UID: u, Block: in.Blocks[u], WinRate: res.WinRate[u], WinAbsRate: res.WinAbsRate[u],
			HasLosses: has, Benchmark: in.Benchmarks[u],
		})
	}
	out.Pool = UpdatePool(cands, c.PoolSize, discardWinrate)
	state.Pool = out.Pool.Pool
	return out, nil
}
