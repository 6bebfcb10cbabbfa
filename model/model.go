package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"sync"
	"time"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/sugarme/gotch/ts"
)

// ErrVocab is wrapped when a sample holds a token id outside the model's
// embedding rows (docs/scoring.md#vocabulary-check: the model is ineligible, not the sample).
var ErrVocab = errors.New("token id outside the model vocabulary")

// Sample is one evaluation sample: a token sequence, or an invalid sample
// (one that failed tokenization, docs/scoring.md#tokenisation), whose loss is +Inf.
type Sample struct {
	Ids   []int32
	Valid bool
}

// LoadOptions tune [Engine.Load].
type LoadOptions struct {
	// MaxMemory is the budget in bytes for resident weights, counted in the
	// compute dtype. A model larger than the budget is evaluated in layer
	// slices, one slice resident at a time; a model with one unit larger than
	// the budget is refused with [ErrTooLarge]. 0 means the device's default
	// ([DefaultBudget]); [NoBudget] (any negative value) means no budget: all
	// weights are loaded once by Load.
	MaxMemory int64
	// DType is the compute dtype of weights and activations ([DTypeAuto]:
	// bf16 on CUDA, f32 on the CPU). Logits and losses are float32.
	DType DType
}

// Model is a loaded causal LM. Its methods run on the engine goroutine and are
// safe for concurrent use (calls are serialised).
type Model struct {
	e       *Engine
	dev     Device // the engine's device
	dt      DType  // compute dtype (resolved)
	dir     string
	cfg     *hf.ModelConfig
	set     *safetensors.Set
	plans   []slicePlan
	invFreq []float64
	window  int64 // Phi-3 sliding window (0: none)
	// Phi-3 longrope: the inverse frequencies for forwards reaching beyond
	// ropeSwitch positions (nil without longrope), and the cos/sin scale.
	longInv    []float64
	ropeSwitch int
	mscale     float32

	// Engine-goroutine state.
	resident *sliceWeights // all weights when there is one slice
	rope     *rope
	ropeLong *rope // longrope tables, used beyond ropeSwitch positions
	masks    map[int64]*ts.Tensor
	allowed  *ts.Tensor // the last sdpa mask, of allowedT = {positions, window}
	allowedT [2]int64
	normD    *ts.Scalar
	eps      *ts.Scalar
	closed   bool
	oomSeen  bool // an out-of-memory sample was logged

	closeOnce sync.Once
}

// Load opens a model directory (config.json plus model.safetensors or a
// sharded index), checks the tensors against the config and, when the model
// fits the memory budget whole, loads its weights onto the engine's device in
// the compute dtype (else each slice is loaded when it is evaluated).
func (e *Engine) Load(ctx context.Context, dir string, opts LoadOptions) (*Model, error) {
	cfg, err := hf.LoadModelConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("load model %q: %w", dir, err)
	}
	inv, err := invFreq(cfg)
	if err != nil {
		return nil, fmt.Errorf("load model %q: %w", dir, err)
	}
	longInv, ropeSwitch, mscale := longRoPE(cfg)
	var window int64
	if cfg.ModelType == hf.ModelTypePhi3 {
		if raw, ok := cfg.Raw["sliding_window"]; ok && string(raw) != "null" {
			var w int64
			if err := json.Unmarshal(raw, &w); err != nil || w <= 0 {
				return nil, fmt.Errorf("load model %q: sliding_window %s must be a positive integer", dir, raw)
			}
			window = w
		}
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load model %q: %w", dir, err)
	}
	if err := cfg.CheckTensors(set.Shapes()); err != nil {
		set.Close()
		return nil, fmt.Errorf("load model %q: %w", dir, err)
	}
	for _, t := range set.Tensors() {
		if !t.DType.IsFloat() {
			set.Close()
			return nil, fmt.Errorf("load model %q: tensor %q has dtype %s, want F32, F16 or BF16", dir, t.Name, t.DType)
		}
	}
	dev := e.Device()
	dt := opts.DType.On(dev)
	budget, err := resolveBudget(opts.MaxMemory, dev)
	if err != nil {
		set.Close()
		return nil, fmt.Errorf("load model %q: %w", dir, err)
	}
	m := &Model{
		e: e, dev: dev, dt: dt, dir: dir, cfg: cfg, set: set, invFreq: inv, window: window,
		longInv: longInv, ropeSwitch: ropeSwitch, mscale: mscale,
		plans: planSlices(cfg, budget, dt.Bytes()),
		masks: map[int64]*ts.Tensor{},
	}
	for _, p := range m.plans {
		if budget > 0 && p.Bytes > budget {
			set.Close()
			return nil, fmt.Errorf("load model %q: %s takes %d bytes in %s, over the memory budget of %d bytes on %s (the model is %d bytes): %w",
				dir, p.describe(), p.Bytes, dt, budget, dev, dt.Bytes()*cfg.ParamCount(), ErrTooLarge)
		}
	}
	err = e.Do(ctx, func() error {
		m.normD = ts.FloatScalar(cfg.NormD())
		m.eps = ts.FloatScalar(cfg.RMSNormEps)
		if len(m.plans) == 1 {
			start := time.Now()
			m.resident = m.loader().slice(m.plans[0])
			slog.Debug("model loaded", "model", dir, "params", cfg.ParamCount(), "seconds", time.Since(start).Seconds())
			debug.FreeOSMemory()
		}
		return nil
	})
	if err != nil {
		set.Close()
		return nil, fmt.Errorf("load model %q: %w", dir, err)
	}
	return m, nil
}

func (m *Model) loader() *weightLoader {
	return &weightLoader{set: m.set, cfg: m.cfg, dev: m.dev, dt: m.dt.gotch()}
}

// Device is where the model computes.
func (m *Model) Device() Device { return m.dev }

// DType is the model's compute dtype.
func (m *Model) DType() DType { return m.dt }

// Config returns the model's configuration.
func (m *Model) Config() *hf.ModelConfig { return m.cfg }

// Slices returns the decoder layer ranges [first, last) of the evaluation
// slices; a single range means the model is resident.
func (m *Model) Slices() [][2]int {
	out := make([][2]int, len(m.plans))
	for i, p := range m.plans {
		out[i] = [2]int{p.First, p.Last}
	}
	return out
}

// Close frees the model's tensors and closes its files.
func (m *Model) Close() error {
	err := m.e.Do(context.Background(), func() error {
		m.free()
		return nil
	})
	if errors.Is(err, ErrClosed) {
		err = nil // the engine is gone; the GC frees the tensors
	}
	m.closeOnce.Do(func() { err = errors.Join(err, m.set.Close()) })
	return err
}

func (m *Model) free() {
	if m.closed {
		return
	}
	m.closed = true
	m.resident.drop()
	m.resident = nil
	m.rope.drop()
	m.rope = nil
	m.ropeLong.drop()
	m.ropeLong = nil
	for k, t := range m.masks {
		drop(t)
		delete(m.masks, k)
	}
	drop(m.allowed)
	m.allowed = nil
}

// CheckVocab returns an error wrapping [ErrVocab] when a valid sample holds a
// token id that is negative or not below the embedding rows.
func (m *Model) CheckVocab(samples []Sample) error {
	rows := m.cfg.VocabSize
	for i, s := range samples {
		if !s.Valid {
			continue
		}
		for _, id := range s.Ids {
			if id < 0 || int(id) >= rows {
				return fmt.Errorf("sample %d: token id %d with %d embedding rows: %w", i, id, rows, ErrVocab)
			}
		}
	}
	return nil
}

// Losses returns the summed loss of every sample (docs/scoring.md#per-sample-loss): the sum over
// positions 1..L-1 of the cross-entropy of float32 logits, +Inf for a sample
// that is invalid or empty, 0 for a single token. A libtorch failure on one
// sample gives +Inf for it (logged). onProgress, when not nil, is called on
// the engine goroutine after each sample and slice step; it must not call
// back into the engine.
func (m *Model) Losses(ctx context.Context, samples []Sample, onProgress func(done, total int)) ([]float64, error) {
	if err := m.CheckVocab(samples); err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", m.dir, err)
	}
	losses := make([]float64, len(samples))
	err := m.e.Do(ctx, func() error {
		if m.closed {
			return ErrClosed
		}
		return m.run(ctx, samples, onProgress, func(i int, w *sliceWeights, x *ts.Tensor) {
			losses[i] = m.sumLoss(w, x, samples[i].Ids)
		}, func(i int, err error) {
			losses[i] = math.Inf(1)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("evaluate %q: %w", m.dir, err)
	}
	for i, s := range samples {
		if !s.Valid || len(s.Ids) == 0 {
			losses[i] = math.Inf(1)
		}
	}
	return losses, nil
}

// Logits returns the float32 logits [len(ids)][vocab_size] of one sequence,
// flattened row-major.
func (m *Model) Logits(ctx context.Context, ids []int32) ([]float32, error) {
	samples := []Sample{{Ids: ids, Valid: true}}
	if len(ids) == 0 {
		return nil, fmt.Errorf("compute logits: empty sequence")
	}
	if err := m.CheckVocab(samples); err != nil {
		return nil, fmt.Errorf("compute logits: %w", err)
	}
	var out []float32
	var sampleErr error
	err := m.e.Do(ctx, func() error {
		if m.closed {
			return ErrClosed
		}
		return m.run(ctx, samples, nil, func(_ int, w *sliceWeights, x *ts.Tensor) {
			out = m.logitsOf(w, x)
		}, func(_ int, err error) { sampleErr = err })
	})
	if err == nil {
		err = sampleErr
	}
	if err != nil {
		return nil, fmt.Errorf("compute logits: %w", err)
	}
	return out, nil
}

// run evaluates the valid, non-empty samples slice by slice; finish is called
// with the final slice's hidden states [T, H] of each sample, fail when a
// sample fails. It runs on the engine goroutine.
func (m *Model) run(ctx context.Context, samples []Sample, onProgress func(done, total int),
	finish func(i int, w *sliceWeights, x *ts.Tensor), fail func(i int, err error)) error {
	active := make([]bool, len(samples))
	for i, s := range samples {
		active[i] = s.Valid && len(s.Ids) > 0
	}
	hidden := make([]*ts.Tensor, len(samples))
	defer func() { drop(hidden...) }()
	total := len(samples) * len(m.plans)
	done := 0
	for _, p := range m.plans {
		w := m.resident
		if w == nil {
			start := time.Now()
			w = m.loader().slice(p)
			debug.FreeOSMemory()
			slog.Debug("slice loaded", "layers", [2]int{p.First, p.Last}, "bytes", p.Bytes, "seconds", time.Since(start).Seconds())
		}
		err := func() error {
			if w != m.resident {
				defer w.drop()
			}
			for i, s := range samples {
				if err := ctx.Err(); err != nil {
					return err
				}
				if active[i] {
					err := protect(func() error {
						if sampleFault != nil {
							check(sampleFault(i))
						}
						T := int64(len(s.Ids))
						if p.Embed {
							hidden[i] = m.embed(w, s.Ids)
						}
						m.layers(w, hidden[i], T)
						if p.Final {
							finish(i, w, hidden[i])
							drop(hidden[i])
							hidden[i] = nil
						}
						return nil
					})
					if err != nil {
						m.sampleFailed(i, len(s.Ids), err)
						active[i] = false
						drop(hidden[i])
						hidden[i] = nil
						fail(i, err)
					}
				}
				done++
				if onProgress != nil {
					onProgress(done, total)
				}
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// sampleFault, when set (by tests), runs at the start of every sample's
// step; an error from it fails the sample as a libtorch error would.
var sampleFault func(i int) error

// sampleFailed logs a failed sample. Running out of memory is logged once
// per model (the sample's loss is +Inf and evaluation goes on) and the
// freed tensors' memory is handed back before the next sample.
func (m *Model) sampleFailed(i, tokens int, err error) {
	if !isOOM(err) {
		slog.Warn("sample failed", "model", m.dir, "index", i, "tokens", tokens, "err", err)
		return
	}
	if !m.oomSeen {
		m.oomSeen = true
		slog.Warn("out of memory on a sample: its loss is +Inf (logged once per model)",
			"model", m.dir, "device", m.dev.String(), "index", i, "tokens", tokens, "err", err)
	}
	// The sample's intermediate tensors were dropped by their arenas; let
	// the GC finalise any left behind and return freed pages to the OS.
	debug.FreeOSMemory()
}
