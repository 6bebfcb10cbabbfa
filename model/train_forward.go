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
// A bfloat16 x is normalised in float32 and cast back before the weight
// multiplies it, as transformers' RMSNorm does.
func (m *Model) rmsNormT(a *arena, x, w *ts.Tensor) *ts.Tensor {
	kind := x.DType()
	if kind != gotch.Float {
		x = a.t(x.Totype(gotch.Float, false))
	}
	sq := a.t(x.Square(false))
	ss := a.t(sq.SumDimIntlist([]int64{-1}, true, gotch.Float, false))
	ms := a.t(ss.DivScalar(m.normD, false))
	me := a.t(ms.AddScalar(m.eps, false))
	r := a.t(me.Rsqrt(false))
	y := a.t(x.Mul(r, false))
	if kind != gotch.Float {
		y = a.t(y.Totype(kind, false))
	}
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

	h := m.rmsNormT(a, x, l.inNorm.w())
	qkvT := a.t(l.qkv.w().T(false))
	qkv := a.t(h.Mm(qkvT, false))
	q := a.t(a.t(qkv.Narrow(1, 0, nh*hd, false)).View([]int64{B, T, nh, hd}, false))
	k := a.t(a.t(qkv.Narrow(1, nh*hd, nkv*hd, false)).View([]int64{B, T, nkv, hd}, false))
	v := a.t(a.t(qkv.Narrow(1, (nh+nkv)*hd, nkv*hd, false)).View([]int64{B, T, nkv, hd}, false))

	tb := tr.ropeTables(a, r, T)
	qr := ropeT(a, q, tb[0], tb[1], hd) // pre-scaled by 1/sqrt(hd)
	kr := ropeT(a, k, tb[2], tb[3], hd)

	// Query head j = kv·g + i uses key/value head kv (repeat_kv).
	qg := a.t(a.t(a.t(qr.View([]int64{B, T, nkv, g, hd}, false)).Permute([]int64{0, 2, 3, 1, 4}, false)).Reshape([]int64{B * nkv, g * T, hd}, false))
	kt := a.t(a.t(kr.Permute([]int64{0, 2, 3, 1}, false)).Reshape([]int64{B * nkv, hd, T}, false))
	vt := a.t(a.t(v.Permute([]int64{0, 2, 1, 3}, false)).Reshape([]int64{B * nkv, T, hd}, false))
	sc := a.t(a.t(qg.Bmm(kt, false)).View([]int64{B * nkv, g, T, T}, false))
	scm := a.t(sc.MaskedFill(tr.attnMask(T), negInf, false))
	sm := a.t(scm.Softmax(-1, gotch.Float, false))
	if kind := tr.computeKind(); kind != gotch.Float {
		sm = a.t(sm.Totype(kind, false))
	}
	p := a.t(sm.View([]int64{B * nkv, g * T, T}, false))
	o := a.t(p.Bmm(vt, false)) // [B·nkv, g·T, hd]
	o2 := a.t(a.t(a.t(o.View([]int64{B, nkv, g, T, hd}, false)).Permute([]int64{0, 3, 1, 2, 4}, false)).Reshape([]int64{N, nh * hd}, false))
	att := a.t(o2.Mm(a.t(l.o.w().T(false)), false))
	x2 := a.t(x.Add(att, false))

	in := int64(c.IntermediateSize)
	h2 := m.rmsNormT(a, x2, l.postNorm.w())
	gu := a.t(h2.Mm(a.t(l.gu.w().T(false)), false))
	gate := a.t(gu.Narrow(1, 0, in, false))
	up := a.t(gu.Narrow(1, in, in, false))
	act := a.t(a.t(gate.Silu(false)).Mul(up, false))
	down := a.t(act.Mm(a.t(l.down.w().T(false)), false))
	return a.t(x2.Add(down, false))
}

// lossSum returns the summed cross-entropy of batch b as a scalar tensor
// (with its autograd graph when grad mode is on). The caller drops it.
func (tr *Trainer) lossSum(b train.Batch) *ts.Tensor {
	B, T := tr.checkBatch(b)
	var a arena
	defer a.free()
	x := tr.embedT(&a, b.IDs)
	r := tr.m.ensureRope(int(T))
	for _, l := range tr.layers {
		x = tr.blockT(&a, x, l, B, T, r)
	}
	return tr.headLoss(&a, x, b.Labels)
}

// checkBatch returns the rows and sequence length of b after checking its
// shape and token ids (panicking with a torchError when they are wrong).
func (tr *Trainer) checkBatch(b train.Batch) (B, T int64) {
	B, T = int64(b.Rows), int64(b.SeqLen)
	if B*T != int64(len(b.IDs)) || len(b.Labels) != len(b.IDs) || T < 1 {
		panic(torchError{fmt.Errorf("batch of %d×%d with %d ids and %d labels", B, T, len(b.IDs), len(b.Labels))})
	}
	V := int32(tr.cfg.VocabSize)
	for i, id := range b.IDs {
		if id < 0 || id >= V {
			panic(torchError{fmt.Errorf("token id %d at %d with %d embedding rows: %w", id, i, V, ErrVocab)})
		}
	}
	return B, T
}

// embedT returns the embeddings [N, H] of ids (compute dtype, on the device).
func (tr *Trainer) embedT(a *arena, ids []int32) *ts.Tensor {
	idx := a.add(tr.toDevice(longTensor32(ids)))
	return a.t(ts.Embedding(tr.embed.w(), idx, -1, false, false))
}

// headLoss returns the summed float32 cross-entropy of the hidden states x
// [N, H] against labels: final norm, LM head, logits upcast to float32.
func (tr *Trainer) headLoss(a *arena, x *ts.Tensor, labels []int32) *ts.Tensor {
	h := tr.m.rmsNormT(a, x, tr.norm.w())
	logits := a.t(h.Mm(a.t(tr.head.w().T(false)), false)) // [N, V]
	if logits.DType() != gotch.Float {
		logits = a.t(logits.Totype(gotch.Float, false))
	}
	lt := a.add(tr.toDevice(labelTensor(labels)))
	return must(logits.CrossEntropyLoss(lt, ts.None, 2 /* sum */, train.IgnoreLabel, 0, false))
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
