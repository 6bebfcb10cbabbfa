package model

import (
	"fmt"
	"math"
	"runtime"

	"github.com/coldint/coldint/train"
	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// gradients returns d loss / d x for every input x (autograd leaves or
// tensors that require grad), as new tensors owned by the caller (nil where
// the loss does not depend on x). It runs autograd
// like torch.autograd.grad: the gradients are returned, not accumulated into
// the leaves' .grad, so nothing has to be zeroed and no accumulation pass
// runs. gotch's ts.RunBackward cannot be used: it passes the address of one
// local handle as an array of len(inputs) handles.
func gradients(loss *ts.Tensor, xs []*ts.Tensor) ([]*ts.Tensor, error) {
	roots := []lib.Ctensor{lib.Ctensor(loss.Ctensor())}
	inputs := make([]lib.Ctensor, len(xs))
	for i, x := range xs {
		inputs[i] = lib.Ctensor(x.Ctensor())
	}
	outs := make([]lib.Ctensor, len(xs))
	lib.AtRunBackward(&roots[0], len(roots), &inputs[0], len(inputs), &outs[0], 0, 0)
	if err := ts.TorchErr(); err != nil {
		return nil, fmt.Errorf("backward: %w", err)
	}
	grads := make([]*ts.Tensor, len(xs))
	for i, c := range outs {
		g := ts.New(c)
		if ok, err := g.Defined(); err != nil || !ok {
			drop(g)
			continue
		}
		if ok, err := g.IsContiguous(); err != nil || !ok {
			c := must(g.Contiguous(false))
			drop(g)
			g = c
		}
		grads[i] = g
	}
	runtime.KeepAlive(loss)
	runtime.KeepAlive(xs)
	return grads, nil
}

// accumulate adds one backward pass's gradients of params (from gradients,
// same order) into the parameters' float32 gradients and takes ownership of
// them. Gradients of bfloat16 copies are accumulated in float32.
func accumulate(params []*param, grads []*ts.Tensor) {
	for i, p := range params {
		g := grads[i]
		switch {
		case g == nil:
		case p.g == nil && g.DType() != gotch.Float:
			p.g = must(g.Totype(gotch.Float, false))
			drop(g)
		case p.g == nil:
			p.g = g
		default:
			inPlace(p.g, func() error { return p.g.Add_(g) })
			drop(g)
		}
	}
}

// gradNorm returns the global L2 norm of all gradients.
func (tr *Trainer) gradNorm() float64 {
	if tr.deviceOptim {
		var gs []*ts.Tensor
		for _, p := range tr.params {
			if p.g != nil {
				gs = append(gs, p.g)
			}
		}
		return deviceGradNorm(gs)
	}
	var ss float64
	for _, p := range tr.params {
		if p.g != nil {
			ss += sumSquares(floatData(p.g, numel(p.shape())))
		}
	}
	return math.Sqrt(ss)
}

// adamW applies one AdamW update (decoupled weight decay, as
// torch.optim.AdamW) to every parameter with a gradient, with the gradients
// multiplied by gradScale (clipping), in place and without autograd. Weight
// decay applies to matrices, not to norm weights. Each parameter takes one
// fused pass over its weights, gradient and moments (native.cc) instead of
// the eight to ten passes of libtorch's elementwise operations.
func (tr *Trainer) adamW(p train.OptimParams, gradScale float64) {
	defer tr.refreshCompute()
	if tr.deviceOptim {
		tr.adamWDevice(p, gradScale)
		return
	}
	bc1 := 1 - math.Pow(p.Beta1, float64(p.Step))
	bc2 := 1 - math.Pow(p.Beta2, float64(p.Step))
	args := adamWArgs{
		gradScale: float32(gradScale),
		beta1:     float32(p.Beta1),
		beta2:     float32(p.Beta2),
		decay:     1,
		stepSize:  float32(p.LR / bc1),
		bc2Sqrt:   float32(math.Sqrt(bc2)),
		eps:       float32(p.Eps),
	}
	for _, q := range tr.params {
		if q.g == nil {
			continue
		}
		q.ensureMoments()
		a := args
		if q.decay {
			a.decay = float32(1 - p.LR*p.WeightDecay)
		}
		n := numel(q.shape())
		fusedAdamW(floatData(q.t, n), floatData(q.g, n), floatData(q.m, n), floatData(q.v, n), a)
	}
}

// ensureMoments allocates zero moments (on the parameter's device) before
// its first update.
func (q *param) ensureMoments() {
	if q.m == nil {
		q.m = must(q.t.ZerosLike(false))
		q.v = must(q.t.ZerosLike(false))
	}
}

// adamWDevice is adamW with libtorch operations on the parameters' device
// (native_train.cc): one group with weight decay, one without; on CUDA with
// libtorch's fused kernel when it has one.
func (tr *Trainer) adamWDevice(p train.OptimParams, gradScale float64) {
	var groups [2]struct{ t, g, m, v []*ts.Tensor }
	for _, q := range tr.params {
		if q.g == nil {
			continue
		}
		q.ensureMoments()
		i := 0
		if q.decay {
			i = 1
		}
		gr := &groups[i]
		gr.t, gr.g, gr.m, gr.v = append(gr.t, q.t), append(gr.g, q.g), append(gr.m, q.m), append(gr.v, q.v)
	}
	for i, gr := range groups {
		a := devAdamWArgs{lr: p.LR, beta1: p.Beta1, beta2: p.Beta2, eps: p.Eps, gradScale: gradScale, step: int64(p.Step)}
		if i == 1 {
			a.weightDecay = p.WeightDecay
		}
		tr.fusedSteps += boolInt(deviceAdamW(gr.t, gr.g, gr.m, gr.v, a, true))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// trainerCacheLimit is the idle-byte cap a trainer asks of the allocator
// cache: none (0). Every buffer a step frees is wanted again by the next
// step; the cache's peak rule already keeps the footprint within 1.5 × the
// largest step's demand.
func trainerCacheLimit() int64 { return 0 }
