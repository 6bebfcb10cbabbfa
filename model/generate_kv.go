package model

import (
	"context"
	"fmt"

	"github.com/sugarme/gotch/ts"
)

// kvCache holds the rotated keys and the values [T, nkv, hd] of every layer
// for the first T positions of a sequence, for incremental decoding.
type kvCache struct {
	k, v []*ts.Tensor
	n    int // positions cached
}

func (c *kvCache) drop() {
	drop(c.k...)
	drop(c.v...)
	c.k, c.v, c.n = nil, nil, 0
}

// cacheable reports whether incremental decoding applies: resident weights
// (one slice) and no sliding window.
func (m *Model) cacheable() bool { return m.resident != nil && len(m.plans) == 1 && m.window == 0 }

// stepCached appends ids to the cached sequence and returns the logits of
// the token after the last one. It runs on the engine goroutine.
func (m *Model) stepCached(c *kvCache, ids []int32) []float32 {
	w := m.resident
	if c.k == nil {
		c.k = make([]*ts.Tensor, len(w.layers))
		c.v = make([]*ts.Tensor, len(w.layers))
	}
	p, n := int64(c.n), int64(len(ids))
	x := m.embed(w, ids)
	defer drop(x)
	r := m.ensureRope(int(p + n))
	for i, lw := range w.layers {
		m.attentionCached(x, lw, c, i, p, n, r)
		m.mlp(x, lw)
	}
	c.n += len(ids)
	last := must(x.Narrow(0, n-1, 1, false))
	defer drop(last)
	return m.logitsOf(w, last)
}

// attentionCached is [Model.attention] for n new positions after p cached
// ones: the new keys and values are appended to layer li's cache.
func (m *Model) attentionCached(x *ts.Tensor, lw *layerWeights, c *kvCache, li int, p, n int64, r *rope) {
	cfg := m.cfg
	nh, nkv := int64(cfg.NumAttentionHeads), int64(cfg.NumKeyValueHeads)
	hd := int64(cfg.HeadDim())
	g := nh / nkv
	T := p + n
	var a arena
	defer a.free()
	h := a.add(m.rmsNorm(x, lw.inNorm))
	qkv := a.t(h.Mm(lw.qkvT, false))
	q := a.t(a.t(qkv.Narrow(1, 0, nh*hd, false)).View([]int64{n, nh, hd}, false))
	k := a.t(a.t(qkv.Narrow(1, nh*hd, nkv*hd, false)).View([]int64{n, nkv, hd}, false))
	v := a.t(a.t(qkv.Narrow(1, (nh+nkv)*hd, nkv*hd, false)).View([]int64{n, nkv, hd}, false))
	qr := a.add(m.applyRope(q, a.t(r.qcos.Narrow(0, p, n, false)), a.t(r.qsin.Narrow(0, p, n, false)), hd))
	kr := a.add(m.applyRope(k, a.t(r.kcos.Narrow(0, p, n, false)), a.t(r.ks.Narrow(0, p, n, false)), hd))
	K, V := kr, v
	if c.k[li] != nil {
		K = a.t(ts.Cat([]*ts.Tensor{c.k[li], kr}, 0))
		V = a.t(ts.Cat([]*ts.Tensor{c.v[li], v}, 0))
	}
	newK := must(K.Contiguous(false))
	newV := must(V.Contiguous(false))
	drop(c.k[li], c.v[li])
	c.k[li], c.v[li] = newK, newV

	qg := a.t(a.t(a.t(qr.View([]int64{n, nkv, g, hd}, false)).Permute([]int64{1, 2, 0, 3}, false)).Reshape([]int64{nkv, g * n, hd}, false))
	kt := a.t(newK.Permute([]int64{1, 2, 0}, false)) // [nkv, hd, T]
	vt := a.t(newV.Transpose(0, 1, false))           // [nkv, T, hd]
	sc := a.t(qg.Bmm(kt, false))                     // [nkv, g·n, T]
	if n > 1 {
		sc4 := a.t(sc.View([]int64{nkv, g, n, T}, false))
		diag := a.t(sc4.Narrow(3, p, n, false))
		inPlace(diag, func() error { return diag.MaskedFill_(m.causalMask(n), negInf) })
	}
	pr := a.add(m.probs(sc, r.qdiv))
	oc := a.t(pr.Bmm(vt, false)) // [nkv, g·n, hd] = [nh, n, hd]
	att := a.t(a.t(a.t(oc.View([]int64{nh, n, hd}, false)).Transpose(0, 1, false)).Reshape([]int64{n, nh * hd}, false))
	m.addProj(x, att, lw.oT)
}

// decoder produces next-token logits for a growing sequence, with a KV
// cache when the model allows it and by full recomputation otherwise.
type decoder struct {
	m      *Model
	cache  *kvCache
	window int
	seq    []int32
}

func (m *Model) newDecoder(window int) *decoder {
	d := &decoder{m: m, window: window}
	if m.cacheable() {
		d.cache = &kvCache{}
	}
	return d
}

// next appends ids and returns the logits of the following token.
func (d *decoder) next(ctx context.Context, ids []int32) ([]float32, error) {
	d.seq = append(d.seq, ids...)
	if d.cache == nil {
		in := d.seq
		if len(in) > d.window {
			in = in[len(in)-d.window:]
		}
		return d.m.NextLogits(ctx, in)
	}
	if err := d.m.CheckVocab([]Sample{{Ids: ids, Valid: true}}); err != nil {
		return nil, fmt.Errorf("compute next logits: %w", err)
	}
	var out []float32
	err := d.m.e.Do(ctx, func() error {
		if d.m.closed {
			return ErrClosed
		}
		feed := ids
		if d.cache.n+len(ids) > d.window {
			// Past the context window: start over on the last window tokens.
			d.cache.drop()
			feed = d.seq[len(d.seq)-d.window:]
		}
		out = d.m.stepCached(d.cache, feed)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("compute next logits: %w", err)
	}
	return out, nil
}

// close frees the cache.
func (d *decoder) close() {
	if d.cache != nil {
		_ = d.m.e.Do(context.Background(), func() error { d.cache.drop(); return nil })
	}
}
