package eval

import (
	"bytes"
	"context"
	"fmt"

	"github.com/coldint/coldint/chain"
)

// Step runs one synchronous pass over the stages (docs/validator.md#the-loop loop body,
// docs/validator.md#a-step): config and chain updates when due (with the downloads), cleanup,
// benchmarks, samples, per-competition evaluation and scoring, the weight
// vector, state saves, due reveals and weight setting. [Validator.Run] runs
// the same stages concurrently.
func (v *Validator) Step(ctx context.Context) (*StepReport, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	start := v.now()
	v.timing.take()
	cfg, err := v.configStage(ctx)
	if err != nil {
		return nil, err
	}
	if v.chainDue() {
		if err := v.updateChain(ctx, cfg); err != nil {
			if v.mg == nil {
				return nil, err
			}
			v.log.Warn("chain update failed; using the previous metagraph", "err", err)
		}
	}
	if !v.opts.NoClean {
		v.cleanModels()
	}
	rep, evaluated, err := v.evalPass(ctx, cfg)
	if err != nil {
		return nil, err
	}
	set, err := v.weightsStage(ctx, evaluated > 0 || v.opts.HoFOnly)
	rep.WeightsSet = set
	if err != nil {
		rep.WeightsError = err.Error()
		v.log.Warn("set weights failed", "err", err)
	}
	v.finishReport(rep, cfg, start)
	return rep, nil
}

// configStage refreshes competitions.json and the hall of fame when due and
// applies the current config to the state. The caller holds v.mu.
func (v *Validator) configStage(ctx context.Context) (*Config, error) {
	var err error
	v.unlocked(func() { _, err = v.opts.Loader.RefreshIfDue(ctx) })
	if err != nil {
		v.log.Warn("refresh competitions", "err", err)
	}
	cfg, hof := v.opts.Loader.Current()
	if cfg == nil && !v.opts.HoFOnly {
		return nil, fmt.Errorf("validator step: no competitions config loaded")
	}
	if cfg == nil {
		cfg = &Config{Defaults: BuiltinDefaults()}
	}
	if v.cfg != nil && !bytes.Equal(cfg.Raw, v.cfg.Raw) {
		v.log.Info("competitions config applied", "competitions", len(cfg.Competitions))
	}
	v.cfg = cfg
	v.state.Competitions = cfg.Raw
	v.state.Defaults = cfg.Defaults
	if hof != nil {
		v.state.HallOfFame = hof
	}
	for _, c := range cfg.Competitions {
		if v.state.CState[c.Name] == nil {
			v.state.CState[c.Name] = &CompState{Pending: map[chain.UID]float64{}, Weights: map[chain.UID]float64{}}
		}
	}
	for name := range v.state.CState {
		if _, ok := cfg.Competition(name); !ok {
			delete(v.state.CState, name)
		}
	}
	return cfg, nil
}

// evalPass is the evaluation stage: benchmarks, the evaluation of the
// selected models, the new weight vector and the state save. It returns the
// step's report (finished by finishReport) and the number of models with
// results. The caller holds v.mu; forward passes run without it.
func (v *Validator) evalPass(ctx context.Context, cfg *Config) (*StepReport, int, error) {
	v.step++
	rep := &StepReport{Step: v.step, Timestamp: float64(v.now().UnixNano()) / 1e9, Weights: map[chain.UID]float64{},
		UIDOrder: []chain.UID{}, CompetitionInfo: map[string]CompetitionLog{}, Pages: []string{},
		Samples: map[string][]SampleRef{}, SampleErrors: map[string]string{}, Rounds: map[string]SyncRound{}}
	if v.mg == nil {
		return nil, 0, fmt.Errorf("validator step: no metagraph yet")
	}
	rep.Block = uint64(v.mg.Block)
	maxFrac := RewardsMaxFraction
	evaluated := 0
	if !v.opts.HoFOnly && len(cfg.Competitions) > 0 {
		v.injectBenchmarks(cfg)
		var err error
		if evaluated, err = v.evaluate(ctx, cfg, rep); err != nil {
			return nil, 0, err
		}
	} else if v.opts.HoFOnly {
		maxFrac = RewardsMaxFractionV1017
	}
	v.updateWeights(cfg, rep, maxFrac)
	if err := v.saveState(); err != nil {
		return nil, 0, err
	}
	rep.Evaluated = evaluated
	return rep, evaluated, nil
}

// updateWeights folds the competitions' and hall of fame's weights into the
// running vector (docs/scoring.md#combining-competitions).
func (v *Validator) updateWeights(cfg *Config, rep *StepReport, maxFrac float64) {
	t0 := v.now()
	rw, total := HoFWeights(v.state.HallOfFame, v.hotkeys, uint64(v.mg.Block), maxFrac)
	var comps []CompetitionWeights
	for _, c := range cfg.Competitions {
		if cs := v.state.CState[c.Name]; cs != nil && !v.opts.HoFOnly {
			comps = append(comps, CompetitionWeights{Reward: c.Reward, Weights: cs.Weights})
		}
	}
	next := CombineWeights(comps, rw, total, len(v.hotkeys))
	v.weights = EMA(v.weights, next, WeightAlpha)
	for u, w := range v.weights {
		if w > 0 {
			rep.Weights[chain.UID(u)] = w
		}
	}
	for i := range rep.UIDs {
		if int(rep.UIDs[i].UID) < len(v.weights) {
			rep.UIDs[i].Weight = v.weights[rep.UIDs[i].UID]
		}
	}
	v.timing.add("score", v.now().Sub(t0))
}
