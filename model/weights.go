package model

import (
	"fmt"
	"unsafe"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/sugarme/gotch/ts"
)

// slicePlan is one slice of a (possibly sliced) evaluation: optionally the
// token embedding, a contiguous range of decoder layers, and optionally the
// final norm with the LM head.
type slicePlan struct {
	Embed       bool
	First, Last int // decoder layers [First, Last)
	Final       bool
	Bytes       int64 // float32 bytes of the weights resident for this slice
}

// planSlices packs [embed, layer 0, ..., layer L-1, final] greedily into
// slices whose float32 weights fit budget. budget <= 0 means one slice. A
// single unit larger than the budget gets a slice of its own.
func planSlices(cfg *hf.ModelConfig, budget int64) []slicePlan {
	h, v := int64(cfg.HiddenSize), int64(cfg.VocabSize)
	embedBytes := 4 * v * h
	finalBytes := 4 * (h + v*h)
	var layerBytes int64
	shapes := cfg.ExpectedTensors()
	prefix := hf.LayerPrefix(0)
	for name, s := range shapes {
		if len(name) > len(prefix) && name[:len(prefix)] == prefix {
			n := int64(4)
			for _, d := range s {
				n *= d
			}
			layerBytes += n
		}
	}
	total := 4 * cfg.ParamCount()
	L := cfg.NumHiddenLayers
	if budget <= 0 || total <= budget {
		return []slicePlan{{Embed: true, First: 0, Last: L, Final: true, Bytes: total}}
	}
	var plans []slicePlan
	cur := slicePlan{Embed: true, Bytes: embedBytes}
	empty := func(p slicePlan) bool { return !p.Embed && p.Last == p.First }
	for i := 0; i < L; i++ {
		if cur.Bytes+layerBytes > budget && !empty(cur) {
			plans = append(plans, cur)
			cur = slicePlan{First: i, Last: i}
		}
		cur.Last = i + 1
		cur.Bytes += layerBytes
	}
	if cur.Bytes+finalBytes > budget {
		plans = append(plans, cur)
		cur = slicePlan{First: L, Last: L}
	}
	cur.Final = true
	cur.Bytes += finalBytes
	plans = append(plans, cur)
	return plans
}

// layerWeights holds one decoder layer in float32. Projections are fused:
// qkv is [q;k;v] rows (Phi-3's qkv_proj layout) and gu is [gate;up] rows
// (Phi-3's gate_up_proj layout); the *T fields are transposed views for
// x·Wᵀ products.
type layerWeights struct {
	inNorm, postNorm     *ts.Tensor
	qkv, o, gu, down     *ts.Tensor
	qkvT, oT, guT, downT *ts.Tensor
}

func (l *layerWeights) drop() {
	drop(l.qkvT, l.oT, l.guT, l.downT, l.inNorm, l.postNorm, l.qkv, l.o, l.gu, l.down)
}

// sliceWeights are the resident weights of one slice.
type sliceWeights struct {
	plan   slicePlan
	embed  *ts.Tensor // [V, H] when plan.Embed
	layers []*layerWeights
	norm   *ts.Tensor // [H] when plan.Final
	head   *ts.Tensor // [V, H] when plan.Final (may be embed)
	headT  *ts.Tensor
}

func (w *sliceWeights) drop() {
	if w == nil {
		return
	}
	for _, l := range w.layers {
		l.drop()
	}
	drop(w.headT, w.norm)
	if w.head != w.embed {
		drop(w.head)
	}
	drop(w.embed)
}

// weightLoader reads tensors of a checkpoint into float32 libtorch tensors.
type weightLoader struct {
	set *safetensors.Set
	cfg *hf.ModelConfig
}

// fill reads tensor name into dst (float32 memory of exactly its element count).
func (wl *weightLoader) fill(name string, dst []float32) {
	info, ok := wl.set.Tensor(name)
	if !ok {
		panic(torchError{fmt.Errorf("read tensor %q: missing from checkpoint", name)})
	}
	if info.NumElements() != int64(len(dst)) {
		panic(torchError{fmt.Errorf("read tensor %q: %d elements, want %d", name, info.NumElements(), len(dst))})
	}
	if !info.DType.IsFloat() {
		panic(torchError{fmt.Errorf("read tensor %q: dtype %s is not F32, F16 or BF16", name, info.DType)})
	}
	raw, err := wl.set.ReadRaw(name)
	if err != nil {
		panic(torchError{err})
	}
	if info.DType == safetensors.F32 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst)), raw)
		return
	}
	if err := safetensors.ToFloat32(info.DType, raw, dst); err != nil {
		panic(torchError{fmt.Errorf("read tensor %q: %w", name, err)})
	}
}

// load reads one tensor of the given shape.
func (wl *weightLoader) load(name string, shape ...int64) *ts.Tensor {
	t := emptyFloat(shape...)
	wl.fill(name, floatData(t, numel(shape)))
	return t
}

// loadRows stacks tensors of shape [rows_i, cols] into one [Σrows, cols] tensor.
func (wl *weightLoader) loadRows(cols int64, names []string, rows []int64) *ts.Tensor {
	var total int64
	for _, r := range rows {
		total += r
	}
	t := emptyFloat(total, cols)
	data := floatData(t, total*cols)
	var off int64
	for i, n := range names {
		wl.fill(n, data[off*cols:(off+rows[i])*cols])
		off += rows[i]
	}
	return t
}

func (wl *weightLoader) layer(i int) *layerWeights {
	c := wl.cfg
	p := hf.LayerPrefix(i)
	h, in := int64(c.HiddenSize), int64(c.IntermediateSize)
	hd := int64(c.HeadDim())
	q, kv := int64(c.NumAttentionHeads)*hd, int64(c.NumKeyValueHeads)*hd
	l := &layerWeights{}
	ok := false
	defer func() {
		if !ok {
			l.drop()
		}
	}()
	l.inNorm = wl.load(p+"input_layernorm.weight", h)
	l.postNorm = wl.load(p+"post_attention_layernorm.weight", h)
	if c.ModelType == hf.ModelTypePhi3 {
		l.qkv = wl.load(p+"self_attn.qkv_proj.weight", q+2*kv, h)
		l.gu = wl.load(p+"mlp.gate_up_proj.weight", 2*in, h)
	} else {
		l.qkv = wl.loadRows(h, []string{p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"}, []int64{q, kv, kv})
		l.gu = wl.loadRows(h, []string{p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}, []int64{in, in})
	}
	l.o = wl.load(p+"self_attn.o_proj.weight", h, q)
	l.down = wl.load(p+"mlp.down_proj.weight", h, in)
	l.qkvT = must(l.qkv.T(false))
	l.oT = must(l.o.T(false))
	l.guT = must(l.gu.T(false))
	l.downT = must(l.down.T(false))
	ok = true
	return l
}

// slice loads the weights of one slice plan.
func (wl *weightLoader) slice(p slicePlan) *sliceWeights {
	c := wl.cfg
	h, v := int64(c.HiddenSize), int64(c.VocabSize)
	w := &sliceWeights{plan: p}
	ok := false
	defer func() {
		if !ok {
			w.drop()
		}
	}()
	if p.Embed {
		w.embed = wl.load("model.embed_tokens.weight", v, h)
	}
	for i := p.First; i < p.Last; i++ {
		w.layers = append(w.layers, wl.layer(i))
	}
	if p.Final {
		w.norm = wl.load("model.norm.weight", h)
		switch {
		case !c.TieWordEmbeddings:
			w.head = wl.load("lm_head.weight", v, h)
		case w.embed != nil:
			w.head = w.embed
		default:
			w.head = wl.load("model.embed_tokens.weight", v, h)
		}
		w.headT = must(w.head.T(false))
	}
	ok = true
	return w
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}
