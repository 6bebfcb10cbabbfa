package surgeon

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/coldint/coldint/hf"
)

// padRows returns a copy of 2-D t with rows appended up to rows; new values come from fill.
func padRows(t *Tensor, rows int, fill func() float32) *Tensor {
	cols := t.Cols()
	out := &Tensor{Shape: []int64{int64(rows), int64(cols)}, Data: make([]float32, rows*cols)}
	n := min(rows, t.Rows())
	copy(out.Data, t.Data[:n*cols])
	for i := n * cols; i < len(out.Data); i++ {
		out.Data[i] = fill()
	}
	return out
}

// padCols returns a copy of 2-D t widened to cols; new values come from fill.
func padCols(t *Tensor, cols int, fill func() float32) *Tensor {
	rows, old := t.Rows(), t.Cols()
	out := &Tensor{Shape: []int64{int64(rows), int64(cols)}, Data: make([]float32, rows*cols)}
	for r := 0; r < rows; r++ {
		copy(out.Data[r*cols:], t.Data[r*old:(r+1)*old])
		for c := old; c < cols; c++ {
			out.Data[r*cols+c] = fill()
		}
	}
	return out
}

func pad1D(t *Tensor, n int, v float32) *Tensor {
	out := &Tensor{Shape: []int64{int64(n)}, Data: make([]float32, n)}
	copy(out.Data, t.Data)
	for i := len(t.Data); i < n; i++ {
		out.Data[i] = v
	}
	return out
}

// splitRows cuts 2-D t into consecutive row blocks of the given sizes.
func splitRows(t *Tensor, sizes ...int) []*Tensor {
	cols := t.Cols()
	out := make([]*Tensor, len(sizes))
	off := 0
	for i, s := range sizes {
		out[i] = &Tensor{Shape: []int64{int64(s), int64(cols)}, Data: append([]float32(nil), t.Data[off*cols:(off+s)*cols]...)}
		off += s
	}
	return out
}

func concatRows(ts ...*Tensor) *Tensor {
	cols := ts[0].Cols()
	rows := 0
	var data []float32
	for _, t := range ts {
		rows += t.Rows()
		data = append(data, t.Data...)
	}
	return &Tensor{Shape: []int64{int64(rows), int64(cols)}, Data: data}
}

func zero() float32 { return 0 }

func normal(r *rand.Rand, std float64) func() float32 {
	return func() float32 { return float32(r.NormFloat64() * std) }
}

// AddLayers inserts count new decoder layers before layer at (0 ≤ at ≤ L).
// Each new layer is a copy of layer at−1 (layer 0 when at = 0) with o_proj
// and down_proj zeroed, so it adds nothing to the residual stream: the model
// computes exactly what it did before. Later layers are renumbered.
func AddLayers(m *Model, at, count int) (*Model, error) {
	L := m.Config.NumHiddenLayers
	if at < 0 || at > L {
		return nil, geometryf("add-layers: --at %d is outside 0..%d", at, L)
	}
	if count <= 0 {
		return nil, geometryf("add-layers: --count must be positive, not %d", count)
	}
	src := max(at-1, 0)
	out := m.Clone()
	out.Tensors = map[string]*Tensor{}
	for name, t := range m.Tensors {
		i, rest, ok := layerOf(name)
		if !ok {
			out.Tensors[name] = t.clone()
			continue
		}
		j := i
		if i >= at {
			j = i + count
		}
		out.Tensors[hf.LayerPrefix(j)+rest] = t.clone()
	}
	for k := 0; k < count; k++ {
		dst := at + k
		for name, t := range m.Tensors {
			i, rest, ok := layerOf(name)
			if !ok || i != src {
				continue
			}
			c := t.clone()
			if rest == "self_attn.o_proj.weight" || rest == "mlp.down_proj.weight" {
				clear(c.Data)
			}
			out.Tensors[hf.LayerPrefix(dst)+rest] = c
		}
	}
	out.Config.NumHiddenLayers = L + count
	return out, out.Check()
}

// layerOf splits "model.layers.<i>.<rest>".
func layerOf(name string) (int, string, bool) {
	const p = "model.layers."
	if !strings.HasPrefix(name, p) {
		return 0, "", false
	}
	num, rest, ok := strings.Cut(name[len(p):], ".")
	if !ok {
		return 0, "", false
	}
	i, err := strconv.Atoi(num)
	if err != nil {
		return 0, "", false
	}
	return i, rest, true
}

// GrowHidden widens the residual stream to hidden, keeping the head size,
// so the attention heads grow by whole heads (and the key/value heads keep
// the group ratio). norm_divisor is set to the old divisor and every new
// residual dimension stays zero: embeddings get zero columns, weights that
// write the residual (o_proj, down_proj) get zero rows, weights that read it
// (q/k/v, gate/up, lm_head) get zero input columns, new heads get random
// q/k/v rows but zero o_proj columns. The grown model computes the same
// logits (docs/surgery.md#grow-hidden).
func GrowHidden(m *Model, hidden int, seed uint64) (*Model, error) {
	c := m.Config
	H, hd := c.HiddenSize, c.HeadDim()
	if hidden <= H {
		return nil, geometryf("grow-hidden: --to %d must exceed the current hidden size %d", hidden, H)
	}
	if hidden%hd != 0 {
		return nil, geometryf("grow-hidden: --to %d is not a multiple of the head size %d (heads must grow whole)", hidden, hd)
	}
	heads := hidden / hd
	group := c.NumAttentionHeads / c.NumKeyValueHeads
	if heads%group != 0 {
		return nil, geometryf("grow-hidden: %d heads cannot keep the group ratio %d of query to key/value heads", heads, group)
	}
	kv := heads / group
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	std := c.InitializerRange
	out := m.Clone()
	oc := out.Config
	oc.NormDivisor = c.NormD()
	oc.HiddenSize, oc.NumAttentionHeads, oc.NumKeyValueHeads = hidden, heads, kv
	q, kvRows := heads*hd, kv*hd
	growQKV := func(t *Tensor, rows int) *Tensor { // new head rows random, new input cols zero
		return padRows(padCols(t, hidden, zero), rows, normal(r, std))
	}
	for _, name := range m.Names() {
		t := m.Tensors[name]
		_, rest, isLayer := layerOf(name)
		switch {
		case name == "model.embed_tokens.weight":
			out.Tensors[name] = padCols(t, hidden, zero)
		case name == "lm_head.weight":
			out.Tensors[name] = padCols(t, hidden, zero)
		case strings.HasSuffix(name, "norm.weight"):
			out.Tensors[name] = pad1D(t, hidden, 1)
		case !isLayer:
			return nil, geometryf("grow-hidden: unexpected tensor %q", name)
		case rest == "self_attn.q_proj.weight":
			out.Tensors[name] = growQKV(t, q)
		case rest == "self_attn.k_proj.weight" || rest == "self_attn.v_proj.weight":
			out.Tensors[name] = growQKV(t, kvRows)
		case rest == "self_attn.qkv_proj.weight":
			oq, ok := c.NumAttentionHeads*hd, c.NumKeyValueHeads*hd
			parts := splitRows(t, oq, ok, ok)
			out.Tensors[name] = concatRows(growQKV(parts[0], q), growQKV(parts[1], kvRows), growQKV(parts[2], kvRows))
		case rest == "self_attn.o_proj.weight":
			out.Tensors[name] = padRows(padCols(t, q, zero), hidden, zero)
		case rest == "mlp.gate_proj.weight" || rest == "mlp.up_proj.weight" || rest == "mlp.gate_up_proj.weight":
			out.Tensors[name] = padCols(t, hidden, zero)
		case rest == "mlp.down_proj.weight":
			out.Tensors[name] = padRows(t, hidden, zero)
		default:
			return nil, geometryf("grow-hidden: unexpected tensor %q", name)
		}
	}
	return out, out.Check()
}

// GrowIntermediate widens every MLP to size: new gate/up rows are small
// random values and the matching down_proj input columns are zero, so the
// MLP output is unchanged. Phi-3's fused gate_up_proj grows both halves.
func GrowIntermediate(m *Model, size int, seed uint64) (*Model, error) {
	I := m.Config.IntermediateSize
	if size <= I {
		return nil, geometryf("grow-intermediate: --to %d must exceed the current size %d", size, I)
	}
	r := rand.New(rand.NewPCG(seed, 0x94d049bb133111eb))
	std := m.Config.InitializerRange
	out := m.Clone()
	out.Config.IntermediateSize = size
	for _, name := range m.Names() {
		t := m.Tensors[name]
		_, rest, _ := layerOf(name)
		switch rest {
		case "mlp.gate_proj.weight", "mlp.up_proj.weight":
			out.Tensors[name] = padRows(t, size, normal(r, std))
		case "mlp.gate_up_proj.weight":
			p := splitRows(t, I, I)
			out.Tensors[name] = concatRows(padRows(p[0], size, normal(r, std)), padRows(p[1], size, normal(r, std)))
		case "mlp.down_proj.weight":
			out.Tensors[name] = padCols(t, size, zero)
		}
	}
	return out, out.Check()
}

// Vocab-row initialisations for [ResizeVocab].
const (
	InitNormal = "normal" // N(0, initializer_range²), as transformers 4.44
	InitMean   = "mean"   // the mean of the existing rows
)

// ResizeVocab sets the embedding (and an untied lm_head) to n rows, rounded
// up to a multiple of padMultiple when it is > 1. Existing rows are kept,
// rows beyond the old size are initialised by init, and shrinking drops
// rows. config.vocab_size follows. Logits of ids below the old size are
// unchanged, but the softmax now also spans the new rows, so per-sample
// losses move by the probability mass the new rows take (small for "mean"
// and "normal" rows on a trained model, not zero).
func ResizeVocab(m *Model, n, padMultiple int, init string, seed uint64) (*Model, error) {
	if padMultiple > 1 {
		n = (n + padMultiple - 1) / padMultiple * padMultiple
	}
	if n <= 0 {
		return nil, geometryf("resize-vocab: --to must be positive, not %d", n)
	}
	if init != InitNormal && init != InitMean {
		return nil, fmt.Errorf("resize-vocab: --init %q: want normal or mean", init)
	}
	r := rand.New(rand.NewPCG(seed, 0xbf58476d1ce4e5b9))
	out := m.Clone()
	out.Config.VocabSize = n
	for _, name := range []string{"model.embed_tokens.weight", "lm_head.weight"} {
		t, ok := m.Tensors[name]
		if !ok {
			continue
		}
		fill := normal(r, m.Config.InitializerRange)
		if init == InitMean {
			mean := rowMean(t)
			k := 0
			fill = func() float32 { v := mean[k%len(mean)]; k++; return v }
		}
		out.Tensors[name] = padRows(t, n, fill)
	}
	return out, out.Check()
}

func rowMean(t *Tensor) []float32 {
	cols := t.Cols()
	acc := make([]float64, cols)
	for r := 0; r < t.Rows(); r++ {
		for c := 0; c < cols; c++ {
			acc[c] += float64(t.Data[r*cols+c])
		}
	}
	out := make([]float32, cols)
	for c := range acc {
		out[c] = float32(acc[c] / float64(t.Rows()))
	}
	return out
}

// Merge methods.
const (
	MergeLinear = "linear"
	MergeSlerp  = "slerp"
	MergeTask   = "task-arithmetic"
)

// Merge combines models of identical geometry:
//   - linear: Σ wᵢ·Mᵢ (terms with weight 0 are skipped, so weights (1, 0) reproduce the first model bit for bit);
//   - slerp: spherical interpolation of two models per tensor with t = weights[0] (default 0.5); identical tensors stay as they are, near-parallel ones fall back to linear;
//   - task-arithmetic: M₀ + Σ_{i≥1} wᵢ·(Mᵢ − M₀), the first model is the base.
//
// The result keeps the first model's config, dtype and tokenizer.
func Merge(models []*Model, method string, weights []float64) (*Model, error) {
	if len(models) < 2 {
		return nil, fmt.Errorf("merge: need at least two models")
	}
	if err := sameGeometry(models); err != nil {
		return nil, err
	}
	switch method {
	case MergeLinear:
		if len(weights) != len(models) {
			return nil, fmt.Errorf("merge linear: %d weights for %d models", len(weights), len(models))
		}
	case MergeTask:
		if len(weights) != len(models)-1 {
			return nil, fmt.Errorf("merge task-arithmetic: want %d weights (one per model after the base), got %d", len(models)-1, len(weights))
		}
	case MergeSlerp:
		if len(models) != 2 {
			return nil, fmt.Errorf("merge slerp: takes exactly two models")
		}
		if len(weights) == 0 {
			weights = []float64{0.5}
		}
		if len(weights) != 1 || weights[0] < 0 || weights[0] > 1 {
			return nil, fmt.Errorf("merge slerp: want one weight t in [0, 1]")
		}
	default:
		return nil, fmt.Errorf("merge: unknown method %q (want linear, slerp or task-arithmetic)", method)
	}
	out := models[0].Clone()
	for _, name := range out.Names() {
		dst := out.Tensors[name].Data
		srcs := make([][]float32, len(models))
		for i, m := range models {
			srcs[i] = m.Tensors[name].Data
		}
		switch method {
		case MergeLinear:
			first := true
			for i, w := range weights {
				if w == 0 {
					continue
				}
				for j, v := range srcs[i] {
					if first {
						dst[j] = float32(w * float64(v))
					} else {
						dst[j] += float32(w * float64(v))
					}
				}
				first = false
			}
			if first {
				clear(dst)
			}
		case MergeTask:
			for j := range dst {
				acc := float64(srcs[0][j])
				for i, w := range weights {
					acc += w * (float64(srcs[i+1][j]) - float64(srcs[0][j]))
				}
				dst[j] = float32(acc)
			}
		case MergeSlerp:
			slerp(dst, srcs[0], srcs[1], weights[0])
		}
	}
	return out, out.Check()
}

func slerp(dst, a, b []float32, t float64) {
	same := true
	var na, nb, dot float64
	for i := range a {
		if a[i] != b[i] {
			same = false
		}
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
		dot += float64(a[i]) * float64(b[i])
	}
	if same {
		copy(dst, a)
		return
	}
	cos := 0.0
	if na > 0 && nb > 0 {
		cos = dot / math.Sqrt(na*nb)
	}
	if math.Abs(cos) > 0.9995 || na == 0 || nb == 0 {
		for i := range dst {
			dst[i] = float32((1-t)*float64(a[i]) + t*float64(b[i]))
		}
		return
	}
	omega := math.Acos(cos)
	so := math.Sin(omega)
	wa, wb := math.Sin((1-t)*omega)/so, math.Sin(t*omega)/so
	for i := range dst {
		dst[i] = float32(wa*float64(a[i]) + wb*float64(b[i]))
	}
}

func sameGeometry(models []*Model) error {
	base := models[0]
	for k, m := range models[1:] {
		if m.Config.ModelType != base.Config.ModelType {
			return geometryf("merge: model %d is %s, model 0 is %s", k+1, m.Config.ModelType, base.Config.ModelType)
		}
		for _, name := range base.Names() {
			t, ok := m.Tensors[name]
			if !ok {
				return geometryf("merge: tensor %q is missing from model %d", name, k+1)
			}
			if fmt.Sprint(t.Shape) != fmt.Sprint(base.Tensors[name].Shape) {
				return geometryf("merge: tensor %q has shape %v in model %d but %v in model 0", name, t.Shape, k+1, base.Tensors[name].Shape)
			}
		}
		for _, name := range m.Names() {
			if _, ok := base.Tensors[name]; !ok {
				return geometryf("merge: tensor %q of model %d is missing from model 0", name, k+1)
			}
		}
	}
	return nil
}
