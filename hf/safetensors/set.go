package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// File names of a Hugging Face checkpoint.
const (
	SingleFile = "model.safetensors"
	IndexFile  = "model.safetensors.index.json"
)

// Index is model.safetensors.index.json.
type Index struct {
	Metadata  map[string]any    `json:"metadata,omitempty"`
	WeightMap map[string]string `json:"weight_map"`
}

// Set is a checkpoint made of one or more safetensors files, addressed by
// tensor name.
type Set struct {
	files  []*File
	byName map[string]*File
	infos  []TensorInfo
}

// OpenDir opens the checkpoint of a model directory: model.safetensors, or the
// shards listed in model.safetensors.index.json. Every shard is validated,
// shard names must stay inside dir, every tensor must live in the shard the
// index names, and no tensor may appear twice.
func OpenDir(dir string) (*Set, error) {
	idxPath := filepath.Join(dir, IndexFile)
	data, err := os.ReadFile(idxPath)
	if errors.Is(err, os.ErrNotExist) {
		f, err := Open(filepath.Join(dir, SingleFile))
		if err != nil {
			return nil, err
		}
		return newSet([]*File{f}, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", IndexFile, err)
	}
	idx, err := ParseIndex(data)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", idxPath, err)
	}
	shards := idx.Shards()
	files := make([]*File, 0, len(shards))
	for _, s := range shards {
		f, err := Open(filepath.Join(dir, s))
		if err != nil {
			for _, o := range files {
				o.Close()
			}
			return nil, err
		}
		files = append(files, f)
	}
	return newSet(files, idx)
}

// ParseIndex decodes and checks a model.safetensors.index.json.
func ParseIndex(data []byte) (*Index, error) {
	var idx Index
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, invalidf("parse index: %v", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, invalidf("index has an empty weight_map")
	}
	for name, shard := range idx.WeightMap {
		if shard == "" || shard != filepath.Base(shard) || strings.HasPrefix(shard, ".") || !strings.HasSuffix(shard, ".safetensors") {
			return nil, invalidf("index maps tensor %q to shard %q: shard names must be plain *.safetensors file names", name, shard)
		}
	}
	return &idx, nil
}

// Shards lists the distinct shard file names, sorted.
func (idx *Index) Shards() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range idx.WeightMap {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func newSet(files []*File, idx *Index) (*Set, error) {
	s := &Set{files: files, byName: map[string]*File{}}
	for _, f := range files {
		for _, t := range f.Tensors() {
			if prev, dup := s.byName[t.Name]; dup {
				s.Close()
				return nil, invalidf("tensor %q appears in both %q and %q", t.Name, filepath.Base(prev.Path()), filepath.Base(f.Path()))
			}
			if idx != nil {
				if want, ok := idx.WeightMap[t.Name]; !ok || want != filepath.Base(f.Path()) {
					s.Close()
					return nil, invalidf("tensor %q is in shard %q but the index says %q", t.Name, filepath.Base(f.Path()), want)
				}
			}
			s.byName[t.Name] = f
			s.infos = append(s.infos, t)
		}
	}
	if idx != nil {
		for name, shard := range idx.WeightMap {
			if _, ok := s.byName[name]; !ok {
				s.Close()
				return nil, invalidf("index lists tensor %q in %q but the shard does not contain it", name, shard)
			}
		}
	}
	sort.Slice(s.infos, func(i, j int) bool { return s.infos[i].Name < s.infos[j].Name })
	return s, nil
}

// Tensors lists every tensor, sorted by name.
func (s *Set) Tensors() []TensorInfo { return s.infos }

// Shapes maps tensor names to shapes.
func (s *Set) Shapes() map[string][]int64 {
	m := make(map[string][]int64, len(s.infos))
	for _, t := range s.infos {
		m[t.Name] = t.Shape
	}
	return m
}

// Tensor looks a tensor up by name.
func (s *Set) Tensor(name string) (TensorInfo, bool) {
	f, ok := s.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensor(name)
}

// ReadRaw returns a tensor's raw bytes.
func (s *Set) ReadRaw(name string) ([]byte, error) {
	f, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("read tensor %q: %w", name, os.ErrNotExist)
	}
	return f.ReadRaw(name)
}

// ReadFloat32 reads a float tensor as float32 values with its shape.
func (s *Set) ReadFloat32(name string) ([]float32, []int64, error) {
	f, ok := s.byName[name]
	if !ok {
		return nil, nil, fmt.Errorf("read tensor %q: %w", name, os.ErrNotExist)
	}
	return f.ReadFloat32(name)
}

// Bytes is the total size of all tensor data.
func (s *Set) Bytes() int64 {
	var n int64
	for _, t := range s.infos {
		n += t.Size()
	}
	return n
}

// Close closes every file.
func (s *Set) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}
