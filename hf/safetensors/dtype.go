package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DType is a safetensors element type name such as "F32" or "BF16".
type DType string

// The element types of the format.
const (
	BOOL       DType = "BOOL"
	F4         DType = "F4"
	F6E2M3     DType = "F6_E2M3"
	F6E3M2     DType = "F6_E3M2"
	U8         DType = "U8"
	I8         DType = "I8"
	F8E5M2     DType = "F8_E5M2"
	F8E4M3     DType = "F8_E4M3"
	F8E8M0     DType = "F8_E8M0"
	F8E4M3FNUZ DType = "F8_E4M3FNUZ"
	F8E5M2FNUZ DType = "F8_E5M2FNUZ"
	I16        DType = "I16"
	U16        DType = "U16"
	F16        DType = "F16"
	BF16       DType = "BF16"
	I32        DType = "I32"
	U32        DType = "U32"
	F32        DType = "F32"
	C64        DType = "C64"
	F64        DType = "F64"
	I64        DType = "I64"
	U64        DType = "U64"
)

var dtypeBits = map[DType]int{
	BOOL: 8, F4: 4, F6E2M3: 6, F6E3M2: 6, U8: 8, I8: 8, F8E5M2: 8, F8E4M3: 8, F8E8M0: 8,
	F8E4M3FNUZ: 8, F8E5M2FNUZ: 8, I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32,
	F32: 32, C64: 64, F64: 64, I64: 64, U64: 64,
}

// Bits returns the element size in bits, or 0 for an unknown dtype.
func (d DType) Bits() int { return dtypeBits[d] }

// Valid reports whether d is a dtype of the format.
func (d DType) Valid() bool { return dtypeBits[d] > 0 }

// IsFloat reports whether d converts to float32 with [ToFloat32].
func (d DType) IsFloat() bool { return d == F32 || d == F16 || d == BF16 }

// ParseDType accepts names in any case ("bf16", "float32", "bfloat16", "fp16", ...).
func ParseDType(s string) (DType, error) {
	switch s {
	case "f32", "F32", "float32", "fp32", "float":
		return F32, nil
	case "bf16", "BF16", "bfloat16":
		return BF16, nil
	case "f16", "F16", "float16", "fp16", "half":
		return F16, nil
	}
	return "", fmt.Errorf("parse dtype %q: want f32, bf16 or f16", s)
}

// F32ToBF16 rounds f to bfloat16 bits with round-to-nearest-even; NaN becomes 0x7fc0.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return 0x7fc0
	}
	return uint16((b + 0x7fff + ((b >> 16) & 1)) >> 16)
}

// BF16ToF32 widens bfloat16 bits to float32 exactly.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F16ToF32 widens IEEE half-precision bits to float32 exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// F32ToF16 rounds f to IEEE half-precision bits (round-to-nearest-even).
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		rem := mant & ((1 << shift) - 1)
		m := mant >> shift
		if rem > half || (rem == half && m&1 == 1) {
			m++
		}
		return sign | uint16(m)
	}
	m := mant >> 13
	rem := mant & 0x1fff
	out := uint32(e)<<10 | m
	if rem > 0x1000 || (rem == 0x1000 && m&1 == 1) {
		out++
	}
	return sign | uint16(out)
}

// ToFloat32 decodes little-endian F32, F16 or BF16 data into dst (len(dst)
// elements).
func ToFloat32(dt DType, data []byte, dst []float32) error {
	n := len(dst)
	if bits := dt.Bits(); bits == 0 || len(data)*8 != n*bits {
		return fmt.Errorf("convert %s: %d bytes for %d elements", dt, len(data), n)
	}
	switch dt {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = BF16ToF32(binary.LittleEndian.Uint16(data[2*i:]))
		}
	case F16:
		for i := range dst {
			dst[i] = F16ToF32(binary.LittleEndian.Uint16(data[2*i:]))
		}
	default:
		return fmt.Errorf("convert %s to float32: not a float dtype", dt)
	}
	return nil
}

// FromFloat32 encodes src as little-endian dt (F32, F16 or BF16).
func FromFloat32(dt DType, src []float32) ([]byte, error) {
	switch dt {
	case F32:
		out := make([]byte, 4*len(src))
		for i, f := range src {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(f))
		}
		return out, nil
	case BF16:
		out := make([]byte, 2*len(src))
		for i, f := range src {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToBF16(f))
		}
		return out, nil
	case F16:
		out := make([]byte, 2*len(src))
		for i, f := range src {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToF16(f))
		}
		return out, nil
	}
	return nil, fmt.Errorf("convert float32 to %s: not a float dtype", dt)
}
