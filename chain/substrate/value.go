package substrate

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/coldint/coldint/chain/scale"
)

// Value is a SCALE value decoded with the type registry. Exactly the fields
// that fit the type kind are set.
type Value struct {
	Kind    DefKind
	Name    string  // variant name
	Index   uint8   // variant index
	Fields  []Value // composite / variant fields, tuple and sequence items
	Names   []string
	Bytes   []byte   // u8 arrays and sequences
	Uint    uint64   // integers that fit in 64 bits (sign-extended for ints)
	Big     *big.Int // u128/u256/i128/i256 and big compacts
	Bool    bool
	Str     string
	TypeID  uint32
	IsBytes bool
}

// Field returns the composite/variant field called name.
func (v *Value) Field(name string) (*Value, bool) {
	for i, n := range v.Names {
		if n == name {
			return &v.Fields[i], true
		}
	}
	return nil, false
}

// String renders the value compactly, for error messages and logs.
func (v *Value) String() string {
	var b strings.Builder
	v.write(&b)
	return b.String()
}

func (v *Value) write(b *strings.Builder) {
	switch {
	case v.IsBytes:
		b.WriteString("0x" + hex.EncodeToString(v.Bytes))
		return
	case v.Kind == DefPrimitive || v.Kind == DefCompact:
		switch {
		case v.Big != nil:
			b.WriteString(v.Big.String())
		case v.Str != "":
			fmt.Fprintf(b, "%q", v.Str)
		default:
			fmt.Fprint(b, v.Uint)
		}
		return
	case v.Kind == DefVariant:
		b.WriteString(v.Name)
	}
	if len(v.Fields) == 0 {
		if v.Kind != DefVariant {
			b.WriteString("()")
		}
		return
	}
	b.WriteString("(")
	for i := range v.Fields {
		if i > 0 {
			b.WriteString(", ")
		}
		if i < len(v.Names) && v.Names[i] != "" {
			b.WriteString(v.Names[i] + ": ")
		}
		v.Fields[i].write(b)
	}
	b.WriteString(")")
}

const maxValueDepth = 64

// DecodeValue decodes one value of type id from d using the registry.
func (m *Metadata) DecodeValue(d *scale.Decoder, id uint32) Value {
	budget := maxValues
	return m.decodeValue(d, id, 0, &budget)
}

// maxValues bounds the number of values one DecodeValue call produces, so
// recursive zero-sized types cannot make it run forever.
const maxValues = 1 << 20

func (m *Metadata) decodeValue(d *scale.Decoder, id uint32, depth int, budget *int) Value {
	v := Value{TypeID: id}
	if d.Err() != nil {
		return v
	}
	if *budget--; *budget < 0 {
		d.Failf("value has more than %d parts", maxValues)
		return v
	}
	if int(id) >= len(m.Types) {
		d.Failf("type id %d out of range", id)
		return v
	}
	if depth > maxValueDepth {
		d.Failf("value nesting deeper than %d", maxValueDepth)
		return v
	}
	t := &m.Types[id]
	v.Kind = t.Kind
	switch t.Kind {
	case DefComposite:
		m.decodeFields(d, t.Fields, &v, depth, budget)
	case DefVariant:
		idx := d.U8()
		if d.Err() != nil {
			return v
		}
		for i := range t.Variants {
			if t.Variants[i].Index == idx {
				v.Name, v.Index = t.Variants[i].Name, idx
				m.decodeFields(d, t.Variants[i].Fields, &v, depth, budget)
				return v
			}
		}
		d.Failf("variant index %d of type %d (%s)", idx, id, strings.Join(t.Path, "::"))
	case DefSequence:
		if m.isU8(t.Elem) {
			v.Bytes, v.IsBytes = d.VecU8(), true
			return v
		}
		d.Vec(m.minSize(t.Elem, 0), func(int) {
			v.Fields = append(v.Fields, m.decodeValue(d, t.Elem, depth+1, budget))
		})
	case DefArray:
		if m.isU8(t.Elem) {
			v.Bytes, v.IsBytes = d.Raw(int(t.Len)), true
			return v
		}
		if uint64(t.Len)*uint64(m.minSize(t.Elem, 0)) > uint64(d.Remaining()) {
			d.Fail(fmt.Errorf("%w: array of %d", scale.ErrShort, t.Len))
			return v
		}
		for i := uint32(0); i < t.Len && d.Err() == nil; i++ {
			v.Fields = append(v.Fields, m.decodeValue(d, t.Elem, depth+1, budget))
		}
	case DefTuple:
		for _, e := range t.Tuple {
			v.Fields = append(v.Fields, m.decodeValue(d, e, depth+1, budget))
		}
	case DefPrimitive:
		m.decodePrimitive(d, t.Primitive, &v)
	case DefCompact:
		v.Big = d.CompactBig()
		if v.Big.IsUint64() {
			v.Uint, v.Big = v.Big.Uint64(), nil
		}
	case DefBitSequence:
		// Bits with a u8 store: compact bit count, then ceil(n/8) bytes.
		n := d.Compact()
		if d.Err() == nil {
			if n > uint64(d.Remaining())*8 {
				d.Fail(fmt.Errorf("%w: bit sequence of %d", scale.ErrTooLong, n))
				return v
			}
			v.Bytes, v.IsBytes = d.Raw(int((n+7)/8)), true
			v.Uint = n
		}
	}
	return v
}

func (m *Metadata) decodeFields(d *scale.Decoder, fs []Field, v *Value, depth int, budget *int) {
	for _, f := range fs {
		v.Names = append(v.Names, f.Name)
		v.Fields = append(v.Fields, m.decodeValue(d, f.Type, depth+1, budget))
	}
}

func (m *Metadata) isU8(id uint32) bool {
	return int(id) < len(m.Types) && m.Types[id].Kind == DefPrimitive && m.Types[id].Primitive == PrimU8
}

// minSize is a lower bound of the encoded size of a value of type id, used
// to bound allocations from hostile length prefixes.
func (m *Metadata) minSize(id uint32, _ int) int {
	if int(id) >= len(m.min) {
		return 0
	}
	return m.min[id]
}

func (m *Metadata) decodePrimitive(d *scale.Decoder, p Primitive, v *Value) {
	switch p {
	case PrimBool:
		v.Bool = d.Bool()
		if v.Bool {
			v.Uint = 1
		}
	case PrimChar:
		v.Uint = uint64(d.U32())
	case PrimStr:
		v.Str = d.Str()
	case PrimU8:
		v.Uint = uint64(d.U8())
	case PrimU16:
		v.Uint = uint64(d.U16())
	case PrimU32:
		v.Uint = uint64(d.U32())
	case PrimU64:
		v.Uint = d.U64()
	case PrimI8:
		v.Uint = uint64(int64(int8(d.U8())))
	case PrimI16:
		v.Uint = uint64(int64(int16(d.U16())))
	case PrimI32:
		v.Uint = uint64(int64(int32(d.U32())))
	case PrimI64:
		v.Uint = d.U64()
	case PrimU128, PrimU256, PrimI128, PrimI256:
		n := primSize[p]
		b := d.Raw(n)
		if b == nil {
			return
		}
		be := make([]byte, n)
		for i := range b {
			be[n-1-i] = b[i]
		}
		v.Big = new(big.Int).SetBytes(be)
		if (p == PrimI128 || p == PrimI256) && b[n-1]&0x80 != 0 {
			v.Big.Sub(v.Big, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
		}
		if v.Big.IsUint64() {
			v.Uint = v.Big.Uint64()
		}
	}
}
