package model

import (
	"time"

	"github.com/coldint/coldint/train"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// Overlapping the gradient all-reduce with the backward pass. The engine
// takes gradients like torch.autograd.grad, all at once, so a data-parallel
// step cuts its last micro-batch's graph at every decoder layer: the
// forward pass runs with autograd as usual, but each layer starts from a
// leaf that shares its input's values. The backward pass then goes from the
// top, one layer at a time, as with activation checkpointing but without
// running any layer again: the layer's gradients and the gradient of its
// input come from Σ(y · dL/dy), whose derivative is the chain rule's
// product with the upstream gradient. As soon as a layer's gradients are
// complete, their all-reduce starts on the process group's threads while
// the layers below are differentiated; the step waits for the transfers
// only after the embedding's gradient (with a tied LM head, the shared
// matrix is reduced last).

// ddpStep (engine goroutine) runs the backward pass of a data-parallel
// step: the ranks first add up their scored tokens, so that each rank
// scales its loss by World / (the group's tokens) and the summed gradients
// are World times the step's; the last micro-batch's backward overlaps the
// all-reduce (without activation checkpointing; with it, the all-reduce
// follows the backward pass). It returns the group's loss sum and tokens
// and the factor (1/World) that turns the gradients into the step's.
func (tr *Trainer) ddpStep(micro []train.Batch) (sum float64, tokens int, factor float64, err error) {
	g := tr.ddp.g
	t0 := time.Now()
	local := 0
	for _, b := range micro {
		local += b.Tokens()
	}
	total, err := tr.ddpSum(float64(local))
	tr.ddp.wait += time.Since(t0)
	tr.ddp.reduce += time.Since(t0)
	if err != nil {
		return 0, 0, 0, g.peerErr(err)
	}
	if total == 0 {
		return 0, 0, 1, nil
	}
	inv := ts.FloatScalar(float64(g.World()) / total)
	defer inv.Drop()
	var pending []*pendingReduce
	var groups [][]*param
	launch := func(ps []*param) {
		if err != nil {
			return
		}
		t := time.Now()
		defer func() { tr.ddp.reduce += time.Since(t) }()
		list := make([]*ts.Tensor, len(ps))
		for i, p := range ps {
			if p.g == nil {
				p.g = must(p.t.ZerosLike(false))
			}
			list[i] = p.g
		}
		var pr *pendingReduce
		if pr, err = g.startAllReduce(list); err == nil {
			pending, groups = append(pending, pr), append(groups, ps)
		}
	}
	withGrad(func() {
		var lsum *ts.Tensor
		for i, b := range micro {
			last := i == len(micro)-1
			// Every rank runs the same collectives: the last micro-batch
			// goes through the overlapped pass even without scored tokens.
			if b.Tokens() == 0 && !(last && !tr.recompute) {
				continue
			}
			var l *ts.Tensor
			switch {
			case last && !tr.recompute:
				l = tr.backwardOverlap(b, inv, launch)
			case tr.recompute:
				l = tr.backwardRecompute(b, inv)
			default:
				l = tr.backwardPlain(b, inv)
			}
			if lsum == nil {
				lsum = l
				continue
			}
			inPlace(lsum, func() error { return lsum.Add_(l) })
			drop(l)
		}
		if lsum != nil {
			sum = tr.scalar(lsum)
			drop(lsum)
		}
	})
	t1 := time.Now()
	defer func() { tr.ddp.reduce += time.Since(t1) }()
	// Whatever was not reduced during the backward pass (all of it with
	// activation checkpointing) is reduced now, in parameter order.
	launched := map[*param]bool{}
	for _, ps := range groups {
		for _, p := range ps {
			launched[p] = true
		}
	}
	var rest []*param
	for _, p := range tr.params {
		if !launched[p] {
			rest = append(rest, p)
		}
	}
	if len(rest) > 0 {
		launch(rest)
	}
	for i, pr := range pending {
		views, ferr := g.finish(pr)
		if ferr != nil && err == nil {
			err = ferr
		}
		for j, v := range views {
			if v != nil {
				drop(groups[i][j].g)
				groups[i][j].g = v
			}
		}
	}
	if err != nil {
		return 0, 0, 0, g.peerErr(err)
	}
	if sum, err = tr.ddpSum(sum); err != nil {
		return 0, 0, 0, g.peerErr(err)
	}
	return sum, int(total), 1 / float64(g.World()), nil
}

// ddpSum adds v over the ranks.
func (tr *Trainer) ddpSum(v float64) (float64, error) {
	host := must(ts.OfSlice([]float64{v}))
	t := tr.toDevice(host)
	defer drop(t)
	if err := tr.ddp.g.allReduceSum([]*ts.Tensor{t}); err != nil {
		return 0, err
	}
	if tr.dev.CUDA {
		h := must(t.To(gotch.CPU, false))
		defer drop(h)
		return h.Float64Values()[0], nil
	}
	return t.Float64Values()[0], nil
}

// backwardPlain accumulates the gradients of (Σ cross-entropy of b)·inv and
// returns the summed cross-entropy (without a graph).
func (tr *Trainer) backwardPlain(b train.Batch, inv *ts.Scalar) *ts.Tensor {
	l := tr.lossSum(b)
	scaled := must(l.MulScalar(inv, false))
	grads, err := gradients(scaled, tr.leaves())
	drop(scaled)
	if err != nil {
		drop(l)
		check(err)
	}
	accumulate(tr.params, grads)
	d := must(l.Detach(false))
	drop(l)
	return d
}

// backwardOverlap is backwardPlain with the graph cut at every layer; it
// calls launch with each group of parameters whose gradients are complete.
func (tr *Trainer) backwardOverlap(b train.Batch, inv *ts.Scalar, launch func([]*param)) *ts.Tensor {
	B, T := tr.checkBatch(b)
	r := tr.m.ensureRope(int(T))
	var a arena
	defer a.free()
	L := len(tr.layers)
	xs := make([]*ts.Tensor, L+1) // each layer's input leaf, then the head's
	ys := make([]*ts.Tensor, L)
	x0 := tr.embedT(&a, b.IDs)
	xs[0] = leaf(&a, x0)
	for i, l := range tr.layers {
		ys[i] = tr.blockT(&a, xs[i], l, B, T, r)
		xs[i+1] = leaf(&a, ys[i])
	}
	l := tr.headLoss(&a, xs[L], b.Labels)
	loss := must(l.Detach(false))
	a.add(l)
	scaled := a.t(l.MulScalar(inv, false))
	gy := tr.partialGrads(scaled, []*param{tr.norm, tr.head}, xs[L])
	if tr.head == tr.embed {
		launch([]*param{tr.norm})
	} else {
		launch([]*param{tr.norm, tr.head})
	}
	for i := L - 1; i >= 0; i-- {
		l := tr.layers[i]
		s := a.t(a.t(ys[i].Mul(gy, false)).Sum(ys[i].DType(), false))
		drop(gy)
		ps := []*param{l.inNorm, l.postNorm, l.qkv, l.o, l.gu, l.down}
		gy = tr.partialGrads(s, ps, xs[i])
		launch(ps)
	}
	s := a.t(a.t(x0.Mul(gy, false)).Sum(x0.DType(), false))
	drop(gy)
	tr.partialGrads(s, []*param{tr.embed}, nil)
	launch([]*param{tr.embed})
	return loss
}
