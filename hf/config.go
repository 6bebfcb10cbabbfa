package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Model types coldint's engine evaluates.
const (
	ModelTypeLlama = "llama"
	ModelTypePhi3  = "phi3"
)

// ConfigFile is the name of a model's configuration file.
const ConfigFile = "config.json"

// Sanity bounds for geometry read from untrusted configs.
const (
	maxDim    = 1 << 20 // hidden/intermediate size
	maxLayers = 4096
	maxVocab  = 1 << 24
	maxHeads  = 1 << 14
)

// ErrInvalidConfig is wrapped by every config validation error.
var ErrInvalidConfig = errors.New("invalid model config")

// RopeScaling is config.json's rope_scaling object.
type RopeScaling struct {
	Type                          string  `json:"type,omitempty"`
	RopeType                      string  `json:"rope_type,omitempty"`
	Factor                        float64 `json:"factor,omitempty"`
	LowFreqFactor                 float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor                float64 `json:"high_freq_factor,omitempty"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings,omitempty"`
	// ShortFactor and LongFactor are Phi-3 longrope's per-frequency
	// divisors (head_dim/2 each) for sequences within and beyond the
	// config's original_max_position_embeddings.
	ShortFactor []float64 `json:"short_factor,omitempty"`
	LongFactor  []float64 `json:"long_factor,omitempty"`
}

// Kind returns the scaling type, whichever of "rope_type" or "type" is set.
func (r *RopeScaling) Kind() string {
	if r == nil {
		return ""
	}
	if r.RopeType != "" {
		return r.RopeType
	}
	return r.Type
}

// ModelConfig is the subset of a Hugging Face config.json that coldint reads
// for llama and phi3 models. Raw keeps every field so that a config can be
// rewritten without losing keys coldint does not know.
type ModelConfig struct {
	ModelType             string   `json:"model_type"`
	Architectures         []string `json:"architectures,omitempty"`
	VocabSize             int      `json:"vocab_size"`
	HiddenSize            int      `json:"hidden_size"`
	IntermediateSize      int      `json:"intermediate_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	NumKeyValueHeads      int      `json:"num_key_value_heads,omitempty"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings,omitempty"`
	// OriginalMaxPositionEmbeddings is Phi-3's pre-extension context length
	// (longrope switches factors beyond it).
	OriginalMaxPositionEmbeddings int          `json:"original_max_position_embeddings,omitempty"`
	RMSNormEps                    float64      `json:"rms_norm_eps,omitempty"`
	RopeTheta                     float64      `json:"rope_theta,omitempty"`
	RopeScaling                   *RopeScaling `json:"rope_scaling,omitempty"`
	TieWordEmbeddings             bool         `json:"tie_word_embeddings"`
	NormDivisor                   float64      `json:"norm_divisor,omitempty"`
	HiddenAct                     string       `json:"hidden_act,omitempty"`
	AttentionBias                 bool         `json:"attention_bias,omitempty"`
	MLPBias                       bool         `json:"mlp_bias,omitempty"`
	BosTokenID                    *int         `json:"bos_token_id,omitempty"`
	EosTokenID                    *int         `json:"-"`
	TorchDtype                    string       `json:"torch_dtype,omitempty"`
	InitializerRange              float64      `json:"initializer_range,omitempty"`

	// Raw is every key of the original file.
	Raw map[string]json.RawMessage `json:"-"`
}

// ParseModelConfig decodes and validates a config.json. Defaults follow
// transformers 4.44: num_key_value_heads defaults to num_attention_heads,
// rope_theta to 10000, rms_norm_eps to 1e-6 (llama) or 1e-5 (phi3), and
// tie_word_embeddings to false.
func ParseModelConfig(data []byte) (*ModelConfig, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse config.json: %w", err)
	}
	var c ModelConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("parse config.json: %w", err)
	}
	c.Raw = raw
	if v, ok := raw["eos_token_id"]; ok {
		var one int
		var many []int
		if json.Unmarshal(v, &one) == nil {
			c.EosTokenID = &one
		} else if json.Unmarshal(v, &many) == nil && len(many) > 0 {
			c.EosTokenID = &many[0]
		}
	}
	if c.NumKeyValueHeads == 0 {
		c.NumKeyValueHeads = c.NumAttentionHeads
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	if c.RMSNormEps == 0 {
		c.RMSNormEps = 1e-6
		if c.ModelType == ModelTypePhi3 {
			c.RMSNormEps = 1e-5
		}
	}
	if c.HiddenAct == "" {
		c.HiddenAct = "silu"
	}
	if c.InitializerRange == 0 {
		c.InitializerRange = 0.02
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// LoadModelConfig reads and validates dir/config.json.
func LoadModelConfig(dir string) (*ModelConfig, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model config: %w", err)
	}
	c, err := ParseModelConfig(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return c, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
}

// Validate checks that the geometry is supported and self-consistent.
func (c *ModelConfig) Validate() error {
	switch c.ModelType {
	case ModelTypeLlama, ModelTypePhi3:
	case "":
		return invalid("model_type is missing")
	default:
		return invalid("model_type %q is not supported (want llama or phi3)", c.ModelType)
	}
	checks := []struct {
		name string
		v    int
		max  int
	}{
		{"vocab_size", c.VocabSize, maxVocab},
		{"hidden_size", c.HiddenSize, maxDim},
		{"intermediate_size", c.IntermediateSize, maxDim},
		{"num_hidden_layers", c.NumHiddenLayers, maxLayers},
		{"num_attention_heads", c.NumAttentionHeads, maxHeads},
		{"num_key_value_heads", c.NumKeyValueHeads, maxHeads},
	}
	for _, ch := range checks {
		if ch.v <= 0 || ch.v > ch.max {
			return invalid("%s = %d is out of range (1..%d)", ch.name, ch.v, ch.max)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return invalid("hidden_size %d is not divisible by num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return invalid("num_attention_heads %d is not divisible by num_key_value_heads %d", c.NumAttentionHeads, c.NumKeyValueHeads)
	}
	if c.HeadDim()%2 != 0 {
		return invalid("head dim %d must be even for rotary embeddings", c.HeadDim())
	}
	if c.HiddenAct != "silu" {
		return invalid("hidden_act %q is not supported (want silu)", c.HiddenAct)
	}
	if c.AttentionBias || c.MLPBias {
		return invalid("attention_bias/mlp_bias are not supported")
	}
	if !(c.RMSNormEps > 0) || math.IsInf(c.RMSNormEps, 0) {
		return invalid("rms_norm_eps %v must be positive", c.RMSNormEps)
	}
	if !(c.RopeTheta > 0) || math.IsInf(c.RopeTheta, 0) {
		return invalid("rope_theta %v must be positive", c.RopeTheta)
	}
	if c.NormDivisor < 0 || math.IsNaN(c.NormDivisor) || math.IsInf(c.NormDivisor, 0) {
		return invalid("norm_divisor %v must be positive", c.NormDivisor)
	}
	if c.ModelType == ModelTypePhi3 {
		return c.validatePhi3Rope()
	}
	switch k := c.RopeScaling.Kind(); k {
	case "", "default":
	case "linear", "dynamic":
		if !(c.RopeScaling.Factor > 0) {
			return invalid("rope_scaling factor %v must be positive", c.RopeScaling.Factor)
		}
	case "llama3":
		r := c.RopeScaling
		if !(r.Factor > 0) || !(r.LowFreqFactor > 0) || !(r.HighFreqFactor > r.LowFreqFactor) || r.OriginalMaxPositionEmbeddings <= 0 {
			return invalid("rope_scaling llama3 needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0")
		}
	default:
		return invalid("rope_scaling type %q is not supported (want linear, dynamic or llama3)", k)
	}
	return nil
}

// Phi3RopeDefaultMaxPositions is Phi3Config's default for both
// max_position_embeddings and original_max_position_embeddings.
const Phi3RopeDefaultMaxPositions = 4096

// validatePhi3Rope applies transformers 4.44's Phi3Config rules: rope_scaling
// is null or exactly {type, short_factor, long_factor}, where type "su" and
// "yarn" are read as "longrope" (the only kind Phi-3 implements) and both
// factor lists hold head_dim/2 positive numbers.
func (c *ModelConfig) validatePhi3Rope() error {
	r := c.RopeScaling
	if r == nil {
		return nil
	}
	if raw, ok := c.Raw["rope_scaling"]; ok {
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(raw, &keys); err == nil && len(keys) != 3 {
			return invalid("phi3 rope_scaling must have exactly the keys type, short_factor and long_factor (got %d keys)", len(keys))
		}
	}
	switch r.Type {
	case "longrope", "su", "yarn":
	default:
		return invalid("phi3 rope_scaling type %q is not supported (want longrope, or its old names su and yarn)", r.Type)
	}
	half := c.HeadDim() / 2
	for _, f := range []struct {
		name string
		v    []float64
	}{{"short_factor", r.ShortFactor}, {"long_factor", r.LongFactor}} {
		if len(f.v) != half {
			return invalid("phi3 rope_scaling %s has %d values, want head_dim/2 = %d", f.name, len(f.v), half)
		}
		for i, x := range f.v {
			if !(x > 0) || math.IsInf(x, 0) {
				return invalid("phi3 rope_scaling %s[%d] = %v must be positive", f.name, i, x)
			}
		}
	}
	if c.OriginalMaxPositionEmbeddings < 0 || c.MaxPositionEmbeddings < 0 {
		return invalid("max_position_embeddings %d and original_max_position_embeddings %d must not be negative", c.MaxPositionEmbeddings, c.OriginalMaxPositionEmbeddings)
	}
	return nil
}

// LongRoPE describes Phi-3's longrope rotary scaling (nil for other configs):
// the factor lists, the length beyond which the long factors apply and the
// magnitude scale sqrt(1 + ln(s)/ln(original)) of cos and sin, with
// s = max_position_embeddings / original_max_position_embeddings (1 when s ≤ 1).
func (c *ModelConfig) LongRoPE() (short, long []float64, original int, mscale float64) {
	if c.ModelType != ModelTypePhi3 || c.RopeScaling == nil {
		return nil, nil, 0, 1
	}
	maxPos, orig := c.MaxPositionEmbeddings, c.OriginalMaxPositionEmbeddings
	if maxPos == 0 {
		maxPos = Phi3RopeDefaultMaxPositions
	}
	if orig == 0 {
		orig = Phi3RopeDefaultMaxPositions
	}
	mscale = 1
	if s := float64(maxPos) / float64(orig); s > 1 {
		mscale = math.Sqrt(1 + math.Log(s)/math.Log(float64(orig)))
	}
	return c.RopeScaling.ShortFactor, c.RopeScaling.LongFactor, orig, mscale
}

// HeadDim is hidden_size / num_attention_heads.
func (c *ModelConfig) HeadDim() int { return c.HiddenSize / c.NumAttentionHeads }

// NormD is the RMSNorm divisor: norm_divisor when set, else hidden_size.
func (c *ModelConfig) NormD() float64 {
	if c.NormDivisor > 0 {
		return c.NormDivisor
	}
	return float64(c.HiddenSize)
}

// LayerPrefix returns "model.layers.<i>.".
func LayerPrefix(i int) string { return "model.layers." + strconv.Itoa(i) + "." }

// ExpectedTensors maps every HF tensor name of this geometry to its shape.
// With tied embeddings lm_head.weight is absent.
func (c *ModelConfig) ExpectedTensors() map[string][]int64 {
	h, i, v := int64(c.HiddenSize), int64(c.IntermediateSize), int64(c.VocabSize)
	hd := int64(c.HeadDim())
	q, kv := int64(c.NumAttentionHeads)*hd, int64(c.NumKeyValueHeads)*hd
	m := map[string][]int64{
		"model.embed_tokens.weight": {v, h},
		"model.norm.weight":         {h},
	}
	if !c.TieWordEmbeddings {
		m["lm_head.weight"] = []int64{v, h}
	}
	for l := 0; l < c.NumHiddenLayers; l++ {
		p := LayerPrefix(l)
		m[p+"input_layernorm.weight"] = []int64{h}
		m[p+"post_attention_layernorm.weight"] = []int64{h}
		m[p+"self_attn.o_proj.weight"] = []int64{h, q}
		m[p+"mlp.down_proj.weight"] = []int64{h, i}
		switch c.ModelType {
		case ModelTypePhi3:
			m[p+"self_attn.qkv_proj.weight"] = []int64{q + 2*kv, h}
			m[p+"mlp.gate_up_proj.weight"] = []int64{2 * i, h}
		default:
			m[p+"self_attn.q_proj.weight"] = []int64{q, h}
			m[p+"self_attn.k_proj.weight"] = []int64{kv, h}
			m[p+"self_attn.v_proj.weight"] = []int64{kv, h}
			m[p+"mlp.gate_proj.weight"] = []int64{i, h}
			m[p+"mlp.up_proj.weight"] = []int64{i, h}
		}
	}
	return m
}

// ParamCount is the number of parameters of this geometry, tied weights counted once.
func (c *ModelConfig) ParamCount() int64 {
	var n int64
	for _, s := range c.ExpectedTensors() {
		n += numel(s)
	}
	return n
}

func numel(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// CheckTensors compares the tensors found in a checkpoint (name → shape)
// with the geometry and reports the first problem: a missing tensor, a shape
// mismatch or an unexpected tensor. Names are checked in sorted order so the
// error is deterministic. Rotary inv_freq buffers are ignored.
func (c *ModelConfig) CheckTensors(found map[string][]int64) error {
	want := c.ExpectedTensors()
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		got, ok := found[n]
		if !ok {
			return invalid("tensor %q is missing from the checkpoint", n)
		}
		if !sameShape(got, want[n]) {
			return invalid("tensor %q has shape %v, config implies %v", n, got, want[n])
		}
	}
	extra := make([]string, 0)
	for n := range found {
		if _, ok := want[n]; !ok && !isIgnorable(n) {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		return invalid("unexpected tensor %q in the checkpoint (%d unexpected)", extra[0], len(extra))
	}
	return nil
}

func isIgnorable(name string) bool { return strings.HasSuffix(name, ".inv_freq") }

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Marshal renders the config as indented JSON, keeping unknown keys from Raw
// and overriding the known ones with the struct's values.
func (c *ModelConfig) Marshal() ([]byte, error) {
	out := map[string]any{}
	for k, v := range c.Raw {
		out[k] = v
	}
	known, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	var km map[string]json.RawMessage
	if err := json.Unmarshal(known, &km); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	for k, v := range km {
		out[k] = v
	}
	if c.RopeScaling == nil {
		delete(out, "rope_scaling")
	}
	if c.EosTokenID != nil {
		if _, ok := c.Raw["eos_token_id"]; !ok {
			out["eos_token_id"] = *c.EosTokenID
		}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return append(b, '\n'), nil
}
