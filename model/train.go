package model

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"unsafe"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/train"
	"github.com/sugarme/gotch/ts"
)

// OptimizerFile is the optimizer state of a training checkpoint: AdamW's
// first and second moments of every parameter, float32, named
// "exp_avg/<param>" and "exp_avg_sq/<param>".
const OptimizerFile = "optimizer.safetensors"

// param is one trainable tensor: its float32 master weights with their
// AdamW moments, all on the trainer's device.
type param struct {
	name string // HF name; fused LLaMA projections get Phi-3's fused names
	// t is the float32 master; with float32 compute it is also the autograd
	// leaf the forward pass reads.
	t *ts.Tensor
	// c is the bfloat16 copy the forward pass reads with bfloat16 compute
	// (the autograd leaf, refreshed from t after each optimizer step); nil
	// with float32 compute.
	c    *ts.Tensor
	m, v *ts.Tensor
	// g is the accumulated gradient (contiguous float32), nil when none;
	// the trainer owns it (autograd's .grad is never used).
	g     *ts.Tensor
	decay bool
	// split names the HF tensors stacked in t by rows (LLaMA's fused
	// projections), with their row counts; empty when t is one HF tensor.
	split []string
	rows  []int64
}

// w is the tensor the forward pass reads: the bfloat16 copy or the master.
func (p *param) w() *ts.Tensor {
	if p.c != nil {
		return p.c
	}
	return p.t
}

// shape returns the parameter's shape.
func (p *param) shape() []int64 {
	s, err := p.t.Size()
	check(err)
	return s
}

// trainLayer is one decoder layer's parameters.
type trainLayer struct {
	inNorm, postNorm, qkv, o, gu, down *param
}

// Trainer is a causal LM whose float32 weights are trained with autograd on
// the engine goroutine, with coldint's own AdamW whose state is saved to
// safetensors (libtorch's optimizer state cannot be saved through gotch). It
// implements train.Model. Its methods must not be called concurrently.
//
// The float32 master weights, their gradients and the AdamW moments live on
// the engine's device. The forward and backward passes run in float32 or,
// with bfloat16 compute, on bfloat16 copies of the masters (see
// [TrainerOptions]). On the CPU the update is a fused host loop (native.cc);
// on CUDA it is libtorch's fused AdamW kernel when the libtorch has one, else
// its elementwise operations, with the gradient norm reduced on the device
// (native_train.cc). Checkpoints hold float32 weights and moments and no
// device or compute dtype, so a run can resume on another device or dtype.
type Trainer struct {
	e      *Engine
	m      *Model // geometry, rotary tables and masks (no weights)
	cfg    *hf.ModelConfig
	tokDir string // folder holding the tokenizer files copied on save ("" when none)

	params []*param
	embed  *param
	layers []trainLayer
	norm   *param
	head   *param // embed when tied
	dev    Device // where the parameters and moments live
	dtype  DType  // compute dtype of the forward and backward passes (f32 or bf16)
	// recompute turns activation checkpointing on (see train_recompute.go).
	recompute bool
	// deviceOptim runs the gradient norm and AdamW with libtorch operations
	// on the parameters' device (native_train.cc); always on CUDA, on the CPU
	// only when a test asks (the CPU's fast path is the fused host loop).
	deviceOptim bool
	fusedSteps  int // parameter groups updated by libtorch's fused AdamW kernel
	cache       trainCache
	closed      bool
	// releaseCache ends this trainer's allocator cache lease (nil: none).
	releaseCache func()
	// ddp is the data-parallel group (nil: this process trains alone).
	ddp *ddpState
}

var _ train.Model = (*Trainer)(nil)

// NewTrainer loads the model folder dir (config.json and safetensors weights
// of any float dtype) as float32 trainable parameters on the engine's device,
// computing in the default dtype of that device (see [TrainerOptions]). When
// dir holds an optimizer.safetensors it restores the AdamW moments from it.
func (e *Engine) NewTrainer(ctx context.Context, dir string) (*Trainer, error) {
	return e.NewTrainerWith(ctx, dir, TrainerOptions{})
}

// NewTrainerWith is [Engine.NewTrainer] with options.
func (e *Engine) NewTrainerWith(ctx context.Context, dir string, opts TrainerOptions) (*Trainer, error) {
	dt := opts.DType.On(e.Device())
	if dt != DTypeF32 && dt != DTypeBF16 {
		return nil, fmt.Errorf("load trainer %q: compute dtype %q is not f32 or bf16", dir, opts.DType)
	}
	// The masters are float32 and wholly resident: the model is loaded so,
	// which also gives the rotary tables the trainer's forward expects (query
	// tables pre-scaled by 1/sqrt(head size)); bf16 copies are made from them.
	m, err := e.Load(ctx, dir, LoadOptions{MaxMemory: NoBudget, DType: DTypeF32})
	if err != nil {
		return nil, err
	}
	tr := &Trainer{e: e, m: m, cfg: m.cfg, dev: e.Device(), dtype: dt, recompute: opts.GradCheckpointing, deviceOptim: e.Device().CUDA}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err == nil {
		tr.tokDir = dir
	}
	err = e.Do(ctx, func() error {
		// Take over the resident float32 weights of the loaded model.
		w := m.resident
		m.resident = nil
		drop(w.headT)
		for _, l := range w.layers {
			drop(l.qkvT, l.oT, l.guT, l.downT)
		}
		tr.adopt(w)
		tr.place()
		debug.FreeOSMemory()
		tr.releaseCache = leaseAllocCache(trainerCacheLimit())
		return nil
	})
	if err == nil {
		opt := filepath.Join(dir, OptimizerFile)
		if _, serr := os.Stat(opt); serr == nil {
			err = tr.loadOptimizer(ctx, opt)
		}
	}
	if err != nil {
		tr.Close()
		return nil, fmt.Errorf("load trainer %q: %w", dir, err)
	}
	return tr, nil
}

// adopt turns loaded weights into leaf parameters that require grad.
func (tr *Trainer) adopt(w *sliceWeights) {
	c := tr.cfg
	hd := int64(c.HeadDim())
	q, kv := int64(c.NumAttentionHeads)*hd, int64(c.NumKeyValueHeads)*hd
	in := int64(c.IntermediateSize)
	mk := func(name string, t *ts.Tensor, decay bool) *param {
		p := &param{name: name, t: must(t.SetRequiresGrad(true, false)), decay: decay}
		drop(t)
		tr.params = append(tr.params, p)
		return p
	}
	tr.embed = mk("model.embed_tokens.weight", w.embed, true)
	for i, lw := range w.layers {
		pre := hf.LayerPrefix(i)
		l := trainLayer{
			inNorm:   mk(pre+"input_layernorm.weight", lw.inNorm, false),
			postNorm: mk(pre+"post_attention_layernorm.weight", lw.postNorm, false),
			qkv:      mk(pre+"self_attn.qkv_proj.weight", lw.qkv, true),
			o:        mk(pre+"self_attn.o_proj.weight", lw.o, true),
			gu:       mk(pre+"mlp.gate_up_proj.weight", lw.gu, true),
			down:     mk(pre+"mlp.down_proj.weight", lw.down, true),
		}
		if c.ModelType != hf.ModelTypePhi3 {
			l.qkv.split = []string{pre + "self_attn.q_proj.weight", pre + "self_attn.k_proj.weight", pre + "self_attn.v_proj.weight"}
			l.qkv.rows = []int64{q, kv, kv}
			l.gu.split = []string{pre + "mlp.gate_proj.weight", pre + "mlp.up_proj.weight"}
			l.gu.rows = []int64{in, in}
		}
		tr.layers = append(tr.layers, l)
	}
	tr.norm = mk("model.norm.weight", w.norm, false)
	if w.head == w.embed {
		tr.head = tr.embed
	} else {
		tr.head = mk("lm_head.weight", w.head, true)
	}
}

// Config returns the model configuration.
func (tr *Trainer) Config() *hf.ModelConfig { return tr.cfg }

// Close frees the parameters.
func (tr *Trainer) Close() error {
	err := tr.e.Do(context.Background(), func() error {
		if tr.closed {
			return nil
		}
		tr.closed = true
		for _, p := range tr.params {
			drop(p.t, p.c, p.m, p.v, p.g)
		}
		tr.params = nil
		tr.cache.drop()
		if tr.releaseCache != nil {
			tr.releaseCache()
		}
		return nil
	})
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	return errors.Join(err, tr.m.Close())
}

// withGrad runs fn with autograd enabled on the engine goroutine.
func withGrad(fn func()) {
	_, err := ts.GradSetEnabled(true)
	check(err)
	defer ts.GradSetEnabled(false)
	fn()
}

// backward accumulates the gradients of Σ cross-entropy / total over the
// micro-batches and returns the summed loss and scored tokens. The losses are
// summed on the device and read once.
func (tr *Trainer) backward(micro []train.Batch) (sum float64, tokens int) {
	for _, b := range micro {
		tokens += b.Tokens()
	}
	if tokens == 0 {
		return 0, 0
	}
	inv := ts.FloatScalar(1 / float64(tokens))
	defer inv.Drop()
	var total *ts.Tensor
	withGrad(func() {
		for _, b := range micro {
			if b.Tokens() == 0 {
				continue
			}
			var l *ts.Tensor
			if tr.recompute {
				l = tr.backwardRecompute(b, inv)
			} else {
				l = tr.lossSum(b)
				scaled := must(l.MulScalar(inv, false))
				grads, err := gradients(scaled, tr.leaves())
				drop(scaled)
				if err != nil {
					drop(l, total)
					check(err)
				}
				accumulate(tr.params, grads)
			}
			d := must(l.Detach(false))
			drop(l)
			if total == nil {
				total = d
				continue
			}
			inPlace(total, func() error { return total.Add_(d) })
			drop(d)
		}
	})
	sum = tr.scalar(total)
	drop(total)
	return sum, tokens
}

// Backward computes the gradients of one step's loss (Σ cross-entropy /
// scored tokens over the micro-batches) without updating the weights and
// returns that mean loss. Gradients accumulate until ZeroGrad or TrainStep.
func (tr *Trainer) Backward(ctx context.Context, micro []train.Batch) (float64, error) {
	var loss float64
	err := tr.e.Do(ctx, func() error {
		if tr.closed {
			return ErrClosed
		}
		sum, n := tr.backward(micro)
		loss = sum / float64(max(n, 1))
		return nil
	})
	return loss, err
}

// ZeroGrad clears the gradients.
func (tr *Trainer) ZeroGrad(ctx context.Context) error {
	return tr.e.Do(ctx, func() error {
		tr.zeroGrad()
		return nil
	})
}

func (tr *Trainer) zeroGrad() {
	for _, p := range tr.params {
		drop(p.g)
		p.g = nil
	}
}

// Gradients returns the current gradient of every HF tensor, by name
// (fused projections split back), float32 row-major. A parameter without a
// gradient gives zeros.
func (tr *Trainer) Gradients(ctx context.Context) (map[string][]float32, error) {
	out := map[string][]float32{}
	err := tr.e.Do(ctx, func() error {
		for _, p := range tr.params {
			n := numel(p.shape())
			vals := make([]float32, n)
			if p.g != nil {
				copy(vals, hostFloatsN(p.g, n))
			}
			tr.splitInto(out, p, vals)
		}
		return nil
	})
	return out, err
}

// Parameters returns the current weights by HF name (fused projections split
// back), float32 row-major.
func (tr *Trainer) Parameters(ctx context.Context) (map[string][]float32, error) {
	out := map[string][]float32{}
	err := tr.e.Do(ctx, func() error {
		for _, p := range tr.params {
			tr.splitInto(out, p, hostFloatsN(p.t, numel(p.shape())))
		}
		return nil
	})
	return out, err
}

// splitInto stores vals of p under its HF names.
func (tr *Trainer) splitInto(out map[string][]float32, p *param, vals []float32) {
	if len(p.split) == 0 {
		out[p.name] = vals
		return
	}
	cols := int64(len(vals)) / sumRows(p.rows)
	var off int64
	for i, name := range p.split {
		n := p.rows[i] * cols
		out[name] = vals[off : off+n]
		off += n
	}
}

func sumRows(r []int64) int64 {
	var s int64
	for _, v := range r {
		s += v
	}
	return s
}

// TrainStep implements train.Model: backward over the micro-batches, global
// gradient-norm clipping, AdamW, and zeroed gradients.
//
// The Go garbage collector is paused during the step and run once after it:
// gotch charges every tensor handle with Go ballast, so a step's hundreds of
// short-lived handles would otherwise start collections whose workers take
// cores from libtorch's OpenMP threads (measured: backward 2-3× slower and
// erratic on a 110M model with 2 cores).
func (tr *Trainer) TrainStep(ctx context.Context, micro []train.Batch, p train.OptimParams) (train.StepStats, error) {
	var st train.StepStats
	gc := debug.SetGCPercent(-1)
	defer func() {
		debug.SetGCPercent(gc)
		runtime.GC()
	}()
	err := tr.e.Do(ctx, func() error {
		if tr.closed {
			return ErrClosed
		}
		// gradFactor turns the gradients into the step's (1/World after a
		// data-parallel sum).
		var sum, gradFactor float64
		var n int
		if tr.ddp != nil {
			var err error
			if sum, n, gradFactor, err = tr.ddpStep(micro); err != nil {
				return err
			}
		} else {
			sum, n = tr.backward(micro)
			gradFactor = 1
		}
		st.Tokens = n
		st.Loss = sum / float64(max(n, 1))
		st.GradNorm = tr.gradNorm() * gradFactor
		scale := 1.0
		if p.Clip > 0 && st.GradNorm > p.Clip {
			scale = p.Clip / (st.GradNorm + 1e-6)
		}
		tr.adamW(p, scale*gradFactor)
		tr.zeroGrad()
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("train step: %w", err)
	}
	return st, nil
}

// EvalLoss implements train.Model.
func (tr *Trainer) EvalLoss(ctx context.Context, b train.Batch) (float64, int, error) {
	n := b.Tokens()
	if n == 0 {
		return 0, 0, nil
	}
	var sum float64
	err := tr.e.Do(ctx, func() error {
		if tr.closed {
			return ErrClosed
		}
		l := tr.lossSum(b)
		sum = tr.scalar(l)
		drop(l)
		return nil
	})
	return sum, n, err
}

// hfTensors returns the weights as safetensors tensors of dtype dt, HF names.
func (tr *Trainer) hfTensors(dt safetensors.DType) ([]safetensors.Tensor, error) {
	vals := map[string][]float32{}
	shapes := tr.cfg.ExpectedTensors()
	for _, p := range tr.params {
		n := numel(p.shape())
		tr.splitInto(vals, p, hostFloatsN(p.t, n))
	}
	out := make([]safetensors.Tensor, 0, len(vals))
	for name, v := range vals {
		shape, ok := shapes[name]
		if !ok {
			return nil, fmt.Errorf("tensor %q is not in the config's tensor list", name)
		}
		t, err := safetensors.Float32Tensor(name, dt, shape, v)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// writeModel writes config.json, model.safetensors (dtype dt) and the
// tokenizer files into dir.
func (tr *Trainer) writeModel(ctx context.Context, dir string, dt safetensors.DType) error {
	var tensors []safetensors.Tensor
	err := tr.e.Do(ctx, func() error {
		var err error
		tensors, err = tr.hfTensors(dt)
		return err
	})
	if err != nil {
		return err
	}
	cfg := *tr.cfg
	switch dt {
	case safetensors.F32:
		cfg.TorchDtype = "float32"
	case safetensors.BF16:
		cfg.TorchDtype = "bfloat16"
	case safetensors.F16:
		cfg.TorchDtype = "float16"
	default:
		return fmt.Errorf("save model: dtype %s is not F32, BF16 or F16", dt)
	}
	return modeldir.WriteFiles(dir, &cfg, tensors, tr.tokDir)
}

// SaveCheckpoint implements train.Model: a float32 model folder plus
// optimizer.safetensors in dir.
func (tr *Trainer) SaveCheckpoint(ctx context.Context, dir string) error {
	if err := tr.writeModel(ctx, dir, safetensors.F32); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	var tensors []safetensors.Tensor
	err := tr.e.Do(ctx, func() error {
		for _, p := range tr.params {
			if p.m == nil {
				continue
			}
			shape := p.shape()
			n := numel(shape)
			for _, mv := range []struct {
				prefix string
				t      *ts.Tensor
			}{{"exp_avg/", p.m}, {"exp_avg_sq/", p.v}} {
				data := hostFloatsN(mv.t, n)
				b := make([]byte, 4*n)
				copy(b, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(data))), 4*n))
				tensors = append(tensors, safetensors.Tensor{Name: mv.prefix + p.name, DType: safetensors.F32, Shape: shape, Data: b})
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if len(tensors) == 0 {
		return nil
	}
	if err := safetensors.WriteFile(filepath.Join(dir, OptimizerFile), tensors, map[string]string{"format": "coldint-adamw"}); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// SaveModel writes the weights as a new model folder dir (atomically; dir
// must not exist) in dtype dt, with the tokenizer files of the source folder.
func (tr *Trainer) SaveModel(ctx context.Context, dir string, dt safetensors.DType) error {
	return modeldir.WriteDir(dir, func(tmp string) error { return tr.writeModel(ctx, tmp, dt) })
}

// loadOptimizer restores the AdamW moments.
func (tr *Trainer) loadOptimizer(ctx context.Context, path string) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("load optimizer: %w", err)
	}
	defer f.Close()
	return tr.e.Do(ctx, func() error {
		for _, p := range tr.params {
			mi, okM := f.Tensor("exp_avg/" + p.name)
			vi, okV := f.Tensor("exp_avg_sq/" + p.name)
			if !okM && !okV {
				continue
			}
			if !okM || !okV {
				return fmt.Errorf("load optimizer %q: %q has only one moment", path, p.name)
			}
			shape := p.shape()
			n := numel(shape)
			for _, x := range []struct {
				info safetensors.TensorInfo
				dst  **ts.Tensor
			}{{mi, &p.m}, {vi, &p.v}} {
				if x.info.DType != safetensors.F32 || x.info.NumElements() != n {
					return fmt.Errorf("load optimizer %q: tensor %q is %s with %d elements, want F32 with %d", path, x.info.Name, x.info.DType, x.info.NumElements(), n)
				}
				t := emptyFloat(shape...)
				dst := floatData(t, n)
				if err := f.ReadInto(x.info, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*n)); err != nil {
					drop(t)
					return fmt.Errorf("load optimizer %q: %w", path, err)
				}
				drop(*x.dst)
				*x.dst = tr.toDevice(t)
			}
		}
		return nil
	})
}
