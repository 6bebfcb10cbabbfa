package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sample(t *testing.T) []Tensor {
	t.Helper()
	a, err := Float32Tensor("b.weight", F32, []int64{2, 3}, []float32{1, -2, 3.5, 0, 1e-3, -7})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Float32Tensor("a.weight", BF16, []int64{3}, []float32{1, 0.5, -3})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Float32Tensor("c.weight", F16, []int64{}, []float32{0.25})
	if err != nil {
		t.Fatal(err)
	}
	return []Tensor{a, b, c}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, SingleFile)
	if err := WriteFile(p, sample(t), DefaultMetadata()); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	n := binary.LittleEndian.Uint64(raw)
	if (8+n)%8 != 0 {
		t.Fatalf("data not 8-aligned: header %d", n)
	}
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	names := []string{}
	for _, ti := range s.Tensors() {
		names = append(names, ti.Name)
	}
	if strings.Join(names, ",") != "a.weight,b.weight,c.weight" {
		t.Fatalf("names %v", names)
	}
	// F32 first (alignment order), then the 16-bit ones by name.
	if b, _ := s.Tensor("b.weight"); b.Begin != 0 {
		t.Fatalf("F32 tensor should come first, begin=%d", b.Begin)
	}
	tests := []struct {
		name string
		want []float32
	}{
		{"b.weight", []float32{1, -2, 3.5, 0, 1e-3, -7}},
		{"a.weight", []float32{1, 0.5, -3}},
		{"c.weight", []float32{0.25}},
	}
	for _, tc := range tests {
		got, _, err := s.ReadFloat32(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tc.want {
			if got[i] != tc.want[i] {
				t.Fatalf("%s[%d] = %v want %v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

func TestBF16Rounding(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80},
		{float32(math.Float32frombits(0x3f808000)), 0x3f80}, // tie to even (down)
		{float32(math.Float32frombits(0x3f818000)), 0x3f82}, // tie to even (up)
		{float32(math.Float32frombits(0x3f808001)), 0x3f81},
		{float32(math.NaN()), 0x7fc0},
		{float32(math.Inf(-1)), 0xff80},
	}
	for _, tc := range tests {
		if got := F32ToBF16(tc.in); got != tc.want {
			t.Errorf("F32ToBF16(%x) = %x want %x", math.Float32bits(tc.in), got, tc.want)
		}
	}
}

func TestF16(t *testing.T) {
	for _, f := range []float32{0, 1, -2, 0.5, 65504, 6.103515625e-05, 5.960464477539063e-08, float32(math.Inf(1))} {
		if got := F16ToF32(F32ToF16(f)); got != f {
			t.Errorf("f16 round trip %v -> %v", f, got)
		}
	}
	if F32ToF16(1e6) != 0x7c00 {
		t.Error("overflow should give +Inf")
	}
}

func header(js string, data int) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(js)))
	b.WriteString(js)
	b.Write(make([]byte, data))
	return b.Bytes()
}

func TestHostileFiles(t *testing.T) {
	tests := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"huge header", func() []byte { var b [8]byte; binary.LittleEndian.PutUint64(b[:], 1<<40); return b[:] }(), "exceeds"},
		{"header past end", func() []byte { var b [8]byte; binary.LittleEndian.PutUint64(b[:], 100); return append(b[:], '{') }(), "past the end"},
		{"not json object", header(`[1]`, 0), "does not start"},
		{"bad json", header(`{"a":`, 0), "parse header"},
		{"duplicate", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "duplicate"},
		{"unknown dtype", header(`{"a":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}`, 4), "unknown dtype"},
		{"size mismatch", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), "needs 8"},
		{"offsets past buffer", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), "past the end"},
		{"hole", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "hole"},
		{"overlap", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4), "overlaps"},
		{"negative dim", header(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "negative"},
		{"overflow", header(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, 4), "overflows"},
		{"extra bytes", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 12), "cover only"},
		{"missing field", header(`{"a":{"dtype":"F32","shape":[1]}}`, 4), "required"},
		{"unknown field", header(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, 4), "unknown field"},
		{"bad metadata", header(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
		{"trailing", header(`{}{}`, 0), "trailing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.safetensors")
			os.WriteFile(p, tc.file, 0o644)
			_, err := Open(p)
			if err == nil {
				t.Fatal("want an error")
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q should wrap ErrInvalid, name the file and say %q", err, tc.want)
			}
		})
	}
}

func TestTruncatedFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, SingleFile)
	if err := WriteFile(p, sample(t), nil); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	for _, cut := range []int{1, 7, 9, len(raw) / 2, len(raw) - 1} {
		os.WriteFile(p, raw[:cut], 0o644)
		if _, err := Open(p); !errors.Is(err, ErrInvalid) {
			t.Fatalf("cut at %d: want ErrInvalid, got %v", cut, err)
		}
	}
}

func TestShardedIndex(t *testing.T) {
	dir := t.TempDir()
	ts := sample(t)
	if err := WriteFile(filepath.Join(dir, "model-00001-of-00002.safetensors"), ts[:1], nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "model-00002-of-00002.safetensors"), ts[1:], nil); err != nil {
		t.Fatal(err)
	}
	idx := `{"metadata":{"total_size":20},"weight_map":{"b.weight":"model-00001-of-00002.safetensors","a.weight":"model-00002-of-00002.safetensors","c.weight":"model-00002-of-00002.safetensors"}}`
	os.WriteFile(filepath.Join(dir, IndexFile), []byte(idx), 0o644)
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tensors()) != 3 {
		t.Fatalf("tensors %v", s.Tensors())
	}
	v, _, err := s.ReadFloat32("a.weight")
	if err != nil || v[1] != 0.5 {
		t.Fatalf("read a.weight: %v %v", v, err)
	}
	s.Close()

	bad := []struct{ name, idx, want string }{
		{"escaping shard", `{"weight_map":{"a.weight":"../x.safetensors"}}`, "plain"},
		{"wrong shard", `{"weight_map":{"b.weight":"model-00002-of-00002.safetensors","a.weight":"model-00002-of-00002.safetensors","c.weight":"model-00002-of-00002.safetensors"}}`, "shard does not contain"},
		{"missing tensor", `{"weight_map":{"b.weight":"model-00001-of-00002.safetensors","a.weight":"model-00002-of-00002.safetensors","c.weight":"model-00002-of-00002.safetensors","d.weight":"model-00002-of-00002.safetensors"}}`, "does not contain"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(dir, IndexFile), []byte(tc.idx), 0o644)
			_, err := OpenDir(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"format":"pt"}}`), int64(4))
	f.Add([]byte(`{}`), int64(0))
	f.Add([]byte(`{"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}}   `), int64(8))
	f.Fuzz(func(t *testing.T, hdr []byte, bufLen int64) {
		h, err := ParseHeader(hdr, bufLen)
		if err != nil {
			return
		}
		var sum int64
		for _, ti := range h.Tensors {
			if ti.Begin < 0 || ti.End > bufLen || ti.End < ti.Begin {
				t.Fatalf("accepted bad offsets %+v for buffer %d", ti, bufLen)
			}
			sum += ti.Size()
		}
		if sum != bufLen {
			t.Fatalf("accepted header covering %d of %d bytes", sum, bufLen)
		}
	})
}
