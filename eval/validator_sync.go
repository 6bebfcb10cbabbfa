package eval

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/coldint/coldint/chain"
)

// ---- chain update (§6.2–6.4) ----

func (v *Validator) chainDue() bool {
	return v.mg == nil || v.opts.ChainInterval < 0 || v.now().Sub(v.lastChain) >= v.opts.ChainInterval
}

// updateChain refreshes the metagraph and commitments and visits UIDs.
func (v *Validator) updateChain(ctx context.Context, cfg *Config) error {
	t0 := v.now()
	var mg *chain.Metagraph
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if mg, err = v.opts.Chain.Metagraph(ctx, v.opts.Netuid); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("sync metagraph: %w", err)
	}
	n := 0
	for _, nr := range mg.Neurons {
		n = max(n, int(nr.UID)+1)
	}
	hotkeys := make([]string, n)
	for _, nr := range mg.Neurons {
		hotkeys[nr.UID] = nr.Hotkey.String()
	}
	last := map[chain.UID]time.Time{}
	for u, ts := range v.state.UIDLastRetriedTS {
		last[u] = time.Unix(0, int64(ts*1e9))
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

	comms, err := v.opts.Chain.Commitments(ctx, v.opts.Netuid)
	byHK := map[string]*chain.Commitment{}
	if err != nil {
		v.log.Warn("read commitments failed; reusing the previous metadata", "err", err)
	}
	for i := range comms {
		byHK[comms[i].Hotkey.String()] = &comms[i]
	}
	wts := map[chain.UID]chain.Weights{}
	for _, u := range TopValidators(mg.Neurons, 10) {
		if w, err := v.opts.Chain.Weights(ctx, v.opts.Netuid, u); err == nil {
			wts[u] = w
		}
	}
	top := TopMiners(mg, wts)
	topSet := map[chain.UID]bool{}
	for _, u := range top {
		topSet[u] = true
	}
	qs := make([]CommitmentQuery, len(hotkeys))
	for u, hk := range hotkeys {
		qs[u] = CommitmentQuery{UID: chain.UID(u), Hotkey: hk, Commitment: byHK[hk], Err: err}
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

	active := ActiveUIDs(v.state.CState)
	revLast := -1
	if v.state.ForceEvalUntilUIDLast != nil {
		revLast = *v.state.ForceEvalUntilUIDLast
	}
	start := 0
	if len(hotkeys) > 0 {
		start = v.rng.IntN(len(hotkeys))
	}
	phases, until := PlanVisits(len(hotkeys), top, active, start, v.now(), revLast)
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
			act := DecideVisit(u, len(hotkeys), meta, v.state.HKMetadata[hk], last[chain.UID(u)], v.now(), ph.RetryInterval)
			switch act {
			case VisitRemove:
				visited[u] = true
				if _, ok := v.state.HKMetadata[hk]; ok {
					v.state.HKMetadata[hk] = nil
				}
				if !v.isBenchmark(chain.UID(u)) {
					AddOrRemoveUID(v.state.CState, chain.UID(u), "", 0)
					delete(v.models, chain.UID(u))
				}
			case VisitSync:
				visited[u] = true
				last[chain.UID(u)] = v.now()
				v.visit(ctx, chain.UID(u), hk, meta, cfg, ph.Priority)
			}
		}
	}
	v.state.UIDLastRetriedTS = map[chain.UID]float64{}
	for u, t := range last {
		v.state.UIDLastRetriedTS[u] = float64(t.UnixNano()) / 1e9
	}
	v.lastChain = v.now()
	v.timing.add("chain", v.now().Sub(t0))
	return v.saveState()
}

func (v *Validator) visit(ctx context.Context, uid chain.UID, hk string, meta *ModelMetadata, cfg *Config, prio float64) {
	out := v.syncModel(ctx, hk, meta, cfg)
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
	out := v.syncModel(ctx, hk, meta, cfg)
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

// ---- benchmarks (§6.6.1) ----

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
