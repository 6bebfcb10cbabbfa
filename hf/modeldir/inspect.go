package modeldir

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/safetensors"
)

// Info describes a model directory, read from config.json and the
// safetensors headers only (no tensor data is read).
type Info struct {
	Dir           string             `json:"dir"`
	ModelType     string             `json:"model_type"`
	Architectures []string           `json:"architectures,omitempty"`
	Layers        int                `json:"num_hidden_layers"`
	Hidden        int                `json:"hidden_size"`
	Intermediate  int                `json:"intermediate_size"`
	Heads         int                `json:"num_attention_heads"`
	KVHeads       int                `json:"num_key_value_heads"`
	HeadDim       int                `json:"head_dim"`
	VocabSize     int                `json:"vocab_size"`
	EmbeddingRows int64              `json:"embedding_rows"`
	Tied          bool               `json:"tie_word_embeddings"`
	NormDivisor   float64            `json:"norm_divisor,omitempty"`
	RopeTheta     float64            `json:"rope_theta"`
	Params        int64              `json:"params"`
	ParamsByGroup map[string]int64   `json:"params_by_group"`
	DTypes        map[string]int64   `json:"dtypes"`
	WeightBytes   int64              `json:"weight_bytes"`
	DirBytes      int64              `json:"dir_bytes"`
	Files         map[string]int64   `json:"files"`
	TokenizerSize int                `json:"tokenizer_vocab_size,omitempty"`
	Warnings      []string           `json:"warnings,omitempty"`
	Shapes        map[string][]int64 `json:"-"`
}

// Inspect reads a model directory's config and safetensors headers, checks
// that they agree, and counts parameters (tied weights once).
func Inspect(dir string) (*Info, error) {
	cfg, err := hf.LoadModelConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("inspect model: %w", err)
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("inspect model: %w", err)
	}
	defer set.Close()
	shapes := set.Shapes()
	if err := cfg.CheckTensors(shapes); err != nil {
		return nil, fmt.Errorf("inspect model %q: %w", dir, err)
	}
	info := &Info{
		Dir: dir, ModelType: cfg.ModelType, Architectures: cfg.Architectures,
		Layers: cfg.NumHiddenLayers, Hidden: cfg.HiddenSize, Intermediate: cfg.IntermediateSize,
		Heads: cfg.NumAttentionHeads, KVHeads: cfg.NumKeyValueHeads, HeadDim: cfg.HeadDim(),
		VocabSize: cfg.VocabSize, Tied: cfg.TieWordEmbeddings, NormDivisor: cfg.NormDivisor,
		RopeTheta: cfg.RopeTheta, ParamsByGroup: map[string]int64{}, DTypes: map[string]int64{},
		Files: map[string]int64{}, Shapes: shapes,
	}
	for _, t := range set.Tensors() {
		if strings.HasSuffix(t.Name, ".inv_freq") {
			continue
		}
		n := t.NumElements()
		info.Params += n
		info.ParamsByGroup[group(t.Name)] += n
		info.DTypes[string(t.DType)] += n
		info.WeightBytes += t.Size()
	}
	info.EmbeddingRows = shapes["model.embed_tokens.weight"][0]
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("inspect model: %w", err)
	}
	for _, e := range ents {
		// Snapshots of the Hugging Face cache hold links to blobs: follow them.
		if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && fi.Mode().IsRegular() {
			info.Files[e.Name()] = fi.Size()
			info.DirBytes += fi.Size()
		}
	}
	if _, ok := info.Files["tokenizer.json"]; ok {
		if n, err := TokenizerVocabSize(filepath.Join(dir, "tokenizer.json")); err == nil {
			info.TokenizerSize = n
			if int64(n) > info.EmbeddingRows {
				info.Warnings = append(info.Warnings, fmt.Sprintf("tokenizer defines ids up to %d but the embedding has only %d rows", n-1, info.EmbeddingRows))
			}
		} else {
			info.Warnings = append(info.Warnings, err.Error())
		}
	}
	return info, nil
}

// group names a tensor's parameter group: embed, lm_head, attention, mlp, norm.
func group(name string) string {
	switch {
	case strings.Contains(name, "embed_tokens"):
		return "embed"
	case strings.HasPrefix(name, "lm_head"):
		return "lm_head"
	case strings.Contains(name, "self_attn"):
		return "attention"
	case strings.Contains(name, ".mlp."):
		return "mlp"
	case strings.Contains(name, "norm"):
		return "norm"
	}
	return "other"
}

// GroupNames returns the groups of info in a stable order.
func (i *Info) GroupNames() []string {
	out := make([]string, 0, len(i.ParamsByGroup))
	for g := range i.ParamsByGroup {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}
