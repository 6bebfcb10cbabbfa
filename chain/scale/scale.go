// Package scale implements the SCALE codec of Substrate (parity-scale-codec):
// fixed-width little-endian integers, compact integers, booleans, vectors,
// options, strings, tuples (fields in order) and enums (a u8 variant index
// followed by the variant's fields).
//
// Encoder appends to a byte slice. Decoder reads with bounds checks and a
// sticky error: after the first failure every read returns a zero value and
// Err reports the failure, so struct decoders can read all fields and check
// once. Decoding never panics on malformed input.
package scale

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"unicode/utf8"
)

// Errors reported by Decoder (wrapped with the offset where they occurred).
var (
	// ErrShort: the input ended before the value did.
	ErrShort = errors.New("unexpected end of input")
	// ErrInvalid: the bytes are not a valid encoding (bad bool, option tag,
	// non-canonical compact, invalid UTF-8, ...).
	ErrInvalid = errors.New("invalid encoding")
	// ErrTooLong: a length prefix is larger than the remaining input allows.
	ErrTooLong = errors.New("length exceeds input")
	// ErrTrailing: bytes remain after a complete value (see Decoder.Finish).
	ErrTrailing = errors.New("trailing bytes")
)

// MaxCompact is the largest value Compact encodes into 8 bytes or less.
const MaxCompact = ^uint64(0)

// Encoder builds a SCALE byte string. The zero value is ready to use.
type Encoder struct {
	buf []byte
}

// NewEncoder returns an Encoder that appends to buf.
func NewEncoder(buf []byte) *Encoder { return &Encoder{buf: buf} }

// Bytes returns the encoded bytes.
func (e *Encoder) Bytes() []byte { return e.buf }

// Len returns the number of bytes encoded so far.
func (e *Encoder) Len() int { return len(e.buf) }

// U8 appends v.
func (e *Encoder) U8(v uint8) *Encoder { e.buf = append(e.buf, v); return e }

// U16 appends v little-endian.
func (e *Encoder) U16(v uint16) *Encoder {
	e.buf = binary.LittleEndian.AppendUint16(e.buf, v)
	return e
}

// U32 appends v little-endian.
func (e *Encoder) U32(v uint32) *Encoder {
	e.buf = binary.LittleEndian.AppendUint32(e.buf, v)
	return e
}

// U64 appends v little-endian.
func (e *Encoder) U64(v uint64) *Encoder {
	e.buf = binary.LittleEndian.AppendUint64(e.buf, v)
	return e
}

// U128 appends the 128-bit value hi<<64|lo little-endian.
func (e *Encoder) U128(lo, hi uint64) *Encoder { return e.U64(lo).U64(hi) }

// Bool appends 0x01 for true and 0x00 for false.
func (e *Encoder) Bool(v bool) *Encoder {
	if v {
		return e.U8(1)
	}
	return e.U8(0)
}

// Compact appends the compact encoding of v.
func (e *Encoder) Compact(v uint64) *Encoder { e.buf = AppendCompact(e.buf, v); return e }

// Raw appends b as is (fixed-size arrays such as [u8; 32]).
func (e *Encoder) Raw(b []byte) *Encoder { e.buf = append(e.buf, b...); return e }

// VecU8 appends b as Vec<u8>: compact length, then the bytes.
func (e *Encoder) VecU8(b []byte) *Encoder { return e.Compact(uint64(len(b))).Raw(b) }

// Str appends s as a SCALE string (Vec<u8> of UTF-8).
func (e *Encoder) Str(s string) *Encoder { return e.Compact(uint64(len(s))).Raw([]byte(s)) }

// VecU16 appends v as Vec<u16>.
func (e *Encoder) VecU16(v []uint16) *Encoder {
	e.Compact(uint64(len(v)))
	for _, x := range v {
		e.U16(x)
	}
	return e
}

// Option appends the Option tag: 0x01 when some (the caller then appends the
// value), 0x00 when none.
func (e *Encoder) Option(some bool) *Encoder { return e.Bool(some) }

// AppendCompact appends the SCALE compact encoding of v to b.
func AppendCompact(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v<<2))
	case v < 1<<14:
		return binary.LittleEndian.AppendUint16(b, uint16(v<<2|1))
	case v < 1<<30:
		return binary.LittleEndian.AppendUint32(b, uint32(v<<2|2))
	}
	var tmp [8]byte
	binary.LittleEndian.PutUint64(tmp[:], v)
	n := 8
	for n > 4 && tmp[n-1] == 0 {
		n--
	}
	b = append(b, byte((n-4)<<2|3))
	return append(b, tmp[:n]...)
}

// Decoder reads SCALE values from a byte slice.
type Decoder struct {
	b   []byte
	off int
	err error
}

// NewDecoder returns a Decoder over b. It does not copy b.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Offset returns the number of bytes consumed.
func (d *Decoder) Offset() int { return d.off }

// Remaining returns the number of unread bytes.
func (d *Decoder) Remaining() int { return len(d.b) - d.off }

// Finish returns the first error, or ErrTrailing when input remains.
func (d *Decoder) Finish() error {
	if d.err != nil {
		return d.err
	}
	if d.off != len(d.b) {
		return fmt.Errorf("scale: %d %w at offset %d", len(d.b)-d.off, ErrTrailing, d.off)
	}
	return nil
}

// Fail records err (if no earlier error) and returns the recorded error. Type
// decoders built on Decoder use it for their own validation failures.
func (d *Decoder) Fail(err error) error {
	if d.err == nil {
		d.err = fmt.Errorf("scale: at offset %d: %w", d.off, err)
	}
	return d.err
}

// Failf records a formatted ErrInvalid error.
func (d *Decoder) Failf(format string, args ...any) error {
	return d.Fail(fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...))
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.Fail(fmt.Errorf("%w: need %d bytes, have %d", ErrShort, n, len(d.b)-d.off))
		return nil
	}
	s := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return s
}

// Raw returns the next n bytes (a fixed-size array); nil after an error. The
// slice aliases the input.
func (d *Decoder) Raw(n int) []byte { return d.take(n) }

// Array32 reads a [u8; 32].
func (d *Decoder) Array32() (a [32]byte) {
	copy(a[:], d.take(32))
	return a
}

// U8 reads a u8.
func (d *Decoder) U8() uint8 {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

// U16 reads a little-endian u16.
func (d *Decoder) U16() uint16 {
	b := d.take(2)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

// U32 reads a little-endian u32.
func (d *Decoder) U32() uint32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

// U64 reads a little-endian u64.
func (d *Decoder) U64() uint64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// U128 reads a little-endian u128 as (lo, hi).
func (d *Decoder) U128() (lo, hi uint64) { return d.U64(), d.U64() }

// Bool reads a bool; bytes other than 0 and 1 are ErrInvalid.
func (d *Decoder) Bool() bool {
	switch b := d.U8(); {
	case d.err != nil:
		return false
	case b == 0:
		return false
	case b == 1:
		return true
	default:
		d.Failf("bool byte 0x%02x", b)
		return false
	}
}

// Option reads an Option tag and reports whether a value follows.
func (d *Decoder) Option() bool {
	switch b := d.U8(); {
	case d.err != nil:
		return false
	case b == 0:
		return false
	case b == 1:
		return true
	default:
		d.Failf("option tag 0x%02x", b)
		return false
	}
}

// Compact reads a compact integer that fits in a u64. Non-canonical
// encodings (a longer form than needed) are ErrInvalid, as in Substrate.
func (d *Decoder) Compact() uint64 {
	first := d.U8()
	if d.err != nil {
		return 0
	}
	switch first & 3 {
	case 0:
		return uint64(first >> 2)
	case 1:
		b := d.take(1)
		if b == nil {
			return 0
		}
		v := uint64(binary.LittleEndian.Uint16([]byte{first, b[0]})) >> 2
		if v < 1<<6 {
			d.Failf("non-canonical compact %d", v)
			return 0
		}
		return v
	case 2:
		b := d.take(3)
		if b == nil {
			return 0
		}
		v := uint64(binary.LittleEndian.Uint32([]byte{first, b[0], b[1], b[2]})) >> 2
		if v < 1<<14 {
			d.Failf("non-canonical compact %d", v)
			return 0
		}
		return v
	}
	n := int(first>>2) + 4
	if n > 8 {
		d.Failf("compact of %d bytes overflows u64", n)
		return 0
	}
	b := d.take(n)
	if b == nil {
		return 0
	}
	var tmp [8]byte
	copy(tmp[:], b)
	v := binary.LittleEndian.Uint64(tmp[:])
	if b[n-1] == 0 || v < 1<<30 {
		d.Failf("non-canonical compact %d", v)
		return 0
	}
	return v
}

// CompactBig reads a compact integer of up to 67 bytes (u128 and wider).
func (d *Decoder) CompactBig() *big.Int {
	if d.err != nil {
		return new(big.Int)
	}
	if d.Remaining() > 0 && d.b[d.off]&3 != 3 {
		return new(big.Int).SetUint64(d.Compact())
	}
	first := d.U8()
	b := d.take(int(first>>2) + 4)
	if b == nil {
		return new(big.Int)
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1] == 0 || v.BitLen() <= 30 {
		d.Failf("non-canonical compact %s", v)
		return new(big.Int)
	}
	return v
}

// Len reads a compact length prefix of a sequence whose elements take at
// least minElem bytes each (0 allowed for zero-sized elements), and checks it
// against the remaining input so hostile prefixes cannot force large
// allocations.
func (d *Decoder) Len(minElem int) int {
	n := d.Compact()
	if d.err != nil {
		return 0
	}
	limit := uint64(d.Remaining())
	if minElem > 0 {
		limit /= uint64(minElem)
	} else {
		limit = 1 << 16
	}
	if n > limit {
		d.Fail(fmt.Errorf("%w: length %d with %d bytes left", ErrTooLong, n, d.Remaining()))
		return 0
	}
	return int(n)
}

// VecU8 reads a Vec<u8>. The slice aliases the input.
func (d *Decoder) VecU8() []byte {
	n := d.Len(1)
	if d.err != nil {
		return nil
	}
	return d.take(n)
}

// Str reads a SCALE string and checks that it is valid UTF-8.
func (d *Decoder) Str() string {
	b := d.VecU8()
	if d.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		d.Failf("string is not valid UTF-8")
		return ""
	}
	return string(b)
}

// decodeVec reads a compact length (bounded by the remaining input at
// minSize bytes per element) and then that many elements with read.
func decodeVec[T any](d *Decoder, minSize int, read func() T) []T {
	n := d.Len(minSize)
	if d.err != nil {
		return nil
	}
	out := make([]T, n)
	for i := range out {
		out[i] = read()
	}
	return out
}

// VecU16 reads a Vec<u16>.
func (d *Decoder) VecU16() []uint16 { return decodeVec(d, 2, d.U16) }

// VecU64 reads a Vec<u64>.
func (d *Decoder) VecU64() []uint64 { return decodeVec(d, 8, d.U64) }

// VecBool reads a Vec<bool>.
func (d *Decoder) VecBool() []bool { return decodeVec(d, 1, d.Bool) }

// Vec reads a compact length and calls elem that many times (stopping at the
// first error). minElem is the smallest encoded size of one element.
func (d *Decoder) Vec(minElem int, elem func(i int)) int {
	n := d.Len(minElem)
	for i := 0; i < n && d.err == nil; i++ {
		elem(i)
	}
	return n
}

// Strings reads a Vec<String>.
func (d *Decoder) Strings() []string {
	var out []string
	d.Vec(1, func(int) { out = append(out, d.Str()) })
	if d.err != nil {
		return nil
	}
	return out
}

// OptionString reads an Option<String> ("" when none).
func (d *Decoder) OptionString() string {
	if d.Option() {
		return d.Str()
	}
	return ""
}
