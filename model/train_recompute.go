package model

import (
	"errors"

	"github.com/coldint/coldint/train"
	"github.com/sugarme/gotch/ts"
)

// Activation checkpointing. The forward pass runs without autograd and keeps
// only each decoder layer's input. The backward pass then goes layer by layer
// from the top: the layer is run again with autograd from its saved input
// (a fresh leaf), and autograd is asked for the gradients of Σ(y · dL/dy),
// whose derivative in the layer's weights and input is exactly the chain
// rule's product with the upstream gradient dL/dy (gotch's backward always
// seeds its roots with ones, so the upstream gradient enters through this
// product). Peak memory is one layer's activations plus the saved inputs
// instead of every layer's activations.

// noGrad runs fn with autograd disabled (inside withGrad).
func noGrad(fn func()) {
	_, err := ts.GradSetEnabled(false)
	check(err)
	defer ts.GradSetEnabled(true)
	fn()
}

// leaf returns a new tensor sharing x's values that requires grad.
func leaf(a *arena, x *ts.Tensor) *ts.Tensor {
	d := a.t(x.Detach(false))
	return a.t(d.SetRequiresGrad(true, false))
}

// leavesOf returns the forward tensors of params.
func leavesOf(params []*param) []*ts.Tensor {
	out := make([]*ts.Tensor, len(params))
	for i, p := range params {
		out[i] = p.w()
	}
	return out
}

// backwardRecompute accumulates the gradients of (Σ cross-entropy of b)·inv
// with activation checkpointing and returns the summed cross-entropy
// (without a graph). It runs with autograd enabled.
func (tr *Trainer) backwardRecompute(b train.Batch, inv *ts.Scalar) *ts.Tensor {
	B, T := tr.checkBatch(b)
	r := tr.m.ensureRope(int(T))
	L := len(tr.layers)
	inputs := make([]*ts.Tensor, L+1) // inputs[L] is the last layer's output
	defer func() { drop(inputs...) }()
	noGrad(func() {
		var a arena
		inputs[0] = must(tr.embedT(&a, b.IDs).Detach(false))
		a.free()
		for i, l := range tr.layers {
			y := tr.blockT(&a, inputs[i], l, B, T, r)
			inputs[i+1] = must(y.Detach(false))
			a.free()
		}
	})

	// The head: final norm, LM head and the loss, from the last output.
	var a arena
	defer a.free()
	xL := leaf(&a, inputs[L])
	l := tr.headLoss(&a, xL, b.Labels)
	loss := must(l.Detach(false))
	a.add(l)
	scaled := a.t(l.MulScalar(inv, false))
	gy := tr.partialGrads(scaled, []*param{tr.norm, tr.head}, xL)
	a.free()
	drop(inputs[L])
	inputs[L] = nil

	// The layers, top down, each recomputed from its input.
	for i := L - 1; i >= 0; i-- {
		l := tr.layers[i]
		x := leaf(&a, inputs[i])
		y := tr.blockT(&a, x, l, B, T, r)
		s := a.t(a.t(y.Mul(gy, false)).Sum(y.DType(), false))
		drop(gy)
		gy = tr.partialGrads(s, []*param{l.inNorm, l.postNorm, l.qkv, l.o, l.gu, l.down}, x)
		a.free()
		drop(inputs[i])
		inputs[i] = nil
	}

	// The embedding.
	x0 := tr.embedT(&a, b.IDs)
	s := a.t(a.t(x0.Mul(gy, false)).Sum(x0.DType(), false))
	drop(gy)
	gy = tr.partialGrads(s, []*param{tr.embed}, nil)
	drop(gy)
	return loss
}

// partialGrads accumulates the gradients of root in params and returns its
// gradient in x (nil when x is nil); the caller drops that.
func (tr *Trainer) partialGrads(root *ts.Tensor, params []*param, x *ts.Tensor) *ts.Tensor {
	xs := leavesOf(params)
	if x != nil {
		xs = append(xs, x)
	}
	grads, err := gradients(root, xs)
	check(err)
	accumulate(params, grads[:len(params)])
	if x == nil {
		return nil
	}
	gx := grads[len(params)]
	if gx == nil {
		panic(torchError{errors.New("activation checkpointing: no gradient reached a layer's input")})
	}
	return gx
}
