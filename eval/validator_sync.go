package eval

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/coldint/coldint/chain"
)

// ---- chain update (docs/validator.md#metagraph-and-top-miners) ----

func (v *Validator) chainDue() bool {
	return v.mg == nil || v.opts.ChainInterval < 0 || v.now().Sub(v.lastChain) >= v.opts.ChainInterval
}

// chainView is what one chain read returns.
type chainView struct {
	mg      *chain.Metagraph
	comms   []chain.Commitment
	commErr error
	weights map[chain.UID]chain.Weights
}

// readChain reads the metagraph, the commitments and the top validators'
// weights. It touches no validator state.
func (v *Validator) readChain(ctx context.Context) (*chainView, error) {
	cv := &chainView{weights: map[chain.UID]chain.Weights{}}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if cv.mg, err = v.opts.Chain.Metagraph(ctx, v.opts.Netuid); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sync metagraph: %w", err)
	}
	cv.comms, cv.commErr = v.opts.Chain.Commitments(ctx, v.opts.Netuid)
	for _, u := range TopValidators(cv.mg.Neurons, 10) {
		if w, err := v.opts.Chain.Weights(ctx, v.opts.Netuid, u); err == nil {
			cv.weights[u] = w
		}
	}
	return cv, nil
}

// updateChain refreshes the metagraph and commitments and visits UIDs
// (syncing their models). The caller holds v.mu; chain reads and downloads
// run without it.
func (v *Validator) updateChain(ctx context.Context, cfg *Config) error {
	t0 := v.now()
	var cv *chainView
	var err error
	v.unlocked(func() { cv, err = v.readChain(ctx) })
	if err != nil {
		return err
	}
	last := map[chain.UID]time.Time{}
	for u, ts := range v.state.UIDLastRetriedTS {
		last[u] = time.Unix(0, int64(ts*1e9))
	}
	hotkeys := v.applyMetagraph(cv.mg, last)
	dd, top := v.dedup(cv, hotkeys, cfg)
	err = v.visitAll(ctx, cfg, hotkeys, top, dd, last)
	v.state.UIDLastRetriedTS = map[chain.UID]float64{}
	for u, t := range last {
		v.state.UIDLastRetriedTS[u] = float64(t.UnixNano()) / 1e9
	}
	if err != nil {
		return err
	}
	v.lastChain = v.now()
	v.timing.add("chain", v.now().Sub(t0))
	return v.saveState()
}

// applyMetagraph installs mg, resetting retry times and models of UIDs
// whose hotkey changed, and returns the hotkeys by uid.
func (v *Validator) applyMetagraph(mg *chain.Metagraph, last map[chain.UID]time.Time) []string {
	n := 0
	for _, nr := range mg.Neurons {
		n = max(n, int(nr.UID)+1)
	}
	hotkeys := make([]string, n)
	for _, nr := range mg.Neurons {
		hotkeys[nr.UID] = nr.Hotkey.String()
	}
	if v.hotkeys != nil {
		ResetRetryOnHotkeyChange(v.hotkeys, hotkeys, last)
		for u := range v.models {
			if int(u) >= len(hotkeys) || hotkeys[u] != v.models[u].Hotkey && !v.models[u].Benchmark {
				delete(v.models, u)
			}
		}
	}
	v.mg, v.hotkeys = mg, hotkeys
	return hotkeys
}

// dedup turns the commitments into per-hotkey metadata (docs/validator.md#commitments-and-dedup) and
// returns it with the top miners.
func (v *Validator) dedup(cv *chainView, hotkeys []string, cfg *Config) (DedupResult, []chain.UID) {
	byHK := map[string]*chain.Commitment{}
	if cv.commErr != nil {
		v.log.Warn("read commitments failed; reusing the previous metadata", "err", cv.commErr)
	}
	for i := range cv.comms {
		byHK[cv.comms[i].Hotkey.String()] = &cv.comms[i]
	}
	top := TopMiners(cv.mg, cv.weights)
	topSet := map[chain.UID]bool{}
	for _, u := range top {
		topSet[u] = true
	}
	qs := make([]CommitmentQuery, len(hotkeys))
	for u, hk := range hotkeys {
		qs[u] = CommitmentQuery{UID: chain.UID(u), Hotkey: hk, Commitment: byHK[hk], Err: cv.commErr}
	}
	discarded := map[string]bool{}
	for _, k := range v.state.DiscardedCommitments {
		discarded[k] = true
	}
	dd := DedupCommitments(qs, v.state.HKMetadata, discarded, cfg.Defaults.DiscardWinrate, topSet)
	for _, k := range dd.Undiscard {
		delete(discarded, k)
	}
	v.state.DiscardedCommitments = sortedKeys(discarded)
	for u, why := range dd.Dropped {
		v.log.Debug("commitment dropped", "uid", u, "reason", why)
	}
	return dd, top
}

// visitAll plans the visit phases (docs/validator.md#visiting-uids) and syncs or removes UIDs
// until the download budget is spent.
func (v *Validator) visitAll(ctx context.Context, cfg *Config, hotkeys []string, top []chain.UID, dd DedupResult, last map[chain.UID]time.Time) error {
	revLast := -1
	if v.state.ForceEvalUntilUIDLast != nil {
		revLast = *v.state.ForceEvalUntilUIDLast
	}
	start := 0
	if len(hotkeys) > 0 {
		start = v.rng.IntN(len(hotkeys))
	}
	phases, until := PlanVisits(len(hotkeys), top, ActiveUIDs(v.state.CState), start, v.now(), revLast)
	v.state.ForceEvalUntilUIDLast = &until
	deadline := PhaseDeadline(v.now())
	visited := map[int]bool{}
	for _, ph := range phases {
		for _, u := range ph.UIDs {
			if visited[u] || u >= len(hotkeys) {
				continue
			}
			if v.now().After(deadline) {
				v.log.Warn("download budget spent; the remaining UIDs wait for the next chain update", "phase", ph.Name)
				break
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			hk := hotkeys[u]
			meta := dd.Metadata[hk]
			switch DecideVisit(u, len(hotkeys), meta, v.state.HKMetadata[hk], last[chain.UID(u)], v.now(), ph.RetryInterval) {
			case VisitRemove:
				visited[u] = true
				v.removeUID(chain.UID(u), hk)
			case VisitSync:
				visited[u] = true
				last[chain.UID(u)] = v.now()
				v.visit(ctx, chain.UID(u), hk, meta, cfg, ph.Priority)
			}
		}
	}
	return nil
}

func (v *Validator) removeUID(u chain.UID, hk string) {
	if _, ok := v.state.HKMetadata[hk]; ok {
		v.state.HKMetadata[hk] = nil
	}
	if !v.isBenchmark(u) {
		AddOrRemoveUID(v.state.CState, u, "", 0)
		delete(v.models, u)
	}
}

// syncLocked runs syncModel without v.mu (downloads one at a time).
func (v *Validator) syncLocked(ctx context.Context, hk string, meta *ModelMetadata, cfg *Config) (out SyncOutcome) {
	v.unlocked(func() {
		v.dl.Lock()
		defer v.dl.Unlock()
		out = v.syncModel(ctx, hk, meta, cfg)
	})
	return out
}

func (v *Validator) visit(ctx context.Context, uid chain.UID, hk string, meta *ModelMetadata, cfg *Config, prio float64) {
	out := v.syncLocked(ctx, hk, meta, cfg)
	if int(uid) >= len(v.hotkeys) || v.hotkeys[uid] != hk {
		return // the metagraph changed while the model synced
	}
	if !out.Result.Retry() {
		v.state.HKMetadata[hk] = meta
	}
	if out.Result != SyncSuccess {
		v.log.Warn("model rejected", "uid", uid, "model", meta.ID.Label(), "result", out.Result.String(), "reason", out.Reason)
		v.rejected[uid] = out.Result.String() + ": " + out.Reason
		if !out.Result.Retry() {
			AddOrRemoveUID(v.state.CState, uid, "", 0)
			delete(v.models, uid)
		}
		return
	}
	delete(v.rejected, uid)
	v.log.Info("model synced", "uid", uid, "model", meta.ID.Label(), "params", out.Info.Params, "downloaded", out.Downloaded)
	v.models[uid] = &uidModel{
		UID: uid, Hotkey: hk, Meta: meta, Comp: meta.ID.Competition, Dir: out.Dir, DirHash: out.DirHash,
		Info: out.Info, Label: meta.ID.Label(), Block: meta.Block,
	}
	AddOrRemoveUID(v.state.CState, uid, meta.ID.Competition, Jitter(prio, v.rng))
	select {
	case v.ready <- uid:
	default: // the queue is full: the evaluation stage finds it in the state
	}
}

func (v *Validator) isBenchmark(uid chain.UID) bool {
	m := v.models[uid]
	return m != nil && m.Benchmark
}

// resolve makes sure an active UID has its model on disk (after a restart
// the snapshot is re-verified, not downloaded again).
func (v *Validator) resolve(ctx context.Context, uid chain.UID, cfg *Config) *uidModel {
	if m := v.models[uid]; m != nil {
		return m
	}
	if int(uid) >= len(v.hotkeys) {
		return nil
	}
	hk := v.hotkeys[uid]
	meta := v.state.HKMetadata[hk]
	if meta == nil {
		return nil
	}
	out := v.syncLocked(ctx, hk, meta, cfg)
	if out.Result != SyncSuccess {
		v.rejected[uid] = out.Result.String() + ": " + out.Reason
		if !out.Result.Retry() {
			AddOrRemoveUID(v.state.CState, uid, "", 0)
		}
		return nil
	}
	m := &uidModel{UID: uid, Hotkey: hk, Meta: meta, Comp: meta.ID.Competition, Dir: out.Dir, DirHash: out.DirHash,
		Info: out.Info, Label: meta.ID.Label(), Block: meta.Block}
	v.models[uid] = m
	return m
}

// ---- benchmarks (docs/validator.md#a-step) ----

func (v *Validator) injectBenchmarks(cfg *Config) {
	if v.opts.BenchmarkFile == "" {
		return
	}
	b, err := os.ReadFile(v.opts.BenchmarkFile)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			v.log.Warn("read benchmarks", "err", err)
		}
		return
	}
	bs, err := ParseBenchmarks(b)
	if err != nil {
		v.log.Warn("parse benchmarks", "err", err)
		return
	}
	for _, bm := range bs {
		comp, ok := cfg.Competition(bm.Competition)
		if !ok {
			continue
		}
		if _, ok := v.state.CState[comp.Name]; !ok {
			continue
		}
		m := v.models[bm.UID]
		if m == nil || !m.Benchmark || m.Dir != bm.Path {
			info, class, reason := checkModel(bm.Path, comp)
			if reason != "" {
				v.log.Warn("benchmark model rejected", "uid", bm.UID, "path", bm.Path, "reason", reason)
				continue
			}
			_ = class
			m = &uidModel{UID: bm.UID, Hotkey: bm.Hotkey, Comp: comp.Name, Dir: bm.Path, Info: info,
				Label: bm.DisplayLabel(), Block: bm.Block, Benchmark: true}
			v.models[bm.UID] = m
		}
		AddOrRemoveUID(v.state.CState, bm.UID, comp.Name, Jitter(PrioInject, v.rng))
	}
}
