package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"unicode/utf8"
)

// MaxHeaderSize is the largest header accepted, as in the reference implementation.
const MaxHeaderSize = 100_000_000

// ErrInvalid is wrapped by every format violation.
var ErrInvalid = errors.New("invalid safetensors")

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int64
	// Begin and End are byte offsets relative to the data buffer.
	Begin, End int64
}

// NumElements is the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Size is the tensor's byte size.
func (t TensorInfo) Size() int64 { return t.End - t.Begin }

// Header is a parsed and validated safetensors header.
type Header struct {
	// Tensors sorted by name.
	Tensors  []TensorInfo
	Metadata map[string]string
	// DataOffset is where the data buffer starts in the file (8 + N).
	DataOffset int64
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

type rawEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// ReadHeader reads and validates the header of a safetensors stream whose
// total length is fileSize. It reads only the header bytes.
func ReadHeader(r io.Reader, fileSize int64) (*Header, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, invalidf("file too short for the 8-byte header length (%d bytes)", fileSize)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, invalidf("header length %d exceeds the %d limit", n, MaxHeaderSize)
	}
	if int64(n) > fileSize-8 {
		return nil, invalidf("header length %d runs past the end of the %d-byte file", n, fileSize)
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, invalidf("read header: %v", err)
	}
	return ParseHeader(hdr, fileSize-8-int64(n))
}

// ParseHeader validates the JSON header bytes against a data buffer of
// bufLen bytes.
func ParseHeader(hdr []byte, bufLen int64) (*Header, error) {
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, invalidf("header does not start with '{'")
	}
	if !utf8.Valid(hdr) {
		return nil, invalidf("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimRight(hdr, " ")))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, invalidf("parse header: %v", err)
	}
	h := &Header{Metadata: map[string]string{}, DataOffset: 8 + int64(len(hdr))}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidf("parse header: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, invalidf("parse header: key is not a string")
		}
		if seen[key] {
			return nil, invalidf("duplicate key %q in header", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, invalidf("parse header entry %q: %v", key, err)
		}
		if key == "__metadata__" {
			if err := json.Unmarshal(raw, &h.Metadata); err != nil {
				return nil, invalidf("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		ti, err := parseEntry(key, raw)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, ti)
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalidf("parse header: %v", err)
	}
	if dec.More() {
		return nil, invalidf("trailing data after the header object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalidf("trailing data after the header object")
	}
	if err := checkLayout(h.Tensors, bufLen); err != nil {
		return nil, err
	}
	sort.Slice(h.Tensors, func(i, j int) bool { return h.Tensors[i].Name < h.Tensors[j].Name })
	return h, nil
}

func parseEntry(name string, raw json.RawMessage) (TensorInfo, error) {
	var e rawEntry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return TensorInfo{}, invalidf("tensor %q: %v", name, err)
	}
	if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
		return TensorInfo{}, invalidf("tensor %q: dtype, shape and data_offsets are required", name)
	}
	dt := DType(*e.DType)
	if !dt.Valid() {
		return TensorInfo{}, invalidf("tensor %q: unknown dtype %q", name, *e.DType)
	}
	if len(*e.DataOffsets) != 2 {
		return TensorInfo{}, invalidf("tensor %q: data_offsets must have 2 entries", name)
	}
	ti := TensorInfo{Name: name, DType: dt, Shape: *e.Shape, Begin: (*e.DataOffsets)[0], End: (*e.DataOffsets)[1]}
	if ti.Shape == nil {
		ti.Shape = []int64{}
	}
	numel := int64(1)
	for _, d := range ti.Shape {
		if d < 0 {
			return TensorInfo{}, invalidf("tensor %q: negative dimension in shape %v", name, ti.Shape)
		}
		if d != 0 && numel > math.MaxInt64/8/d {
			return TensorInfo{}, invalidf("tensor %q: shape %v overflows", name, ti.Shape)
		}
		numel *= d
	}
	if ti.Begin < 0 || ti.End < ti.Begin {
		return TensorInfo{}, invalidf("tensor %q: bad data_offsets [%d, %d]", name, ti.Begin, ti.End)
	}
	bits := numel * int64(dt.Bits())
	if bits%8 != 0 {
		return TensorInfo{}, invalidf("tensor %q: %d elements of %s is not a whole number of bytes", name, numel, dt)
	}
	if ti.End-ti.Begin != bits/8 {
		return TensorInfo{}, invalidf("tensor %q: data_offsets span %d bytes, shape %v of %s needs %d", name, ti.End-ti.Begin, ti.Shape, dt, bits/8)
	}
	return ti, nil
}

// checkLayout requires the tensors, sorted by offset, to tile [0, bufLen) exactly.
func checkLayout(ts []TensorInfo, bufLen int64) error {
	order := make([]TensorInfo, len(ts))
	copy(order, ts)
	sort.Slice(order, func(i, j int) bool {
		if order[i].Begin != order[j].Begin {
			return order[i].Begin < order[j].Begin
		}
		return order[i].End < order[j].End
	})
	var pos int64
	for _, t := range order {
		if t.Begin != pos {
			if t.Begin < pos {
				return invalidf("tensor %q overlaps the previous tensor (offset %d < %d)", t.Name, t.Begin, pos)
			}
			return invalidf("hole in the data buffer before tensor %q (offset %d, expected %d)", t.Name, t.Begin, pos)
		}
		pos = t.End
	}
	if pos != bufLen {
		if pos > bufLen {
			return invalidf("tensor data ends at %d, past the end of the %d-byte data buffer (truncated file?)", pos, bufLen)
		}
		return invalidf("data buffer has %d bytes, tensors cover only %d", bufLen, pos)
	}
	return nil
}

// File is an open safetensors file. Its methods are safe for concurrent use.
type File struct {
	path string
	f    *os.File
	hdr  *Header
	idx  map[string]int
}

// Open opens and validates a safetensors file; tensor data is read lazily.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open safetensors: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat safetensors %q: %w", path, err)
	}
	hdr, err := ReadHeader(io.NewSectionReader(f, 0, st.Size()), st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %q: %w", path, err)
	}
	idx := make(map[string]int, len(hdr.Tensors))
	for i, t := range hdr.Tensors {
		idx[t.Name] = i
	}
	return &File{path: path, f: f, hdr: hdr, idx: idx}, nil
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Header returns the validated header.
func (f *File) Header() *Header { return f.hdr }

// Tensors lists the tensors sorted by name.
func (f *File) Tensors() []TensorInfo { return f.hdr.Tensors }

// Metadata is the __metadata__ map.
func (f *File) Metadata() map[string]string { return f.hdr.Metadata }

// Tensor looks a tensor up by name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.idx[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.hdr.Tensors[i], true
}

// ReadRaw returns the raw little-endian bytes of a tensor.
func (f *File) ReadRaw(name string) ([]byte, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("read tensor %q from %q: %w", name, f.path, os.ErrNotExist)
	}
	buf := make([]byte, t.Size())
	if err := f.ReadInto(t, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// ReadInto reads tensor t's bytes into buf, which must be exactly t.Size() long.
func (f *File) ReadInto(t TensorInfo, buf []byte) error {
	if int64(len(buf)) != t.Size() {
		return fmt.Errorf("read tensor %q: buffer of %d bytes for %d", t.Name, len(buf), t.Size())
	}
	if _, err := f.f.ReadAt(buf, f.hdr.DataOffset+t.Begin); err != nil {
		return fmt.Errorf("read tensor %q from %q: %w", t.Name, f.path, err)
	}
	return nil
}

// ReadFloat32 reads a F32, F16 or BF16 tensor as float32 values.
func (f *File) ReadFloat32(name string) ([]float32, []int64, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, nil, fmt.Errorf("read tensor %q from %q: %w", name, f.path, os.ErrNotExist)
	}
	raw := make([]byte, t.Size())
	if err := f.ReadInto(t, raw); err != nil {
		return nil, nil, err
	}
	out := make([]float32, t.NumElements())
	if err := ToFloat32(t.DType, raw, out); err != nil {
		return nil, nil, fmt.Errorf("read tensor %q: %w", name, err)
	}
	return out, t.Shape, nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }
