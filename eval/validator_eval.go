package eval

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/hf/modelhash"
)

// evalInput is what every competition of a pass evaluates on.
type evalInput struct {
	d      Defaults
	index  map[chain.UID]int // cache rows of the models (nil without the eval cache)
	texts  []string
	picked []int
	refs   []SampleRef
}

// evaluate runs docs/validator.md#a-step steps 2–4: model indices, samples, per-competition
// losses and scoring. It returns the number of models with results. The
// caller holds v.mu; hashing and forward passes run without it.
func (v *Validator) evaluate(ctx context.Context, cfg *Config, rep *StepReport) (int, error) {
	in := &evalInput{d: cfg.Defaults, index: v.indexModels(ctx, cfg)}
	if slices.ContainsFunc(cfg.Competitions, func(c Competition) bool { return !ownSamples(&c) }) {
		if err := v.pickSamples(ctx, in, rep); err != nil {
			return 0, err
		}
	}
	evaluated := 0
	for _, comp := range cfg.Competitions {
		set, err := v.samplesFor(ctx, &comp, in, rep)
		if err != nil {
			v.log.Warn("competition skipped: no samples", "competition", comp.Name, "err", err)
			rep.SampleErrors[comp.Name] = err.Error()
			continue
		}
		n, err := v.evalCompetition(ctx, comp, len(cfg.Competitions), in, set, rep)
		evaluated += n
		if err != nil {
			return evaluated, err
		}
	}
	if err := v.saveCache(); err != nil {
		return evaluated, err
	}
	return evaluated, nil
}

// indexModels gives every active model its eval-cache row, dropping copies
// (docs/validator.md#a-step, docs/validator.md#the-eval-cache).
func (v *Validator) indexModels(ctx context.Context, cfg *Config) map[chain.UID]int {
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
				v.unlocked(func() { h, err = modelhash.Dir(ctx, m.Dir, modelhash.Options{}) })
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
			if first, isCopy := v.cache.ObserveFirstSeen(idx, m.Block, m.Hotkey); isCopy {
				v.discardCopy(u, m, first)
				continue
			}
		}
		index[u] = idx
	}
	return index
}

func (v *Validator) discardCopy(u chain.UID, m *uidModel, first FirstSeen) {
	reason := fmt.Sprintf("copy: the same content was first served by %s at block %d", first.Hotkey, first.Block)
	v.log.Warn("model discarded", "uid", u, "model", m.Label, "reason", reason)
	v.rejected[u] = reason
	v.discard(DiscardKey(m.Hotkey, m.Meta.ID))
	AddOrRemoveUID(v.state.CState, u, "", 0)
	delete(v.models, u)
}

// discard adds keys to the discarded commitments.
func (v *Validator) discard(keys ...string) {
	set := map[string]bool{}
	for _, k := range v.state.DiscardedCommitments {
		set[k] = true
	}
	for _, k := range keys {
		set[k] = true
	}
	v.state.DiscardedCommitments = sortedKeys(set)
}

// pickSamples chooses the pass's samples (docs/validator.md#a-step): from the sample DB,
// extended when due, or freshly fetched without the eval cache.
func (v *Validator) pickSamples(ctx context.Context, in *evalInput, rep *StepReport) error {
	t0 := v.now()
	defer func() { v.timing.add("samples", v.now().Sub(t0)) }()
	d := in.d
	var pages []PageRef
	if !d.UseEvalCache {
		ss, err := v.fetchSamples(ctx, d.EvalSamples, d.RowsPerPage)
		if err != nil {
			return err
		}
		for _, s := range ss {
			in.texts = append(in.texts, s.Text)
			pages = append(pages, s.Page)
			in.refs = append(in.refs, v.sampleRef(s))
		}
		rep.Pages = pageNames(pages)
		return nil
	}
	if n := v.cache.ExtendCount(v.now(), d); n > 0 {
		ss, err := v.fetchSamples(ctx, n, d.RowsPerPage)
		if err != nil {
			if len(v.cache.Samples) == 0 {
				return err
			}
			v.log.Warn("extend sample DB", "err", err)
		} else {
			v.cache.Extend(ss, v.now(), d.DBMaxSamples)
		}
	}
	if err := v.saveCache(); err != nil {
		return err
	}
	rows := make([]int, 0, len(in.index))
	for _, u := range sortedUIDs(in.index) {
		rows = append(rows, in.index[u])
	}
	in.picked = v.cache.PickSamples(rows, d.EvalSamples, v.rng)
	for _, j := range in.picked {
		in.texts = append(in.texts, v.cache.Samples[j].Text)
		pages = append(pages, v.cache.Samples[j].Page)
		in.refs = append(in.refs, v.sampleRef(v.cache.Samples[j]))
	}
	rep.Pages = pageNames(pages)
	return nil
}

// evalCompetition selects, evaluates and scores one competition's models.
func (v *Validator) evalCompetition(ctx context.Context, comp Competition, nComps int, in *evalInput, set *sampleSet, rep *StepReport) (int, error) {
	cs := v.state.CState[comp.Name]
	if cs == nil {
		return 0, nil // the competition left the config during this pass
	}
	deadline := CompetitionDeadline(v.now(), nComps)
	own := ownSamples(&comp)
	sel := SelectUIDs(cs, comp.PoolSize, comp.PendSize, func(u chain.UID) bool {
		_, ok := in.index[u]
		if own {
			return ok && set.eligible(&comp, v.models[u])
		}
		return ok || !in.d.UseEvalCache && v.models[u] != nil
	})
	cs.Pending = sel.Pending
	if len(sel.Picked) == 0 {
		cs.Weights = map[chain.UID]float64{}
		return 0, nil
	}
	toks := map[string]*tokenized{}
	v.logCompTokens(ctx, &comp, set.texts, toks, rep)
	step := CompetitionStep{Competition: &comp, Picked: sel.Picked, Losses: map[chain.UID][]float64{},
		Blocks: map[chain.UID]chain.BlockNumber{}, Benchmarks: map[chain.UID]bool{},
		Samples: set.refs, TaskBounds: set.bounds, TaskWeights: set.weights}
	urs := map[chain.UID]*UIDReport{}
	evaluated := 0
	for i, u := range sel.Picked {
		v.progress("evaluate "+comp.Name, i, len(sel.Picked))
		ur, l := v.evalPicked(ctx, u, &comp, deadline, set, toks, &step)
		urs[u] = ur
		if ctx.Err() != nil {
			return evaluated, ctx.Err()
		}
		if l != nil {
			step.Losses[u] = l
			evaluated++
		}
	}
	v.progress("evaluate "+comp.Name, len(sel.Picked), len(sel.Picked))
	if err := v.score(cs, &step, urs, in.d, set.scoreRand()); err != nil {
		return evaluated, err
	}
	for _, u := range sel.Picked {
		ur := urs[u]
		rep.Forward += ur.Forward
		rep.Cached += ur.Cached
		rep.UIDs = append(rep.UIDs, *ur)
	}
	return evaluated, nil
}

// logCompTokens tokenizes the samples with the competition tokenizer, whose
// sample lengths are logged whether or not a model needs them (docs/validator.md#step-json
// competition_info); the models using that tokenizer share this
// tokenization.
func (v *Validator) logCompTokens(ctx context.Context, comp *Competition, texts []string, toks map[string]*tokenized, rep *StepReport) {
	if comp.Tokenizer == "" {
		return
	}
	t0 := v.now()
	tk := v.tokenize(ctx, "comp:"+comp.Tokenizer, comp.Tokenizer, comp, false, texts, toks)
	v.timing.add("tokenize", v.now().Sub(t0))
	if tk.err != nil {
		v.log.Warn("competition tokenizer failed", "competition", comp.Name, "err", tk.err)
		return
	}
	lens := make([]int, len(tk.rows))
	for i, r := range tk.rows {
		lens[i] = len(r)
	}
	rep.CompetitionInfo[comp.Name] = CompetitionLog{SampleLen: lens}
}

// evalPicked evaluates one picked model; the losses are nil when it has no
// results.
func (v *Validator) evalPicked(ctx context.Context, u chain.UID, comp *Competition, deadline time.Time, set *sampleSet, toks map[string]*tokenized, step *CompetitionStep) (*UIDReport, []float64) {
	m := v.models[u]
	if m == nil {
		m = &uidModel{UID: u, Label: "removed during this pass"}
	}
	ur := &UIDReport{UID: u, Competition: comp.Name, Label: m.Label, Hotkey: m.Hotkey, Block: uint64(m.Block)}
	if m.Info != nil {
		ur.NParameters = m.Info.Params
	}
	step.Blocks[u], step.Benchmarks[u] = m.Block, m.Benchmark
	if v.now().After(deadline) {
		ur.Status = "skipped: competition time budget spent"
		return ur, nil
	}
	if v.models[u] == nil {
		ur.Status = "skipped: the model was removed during this pass"
		return ur, nil
	}
	if l, ok := set.losses[m.DirHash]; ok && m.DirHash != "" {
		return v.roundCached(ur, m, l), l
	}
	l, err := v.evalModel(ctx, m, comp, set.index, set.picked, set.texts, toks, ur)
	if ctx.Err() != nil {
		return ur, nil
	}
	if err != nil {
		ur.Status = "failed: " + err.Error()
		v.rejected[u] = err.Error()
		v.log.Warn("model evaluation failed", "uid", u, "model", m.Label, "err", err)
		return ur, nil
	}
	delete(v.rejected, u)
	if set.losses != nil && m.DirHash != "" {
		set.losses[m.DirHash] = l
	}
	v.log.Info("model evaluated", "uid", u, "model", m.Label, "forward", ur.Forward, "cached", ur.Cached, "loss_sum_avg", float64(ur.LossSumAvg))
	ur.Status = "ok"
	ur.Geometry = geometryOf(m.Info)
	return ur, l
}

// score runs the competition's scoring and pool update (docs/scoring.md#grouping-samples) and
// fills the reports' win statistics.
func (v *Validator) score(cs *CompState, step *CompetitionStep, urs map[chain.UID]*UIDReport, d Defaults, rng *rand.Rand) error {
	t1 := v.now()
	defer func() { v.timing.add("score", v.now().Sub(t1)) }()
	if rng == nil {
		rng = v.rng
	}
	out, err := ScoreStep(cs, *step, v.mg.Block, d.DiscardWinrate, rng)
	if err != nil {
		return fmt.Errorf("score competition %q: %w", step.Competition.Name, err)
	}
	if out.Result == nil {
		return nil
	}
	var keys []string
	for _, u := range out.Pool.Discard {
		if m := v.models[u]; m != nil && m.Meta != nil {
			keys = append(keys, DiscardKey(m.Hotkey, m.Meta.ID))
			v.rejected[u] = "discarded: win rate and absolute win rate below discard_winrate"
		}
	}
	v.discard(keys...)
	for _, u := range out.Pool.Dropped {
		if m := v.models[u]; m != nil && !m.Benchmark {
			delete(v.models, u)
		}
	}
	for _, u := range step.Picked {
		ur := urs[u]
		ur.WinRate, ur.WinAbsRate = out.Result.WinRate[u], out.Result.WinAbsRate[u]
		ur.WinTotal = out.Result.Wins[u]
		if f, ok := out.Result.Factors[u]; ok {
			ur.AdvFactor = 100 * (1 - f)
		}
		ur.WinMatrixRow = WinMatrixRowOf(out.Result.WinResult, u)
	}
	return nil
}
