package model

import (
	"fmt"
	"unsafe"

	"github.com/coldint/coldint/train"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// The training forward pass is the math of forward.go on a batch [B, T]
// written without in-place operations, so that autograd can differentiate
// it. Rows are flattened to N = B·T positions for the projections.

// longTensor32 copies int32 ids into an int64 tensor of shape [len(ids)].
func longTensor32(ids []int32) *ts.Tensor { return longTensor(ids) }

// rmsNormT is rmsNorm without in-place operations: w · x·rsqrt(Σx²/D + eps).
func (m *Model) rmsNormT(a *arena, x, w *ts.Tensor) *ts.Tensor {
	sq := a.t(x.Square(false))
	ss := a.t(sq.SumDimIntlist([]int64{-1}, true, gotch.Float, false))
	ms := a.t(ss.DivScalar(m.normD, false))
	me := a.t(ms.AddScalar(m.eps, false))
	r := a.t(me.Rsqrt(false))
	y := a.t(x.Mul(r, false))
	return a.t(y.Mul(w, false))
}

// ropeT returns x·cos + swap_halves(x)·sinSigned for x [B, T, n, hd].
func ropeT(a *arena, x, cos, sinSigned *ts.Tensor, hd int64) *ts.Tensor {
	x1 := a.t(x.Narrow(3, 0, hd/2, false))
	x2 := a.t(x.Narrow(3, hd/2, hd/2, false))
	sw := a.t(ts.Cat([]*ts.Tensor{x2, x1}, 3))
	xc := a.t(x.Mul(cos, false))
	ss := a.t(sw.Mul(sinSigned, false))
	return a.t(xc.Add(ss, false))
}

// blockT runs one decoder layer over x [N, H] and returns the new residual.
func (tr *Trainer) blockT(a *arena, x *ts.Tensor, l trainLayer, B, T int64, r *rope) *ts.Tensor {
	m, c := tr.m, tr.cfg
	nh, nkv := int64(c.NumAttentionHeads), int64(c.NumKeyValueHeads)
	hd := int64(c.HeadDim())
	g := nh / nkv
	N := B * T

	h := m.rmsNormT(a, x, l.inNorm.t)
	qkvT := a.t(l.qkv.t.T(false))
	qkv := a.t(h.Mm(qkvT, false))
	q := a.t(a.t(qkv.Narrow(1, 0, nh*hd, false)).View([]int64{B, T, nh, hd}, false))
	k := a.t(a.t(qkv.Narrow(1, nh*hd, nkv*hd, false)).View([]int64{B, T, nkv, hd}, false))
	v := a.t(a.t(qkv.Narrow(1, (nh+nkv)*hd, nkv*hd, false)).View([]int64{B, T, nkv, hd}, false))

	qr := ropeT(a, q, a.t(r.qcos.Narrow(0, 0, T, false)), a.t(r.qsin.Narrow(0, 0, T, false)), hd) // pre-scaled by 1/sqrt(hd)
	kr := ropeT(a, k, a.t(r.kcos.Narrow(0, 0, T, false)), a.t(r.ks.Narrow(0, 0, T, false)), hd)

	// Query head j = kv·g + i uses key/value head kv (repeat_kv).
	qg := a.t(a.t(a.t(qr.View([]int64{B, T, nkv, g, hd}, false)).Permute([]int64{0, 2, 3, 1, 4}, false)).Reshape([]int64{B * nkv, g * T, hd}, false))
	kt := a.t(a.t(kr.Permute([]int64{0, 2, 3, 1}, false)).Reshape([]int64{B * nkv, hd, T}, false))
	vt := a.t(a.t(v.Permute([]int64{0, 2, 1, 3}, false)).Reshape([]int64{B * nkv, T, hd}, false))
	sc := a.t(a.t(qg.Bmm(kt, false)).View([]int64{B * nkv, g, T, T}, false))
	var mask *ts.Tensor
	if m.window > 0 && T-1 > m.window {
		mask = a.add(windowMask(0, T, 0, T, m.window))
	} else {
		mask = m.causalMask(T)
	}
	scm := a.t(sc.MaskedFill(mask, negInf, false))
	p := a.t(a.t(scm.Softmax(-1, gotch.Float, false)).View([]int64{B * nkv, g * T, T}, false))
	o := a.t(p.Bmm(vt, false)) // [B·nkv, g·T, hd]
	o2 := a.t(a.t(a.t(o.View([]int64{B, nkv, g, T, hd}, false)).Permute([]int64{0, 3, 1, 2, 4}, false)).Reshape([]int64{N, nh * hd}, false))
	att := a.t(o2.Mm(a.t(l.o.t.T(false)), false))
	x2 := a.t(x.Add(att, false))

	in := int64(c.IntermediateSize)
	h2 := m.rmsNormT(a, x2, l.postNorm.t)
	gu := a.t(h2.Mm(a.t(l.gu.t.T(false)), false))
	gate := a.t(gu.Narrow(1, 0, in, false))
	up := a.t(gu.Narrow(1, in, in, false))
	act := a.t(a.t(gate.Silu(false)).Mul(up, false))
	down := a.t(act.Mm(a.t(l.down.t.T(false)), false))
	return a.t(x2.Add(down, false))
}

// lossSum returns the summed cross-entropy of batch b as a scalar tensor
// (with its autograd graph when grad mode is on). The caller drops it.
func (tr *Trainer) lossSum(b train.Batch) *ts.Tensor {
	B, T := int64(b.Rows), int64(b.SeqLen)
	if B*T != int64(len(b.IDs)) || len(b.Labels) != len(b.IDs) || T < 1 {
		panic(torchError{fmt.Errorf("batch of %d×%d with %d ids and %d labels", B, T, len(b.IDs), len(b.Labels))})
	}
	V := int32(tr.cfg.VocabSize)
	for i, id := range b.IDs {
		if id < 0 || id >= V {
			panic(torchError{fmt.Errorf("token id %d at %d with %d embedding rows: %w", id, i, V, ErrVocab)})
		}
	}
	var a arena
	defer a.free()
	idx := a.add(longTensor32(b.IDs))
	x := a.t(ts.Embedding(tr.embed.t, idx, -1, false, false)) // [N, H]
	r := tr.m.ensureRope(int(T))
	for _, l := range tr.layers {
		x = tr.blockT(&a, x, l, B, T, r)
	}
	h := tr.m.rmsNormT(&a, x, tr.norm.t)
	logits := a.t(h.Mm(a.t(tr.head.t.T(false)), false)) // [N, V]
	labels := a.add(labelTensor(b.Labels))
	return must(logits.CrossEntropyLoss(labels, ts.None, 2 /* sum */, train.IgnoreLabel, 0, false))
}

// labelTensor copies labels into an int64 tensor.
func labelTensor(labels []int32) *ts.Tensor {
	t := must(ts.Empty([]int64{int64(len(labels))}, gotch.Int64, gotch.CPU))
	if len(labels) > 0 {
		p, err := t.DataPtr()
		check(err)
		dst := unsafe.Slice((*int64)(p), len(labels))
		for i, l := range labels {
			dst[i] = int64(l)
		}
	}
	return t
}
