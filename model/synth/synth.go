// Package synth writes small random Hugging Face model directories (config.json
// and model.safetensors) for llama and phi3 geometries. The engine's tests and
// benchmarks use it to get models without downloading any. It is pure Go.
package synth

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/safetensors"
)

// Spec is the geometry and content of a random model.
type Spec struct {
	Arch         string // hf.ModelTypeLlama or hf.ModelTypePhi3
	Layers       int
	Hidden       int
	Heads        int
	KVHeads      int // 0 means Heads (MHA)
	Intermediate int
	Vocab        int
	Tie          bool
	DType        safetensors.DType // F32, BF16 or F16; empty means F32
	Seed         uint64
	// Std is the standard deviation of the projection weights; 0 means 0.02.
	// Norm weights are drawn around 1 and embeddings with std 1/sqrt(hidden)·4
	// so that losses are far from uniform.
	Std float64
	// Optional config fields.
	NormDivisor   float64
	RopeTheta     float64
	RopeScaling   *hf.RopeScaling
	RMSNormEps    float64
	SlidingWindow int
	// MaxPositions and OriginalMaxPositions set max_position_embeddings
	// (0 means 4096) and Phi-3's original_max_position_embeddings (0: unset).
	MaxPositions         int
	OriginalMaxPositions int
	// Shards splits the tensors into this many files with an index (0 or 1: one file).
	Shards int
}

// Config returns the hf.ModelConfig Write puts into config.json.
func (s Spec) Config() *hf.ModelConfig {
	kv := s.KVHeads
	if kv == 0 {
		kv = s.Heads
	}
	eps := s.RMSNormEps
	if eps == 0 {
		eps = 1e-5
	}
	theta := s.RopeTheta
	if theta == 0 {
		theta = 10000
	}
	maxPos := s.MaxPositions
	if maxPos == 0 {
		maxPos = 4096
	}
	arch := "LlamaForCausalLM"
	if s.Arch == hf.ModelTypePhi3 {
		arch = "Phi3ForCausalLM"
	}
	dt := "float32"
	switch s.DType {
	case safetensors.BF16:
		dt = "bfloat16"
	case safetensors.F16:
		dt = "float16"
	}
	return &hf.ModelConfig{
		ModelType:             s.Arch,
		Architectures:         []string{arch},
		VocabSize:             s.Vocab,
		HiddenSize:            s.Hidden,
		IntermediateSize:      s.Intermediate,
		NumHiddenLayers:       s.Layers,
		NumAttentionHeads:     s.Heads,
		NumKeyValueHeads:      kv,
		MaxPositionEmbeddings: maxPos,
		RMSNormEps:            eps,
		RopeTheta:             theta,
		RopeScaling:           s.RopeScaling,
		TieWordEmbeddings:     s.Tie,
		NormDivisor:           s.NormDivisor,
		HiddenAct:             "silu",
		TorchDtype:            dt,
		InitializerRange:      0.02,

		OriginalMaxPositionEmbeddings: s.OriginalMaxPositions,
	}
}

// Params is the parameter count of the geometry (tied weights once).
func (s Spec) Params() int64 { return s.Config().ParamCount() }

// Write creates dir (if needed) and writes config.json and the weights.
func Write(dir string, s Spec) error {
	if s.DType == "" {
		s.DType = safetensors.F32
	}
	cfg := s.Config()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("write synthetic model: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write synthetic model: %w", err)
	}
	cj, err := cfg.Marshal()
	if err != nil {
		return err
	}
	if s.SlidingWindow > 0 {
		var m map[string]any
		if err := json.Unmarshal(cj, &m); err != nil {
			return fmt.Errorf("write synthetic model: %w", err)
		}
		m["sliding_window"] = s.SlidingWindow
		if cj, err = json.MarshalIndent(m, "", "  "); err != nil {
			return fmt.Errorf("write synthetic model: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, hf.ConfigFile), cj, 0o644); err != nil {
		return fmt.Errorf("write synthetic model: %w", err)
	}
	shapes := cfg.ExpectedTensors()
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	rng := rand.New(rand.NewPCG(s.Seed, 0x636f6c64696e74))
	std := s.Std
	if std == 0 {
		std = 0.02
	}
	tensors := make([]safetensors.Tensor, 0, len(names))
	for _, n := range names {
		shape := shapes[n]
		count := 1
		for _, d := range shape {
			count *= int(d)
		}
		vals := make([]float32, count)
		switch {
		case len(shape) == 1: // norm weights
			for i := range vals {
				vals[i] = float32(1 + 0.1*rng.NormFloat64())
			}
		case n == "model.embed_tokens.weight" || n == "lm_head.weight":
			es := 4 / math.Sqrt(float64(s.Hidden))
			for i := range vals {
				vals[i] = float32(es * rng.NormFloat64())
			}
		default:
			for i := range vals {
				vals[i] = float32(std * rng.NormFloat64())
			}
		}
		t, err := safetensors.Float32Tensor(n, s.DType, shape, vals)
		if err != nil {
			return err
		}
		tensors = append(tensors, t)
	}
	meta := safetensors.DefaultMetadata()
	if s.Shards <= 1 {
		return safetensors.WriteFile(filepath.Join(dir, safetensors.SingleFile), tensors, meta)
	}
	idx := safetensors.Index{Metadata: map[string]any{}, WeightMap: map[string]string{}}
	var total int64
	for k := 0; k < s.Shards; k++ {
		file := fmt.Sprintf("model-%05d-of-%05d.safetensors", k+1, s.Shards)
		var part []safetensors.Tensor
		for i := k; i < len(tensors); i += s.Shards {
			part = append(part, tensors[i])
			idx.WeightMap[tensors[i].Name] = file
			total += int64(len(tensors[i].Data))
		}
		if err := safetensors.WriteFile(filepath.Join(dir, file), part, meta); err != nil {
			return err
		}
	}
	idx.Metadata["total_size"] = total
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return fmt.Errorf("write synthetic model: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, safetensors.IndexFile), b, 0o644)
}

// RandomIDs returns n token ids below vocab drawn from seed.
func RandomIDs(seed uint64, n, vocab int) []int32 {
	rng := rand.New(rand.NewPCG(seed, 0x696473))
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(rng.IntN(vocab))
	}
	return ids
}
