package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/coldint/coldint/internal/atomicfile"
)

// Tensor is a tensor to write: its bytes are little-endian, row-major.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64
	Data  []byte
}

type headerEntry struct {
	DType       DType    `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// Encode writes tensors and metadata in safetensors format to w. Tensors are
// ordered by descending dtype alignment, then name; the header is padded with
// spaces so that data starts 8-byte aligned.
func Encode(w io.Writer, tensors []Tensor, meta map[string]string) error {
	order := make([]Tensor, len(tensors))
	copy(order, tensors)
	sort.SliceStable(order, func(i, j int) bool {
		bi, bj := order[i].DType.Bits(), order[j].DType.Bits()
		if bi != bj {
			return bi > bj
		}
		return order[i].Name < order[j].Name
	})
	hdr := map[string]any{}
	if len(meta) > 0 {
		hdr["__metadata__"] = meta
	}
	var off int64
	seen := map[string]bool{}
	for _, t := range order {
		if t.Name == "" || t.Name == "__metadata__" || seen[t.Name] {
			return fmt.Errorf("encode safetensors: bad or duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		if !t.DType.Valid() {
			return fmt.Errorf("encode tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		info := TensorInfo{Name: t.Name, DType: t.DType, Shape: t.Shape}
		if want := info.NumElements() * int64(t.DType.Bits()) / 8; want != int64(len(t.Data)) {
			return fmt.Errorf("encode tensor %q: %d bytes for shape %v of %s (want %d)", t.Name, len(t.Data), t.Shape, t.DType, want)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		hdr[t.Name] = headerEntry{DType: t.DType, Shape: shape, DataOffsets: [2]int64{off, off + int64(len(t.Data))}}
		off += int64(len(t.Data))
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return fmt.Errorf("encode safetensors header: %w", err)
	}
	if pad := (8 - (len(js) % 8)) % 8; pad > 0 {
		js = append(js, bytes.Repeat([]byte{' '}, pad)...)
	}
	var lb [8]byte
	binary.LittleEndian.PutUint64(lb[:], uint64(len(js)))
	if _, err := w.Write(lb[:]); err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	if _, err := w.Write(js); err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	for _, t := range order {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("write tensor %q: %w", t.Name, err)
		}
	}
	return nil
}

// WriteFile atomically writes a safetensors file (temp file, fsync, rename).
func WriteFile(path string, tensors []Tensor, meta map[string]string) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return Encode(w, tensors, meta)
	})
}

// Float32Tensor builds a tensor of dtype dt from float32 values.
func Float32Tensor(name string, dt DType, shape []int64, values []float32) (Tensor, error) {
	data, err := FromFloat32(dt, values)
	if err != nil {
		return Tensor{}, fmt.Errorf("build tensor %q: %w", name, err)
	}
	return Tensor{Name: name, DType: dt, Shape: shape, Data: data}, nil
}

// DefaultMetadata is the __metadata__ transformers writes.
func DefaultMetadata() map[string]string { return map[string]string{"format": "pt"} }
