package modelhash

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// File names of the weights the validator downloads (safetensors only).
const (
	// WeightsFile is the single-file safetensors checkpoint.
	WeightsFile = "model.safetensors"
	// IndexFile is the index of a sharded safetensors checkpoint.
	IndexFile = "model.safetensors.index.json"
	// ConfigFile is the model config every model needs.
	ConfigFile = "config.json"
)

// OptionalFiles are the non-weight files that the transformers 4.44 /
// huggingface_hub clients fetch when they exist in the repo (docs/hashing.md#download-allow-list): the
// generation config and the tokenizer files fetched by AutoTokenizer,
// including the class-specific vocab files of the supported tokenizers.
var OptionalFiles = []string{
	"generation_config.json",
	"tokenizer_config.json",
	"tokenizer.json",
	"special_tokens_map.json",
	"added_tokens.json",
	"tokenizer.model",
	"vocab.json",
	"merges.txt",
}

// vocabFile marks the class-specific vocab files among OptionalFiles.
var vocabFile = map[string]bool{"tokenizer.model": true, "vocab.json": true, "merges.txt": true}

// Vocab files fetched per tokenizer family by transformers 4.44 (the fast
// class's vocab_files_names, without tokenizer.json which every fast
// tokenizer fetches).
var (
	sentencePieceVocab = []string{"tokenizer.model"}
	bpeVocab           = []string{"vocab.json", "merges.txt"}
	noVocab            = []string{}
)

// tokenizerClassVocab maps tokenizer_class values (slow or fast names).
var tokenizerClassVocab = map[string][]string{
	"LlamaTokenizer":          sentencePieceVocab,
	"CodeLlamaTokenizer":      sentencePieceVocab,
	"GemmaTokenizer":          sentencePieceVocab,
	"GPT2Tokenizer":           bpeVocab,
	"CodeGenTokenizer":        bpeVocab,
	"Qwen2Tokenizer":          bpeVocab,
	"GPTNeoXTokenizer":        bpeVocab,
	"RobertaTokenizer":        bpeVocab,
	"PreTrainedTokenizer":     noVocab,
	"PreTrainedTokenizerFast": noVocab,
}

// modelTypeVocab maps config.json model_type, used by AutoTokenizer when
// tokenizer_config.json names no class.
var modelTypeVocab = map[string][]string{
	"llama": sentencePieceVocab,
	"phi3":  sentencePieceVocab,
	"phi":   bpeVocab,
	"gpt2":  bpeVocab,
}

// VocabFiles returns the class-specific vocab files that AutoTokenizer
// (transformers 4.44) fetches for a repo, from the bytes of its
// tokenizer_config.json ("tokenizer_class") or, when that names no class, of
// its config.json ("model_type"). Either may be nil. It returns nil when the
// class is unknown: callers then keep every vocab file present.
func VocabFiles(tokenizerConfig, config []byte) []string {
	var tc struct {
		TokenizerClass string `json:"tokenizer_class"`
	}
	if len(tokenizerConfig) > 0 && json.Unmarshal(tokenizerConfig, &tc) == nil && tc.TokenizerClass != "" {
		v, ok := tokenizerClassVocab[strings.TrimSuffix(tc.TokenizerClass, "Fast")]
		if !ok {
			v, ok = tokenizerClassVocab[tc.TokenizerClass]
		}
		if ok {
			return v
		}
		return nil
	}
	var c struct {
		ModelType string `json:"model_type"`
	}
	if len(config) > 0 && json.Unmarshal(config, &c) == nil {
		if v, ok := modelTypeVocab[c.ModelType]; ok {
			return v
		}
	}
	return nil
}

// Errors returned by [Select] and [ParseIndex].
var (
	// ErrNoConfig means the repo has no config.json.
	ErrNoConfig = errors.New("no config.json")
	// ErrNoWeights means the repo has neither model.safetensors nor a safetensors index.
	ErrNoWeights = errors.New("no safetensors weights (model.safetensors or model.safetensors.index.json)")
	// ErrBadIndex means the safetensors index is malformed or names an unsafe path.
	ErrBadIndex = errors.New("bad safetensors index")
)

// SafePath reports whether p is a clean, relative, slash-separated path that
// stays inside the directory it is joined to: no "..", no absolute path, no
// backslash, no empty or "." element, no NUL.
func SafePath(p string) bool {
	if p == "" || strings.ContainsAny(p, "\\\x00") || strings.HasPrefix(p, "/") {
		return false
	}
	if path.Clean(p) != p {
		return false
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." {
			return false
		}
	}
	return true
}

// ParseIndex returns the sorted, distinct shard file names named by the
// weight_map of a model.safetensors.index.json. Every name must be a
// [SafePath].
func ParseIndex(data []byte) ([]string, error) {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("parse %s: %w: %v", IndexFile, ErrBadIndex, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("parse %s: %w: empty weight_map", IndexFile, ErrBadIndex)
	}
	tensors := make([]string, 0, len(idx.WeightMap))
	for tensor := range idx.WeightMap {
		tensors = append(tensors, tensor)
	}
	sort.Strings(tensors) // the first unsafe name reported is always the same
	seen := map[string]bool{}
	var out []string
	for _, tensor := range tensors {
		file := idx.WeightMap[tensor]
		if !SafePath(file) {
			return nil, fmt.Errorf("parse %s: %w: tensor %q maps to unsafe path %q", IndexFile, ErrBadIndex, tensor, file)
		}
		if !seen[file] {
			seen[file] = true
			out = append(out, file)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Select returns, sorted, the files of a repo (slash-separated paths as the
// Hub lists them) that the validator downloads and hashes: config.json, the
// [OptionalFiles] present, and model.safetensors, or, when that is absent,
// the index plus the shards it names (shards is [ParseIndex] of the index;
// it is ignored when model.safetensors exists). Every shard must exist in
// repoFiles.
func Select(repoFiles []string, shards []string) ([]string, error) {
	return SelectFor(repoFiles, shards, nil)
}

// SelectFor is [Select] where vocab, when not nil, lists the class-specific
// vocab files that AutoTokenizer fetches (see [VocabFiles]); vocab files of
// other tokenizer classes present in the repo are then left out. nil keeps
// every known vocab file present (tokenizer.model, vocab.json, merges.txt).
func SelectFor(repoFiles, shards, vocab []string) ([]string, error) {
	have := make(map[string]bool, len(repoFiles))
	for _, f := range repoFiles {
		have[f] = true
	}
	if !have[ConfigFile] {
		return nil, fmt.Errorf("select model files: %w", ErrNoConfig)
	}
	out := []string{ConfigFile}
	wantVocab := map[string]bool{}
	for _, v := range vocab {
		wantVocab[v] = true
	}
	for _, f := range OptionalFiles {
		if vocab != nil && vocabFile[f] && !wantVocab[f] {
			continue
		}
		if have[f] {
			out = append(out, f)
		}
	}
	switch {
	case have[WeightsFile]:
		out = append(out, WeightsFile)
	case have[IndexFile]:
		if len(shards) == 0 {
			return nil, fmt.Errorf("select model files: %w: no shards", ErrBadIndex)
		}
		out = append(out, IndexFile)
		for _, s := range shards {
			if !SafePath(s) {
				return nil, fmt.Errorf("select model files: %w: unsafe shard path %q", ErrBadIndex, s)
			}
			if !have[s] {
				return nil, fmt.Errorf("select model files: shard %q named by %s is missing", s, IndexFile)
			}
			out = append(out, s)
		}
	default:
		return nil, fmt.Errorf("select model files: %w", ErrNoWeights)
	}
	sort.Strings(out)
	// Dedup (a shard could be named like an optional file in a hostile index).
	j := 0
	for i, f := range out {
		if i == 0 || f != out[j-1] {
			out[j] = f
			j++
		}
	}
	return out[:j], nil
}

// Size caps of the small files read to choose the files of a repo.
const (
	// MaxIndexBytes caps model.safetensors.index.json.
	MaxIndexBytes = 64 << 20
	// MaxConfigBytes caps config.json and tokenizer_config.json.
	MaxConfigBytes = 16 << 20
)

// ReadFunc reads one file of a repo or folder, failing when it holds more
// than max bytes.
type ReadFunc func(ctx context.Context, name string, max int64) ([]byte, error)

// SelectRepo returns, sorted, the files a validator downloads from a repo
// holding the files names (see [SelectFor]): it reads the safetensors index
// (at most [MaxIndexBytes]) when the weights are sharded, and, when a
// class-specific vocab file is present, tokenizer_config.json and
// config.json (at most [MaxConfigBytes] each) to learn the tokenizer class.
// Local folders and hub repos both go through it, so a miner's upload and a
// validator's download name the same files.
func SelectRepo(ctx context.Context, names []string, read ReadFunc) ([]string, error) {
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	var shards []string
	if !have[WeightsFile] && have[IndexFile] {
		data, err := read(ctx, IndexFile, MaxIndexBytes)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", IndexFile, err)
		}
		if shards, err = ParseIndex(data); err != nil {
			return nil, err
		}
	}
	var vocab []string
	if have["tokenizer.model"] || have["vocab.json"] || have["merges.txt"] {
		var tc, cfg []byte
		if have["tokenizer_config.json"] {
			tc, _ = read(ctx, "tokenizer_config.json", MaxConfigBytes)
		}
		if have[ConfigFile] {
			cfg, _ = read(ctx, ConfigFile, MaxConfigBytes)
		}
		vocab = VocabFiles(tc, cfg)
	}
	return SelectFor(names, shards, vocab)
}

// ReadDir is a [ReadFunc] over the folder dir.
func ReadDir(dir string) ReadFunc {
	return func(ctx context.Context, name string, max int64) ([]byte, error) {
		if !SafePath(name) {
			return nil, fmt.Errorf("read %q: unsafe path", name)
		}
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, max+1))
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > max {
			return nil, fmt.Errorf("read %q: over %d bytes", name, max)
		}
		return b, nil
	}
}

// Allowed returns the files of a local model folder that the validator would
// download from a repo with the same content ([SelectRepo]).
func Allowed(ctx context.Context, dir string) ([]string, error) {
	all, err := Files(ctx, dir, Options{})
	if err != nil {
		return nil, err
	}
	names := make([]string, len(all))
	for i, e := range all {
		names[i] = e.Path
	}
	sel, err := SelectRepo(ctx, names, ReadDir(dir))
	if err != nil {
		return nil, fmt.Errorf("model dir %q: %w", dir, err)
	}
	return sel, nil
}

// AllowedFilter returns an [Options.Filter] that keeps exactly the files of
// [Allowed] for dir.
func AllowedFilter(ctx context.Context, dir string) (func(rel string) bool, error) {
	sel, err := Allowed(ctx, dir)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(sel))
	for _, s := range sel {
		set[s] = true
	}
	return func(rel string) bool { return set[rel] }, nil
}
