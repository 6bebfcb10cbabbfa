package eval

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coldint/coldint/chain"
)

// Run runs the stages concurrently until ctx ends or, with steps > 0, until
// the evaluation stage has made that many passes:
//
//   - the sync stage refreshes competitions.json and the hall of fame when
//     their interval is due, the metagraph and commitments every
//     ChainInterval (downloading and hash-checking new models, which it hands
//     to the evaluation stage), and cleans the model folder every
//     CleanupInterval;
//   - the evaluation stage evaluates the selected models and updates the
//     weight vector, one pass after another (waiting for a ready model or
//     idle when a pass evaluated nothing); each pass's report goes to onStep;
//   - the weights stage reveals due commits and sets or commits the weight
//     vector every WeightsTick, whatever the evaluation is doing.
//
// The first config and chain update run before the stages start. A failed
// pass is logged and retried after 5 s (with steps > 0 its error ends Run).
// After each pass the weights stage also runs at once, as in [Validator.Step].
func (v *Validator) Run(ctx context.Context, steps int, idle time.Duration, onStep func(*StepReport)) error {
	if err := v.start(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); v.syncLoop(ctx) }()
	go func() { defer wg.Done(); v.weightsLoop(ctx) }()
	err := v.evalLoop(ctx, steps, idle, onStep)
	cancel()
	wg.Wait()
	return err
}

// start runs the first config and chain update, retrying every 5 s.
func (v *Validator) start(ctx context.Context) error {
	for {
		v.mu.Lock()
		cfg, err := v.configStage(ctx)
		if err == nil {
			err = v.updateChain(ctx, cfg)
		}
		v.mu.Unlock()
		if err == nil || ctx.Err() != nil {
			return ctx.Err()
		}
		v.log.Error("validator start-up failed", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

// syncLoop is the sync stage.
func (v *Validator) syncLoop(ctx context.Context) {
	lastClean := time.Time{}
	t := time.NewTicker(v.opts.SyncTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v.mu.Lock()
		cfg, err := v.configStage(ctx)
		if err == nil && v.chainDue() {
			if err := v.updateChain(ctx, cfg); err != nil && ctx.Err() == nil {
				v.log.Warn("chain update failed; using the previous metagraph", "err", err)
				v.lastChain = v.now() // retry at the next interval, not at once
			}
		}
		if !v.opts.NoClean && v.now().Sub(lastClean) >= v.opts.CleanupInterval {
			v.cleanModels()
			lastClean = v.now()
		}
		v.mu.Unlock()
	}
}

// weightsLoop is the weights stage.
func (v *Validator) weightsLoop(ctx context.Context) {
	t := time.NewTicker(v.opts.WeightsTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v.mu.Lock()
		if _, err := v.weightsStage(ctx, true); err != nil && ctx.Err() == nil {
			v.log.Warn("set weights failed", "err", err)
		}
		v.mu.Unlock()
	}
}

// evalLoop is the evaluation stage.
func (v *Validator) evalLoop(ctx context.Context, steps int, idle time.Duration, onStep func(*StepReport)) error {
	for i := 0; steps <= 0 || i < steps; i++ {
		v.drainReady()
		rep, n, err := v.evalOnce(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			v.log.Error("validator step failed", "err", err)
			if steps > 0 {
				return err
			}
			if !sleep(ctx, 5*time.Second) {
				return ctx.Err()
			}
			continue
		}
		if onStep != nil {
			onStep(rep)
		}
		if n == 0 && (steps <= 0 || i+1 < steps) {
			v.waitReady(ctx, idle)
		}
	}
	return nil
}

func (v *Validator) evalOnce(ctx context.Context) (*StepReport, int, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	start := v.now()
	cfg := v.cfg
	if cfg == nil {
		return nil, 0, errors.New("validator step: no competitions config loaded")
	}
	rep, n, err := v.evalPass(ctx, cfg)
	if err != nil {
		return nil, 0, err
	}
	// A new vector goes out at once when due (as Step does); the weights
	// stage's timer covers the rest.
	if _, err := v.weightsStage(ctx, n > 0 || v.opts.HoFOnly); err != nil && ctx.Err() == nil {
		rep.WeightsError = err.Error()
		v.log.Warn("set weights failed", "err", err)
	}
	rep.WeightsSet = v.state.LastWeightsSet > v.lastReported
	v.lastReported = v.state.LastWeightsSet
	v.finishReport(rep, cfg, start)
	return rep, n, nil
}

// drainReady empties the ready queue, logging what the sync stage handed over.
func (v *Validator) drainReady() {
	var uids []chain.UID
	for {
		select {
		case u := <-v.ready:
			uids = append(uids, u)
		default:
			if len(uids) > 0 {
				v.log.Info("models ready for evaluation", "uids", uids)
			}
			return
		}
	}
}

// waitReady waits for the sync stage to hand over a model, or idle (≤ 0:
// one sync tick).
func (v *Validator) waitReady(ctx context.Context, idle time.Duration) {
	if idle <= 0 {
		idle = v.opts.SyncTick
	}
	t := time.NewTimer(idle)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case u := <-v.ready:
		v.log.Info("model ready for evaluation", "uid", u)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
