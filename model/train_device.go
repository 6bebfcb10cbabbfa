package model

import (
	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// TrainerOptions configure [Engine.NewTrainerWith].
type TrainerOptions struct {
	// DType is the compute dtype of the forward and backward passes:
	// float32, or bfloat16 copies of the float32 master weights (mixed
	// precision: gradients come out in bfloat16 and are accumulated and
	// applied in float32; logits and the cross-entropy are float32). The
	// auto dtype is bfloat16 on CUDA and float32 on the CPU.
	DType DType
	// GradCheckpointing keeps only each decoder layer's input from the
	// forward pass and recomputes the layer's activations during the
	// backward pass: less memory for one more forward pass per step.
	GradCheckpointing bool
}

// DType is the trainer's compute dtype (f32 or bf16).
func (tr *Trainer) DType() DType { return tr.dtype }

// Device is where the trainer's parameters and optimizer state live.
func (tr *Trainer) Device() Device { return tr.dev }

// computeKind is the gotch dtype of the forward pass.
func (tr *Trainer) computeKind() gotch.DType {
	if tr.dtype == DTypeBF16 {
		return gotch.BFloat16
	}
	return gotch.Float
}

// place moves the adopted parameters to the trainer's device as float32
// masters and, with bfloat16 compute, makes their bfloat16 copies the
// autograd leaves. Whatever device and dtype the loader gave, the masters end
// up float32 on tr.dev.
func (tr *Trainer) place() {
	for _, p := range tr.params {
		d := must(p.t.Detach(false))
		master := must(d.ToDevice(tr.dev.gotch(), gotch.Float, false, false, false))
		drop(d, p.t)
		if tr.dtype == DTypeBF16 {
			c := must(master.Totype(gotch.BFloat16, false))
			p.c = must(c.SetRequiresGrad(true, false))
			drop(c)
			p.t = master
			continue
		}
		p.t = must(master.SetRequiresGrad(true, false))
		drop(master)
	}
}

// leaves are the tensors autograd differentiates against, in tr.params order.
func (tr *Trainer) leaves() []*ts.Tensor {
	out := make([]*ts.Tensor, len(tr.params))
	for i, p := range tr.params {
		out[i] = p.w()
	}
	return out
}

// refreshCompute copies the float32 masters into their bfloat16 copies after
// an optimizer step (no-op with float32 compute).
func (tr *Trainer) refreshCompute() {
	for _, p := range tr.params {
		if p.c != nil {
			copyInto(p.c, p.t)
		}
	}
}

// copyInto copies src into dst (casting its dtype and device) without
// autograd.
func copyInto(dst, src *ts.Tensor) {
	lib.AtCopy_(lib.Ctensor(dst.Ctensor()), lib.Ctensor(src.Ctensor()))
	check(ts.TorchErr())
}

// toDevice moves a new host tensor to the trainer's device, dropping the
// host copy when it moves.
func (tr *Trainer) toDevice(t *ts.Tensor) *ts.Tensor {
	if !tr.dev.CUDA {
		return t
	}
	d := must(t.To(tr.dev.gotch(), false))
	drop(t)
	return d
}

// trainCache holds the rotary tables and attention masks of the training
// forward pass on the trainer's device, in the compute dtype, so that they
// are copied or converted once per sequence length instead of once per layer.
type trainCache struct {
	r      *rope // the tables below come from r (held so it is not reused)
	T      int64
	tables [4]*ts.Tensor // qcos, qsin, kcos, ksin for T positions
	masks  map[int64]*ts.Tensor
}

func (c *trainCache) drop() {
	drop(c.tables[:]...)
	c.tables, c.r = [4]*ts.Tensor{}, nil
	for _, m := range c.masks {
		drop(m)
	}
	c.masks = nil
}

// ropeTables returns the rotary tables of r for T positions (query tables
// pre-scaled by 1/sqrt(head size)) on the device in the compute dtype.
func (tr *Trainer) ropeTables(a *arena, r *rope, T int64) [4]*ts.Tensor {
	src := [4]*ts.Tensor{r.qcos, r.qsin, r.kcos, r.ks}
	if !tr.dev.CUDA && tr.dtype == DTypeF32 {
		for i, t := range src {
			src[i] = a.t(t.Narrow(0, 0, T, false))
		}
		return src
	}
	c := &tr.cache
	if c.r != r || c.T != T {
		drop(c.tables[:]...)
		for i, t := range src {
			n := must(t.Narrow(0, 0, T, false))
			c.tables[i] = must(n.ToDevice(tr.dev.gotch(), tr.computeKind(), false, true, false))
			drop(n)
		}
		c.r, c.T = r, T
	}
	return c.tables
}

// attnMask returns the [T, T] mask (true: hidden) of the training forward
// pass on the device: causal, or causal with Phi-3's sliding window when the
// window is shorter than the sequence.
func (tr *Trainer) attnMask(T int64) *ts.Tensor {
	m := tr.m
	windowed := m.window > 0 && T-1 > m.window
	if !windowed && !tr.dev.CUDA {
		return m.causalMask(T)
	}
	c := &tr.cache
	if t, ok := c.masks[T]; ok {
		return t
	}
	var t *ts.Tensor
	if windowed {
		t = tr.toDevice(windowMask(0, T, 0, T, m.window))
	} else {
		t = must(m.causalMask(T).To(tr.dev.gotch(), false))
	}
	if c.masks == nil {
		c.masks = map[int64]*ts.Tensor{}
	}
	c.masks[T] = t
	return t
}

// scalar reads a one-element float32 tensor wherever it lives.
func (tr *Trainer) scalar(t *ts.Tensor) float64 {
	if !tr.dev.CUDA {
		return scalarValue(t)
	}
	h := must(t.To(gotch.CPU, false))
	defer drop(h)
	return scalarValue(h)
}

// hostFloatsN copies the n elements of a float tensor (any device, any float
// dtype) into a new float32 slice.
func hostFloatsN(t *ts.Tensor, n int64) []float32 {
	d, err := t.Device()
	check(err)
	if d.Name != "CUDA" && t.DType() == gotch.Float {
		if ok, err := t.IsContiguous(); err == nil && ok {
			return copyOut(t, n)
		}
	}
	h := must(t.ToDevice(gotch.CPU, gotch.Float, false, true, false))
	defer drop(h)
	c := must(h.Contiguous(false))
	defer drop(c)
	return copyOut(c, n)
}
