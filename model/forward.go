package model

import (
	"math"
	"os"
	"strconv"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// attnChunk is the number of query rows per attention block. Blocks only
// multiply against the keys they can see, which skips most of the masked
// upper triangle, and keep the score matrix small.
var attnChunk int64 = 128

func init() {
	// COLDINT_ATTN_CHUNK overrides the block size (for benchmarking).
	if n, err := strconv.ParseInt(os.Getenv("COLDINT_ATTN_CHUNK"), 10, 64); err == nil && n > 0 {
		attnChunk = n
	}
}

// lossRows is the number of positions whose logits are materialised at once.
const lossRowsBytes = 32 << 20

// rope holds the rotary tables of the model for positions [0, n).
type rope struct {
	n                    int
	qcos, qsin, kcos, ks *ts.Tensor // [n, 1, head_dim]
}

func (r *rope) drop() {
	if r != nil {
		drop(r.qcos, r.qsin, r.kcos, r.ks)
	}
}

// ensureRope returns rotary tables covering n positions for a forward pass
// whose last position is n-1. With Phi-3 longrope that is the long-factor
// table when n exceeds original_max_position_embeddings, as transformers
// picks the factors from max(position_ids)+1 on every forward.
func (m *Model) ensureRope(n int) *rope {
	slot, inv := &m.rope, m.invFreq
	if m.longInv != nil && n > m.ropeSwitch {
		slot, inv = &m.ropeLong, m.longInv
	}
	if *slot != nil && (*slot).n >= n {
		return *slot
	}
	size := (n + 255) / 256 * 256
	hd := int64(m.cfg.HeadDim())
	ms := m.mscale
	if ms == 0 {
		ms = 1
	}
	qc, qs := ropeTables(inv, size, ms, float32(1/math.Sqrt(float64(hd))))
	kc, ks := ropeTables(inv, size, ms, 1)
	r := &rope{n: size}
	r.qcos = floatTensor(qc, int64(size), 1, hd)
	r.qsin = floatTensor(qs, int64(size), 1, hd)
	r.kcos = floatTensor(kc, int64(size), 1, hd)
	r.ks = floatTensor(ks, int64(size), 1, hd)
	(*slot).drop()
	*slot = r
	return r
}

// rmsNorm returns w · x·rsqrt(Σx²/D + eps) over the last dimension of x [T, H].
func (m *Model) rmsNorm(x, w *ts.Tensor) *ts.Tensor {
	var a arena
	defer a.free()
	sq := a.t(x.Square(false))
	ss := a.t(sq.SumDimIntlist([]int64{-1}, true, gotch.Float, false))
	inPlace(ss, func() error { return ss.DivScalar_(m.normD) })
	inPlace(ss, func() error { return ss.AddScalar_(m.eps) })
	inPlace(ss, ss.Rsqrt_)
	y := a.t(x.Mul(ss, false))
	inPlace(y, func() error { return y.Mul_(w) })
	a.list = a.list[:len(a.list)-1] // y is the result
	return y
}

// applyRope returns x·cos + rotate_half(x)·sin for x [T, n, hd] (any strides).
func applyRope(x, cos, sinSigned *ts.Tensor, hd int64) *ts.Tensor {
	var a arena
	defer a.free()
	x1 := a.t(x.Narrow(2, 0, hd/2, false))
	x2 := a.t(x.Narrow(2, hd/2, hd/2, false))
	sw := a.t(ts.Cat([]*ts.Tensor{x2, x1}, 2))
	out := a.t(x.Mul(cos, false))
	inPlace(out, func() error { return out.Addcmul_(sw, sinSigned) })
	a.list = a.list[:len(a.list)-1] // out is the result
	return out
}

// attention adds the self-attention block's output to the residual x [T, H].
func (m *Model) attention(x *ts.Tensor, lw *layerWeights, T int64, r *rope) {
	c := m.cfg
	nh, nkv := int64(c.NumAttentionHeads), int64(c.NumKeyValueHeads)
	hd := int64(c.HeadDim())
	g := nh / nkv
	var a arena
	defer a.free()

	h := a.add(m.rmsNorm(x, lw.inNorm))
	qkv := a.t(h.Mm(lw.qkvT, false)) // [T, (nh+2nkv)·hd]
	h.Drop()
	q := a.t(a.t(qkv.Narrow(1, 0, nh*hd, false)).View([]int64{T, nh, hd}, false))
	k := a.t(a.t(qkv.Narrow(1, nh*hd, nkv*hd, false)).View([]int64{T, nkv, hd}, false))
	v := a.t(a.t(qkv.Narrow(1, (nh+nkv)*hd, nkv*hd, false)).View([]int64{T, nkv, hd}, false))

	qcos := a.t(r.qcos.Narrow(0, 0, T, false))
	qsin := a.t(r.qsin.Narrow(0, 0, T, false))
	kcos := a.t(r.kcos.Narrow(0, 0, T, false))
	ksin := a.t(r.ks.Narrow(0, 0, T, false))
	qr := a.add(applyRope(q, qcos, qsin, hd)) // [T, nh, hd], pre-scaled by 1/sqrt(hd)
	kr := a.add(applyRope(k, kcos, ksin, hd)) // [T, nkv, hd]

	// Query head j = kv·g + i uses key/value head kv (repeat_kv).
	qg := a.t(a.t(qr.View([]int64{T, nkv, g, hd}, false)).Permute([]int64{1, 2, 0, 3}, false)) // [nkv, g, T, hd]
	kt := a.t(kr.Permute([]int64{1, 2, 0}, false))                                             // [nkv, hd, T]
	vt := a.t(v.Transpose(0, 1, false))                                                        // [nkv, T, hd]

	outs := make([]*ts.Tensor, 0, (T+attnChunk-1)/attnChunk)
	for s := int64(0); s < T; s += attnChunk {
		n := min(attnChunk, T-s)
		e := s + n
		ks := int64(0)
		if m.window > 0 && s > m.window {
			ks = s - m.window
		}
		var b arena
		qc := b.t(b.t(qg.Narrow(2, s, n, false)).Reshape([]int64{nkv, g * n, hd}, false))
		// Scores per key/value head with plain matrix products: libtorch 1.13's
		// bmm is 2-3x slower than mm for these shapes (contraction over head_dim).
		sc := b.add(emptyFloat(nkv, g*n, e-ks)) // [nkv, g·n, e-ks]
		for j := int64(0); j < nkv; j++ {
			qj := b.t(qc.Select(0, j, false))
			kj := b.t(b.t(kt.Select(0, j, false)).Narrow(1, ks, e-ks, false))
			oj := b.t(sc.Select(0, j, false))
			b.t(qj.MmOut(oj, kj, false))
		}
		sc4 := b.t(sc.View([]int64{nkv, g, n, e - ks}, false))
		if m.window > 0 && e-1-ks > m.window {
			mask := b.add(windowMask(s, n, ks, e, m.window))
			inPlace(sc4, func() error { return sc4.MaskedFill_(mask, negInf) })
		} else {
			diag := b.t(sc4.Narrow(3, s-ks, n, false))
			inPlace(diag, func() error { return diag.MaskedFill_(m.causalMask(n), negInf) })
		}
		p := b.t(sc.Softmax(-1, gotch.Float, false))
		sc.Drop()
		vc := b.t(vt.Narrow(1, ks, e-ks, false))
		oc := b.t(p.Bmm(vc, false)) // [nkv, g·n, hd] = [nh, n, hd]
		ocv := b.t(oc.View([]int64{nh, n, hd}, false))
		outs = append(outs, must(ocv.Transpose(0, 1, false))) // [n, nh, hd]
		b.free()
	}
	var att *ts.Tensor
	if len(outs) == 1 {
		att = a.t(outs[0].Reshape([]int64{T, nh * hd}, false))
	} else {
		att = a.t(a.t(ts.Cat(outs, 0)).View([]int64{T, nh * hd}, false))
	}
	drop(outs...)
	inPlace(x, func() error { return x.Addmm_(att, lw.oT) })
}

// causalMask returns the cached [n, n] mask that is true above the diagonal.
func (m *Model) causalMask(n int64) *ts.Tensor {
	if t, ok := m.masks[n]; ok {
		return t
	}
	mask := make([]bool, n*n)
	for i := int64(0); i < n; i++ {
		for j := i + 1; j < n; j++ {
			mask[i*n+j] = true
		}
	}
	t := boolTensor(mask, n, n)
	m.masks[n] = t
	return t
}

// windowMask is the [n, e-ks] mask of queries [s, s+n) over keys [ks, e) with
// Phi-3's sliding window: key j is hidden from query i when j > i or i-j > w.
func windowMask(s, n, ks, e, w int64) *ts.Tensor {
	cols := e - ks
	mask := make([]bool, n*cols)
	for i := int64(0); i < n; i++ {
		qi := s + i
		for j := int64(0); j < cols; j++ {
			kj := ks + j
			mask[i*cols+j] = kj > qi || qi-kj > w
		}
	}
	return boolTensor(mask, n, cols)
}

// mlp adds the SiLU-gated MLP block's output to the residual x [T, H].
func (m *Model) mlp(x *ts.Tensor, lw *layerWeights) {
	in := int64(m.cfg.IntermediateSize)
	var a arena
	defer a.free()
	h := a.add(m.rmsNorm(x, lw.postNorm))
	gu := a.t(h.Mm(lw.guT, false)) // [T, 2I] = [gate | up]
	h.Drop()
	gate := a.t(gu.Narrow(1, 0, in, false))
	up := a.t(gu.Narrow(1, in, in, false))
	act := a.t(gate.Silu(false))
	inPlace(act, func() error { return act.Mul_(up) })
	gu.Drop()
	inPlace(x, func() error { return x.Addmm_(act, lw.downT) })
}

// embed returns the embeddings [T, H] of ids.
func (m *Model) embed(w *sliceWeights, ids []int32) *ts.Tensor {
	idx := longTensor(ids)
	defer drop(idx)
	return must(ts.Embedding(w.embed, idx, -1, false, false))
}

// layers runs decoder layers of slice w over x [T, H] in place.
func (m *Model) layers(w *sliceWeights, x *ts.Tensor, T int64) {
	if len(w.layers) == 0 {
		return
	}
	r := m.ensureRope(int(T))
	for _, lw := range w.layers {
		m.attention(x, lw, T, r)
		m.mlp(x, lw)
	}
}

// sumLoss applies the final norm and LM head to x [T, H] and returns the
// summed cross-entropy of the float32 logits of positions 0..T-2 against
// ids[1:].
func (m *Model) sumLoss(w *sliceWeights, x *ts.Tensor, ids []int32) float64 {
	T := int64(len(ids))
	if T < 2 {
		return 0
	}
	var a arena
	defer a.free()
	hn := a.add(m.rmsNorm(x, w.norm))
	targets := a.add(longTensor(ids[1:]))
	n := T - 1
	rows := max(1, int64(lossRowsBytes)/(4*int64(m.cfg.VocabSize)))
	var sum float64
	for r := int64(0); r < n; r += rows {
		k := min(rows, n-r)
		var b arena
		hc := b.t(hn.Narrow(0, r, k, false))
		logits := b.t(hc.Mm(w.headT, false)) // [k, V] float32
		tc := b.t(targets.Narrow(0, r, k, false))
		l := b.t(logits.CrossEntropyLoss(tc, ts.None, 2 /* sum */, -100, 0, false))
		sum += scalarValue(l)
		b.free()
	}
	return sum
}

// logits applies the final norm and LM head to x [T, H] and returns the
// float32 logits [T, V].
func (m *Model) logitsOf(w *sliceWeights, x *ts.Tensor) []float32 {
	var a arena
	defer a.free()
	hn := a.add(m.rmsNorm(x, w.norm))
	l := a.t(hn.Mm(w.headT, false))
	sz, err := l.Size()
	check(err)
	return copyOut(l, numel(sz))
}
