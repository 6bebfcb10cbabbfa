package model

import (
	"fmt"
	"strings"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// slicePlan is one slice of a (possibly sliced) evaluation: optionally the
// token embedding, a contiguous range of decoder layers, and optionally the
// final norm with the LM head.
type slicePlan struct {
	Embed       bool
	First, Last int // decoder layers [First, Last)
	Final       bool
	Bytes       int64 // bytes of the weights resident for this slice, in the compute dtype
}

// unitBytes returns the bytes of the embedding, of one decoder layer and of
// the final norm with the LM head, at elem bytes per parameter.
func unitBytes(cfg *hf.ModelConfig, elem int64) (embed, layer, final int64) {
	h, v := int64(cfg.HiddenSize), int64(cfg.VocabSize)
	prefix := hf.LayerPrefix(0)
	for name, s := range cfg.ExpectedTensors() {
		if len(name) > len(prefix) && name[:len(prefix)] == prefix {
			layer += elem * numel(s)
		}
	}
	return elem * v * h, layer, elem * (h + v*h)
}

// planSlices packs [embed, layer 0, ..., layer L-1, final] greedily into
// slices whose weights (elem bytes per parameter) fit budget. budget <= 0
// means one slice. A single unit larger than the budget gets a slice of its
// own (Load refuses such a model).
func planSlices(cfg *hf.ModelConfig, budget, elem int64) []slicePlan {
	embedBytes, layerBytes, finalBytes := unitBytes(cfg, elem)
	total := elem * cfg.ParamCount()
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

// layerWeights holds one decoder layer in the compute dtype. Projections are fused:
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

// weightLoader reads tensors of a checkpoint onto the device in the compute
// dtype: each tensor goes into a host tensor of its stored dtype (page-locked
// when the device is a GPU) and from there to the device, converted by
// libtorch. A bf16 checkpoint computed in bf16 is never widened on the host.
type weightLoader struct {
	set *safetensors.Set
	cfg *hf.ModelConfig
	dev Device
	dt  gotch.DType // compute dtype
}

// storedDType is the libtorch dtype and element size of a safetensors dtype.
func storedDType(d safetensors.DType) (gotch.DType, int64, bool) {
	switch d {
	case safetensors.F32:
		return gotch.Float, 4, true
	case safetensors.BF16:
		return gotch.BFloat16, 2, true
	case safetensors.F16:
		return gotch.Half, 2, true
	}
	return 0, 0, false
}

// info returns the checked header of tensor name, which must hold n elements.
func (wl *weightLoader) info(name string, n int64) safetensors.TensorInfo {
	info, ok := wl.set.Tensor(name)
	if !ok {
		panic(torchError{fmt.Errorf("read tensor %q: missing from checkpoint", name)})
	}
	if info.NumElements() != n {
		panic(torchError{fmt.Errorf("read tensor %q: %d elements, want %d", name, info.NumElements(), n)})
	}
	if _, _, ok := storedDType(info.DType); !ok {
		panic(torchError{fmt.Errorf("read tensor %q: dtype %s is not F32, F16 or BF16", name, info.DType)})
	}
	return info
}

// fill reads tensor name's stored bytes into dst, which must be exactly as long.
func (wl *weightLoader) fill(name string, dst []byte) {
	raw, err := wl.set.ReadRaw(name)
	if err != nil {
		panic(torchError{err})
	}
	if len(raw) != len(dst) {
		panic(torchError{fmt.Errorf("read tensor %q: %d bytes, want %d", name, len(raw), len(dst))})
	}
	copy(dst, raw)
}

// load reads one tensor of the given shape onto the device.
func (wl *weightLoader) load(name string, shape ...int64) *ts.Tensor {
	return wl.loadRows(shape[len(shape)-1], []string{name}, []int64{numel(shape[:len(shape)-1])}, shape...)
}

// loadRows stacks tensors of shape [rows_i, cols] into one [Σrows, cols]
// tensor on the device (shape, when given, is the shape of the result). Parts
// of one stored dtype are stacked on the host; mixed ones on the device.
func (wl *weightLoader) loadRows(cols int64, names []string, rows []int64, shape ...int64) *ts.Tensor {
	var total int64
	infos := make([]safetensors.TensorInfo, len(names))
	for i, n := range names {
		infos[i] = wl.info(n, rows[i]*cols)
		total += rows[i]
		if infos[i].DType != infos[0].DType {
			return wl.catRows(cols, names, rows)
		}
	}
	if len(shape) == 0 {
		shape = []int64{total, cols}
	}
	dt, size, _ := storedDType(infos[0].DType)
	host, data := hostRaw(dt, size, shape...)
	var off int64
	for i, n := range names {
		wl.fill(n, data[off*cols*size:(off+rows[i])*cols*size])
		off += rows[i]
	}
	return toDevice(pinned(host, wl.dev), wl.dev, wl.dt)
}

// catRows is loadRows for parts stored in different dtypes.
func (wl *weightLoader) catRows(cols int64, names []string, rows []int64) *ts.Tensor {
	parts := make([]*ts.Tensor, 0, len(names))
	defer func() { drop(parts...) }()
	for i, n := range names {
		parts = append(parts, wl.load(n, rows[i], cols))
	}
	return must(ts.Cat(parts, 0))
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

// describe names the units of p for messages.
func (p slicePlan) describe() string {
	var parts []string
	if p.Embed {
		parts = append(parts, "the token embedding")
	}
	switch n := p.Last - p.First; {
	case n == 1:
		parts = append(parts, fmt.Sprintf("decoder layer %d", p.First))
	case n > 1:
		parts = append(parts, fmt.Sprintf("decoder layers %d-%d", p.First, p.Last-1))
	}
	if p.Final {
		parts = append(parts, "the final norm and LM head")
	}
	return strings.Join(parts, " with ")
}
