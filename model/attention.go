package model

import (
	"log/slog"
	"math"
	"sync"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// attnMode is how attention is computed on a device.
type attnMode int

const (
	attnUnknown  attnMode = iota
	attnFallback          // hand-written blocks of matrix products (any libtorch)
	attnSDPA              // at::scaled_dot_product_attention, causal flag
	attnSDPAMask          // at::scaled_dot_product_attention with an explicit mask
)

var (
	attnModesMu sync.Mutex
	attnModes   = map[attnKey]attnMode{}
	// forceAttn, when set (by tests), overrides the probed mode.
	forceAttn attnMode
)

// sdpaKernel is at::scaled_dot_product_attention (tests put a stand-in
// here where libtorch lacks it, to check what surrounds the call).
var sdpaKernel = ts.ScaledDotProductAttention

type attnKey struct {
	dev Device
	dt  DType
}

// attnMode returns how this model computes attention. The first model on a
// device and dtype probes scaled_dot_product_attention (libtorch 1.13 has
// none: gotch's wrapper returns an error) on a tiny input against the
// fallback, and the answer is kept for the process: no per-call error cost.
func (m *Model) attnMode() attnMode {
	if forceAttn != attnUnknown {
		return forceAttn
	}
	k := attnKey{m.dev, m.dt}
	attnModesMu.Lock()
	defer attnModesMu.Unlock()
	if mode, ok := attnModes[k]; ok {
		return mode
	}
	mode := m.probeAttn()
	attnModes[k] = mode
	slog.Debug("attention path chosen", "device", m.dev.String(), "dtype", string(m.dt), "mode", int(mode))
	return mode
}

// probeAttn tries both forms of scaled_dot_product_attention on a small
// grouped-query input and keeps the first that agrees with the fallback.
func (m *Model) probeAttn() attnMode {
	const T, nh, nkv, hd = 7, 4, 2, 8
	sh := attnShape{nh: nh, nkv: nkv, hd: hd, div: math.Sqrt(hd), m: m}
	vals := func(n, seed int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(math.Sin(float64(i*seed+1))) / 2
		}
		return v
	}
	var a arena
	defer a.free()
	q := a.add(floatTensorOn(vals(T*nh*hd, 3), m.dev, m.dt.gotch(), T, nh, hd))
	k := a.add(floatTensorOn(vals(T*nkv*hd, 5), m.dev, m.dt.gotch(), T, nkv, hd))
	v := a.add(floatTensorOn(vals(T*nkv*hd, 7), m.dev, m.dt.gotch(), T, nkv, hd))
	want := hostFloats(a.add(sh.fallback(q, k, v, T)))
	tol := 1e-4
	if m.dt != DTypeF32 {
		tol = 2e-2
	}
	for _, mode := range []attnMode{attnSDPA, attnSDPAMask} {
		var got []float32
		err := protect(func() error {
			got = hostFloats(a.add(sh.sdpa(q, k, v, T, mode)))
			return nil
		})
		if err != nil {
			slog.Debug("scaled_dot_product_attention unavailable", "mode", int(mode), "err", err)
			continue
		}
		if d := maxAbsDiff(got, want); d <= tol {
			return mode
		} else {
			slog.Debug("scaled_dot_product_attention disagrees with the fallback", "mode", int(mode), "max_abs_diff", d)
		}
	}
	return attnFallback
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	if math.IsNaN(d) {
		return math.Inf(1)
	}
	return d
}

// attnShape is what the attention kernels need to know of a model.
type attnShape struct {
	nh, nkv, hd int64
	window      int64   // Phi-3 sliding window (0: none)
	div         float64 // scores are divided by div (1: the queries are pre-scaled)
	m           *Model  // device, dtype and the mask cache
}

// attention adds the self-attention block's output to the residual x [T, H].
func (m *Model) attention(x *ts.Tensor, lw *layerWeights, T int64, r *rope) {
	c := m.cfg
	nh, nkv := int64(c.NumAttentionHeads), int64(c.NumKeyValueHeads)
	hd := int64(c.HeadDim())
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
	qr := a.add(m.applyRope(q, qcos, qsin, hd)) // [T, nh, hd], pre-scaled by 1/sqrt(hd) in float32
	kr := a.add(m.applyRope(k, kcos, ksin, hd)) // [T, nkv, hd]

	sh := attnShape{nh: nh, nkv: nkv, hd: hd, window: m.window, div: r.qdiv, m: m}
	var att *ts.Tensor
	if mode := m.attnMode(); mode == attnFallback {
		att = a.add(sh.fallback(qr, kr, v, T))
	} else {
		att = a.add(sh.sdpa(qr, kr, v, T, mode))
	}
	m.addProj(x, att, lw.oT)
}

// sdpa is attention through at::scaled_dot_product_attention: q [T, nh, hd],
// k and v [T, nkv, hd] with the key/value heads repeated for grouped-query
// attention as transformers' sdpa path does. It returns [T, nh·hd].
func (s attnShape) sdpa(q, k, v *ts.Tensor, T int64, mode attnMode) *ts.Tensor {
	g := s.nh / s.nkv
	var a arena
	defer a.free()
	heads := func(x *ts.Tensor) *ts.Tensor { // [T, nkv, hd] → [nh, T, hd]
		t := a.t(x.Transpose(0, 1, false))
		if g == 1 {
			return t
		}
		e := a.t(a.t(t.Unsqueeze(1, false)).Expand([]int64{s.nkv, g, T, s.hd}, false, false))
		return a.t(e.Reshape([]int64{s.nh, T, s.hd}, false))
	}
	qh := a.t(q.Transpose(0, 1, false)) // [nh, T, hd]
	kh, vh := heads(k), heads(v)
	mask, causal := ts.None, true
	if mode == attnSDPAMask || (s.window > 0 && T-1 > s.window) {
		mask, causal = s.m.allowedMask(T, s.window), false
	}
	o := a.t(sdpaKernel(qh, kh, vh, mask, 0, causal, []float64{1 / s.div}))
	return must(a.t(o.Transpose(0, 1, false)).Reshape([]int64{T, s.nh * s.hd}, false))
}

// allowedMask returns the [T, T] mask (on the model's device) that is true
// where query i may see key j: j <= i, and i-j <= window with a sliding
// window (window > 0), sdpa's convention. The last one is kept for the next
// layers.
func (m *Model) allowedMask(T, window int64) *ts.Tensor {
	if m.allowed != nil && m.allowedT == [2]int64{T, window} {
		return m.allowed
	}
	mask := make([]bool, T*T)
	for i := int64(0); i < T; i++ {
		for j := int64(0); j <= i; j++ {
			mask[i*T+j] = window == 0 || i-j <= window
		}
	}
	drop(m.allowed)
	m.allowed, m.allowedT = boolTensorOn(mask, m.dev, T, T), [2]int64{T, window}
	return m.allowed
}

// fallback is attention in blocks of attnChunk query rows with plain matrix
// products, for any libtorch: q [T, nh, hd], k and v [T, nkv, hd]; it
// returns [T, nh·hd]. Scores are in the compute dtype, the softmax in
// float32 (cast back, as transformers' eager path does).
func (s attnShape) fallback(q, k, v *ts.Tensor, T int64) *ts.Tensor {
	nh, nkv, hd := s.nh, s.nkv, s.hd
	g := nh / nkv
	m := s.m
	var a arena
	defer a.free()
	// Query head j = kv·g + i uses key/value head kv (repeat_kv).
	qg := a.t(a.t(q.View([]int64{T, nkv, g, hd}, false)).Permute([]int64{1, 2, 0, 3}, false)) // [nkv, g, T, hd]
	kt := a.t(k.Permute([]int64{1, 2, 0}, false))                                             // [nkv, hd, T]
	vt := a.t(v.Transpose(0, 1, false))                                                       // [nkv, T, hd]

	outs := make([]*ts.Tensor, 0, (T+attnChunk-1)/attnChunk)
	defer func() { drop(outs...) }()
	for st := int64(0); st < T; st += attnChunk {
		n := min(attnChunk, T-st)
		e := st + n
		ks := int64(0)
		if s.window > 0 && st > s.window {
			ks = st - s.window
		}
		var b arena
		qc := b.t(b.t(qg.Narrow(2, st, n, false)).Reshape([]int64{nkv, g * n, hd}, false))
		// Scores per key/value head with plain matrix products: libtorch 1.13's
		// bmm is 2-3x slower than mm for these shapes (contraction over head_dim).
		sc := b.t(ts.Empty([]int64{nkv, g * n, e - ks}, m.dt.gotch(), m.dev.gotch())) // [nkv, g·n, e-ks]
		for j := int64(0); j < nkv; j++ {
			qj := b.t(qc.Select(0, j, false))
			kj := b.t(b.t(kt.Select(0, j, false)).Narrow(1, ks, e-ks, false))
			oj := b.t(sc.Select(0, j, false))
			b.t(qj.MmOut(oj, kj, false))
		}
		sc4 := b.t(sc.View([]int64{nkv, g, n, e - ks}, false))
		if s.window > 0 && e-1-ks > s.window {
			mask := b.add(windowMaskOn(st, n, ks, e, s.window, m.dev))
			inPlace(sc4, func() error { return sc4.MaskedFill_(mask, negInf) })
		} else {
			diag := b.t(sc4.Narrow(3, st-ks, n, false))
			inPlace(diag, func() error { return diag.MaskedFill_(m.causalMask(n), negInf) })
		}
		p := b.add(m.probs(sc, s.div))
		sc.Drop()
		vc := b.t(vt.Narrow(1, ks, e-ks, false))
		oc := b.t(p.Bmm(vc, false)) // [nkv, g·n, hd] = [nh, n, hd]
		ocv := b.t(oc.View([]int64{nh, n, hd}, false))
		outs = append(outs, must(ocv.Transpose(0, 1, false))) // [n, nh, hd]
		b.free()
	}
	if len(outs) == 1 {
		return must(outs[0].Reshape([]int64{T, nh * hd}, false))
	}
	return must(a.t(ts.Cat(outs, 0)).View([]int64{T, nh * hd}, false))
}

// probs turns masked scores (compute dtype) into attention probabilities in
// the compute dtype: scores divided by div (1 when the queries are
// pre-scaled), softmax in float32.
func (m *Model) probs(sc *ts.Tensor, div float64) *ts.Tensor {
	var a arena
	defer a.free()
	if div != 1 {
		div := ts.FloatScalar(div)
		defer div.MustDrop()
		inPlace(sc, func() error { return sc.DivScalar_(div) })
	}
	p := must(sc.Softmax(-1, gotch.Float, false))
	if m.dt == DTypeF32 {
		return p
	}
	a.add(p)
	return must(p.ToDtype(m.dt.gotch(), false, false, false))
}

// causalMask returns the cached [n, n] mask (on the model's device) that is
// true above the diagonal.
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
	t := boolTensorOn(mask, m.dev, n, n)
	m.masks[n] = t
	return t
}

// windowMask is the [n, e-ks] CPU mask of queries [s, s+n) over keys [ks, e)
// with Phi-3's sliding window: key j is hidden from query i when j > i or
// i-j > w.
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

// windowMaskOn is windowMask on dev.
func windowMaskOn(s, n, ks, e, w int64, dev Device) *ts.Tensor {
	return toDevice(windowMask(s, n, ks, e, w), dev, gotch.Bool)
}
