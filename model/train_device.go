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

// onDevice returns t (a rotary table or a mask of the model) on the trainer's
// device and, when it is a float table, in the compute dtype; t itself when it
// already is.
func (tr *Trainer) onDevice(a *arena, t *ts.Tensor) *ts.Tensor {
	kind := t.DType()
	if kind == gotch.Float {
		kind = tr.computeKind()
	}
	if !tr.dev.CUDA && kind == t.DType() {
		return t
	}
	return a.t(t.ToDevice(tr.dev.gotch(), kind, false, false, false))
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

// hostFloats copies the n elements of a float tensor (any device, any float
// dtype) into a new float32 slice.
func hostFloats(t *ts.Tensor, n int64) []float32 {
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
