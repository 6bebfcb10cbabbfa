// Package modeldir creates and inspects Hugging Face model directories
// (config.json, safetensors weights, tokenizer files) in pure Go. Directories
// are written atomically: everything goes to a temporary sibling folder that
// is fsynced and renamed into place, so a crash never leaves half a model.
package modeldir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/internal/atomicfile"
)

// TokenizerFiles are the files copied along with a tokenizer.json.
var TokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}

// ErrExists is returned when the output directory already exists.
var ErrExists = errors.New("output directory already exists")

// InitOptions controls [Init].
type InitOptions struct {
	Seed  uint64
	DType safetensors.DType
	// TokenizerDir, when set, is a folder whose tokenizer files are copied.
	TokenizerDir string
}

// RandomTensors draws weights for cfg as transformers initialises them:
// linear and embedding weights from N(0, initializer_range²), norm weights 1.
// The result is deterministic for a seed and sorted by name.
func RandomTensors(cfg *hf.ModelConfig, seed uint64, dt safetensors.DType) ([]safetensors.Tensor, error) {
	shapes := cfg.ExpectedTensors()
	names := make([]string, 0, len(shapes))
	for n := range shapes {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]safetensors.Tensor, 0, len(names))
	for i, n := range names {
		shape := shapes[n]
		numel := int64(1)
		for _, d := range shape {
			numel *= d
		}
		vals := make([]float32, numel)
		if strings.HasSuffix(n, "norm.weight") {
			for j := range vals {
				vals[j] = 1
			}
		} else {
			r := rand.New(rand.NewPCG(seed, uint64(i)+1))
			std := cfg.InitializerRange
			for j := range vals {
				vals[j] = float32(r.NormFloat64() * std)
			}
		}
		t, err := safetensors.Float32Tensor(n, dt, shape, vals)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// Init writes a random but valid model directory for cfg at dir, which must
// not exist.
func Init(ctx context.Context, dir string, cfg *hf.ModelConfig, opts InitOptions) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("init model: %w", err)
	}
	dt := opts.DType
	if dt == "" {
		dt = safetensors.BF16
	}
	switch dt {
	case safetensors.BF16:
		cfg.TorchDtype = "bfloat16"
	case safetensors.F32:
		cfg.TorchDtype = "float32"
	case safetensors.F16:
		cfg.TorchDtype = "float16"
	default:
		return fmt.Errorf("init model: dtype %s is not a float dtype", dt)
	}
	if len(cfg.Architectures) == 0 {
		if cfg.ModelType == hf.ModelTypePhi3 {
			cfg.Architectures = []string{"Phi3ForCausalLM"}
		} else {
			cfg.Architectures = []string{"LlamaForCausalLM"}
		}
	}
	tensors, err := RandomTensors(cfg, opts.Seed, dt)
	if err != nil {
		return fmt.Errorf("init model: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return WriteDir(dir, func(tmp string) error { return WriteFiles(tmp, cfg, tensors, opts.TokenizerDir) })
}

// WriteFiles writes a model into the existing folder dir: config.json,
// model.safetensors and, when tokDir is set, the tokenizer files found
// there. Each file is written atomically.
func WriteFiles(dir string, cfg *hf.ModelConfig, tensors []safetensors.Tensor, tokDir string) error {
	cfgJSON, err := cfg.Marshal()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, hf.ConfigFile), cfgJSON, 0o644); err != nil {
		return err
	}
	if err := safetensors.WriteFile(filepath.Join(dir, safetensors.SingleFile), tensors, safetensors.DefaultMetadata()); err != nil {
		return err
	}
	if tokDir != "" {
		return CopyTokenizer(tokDir, dir)
	}
	return nil
}

// WriteDir builds a directory atomically: fill writes into a temporary
// sibling of dir, which is then renamed to dir. dir must not exist.
func WriteDir(dir string, fill func(tmp string) error) (err error) {
	dir = filepath.Clean(dir)
	if _, err := os.Lstat(dir); err == nil {
		return fmt.Errorf("write model dir %q: %w", dir, ErrExists)
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("write model dir %q: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write model dir %q: %w", dir, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err = os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("write model dir %q: %w", dir, err)
	}
	if err = fill(tmp); err != nil {
		return fmt.Errorf("write model dir %q: %w", dir, err)
	}
	if err = atomicfile.SyncDir(tmp); err != nil {
		return err
	}
	if _, statErr := os.Lstat(dir); statErr == nil {
		return fmt.Errorf("write model dir %q: %w", dir, ErrExists)
	}
	if err = os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("write model dir %q: %w", dir, err)
	}
	return atomicfile.SyncDir(parent)
}

// CopyTokenizer copies the tokenizer files found in src (a folder, or a
// tokenizer.json whose folder holds the others) into dst.
func CopyTokenizer(src, dst string) error {
	dir := src
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		dir = filepath.Dir(src)
		if err := copyFile(src, filepath.Join(dst, "tokenizer.json")); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("copy tokenizer: %w", err)
	}
	for _, name := range TokenizerFiles {
		p := filepath.Join(dir, name)
		if name == "tokenizer.json" && dir != src {
			continue
		}
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			if name == "tokenizer.json" {
				return fmt.Errorf("copy tokenizer: %q has no tokenizer.json", dir)
			}
			continue
		}
		if err := copyFile(p, filepath.Join(dst, name)); err != nil {
			return err
		}
	}
	return nil
}

// CopyFiles copies the regular files of folder src into dst (created when
// missing), each written atomically; subfolders and links are skipped.
func CopyFiles(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("copy %q: %w", src, err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("copy %q: %w", src, err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %q: %w", src, err)
	}
	defer in.Close()
	return atomicfile.Write(dst, 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}

// TokenizerVocabSize returns 1 + the largest token id defined by a
// tokenizer.json (model vocabulary and added tokens), which is the smallest
// embedding that covers it.
func TokenizerVocabSize(path string) (int, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "tokenizer.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read tokenizer: %w", err)
	}
	var tj struct {
		Model struct {
			Vocab json.RawMessage `json:"vocab"`
		} `json:"model"`
		AddedTokens []struct {
			ID int `json:"id"`
		} `json:"added_tokens"`
	}
	if err := json.Unmarshal(data, &tj); err != nil {
		return 0, fmt.Errorf("parse tokenizer %q: %w", path, err)
	}
	maxID := -1
	var asMap map[string]int
	var asList [][]any
	switch {
	case json.Unmarshal(tj.Model.Vocab, &asMap) == nil:
		for _, id := range asMap {
			maxID = max(maxID, id)
		}
	case json.Unmarshal(tj.Model.Vocab, &asList) == nil:
		maxID = len(asList) - 1
	default:
		return 0, fmt.Errorf("parse tokenizer %q: model.vocab is neither a map nor a list", path)
	}
	for _, a := range tj.AddedTokens {
		maxID = max(maxID, a.ID)
	}
	if maxID < 0 || maxID >= math.MaxInt32 {
		return 0, fmt.Errorf("parse tokenizer %q: no usable vocabulary", path)
	}
	return maxID + 1, nil
}
