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

// lossRowsBytes bounds the float32 logits materialised at once (rows of
// vocab_size values) on the CPU; lossRowsBytesGPU on a GPU, where larger
// blocks keep the device busy. A 4096 × 100k block is never made whole.
const (
	lossRowsBytes    = 32 << 20
	lossRowsBytesGPU = 512 << 20
)

// rope holds the rotary tables of the model for positions [0, n) on the
// model's device in its compute dtype. In float32 the query tables fold in
// 1/sqrt(head_dim) (qdiv is 1); in bf16 they are the plain tables, as
// transformers rounds them, and attention scores are divided by qdiv =
// sqrt(head_dim) instead.
type rope struct {
	n                    int
	qcos, qsin, kcos, ks *ts.Tensor // [n, 1, head_dim]
	qdiv                 float64
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
	qscale, qdiv := float32(1/math.Sqrt(float64(hd))), 1.0
	if m.dt != DTypeF32 {
		qscale, qdiv = 1, math.Sqrt(float64(hd))
	}
	qc, qs := ropeTables(inv, size, ms, qscale)
	kc, ks := ropeTables(inv, size, ms, 1)
	dt := m.dt.gotch()
	r := &rope{n: size, qdiv: qdiv}
	r.qcos = floatTensorOn(qc, m.dev, dt, int64(size), 1, hd)
	r.qsin = floatTensorOn(qs, m.dev, dt, int64(size), 1, hd)
	r.kcos = floatTensorOn(kc, m.dev, dt, int64(size), 1, hd)
	r.ks = floatTensorOn(ks, m.dev, dt, int64(size), 1, hd)
	(*slot).drop()
	*slot = r
	return r
}

// rmsNorm returns w · x·rsqrt(Σx²/D + eps) over the last dimension of x
// [T, H]. As transformers' LlamaRMSNorm, a bf16 x is normalised in float32
// and cast back before the bf16 product with w.
func (m *Model) rmsNorm(x, w *ts.Tensor) *ts.Tensor {
	var a arena
	defer a.free()
	xf := x
	if m.dt != DTypeF32 {
		xf = a.t(x.ToDtype(gotch.Float, false, false, false))
	}
	sq := a.t(xf.Square(false))
	ss := a.t(sq.SumDimIntlist([]int64{-1}, true, gotch.Float, false))
	inPlace(ss, func() error { return ss.DivScalar_(m.normD) })
	inPlace(ss, func() error { return ss.AddScalar_(m.eps) })
	inPlace(ss, ss.Rsqrt_)
	y := a.t(xf.Mul(ss, false))
	if m.dt != DTypeF32 {
		y = a.t(y.ToDtype(m.dt.gotch(), false, false, false))
	}
	inPlace(y, func() error { return y.Mul_(w) })
	a.list = a.list[:len(a.list)-1] // y is the result
	return y
}

// applyRope returns x·cos + rotate_half(x)·sin for x [T, n, hd] (any strides).
// In bf16 both products are rounded before the sum, as transformers does.
func (m *Model) applyRope(x, cos, sinSigned *ts.Tensor, hd int64) *ts.Tensor {
	var a arena
	defer a.free()
	x1 := a.t(x.Narrow(2, 0, hd/2, false))
	x2 := a.t(x.Narrow(2, hd/2, hd/2, false))
	sw := a.t(ts.Cat([]*ts.Tensor{x2, x1}, 2))
	var rs *ts.Tensor
	if m.dt != DTypeF32 {
		rs = a.t(sw.Mul(sinSigned, false))
	}
	out := must(x.Mul(cos, false))
	if rs != nil {
		inPlace(out, func() error { return out.Add_(rs) })
	} else {
		inPlace(out, func() error { return out.Addcmul_(sw, sinSigned) })
	}
	return out
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
	m.addProj(x, act, lw.downT)
}

// embed returns the embeddings [T, H] of ids.
func (m *Model) embed(w *sliceWeights, ids []int32) *ts.Tensor {
	idx := longTensorOn(ids, m.dev)
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
// ids[1:]. The LM head runs in the compute dtype; its logits are upcast to
// float32 a block of rows at a time.
func (m *Model) sumLoss(w *sliceWeights, x *ts.Tensor, ids []int32) float64 {
	T := int64(len(ids))
	if T < 2 {
		return 0
	}
	var a arena
	defer a.free()
	hn := a.add(m.rmsNorm(x, w.norm))
	targets := a.add(longTensorOn(ids[1:], m.dev))
	n := T - 1
	block := int64(lossRowsBytes)
	if m.dev.CUDA {
		block = lossRowsBytesGPU
	}
	rows := max(1, block/(4*int64(m.cfg.VocabSize)))
	var sum float64
	for r := int64(0); r < n; r += rows {
		k := min(rows, n-r)
		var b arena
		hc := b.t(hn.Narrow(0, r, k, false))
		logits := b.add(m.float32(b.t(hc.Mm(w.headT, false)))) // [k, V]
		tc := b.t(targets.Narrow(0, r, k, false))
		l := b.t(logits.CrossEntropyLoss(tc, ts.None, 2 /* sum */, -100, 0, false))
		sum += hostScalar(l)
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
	return hostFloats(l)
}

// float32 returns x upcast to float32 (x itself, as a new handle, in a
// float32 model).
func (m *Model) float32(x *ts.Tensor) *ts.Tensor {
	return must(x.ToDtype(gotch.Float, false, false, false))
}

// addProj adds a·wT to the residual x in place. In bf16 the product is
// rounded before the sum, as transformers does (x + linear(a)); float32
// uses one fused addmm.
func (m *Model) addProj(x, a, wT *ts.Tensor) {
	if m.dt == DTypeF32 {
		inPlace(x, func() error { return x.Addmm_(a, wT) })
		return
	}
	p := must(a.Mm(wT, false))
	defer drop(p)
	inPlace(x, func() error { return x.Add_(p) })
}
