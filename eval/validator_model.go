package eval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/tokenizer"
)

// evalModel computes a model's loss vector over the picked samples, using
// and updating the cache (docs/scoring.md#per-sample-loss "Loss", docs/validator.md#the-eval-cache "per model"); index is
// nil without the eval cache.
func (v *Validator) evalModel(ctx context.Context, m *uidModel, comp *Competition, index map[chain.UID]int, picked []int, texts []string, toks map[string]*tokenized, ur *UIDReport) ([]float64, error) {
	row, cached := index[m.UID]
	var plan RowPlan
	if cached {
		plan = v.cache.Plan(row, picked)
		// Everything known (and no spot check due): no tokenization, no
		// forward pass.
		if len(plan.Compute)+len(plan.Check) == 0 {
			full, _ := v.cache.Merge(row, picked, plan, nil)
			ur.Cached = len(full)
			fillStats(ur, full, v.knownRows(ctx, m, comp, toks))
			ur.Losses = JSONFloats(full)
			return full, nil
		}
	} else {
		for i := range texts {
			plan.Compute = append(plan.Compute, i)
		}
	}
	tk, err := v.modelTokens(ctx, m, comp, texts, toks)
	if err != nil {
		return nil, err
	}
	positions := append(append([]int(nil), plan.Compute...), plan.Check...)
	computed, err := v.forward(ctx, m, comp, tk, positions)
	if err != nil {
		return nil, err
	}
	ur.Forward = len(positions)
	ur.Cached = len(texts) - len(plan.Compute)
	var full []float64
	if cached {
		var reset bool
		full, reset = v.cache.Merge(row, picked, plan, computed)
		if reset {
			v.log.Warn("cached losses disagree with a recomputation; the model's cache row was reset", "uid", m.UID, "model", m.Label)
		}
		if err := v.saveCache(); err != nil {
			return nil, err
		}
	} else {
		full = make([]float64, len(texts))
		for i := range full {
			full[i] = computed[i]
		}
	}
	fillStats(ur, full, tk.rows)
	ur.Losses = JSONFloats(full)
	return full, nil
}

// modelTokens tokenizes the samples with the tokenizer the model uses
// (docs/scoring.md#tokenisation): its own when allowed and usable, else the competition's, checked
// against the model's embedding rows.
func (v *Validator) modelTokens(ctx context.Context, m *uidModel, comp *Competition, texts []string, toks map[string]*tokenized) (*tokenized, error) {
	t0 := v.now()
	defer func() { v.timing.add("tokenize", v.now().Sub(t0)) }()
	own := false
	if _, err := os.Stat(filepath.Join(m.Dir, "tokenizer.json")); comp.UsesOwnTokenizer(err == nil) {
		own = true
	}
	var tk *tokenized
	var ownErr error
	if own {
		tk = v.tokenize(ctx, "model:"+tokenizerKey(ctx, m.Dir), m.Dir, comp, true, texts, toks)
		if tk.err != nil {
			ownErr = tk.err
			tk = nil
		}
	}
	if tk == nil {
		if comp.Tokenizer == "" {
			if ownErr != nil {
				return nil, fmt.Errorf("model tokenizer: %w", ownErr)
			}
			return nil, fmt.Errorf("no tokenizer.json and the competition has no tokenizer: %w", ErrModelIssue)
		}
		tk = v.tokenize(ctx, "comp:"+comp.Tokenizer, comp.Tokenizer, comp, false, texts, toks)
		if tk.err != nil {
			return nil, fmt.Errorf("competition tokenizer: %w", tk.err)
		}
	}
	rows := m.Info.EmbeddingRows
	if rows <= 0 {
		rows = int64(m.Info.VocabSize)
	}
	if err := CheckVocab(tk.maxID, int(rows)); err != nil {
		if ownErr != nil {
			return nil, fmt.Errorf("model tokenizer: %v; competition tokenizer fallback: %w: %w", ownErr, err, ErrModelIssue)
		}
		return nil, fmt.Errorf("%w: %w", err, ErrModelIssue)
	}
	return tk, nil
}

// forward runs the scorer on the samples at positions (without v.mu) and
// returns their losses by position.
func (v *Validator) forward(ctx context.Context, m *uidModel, comp *Competition, tk *tokenized, positions []int) (map[int]float64, error) {
	computed := map[int]float64{}
	if len(positions) == 0 {
		return computed, nil
	}
	maxMem, err := v.memoryBudget(m, comp)
	if err != nil {
		return nil, err
	}
	job := &EvalJob{Dir: m.Dir, MaxMemory: maxMem, Threads: v.opts.Threads, Device: v.opts.Device, DType: v.opts.DType,
		Samples: make([][]int32, len(positions))}
	for k, p := range positions {
		if r := tk.rows[p]; r != nil {
			s := make([]int32, len(r))
			for j, id := range r {
				s[j] = int32(id)
			}
			job.Samples[k] = s
		}
	}
	t1 := v.now()
	var ls []float64
	v.unlocked(func() {
		ls, err = v.opts.Scorer.Score(ctx, job, func(done, total int) { v.progress(fmt.Sprintf("uid %d forward", m.UID), done, total) })
	})
	v.timing.add("forward", v.now().Sub(t1))
	if err != nil {
		return nil, err
	}
	if len(ls) != len(positions) {
		return nil, fmt.Errorf("scorer returned %d losses for %d samples: %w", len(ls), len(positions), ErrModelIssue)
	}
	if err := CheckLosses(job, ls); err != nil {
		return nil, err
	}
	for k, p := range positions {
		computed[p] = ls[k]
	}
	return computed, nil
}

// memoryBudget is the engine budget for m: sliced evaluation only for the
// exact Sliced* class listed in model_types (docs/validator.md#competition-keys); any other model
// must fit the budget whole.
func (v *Validator) memoryBudget(m *uidModel, comp *Competition) (int64, error) {
	maxMem := v.opts.MaxMemory
	if maxMem <= 0 {
		maxMem = NoBudget
	}
	if maxMem > 0 && !comp.AllowsSliced("Sliced"+ClassName(m.Info.ModelType)) {
		pb := v.opts.ParamBytes
		if pb <= 0 {
			pb = 4
		}
		if need := pb * m.Info.Params; need > maxMem {
			return 0, fmt.Errorf("model needs %d bytes of weights (%d per parameter), over the %d byte memory budget, and competition %q does not list Sliced%s: %w",
				need, pb, maxMem, comp.Name, ClassName(m.Info.ModelType), ErrModelIssue)
		}
		maxMem = NoBudget
	}
	return maxMem, nil
}

func (v *Validator) tokenize(ctx context.Context, key, src string, comp *Competition, own bool, texts []string, toks map[string]*tokenized) *tokenized {
	if t, ok := toks[key]; ok {
		return t
	}
	t := &tokenized{}
	toks[key] = t
	var tok *tokenizer.Tokenizer
	var err error
	if own {
		tok, err = tokenizer.Load(src)
	} else {
		tok, err = v.tokenizerFor(ctx, src)
	}
	if err != nil {
		t.err = fmt.Errorf("load tokenizer: %v: %w", err, ErrModelIssue)
		return t
	}
	rows, maxID, st, err := comp.Tokenize(texts, tok, own)
	if err != nil {
		t.err = fmt.Errorf("%v: %w", err, ErrModelIssue)
		return t
	}
	t.rows, t.maxID = rows, maxID
	v.log.Debug("samples tokenized", "tokenizer", key, "capped", st.Capped, "invalid", st.Invalid, "too_long", st.TooLong)
	return t
}

// tokenizerKey identifies a model folder's tokenizer by the content of its
// files, so models shipping the same tokenizer share one tokenization.
func tokenizerKey(ctx context.Context, dir string) string {
	key := ""
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
		h, err := modelhash.File(ctx, filepath.Join(dir, f))
		if err != nil {
			h = "-"
		}
		key += h
	}
	if key == "---" {
		return dir
	}
	return key
}

// knownRows returns the token rows of the samples with the tokenizer m
// would use (docs/scoring.md#tokenisation) when that tokenization already ran in this
// competition's step, else nil. It never tokenizes: it serves the models
// whose losses all came from the cache.
func (v *Validator) knownRows(ctx context.Context, m *uidModel, comp *Competition, toks map[string]*tokenized) [][]int {
	if _, err := os.Stat(filepath.Join(m.Dir, "tokenizer.json")); comp.UsesOwnTokenizer(err == nil) {
		t, ok := toks["model:"+tokenizerKey(ctx, m.Dir)]
		if !ok {
			return nil
		}
		if t.err == nil {
			return t.rows
		}
		// The model's tokenizer failed: it falls back to the competition's.
	}
	if comp.Tokenizer == "" {
		return nil
	}
	if t, ok := toks["comp:"+comp.Tokenizer]; ok && t.err == nil {
		return t.rows
	}
	return nil
}
