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
			inPlace(g, func() error { return g.MulScalar_(s) })
			drop(g)
		}
	}
}

// adamW applies one AdamW update (decoupled weight decay, as
// torch.optim.AdamW) to every parameter with a gradient, in place and
// without autograd. Weight decay applies to matrices, not to norm weights.
// Each parameter takes eight passes over memory and no allocation: the
// moments are updated with lerp, and the step is one addcdiv whose
// denominator (sqrt(v)/sqrt(bc2) + eps) / (-lr/bc1) is built in a scratch
// buffer shared by all parameters.
func (tr *Trainer) adamW(p train.OptimParams) {
	bc1 := 1 - math.Pow(p.Beta1, float64(p.Step))
	bc2 := 1 - math.Pow(p.Beta2, float64(p.Step))
	stepSize := -p.LR / bc1
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
	decay := scalar(1 - p.LR*p.WeightDecay)
	denScale := scalar(1 / (math.Sqrt(bc2) * stepSize))
	denShift := scalar(p.Eps / stepSize)
	if tr.scratch == nil {
		var n int64
		for _, q := range tr.params {
			n = max(n, numel(q.shape()))
		}
		tr.scratch = emptyFloat(n)
	}
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
		shape := q.shape()
		buf := a.t(a.t(tr.scratch.Narrow(0, 0, numel(shape), false)).View(shape, false))
		// m = β1·m + (1-β1)·g
		inPlace(q.m, func() error { return q.m.Lerp_(g, oneMinusB1) })
		// v = β2·v + (1-β2)·g²
		a.t(g.MulOut(buf, g, false))
		inPlace(q.v, func() error { return q.v.Lerp_(buf, oneMinusB2) })
		if q.decay && p.WeightDecay != 0 {
			inPlace(q.t, func() error { return q.t.MulScalar_(decay) })
		}
		// p += m / ((sqrt(v)/sqrt(bc2) + eps) / (-lr/bc1))
		a.t(q.v.SqrtOut(buf, false))
		inPlace(buf, func() error { return buf.MulScalar_(denScale) })
		inPlace(buf, func() error { return buf.AddScalar_(denShift) })
		inPlace(q.t, func() error { return q.t.Addcdiv_(q.m, buf) })
		a.free()
	}
}
