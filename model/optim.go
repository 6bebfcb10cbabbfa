package model

import (
	"math"

	"github.com/coldint/coldint/train"
	"github.com/sugarme/gotch/ts"
)

// grad returns p's gradient handle, or nil when it has none.
func (p *param) grad() *ts.Tensor {
	g := must(p.t.Grad(false))
	if ok, err := g.Defined(); err != nil || !ok {
		drop(g)
		return nil
	}
	return g
}

// gradNorm returns the global L2 norm of all gradients.
func (tr *Trainer) gradNorm() float64 {
	var ss float64
	for _, p := range tr.params {
		g := p.grad()
		if g == nil {
			continue
		}
		n := must(g.Norm(false))
		v := scalarValue(n)
		drop(n, g)
		ss += v * v
	}
	return math.Sqrt(ss)
}

// scaleGrads multiplies every gradient by f in place.
func (tr *Trainer) scaleGrads(f float64) {
	s := ts.FloatScalar(f)
	defer s.Drop()
	for _, p := range tr.params {
		if g := p.grad(); g != nil {
			check(g.MulScalar_(s))
			drop(g)
		}
	}
}

// adamW applies one AdamW update (decoupled weight decay, as
// torch.optim.AdamW) to every parameter with a gradient, in place and
// without autograd. Weight decay applies to matrices, not to norm weights.
func (tr *Trainer) adamW(p train.OptimParams) {
	bc1 := 1 - math.Pow(p.Beta1, float64(p.Step))
	bc2 := 1 - math.Pow(p.Beta2, float64(p.Step))
	var sc []*ts.Scalar
	scalar := func(v float64) *ts.Scalar {
		s := ts.FloatScalar(v)
		sc = append(sc, s)
		return s
	}
	defer func() {
		for _, s := range sc {
			s.Drop()
		}
	}()
	oneMinusB1 := scalar(1 - p.Beta1)
	oneMinusB2 := scalar(1 - p.Beta2)
	b2 := scalar(p.Beta2)
	decay := scalar(1 - p.LR*p.WeightDecay)
	sqrtBC2 := scalar(math.Sqrt(bc2))
	eps := scalar(p.Eps)
	stepSize := scalar(-p.LR / bc1)
	for _, q := range tr.params {
		g := q.grad()
		if g == nil {
			continue
		}
		var a arena
		a.add(g)
		if q.m == nil {
			q.m = must(q.t.ZerosLike(false))
			q.v = must(q.t.ZerosLike(false))
		}
		// m = β1·m + (1-β1)·g
		check(q.m.Lerp_(g, oneMinusB1))
		// v = β2·v + (1-β2)·g²
		check(q.v.MulScalar_(b2))
		gg := a.t(g.Mul(g, false))
		check(gg.MulScalar_(oneMinusB2))
		check(q.v.Add_(gg))
		if q.decay && p.WeightDecay != 0 {
			check(q.t.MulScalar_(decay))
		}
		// p -= lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps)
		den := a.t(q.v.Sqrt(false))
		check(den.DivScalar_(sqrtBC2))
		check(den.AddScalar_(eps))
		upd := a.t(q.m.Div(den, false))
		check(upd.MulScalar_(stepSize))
		check(q.t.Add_(upd))
		a.free()
	}
}
