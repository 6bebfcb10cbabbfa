package eval

import (
	"context"
	"fmt"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/hf/modelhash"
)

func (v *Validator) evaluate(ctx context.Context, cfg *Config, rep *StepReport) (int, error) {
	d := cfg.Defaults
	// Model indices and copy detection (§6.6.2, §6.8).
	index := map[chain.UID]int{}
	for _, u := range ActiveUIDs(v.state.CState) {
		m := v.resolve(ctx, u, cfg)
		if m == nil {
			continue
		}
		h := m.DirHash
		if h == "" {
			if h = v.cache.ModelDirHashes[m.Dir]; h == "" {
				t0 := v.now()
				var err error
				h, err = modelhash.Dir(ctx, m.Dir, modelhash.Options{})
				v.timing.add("hash", v.now().Sub(t0))
				if err != nil {
					v.rejected[u] = "hash: " + err.Error()
					continue
				}
			}
			m.DirHash = h
		}
		v.cache.ModelDirHashes[m.Dir] = h
		idx := v.cache.ModelIndex(h)
		if !m.Benchmark {
			first, isCopy := v.cache.ObserveFirstSeen(idx, m.Block, m.Hotkey)
			if isCopy {
				reason := fmt.Sprintf("copy: the same content was first served by %s at block %d", first.Hotkey, first.Block)
				v.log.Warn("model discarded", "uid", u, "model", m.Label, "reason", reason)
				v.rejected[u] = reason
				discard := map[string]bool{}
				for _, k := range v.state.DiscardedCommitments {
					discard[k] = true
				}
				discard[DiscardKey(m.Hotkey, m.Meta.ID)] = true
				v.state.DiscardedCommitments = sortedKeys(discard)
				AddOrRemoveUID(v.state.CState, u, "", 0)
				delete(v.models, u)
				continue
			}
		}
		index[u] = idx
	}
	// Samples (§6.6.3).
	t0 := v.now()
	var texts []string
	var picked []int
	if d.UseEvalCache {
		if n := v.cache.ExtendCount(v.now(), d); n > 0 {
			ss, err := v.fetchSamples(ctx, n, d.RowsPerPage)
			if err != nil {
				if len(v.cache.Samples) == 0 {
					return 0, err
				}
				v.log.Warn("extend sample DB", "err", err)
			} else {
				v.cache.Extend(ss, v.now(), d.DBMaxSamples)
			}
		}
		if err := v.saveCache(); err != nil {
			return 0, err
		}
		rows := make([]int, 0, len(index))
		for _, u := range sortedUIDs(index) {
			rows = append(rows, index[u])
		}
		picked = v.cache.PickSamples(rows, d.EvalSamples, v.rng)
		var pages []PageRef
		for _, j := range picked {
			texts = append(texts, v.cache.Samples[j].Text)
			pages = append(pages, v.cache.Samples[j].Page)
		}
		rep.Pages = pageNames(pages)
	} else {
		ss, err := v.fetchSamples(ctx, d.EvalSamples, d.RowsPerPage)
		if err != nil {
			return 0, err
		}
		var pages []PageRef
		for _, s := range ss {
			texts = append(texts, s.Text)
			pages = append(pages, s.Page)
		}
		rep.Pages = pageNames(pages)
	}
	v.timing.add("samples", v.now().Sub(t0))

	evaluated := 0
	for _, comp := range cfg.Competitions {
		comp := comp
		cs := v.state.CState[comp.Name]
		if cs == nil {
			continue // the competition left the config during this pass
		}
		deadline := CompetitionDeadline(v.now(), len(cfg.Competitions))
		sel := SelectUIDs(cs, comp.PoolSize, comp.PendSize, func(u chain.UID) bool {
			_, ok := index[u]
			return ok || !d.UseEvalCache && v.models[u] != nil
		})
		cs.Pending = sel.Pending
		if len(sel.Picked) == 0 {
			cs.Weights = map[chain.UID]float64{}
			continue
		}
		toks := map[string]*tokenized{}
		if comp.Tokenizer != "" {
			// The competition tokenizer's sample lengths are logged whether
			// or not a model needs them (spec §6.13 competition_info); the
			// models using that tokenizer share this tokenization.
			t0 := v.now()
			tk := v.tokenize(ctx, "comp:"+comp.Tokenizer, comp.Tokenizer, &comp, false, texts, toks)
			v.timing.add("tokenize", v.now().Sub(t0))
			if tk.err != nil {
				v.log.Warn("competition tokenizer failed", "competition", comp.Name, "err", tk.err)
			} else {
				lens := make([]int, len(tk.rows))
				for i, r := range tk.rows {
					lens[i] = len(r)
				}
				rep.CompetitionInfo[comp.Name] = CompetitionLog{SampleLen: lens}
			}
		}
		losses := map[chain.UID][]float64{}
		blocks := map[chain.UID]chain.BlockNumber{}
		bench := map[chain.UID]bool{}
		urs := map[chain.UID]*UIDReport{}
		for i, u := range sel.Picked {
			m := v.models[u]
			if m == nil {
				m = &uidModel{UID: u, Label: "removed during this pass"}
			}
			ur := &UIDReport{UID: u, Competition: comp.Name, Label: m.Label, Hotkey: m.Hotkey, Block: uint64(m.Block)}
			if m.Info != nil {
				ur.NParameters = m.Info.Params
			}
			urs[u] = ur
			blocks[u], bench[u] = m.Block, m.Benchmark
			if v.now().After(deadline) {
				ur.Status = "skipped: competition time budget spent"
				continue
			}
			if v.models[u] == nil {
				ur.Status = "skipped: the model was removed during this pass"
				continue
			}
			v.progress("evaluate "+comp.Name, i, len(sel.Picked))
			// Without the eval cache no loss comes from it: every sample is computed.
			cacheRows := index
			if !d.UseEvalCache {
				cacheRows = nil
			}
			l, err := v.evalModel(ctx, m, &comp, cacheRows, picked, texts, toks, ur)
			if ctx.Err() != nil {
				return evaluated, ctx.Err()
			}
			if err != nil {
				ur.Status = "failed: " + err.Error()
				v.rejected[u] = err.Error()
				v.log.Warn("model evaluation failed", "uid", u, "model", m.Label, "err", err)
				continue
			}
			delete(v.rejected, u)
			v.log.Info("model evaluated", "uid", u, "model", m.Label, "forward", ur.Forward, "cached", ur.Cached, "loss_sum_avg", float64(ur.LossSumAvg))
			ur.Status = "ok"
			ur.Geometry = geometryOf(m.Info)
			losses[u] = l
			evaluated++
		}
		v.progress("evaluate "+comp.Name, len(sel.Picked), len(sel.Picked))
		t1 := v.now()
		out, err := ScoreStep(cs, CompetitionStep{Competition: &comp, Picked: sel.Picked, Losses: losses, Blocks: blocks, Benchmarks: bench}, v.mg.Block, d.DiscardWinrate, v.rng)
		if err != nil {
			return evaluated, fmt.Errorf("score competition %q: %w", comp.Name, err)
		}
		if out.Result != nil {
			discard := map[string]bool{}
			for _, k := range v.state.DiscardedCommitments {
				discard[k] = true
			}
			for _, u := range out.Pool.Discard {
				if m := v.models[u]; m != nil && m.Meta != nil {
					discard[DiscardKey(m.Hotkey, m.Meta.ID)] = true
					v.rejected[u] = "discarded: win rate and absolute win rate below discard_winrate"
				}
			}
			v.state.DiscardedCommitments = sortedKeys(discard)
			for _, u := range out.Pool.Dropped {
				if m := v.models[u]; m != nil && !m.Benchmark {
					delete(v.models, u)
				}
			}
			for _, u := range sel.Picked {
				ur := urs[u]
				ur.WinRate, ur.WinAbsRate = out.Result.WinRate[u], out.Result.WinAbsRate[u]
				ur.WinTotal = out.Result.Wins[u]
				if f, ok := out.Result.Factors[u]; ok {
					ur.AdvFactor = 100 * (1 - f)
				}
				ur.WinMatrixRow = WinMatrixRowOf(out.Result.WinResult, u)
			}
		}
		v.timing.add("score", v.now().Sub(t1))
		for _, u := range sel.Picked {
			ur := urs[u]
			rep.Forward += ur.Forward
			rep.Cached += ur.Cached
			rep.UIDs = append(rep.UIDs, *ur)
		}
	}
	if err := v.saveCache(); err != nil {
		return evaluated, err
	}
	return evaluated, nil
}

// evalModel computes a model's loss vector over the picked samples, using
// and updating the cache (spec §6.7 "Loss", §6.8 "per model").
