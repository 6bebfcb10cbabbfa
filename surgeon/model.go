package surgeon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modeldir"
	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/internal/atomicfile"
)

// Tensor is a float32 tensor in row-major order.
type Tensor struct {
	Shape []int64
	Data  []float32
}

// Rows and Cols of a 2-D tensor.
func (t *Tensor) Rows() int { return int(t.Shape[0]) }

// Cols is the second dimension of a 2-D tensor (1 for 1-D).
func (t *Tensor) Cols() int {
	if len(t.Shape) < 2 {
		return 1
	}
	return int(t.Shape[1])
}

func (t *Tensor) clone() *Tensor {
	return &Tensor{Shape: append([]int64(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Model is a whole checkpoint held in memory as float32.
type Model struct {
	Config  *hf.ModelConfig
	Tensors map[string]*Tensor
	// DType is the storage dtype used when the model is saved.
	DType safetensors.DType
	// TokenizerDir is where tokenizer files are copied from on save ("" for none).
	TokenizerDir string
	// TokenizerFiles, when set, are written on save instead of copying TokenizerDir.
	TokenizerFiles map[string][]byte
}

// Load reads a model directory.
func Load(dir string) (*Model, error) {
	cfg, err := hf.LoadModelConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	set, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	defer set.Close()
	if err := cfg.CheckTensors(set.Shapes()); err != nil {
		return nil, fmt.Errorf("load model %q: %w", dir, err)
	}
	m := &Model{Config: cfg, Tensors: map[string]*Tensor{}, DType: safetensors.F32}
	dtypes := map[safetensors.DType]int{}
	for _, ti := range set.Tensors() {
		if _, ok := cfg.ExpectedTensors()[ti.Name]; !ok {
			continue // ignorable buffers such as rotary inv_freq
		}
		if !ti.DType.IsFloat() {
			return nil, fmt.Errorf("load model %q: tensor %q has dtype %s, want F32, F16 or BF16", dir, ti.Name, ti.DType)
		}
		data, shape, err := set.ReadFloat32(ti.Name)
		if err != nil {
			return nil, fmt.Errorf("load model: %w", err)
		}
		m.Tensors[ti.Name] = &Tensor{Shape: shape, Data: data}
		dtypes[ti.DType]++
	}
	best := 0
	for dt, n := range dtypes {
		if n > best || (n == best && dt < m.DType) {
			m.DType, best = dt, n
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err == nil {
		m.TokenizerDir = dir
	}
	return m, nil
}

// Clone deep-copies the model.
func (m *Model) Clone() *Model {
	c := *m.Config
	out := &Model{Config: &c, Tensors: map[string]*Tensor{}, DType: m.DType, TokenizerDir: m.TokenizerDir, TokenizerFiles: m.TokenizerFiles}
	for n, t := range m.Tensors {
		out.Tensors[n] = t.clone()
	}
	return out
}

// Names returns the tensor names sorted.
func (m *Model) Names() []string {
	out := make([]string, 0, len(m.Tensors))
	for n := range m.Tensors {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Check verifies that the tensors match the config geometry.
func (m *Model) Check() error {
	if err := m.Config.Validate(); err != nil {
		return err
	}
	shapes := map[string][]int64{}
	for n, t := range m.Tensors {
		shapes[n] = t.Shape
		numel := int64(1)
		for _, d := range t.Shape {
			numel *= d
		}
		if int64(len(t.Data)) != numel {
			return fmt.Errorf("tensor %q holds %d values for shape %v", n, len(t.Data), t.Shape)
		}
	}
	return m.Config.CheckTensors(shapes)
}

// Save writes the model to dir (which must not exist) atomically, with the
// tokenizer files of TokenizerDir.
func (m *Model) Save(ctx context.Context, dir string) error {
	if err := m.Check(); err != nil {
		return fmt.Errorf("save model %q: %w", dir, err)
	}
	switch m.DType {
	case safetensors.BF16:
		m.Config.TorchDtype = "bfloat16"
	case safetensors.F16:
		m.Config.TorchDtype = "float16"
	case safetensors.F32:
		m.Config.TorchDtype = "float32"
	default:
		return fmt.Errorf("save model %q: dtype %s is not a float dtype", dir, m.DType)
	}
	tensors := make([]safetensors.Tensor, 0, len(m.Tensors))
	for _, n := range m.Names() {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := m.Tensors[n]
		st, err := safetensors.Float32Tensor(n, m.DType, t.Shape, t.Data)
		if err != nil {
			return fmt.Errorf("save model: %w", err)
		}
		tensors = append(tensors, st)
	}
	return modeldir.WriteDir(dir, func(tmp string) error {
		if m.TokenizerFiles == nil {
			return modeldir.WriteFiles(tmp, m.Config, tensors, m.TokenizerDir)
		}
		if err := modeldir.WriteFiles(tmp, m.Config, tensors, ""); err != nil {
			return err
		}
		for name, data := range m.TokenizerFiles {
			if filepath.Base(name) != name {
				return fmt.Errorf("tokenizer file name %q is not a plain name", name)
			}
			if err := atomicfile.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
}

// ErrGeometry is wrapped by errors about shapes that an operation cannot handle.
var ErrGeometry = errors.New("incompatible geometry")

func geometryf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrGeometry, fmt.Sprintf(format, args...))
}
