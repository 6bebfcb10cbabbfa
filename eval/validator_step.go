package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/coldint/coldint/chain"
)

func (v *Validator) Step(ctx context.Context) (*StepReport, error) {
	start := v.now()
	v.timing = &phaseTiming{d: map[string]time.Duration{}}
	v.step++
	rep := &StepReport{Step: v.step, Timestamp: float64(start.UnixNano()) / 1e9, Weights: map[chain.UID]float64{},
		UIDOrder: []chain.UID{}, CompetitionInfo: map[string]CompetitionLog{}, Pages: []string{}}
	if _, err := v.opts.Loader.RefreshIfDue(ctx); err != nil {
		v.log.Warn("refresh competitions", "err", err)
	}
	cfg, hof := v.opts.Loader.Current()
	if cfg == nil && !v.opts.HoFOnly {
		return nil, fmt.Errorf("validator step: no competitions config loaded")
	}
	if cfg == nil {
		cfg = &Config{Defaults: BuiltinDefaults()}
	}
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
	if v.chainDue() {
		if err := v.updateChain(ctx, cfg); err != nil {
			if v.mg == nil {
				return nil, err
			}
			v.log.Warn("chain update failed; using the previous metagraph", "err", err)
		}
	}
	rep.Block = uint64(v.mg.Block)
	if !v.opts.NoClean {
		v.cleanModels()
	}
	maxFrac := RewardsMaxFraction
	evaluated := 0
	if !v.opts.HoFOnly && len(cfg.Competitions) > 0 {
		v.injectBenchmarks(cfg)
		var err error
		evaluated, err = v.evaluate(ctx, cfg, rep)
		if err != nil {
			return nil, err
		}
	} else if v.opts.HoFOnly {
		maxFrac = RewardsMaxFractionV1017
	}
	// Weights (§6.11.4).
	t0 := v.now()
	rw, total := HoFWeights(v.state.HallOfFame, v.hotkeys, uint64(v.mg.Block), maxFrac)
	var comps []CompetitionWeights
	for _, c := range cfg.Competitions {
		if cs := v.state.CState[c.Name]; cs != nil && !v.opts.HoFOnly {
			comps = append(comps, CompetitionWeights{Reward: c.Reward, Weights: cs.Weights})
		}
	}
	n := len(v.hotkeys)
	next := CombineWeights(comps, rw, total, n)
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
	if err := v.saveState(); err != nil {
		return nil, err
	}
	if evaluated > 0 || v.opts.HoFOnly {
		set, err := v.maybeSetWeights(ctx)
		rep.WeightsSet = set
		if err != nil {
			rep.WeightsError = err.Error()
			v.log.Warn("set weights failed", "err", err)
		}
	}
	rep.Evaluated = evaluated
	rep.Competitions = []string{}
	for _, c := range cfg.Competitions {
		rep.Competitions = append(rep.Competitions, c.Name)
		if len(c.Params) > 0 {
			if rep.CompetitionParams == nil {
				rep.CompetitionParams = map[string]map[string]json.RawMessage{}
			}
			rep.CompetitionParams[c.Name] = c.Params
		}
	}
	for _, u := range rep.UIDs {
		rep.UIDOrder = append(rep.UIDOrder, u.UID)
	}
	if len(v.rejected) > 0 {
		rep.Rejected = map[chain.UID]string{}
		for u, r := range v.rejected {
			rep.Rejected[u] = r
		}
	}
	if rep.Forward+rep.Cached > 0 {
		rep.CacheHitRate = float64(rep.Cached) / float64(rep.Forward+rep.Cached)
	}
	rep.Timing = map[string]float64{}
	for k, d := range v.timing.d {
		rep.Timing[k] = d.Seconds()
	}
	rep.StepTime = v.now().Sub(start).Seconds()
	if v.opts.SaveStepJSON != "" {
		if err := writeJSONFile(v.opts.SaveStepJSON, rep); err != nil {
			v.log.Warn("save step json", "err", err)
		}
	}
	return rep, nil
}

// evaluate runs §6.6 steps 2–4: model indices, samples, per-competition
// losses and scoring. It returns the number of models with results.

// A failed step is logged and retried after 5 s; each report goes to onStep.
func (v *Validator) Run(ctx context.Context, steps int, idle time.Duration, onStep func(*StepReport)) error {
	for i := 0; steps <= 0 || i < steps; i++ {
		rep, err := v.Step(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			v.log.Error("validator step failed", "err", err)
			if steps > 0 {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Second):
			}
			continue
		}
		if onStep != nil {
			onStep(rep)
		}
		if rep.Evaluated == 0 && idle > 0 && (steps <= 0 || i+1 < steps) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(idle):
			}
		}
	}
	return nil
}
