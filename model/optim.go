package model

import (
	"fmt"
	"math"
	"runtime"

	"github.com/coldint/coldint/train"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/ts"
)

// gradients returns d loss / d p for every parameter, as new tensors owned by
// the caller (nil where the loss does not depend on p). It runs autograd
// like torch.autograd.grad: the gradients are returned, not accumulated into
// the leaves' .grad, so nothing has to be zeroed and no accumulation pass
// runs. gotch's ts.RunBackward cannot be used: it passes the address of one
// local handle as an array of len(inputs) handles.
func gradients(loss *ts.Tensor, params []*param) ([]*ts.Tensor, error) {
	roots := []lib.Ctensor{lib.Ctensor(loss.Ctensor())}
	inputs := make([]lib.Ctensor, len(params))
	for i, p := range params {
		inputs[i] = lib.Ctensor(p.t.Ctensor())
	}
	outs := make([]lib.Ctensor, len(params))
	lib.AtRunBackward(&roots[0], len(roots), &inputs[0], len(inputs), &outs[0], 0, 0)
	if err := ts.TorchErr(); err != nil {
		return nil, fmt.Errorf("backward: %w", err)
	}
	grads := make([]*ts.Tensor, len(params))
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
	runtime.KeepAlive(params)
	return grads, nil
}

// accumulate adds one backward pass's gradients (from gradients, same order
// as tr.params) into the parameters' gradients and takes ownership of them.
func (tr *Trainer) accumulate(grads []*ts.Tensor) {
	for i, p := range tr.params {
		g := grads[i]
		switch {
		case g == nil:
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
		if q.m == nil {
			q.m = must(q.t.ZerosLike(false))
			q.v = must(q.t.ZerosLike(false))
		}
		a := args
		if q.decay {
			a.decay = float32(1 - p.LR*p.WeightDecay)
		}
		n := numel(q.shape())
		fusedAdamW(floatData(q.t, n), floatData(q.g, n), floatData(q.m, n), floatData(q.v, n), a)
	}
}

// trainerCacheLimit is the idle-byte cap a trainer asks of the allocator
// cache: none (0). Every buffer a step frees is wanted again by the next
// step; the cache's peak rule already keeps the footprint within 1.5 × the
// largest step's demand.
func trainerCacheLimit() int64 { return 0 }
