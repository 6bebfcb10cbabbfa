package substrate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/coldint/coldint/chain/scale"
)

// ErrMetadata marks metadata that cannot be decoded or lacks an item the
// client needs.
var ErrMetadata = errors.New("metadata")

// DefKind is the kind of a type definition in the portable registry.
type DefKind uint8

// Type definition kinds, numbered as in scale-info.
const (
	DefComposite DefKind = iota
	DefVariant
	DefSequence
	DefArray
	DefTuple
	DefPrimitive
	DefCompact
	DefBitSequence
)

// Primitive is a scale-info primitive type.
type Primitive uint8

// Primitive types, numbered as in scale-info.
const (
	PrimBool Primitive = iota
	PrimChar
	PrimStr
	PrimU8
	PrimU16
	PrimU32
	PrimU64
	PrimU128
	PrimU256
	PrimI8
	PrimI16
	PrimI32
	PrimI64
	PrimI128
	PrimI256
)

var primSize = [...]int{PrimBool: 1, PrimChar: 4, PrimStr: -1, PrimU8: 1, PrimU16: 2, PrimU32: 4, PrimU64: 8,
	PrimU128: 16, PrimU256: 32, PrimI8: 1, PrimI16: 2, PrimI32: 4, PrimI64: 8, PrimI128: 16, PrimI256: 32}

// Field is a named or unnamed field of a composite type or variant.
type Field struct {
	Name     string
	Type     uint32
	TypeName string
}

// Variant is one variant of an enum type.
type Variant struct {
	Name   string
	Index  uint8
	Fields []Field
	Docs   []string
}

// Type is one entry of the portable type registry.
type Type struct {
	Path      []string
	Kind      DefKind
	Fields    []Field   // composite
	Variants  []Variant // variant
	Elem      uint32    // sequence, array, compact, bitsequence store
	Len       uint32    // array
	Tuple     []uint32  // tuple
	Primitive Primitive // primitive
}

// StorageEntry is one storage item of a pallet.
type StorageEntry struct {
	Name     string
	Optional bool // modifier Optional: absent values decode as None
	Hashers  []Hasher
	Key      uint32 // key type id (maps only)
	Value    uint32
	Default  []byte
}

// Constant is a pallet constant with its SCALE value.
type Constant struct {
	Name  string
	Type  uint32
	Value []byte
}

// Pallet is one pallet (module) of the runtime.
type Pallet struct {
	Name          string
	Index         uint8
	StoragePrefix string
	Storage       []StorageEntry
	Calls         *uint32
	Event         *uint32
	Error         *uint32
	Constants     []Constant
}

// SignedExtension is one transaction extension, in the order the runtime expects.
type SignedExtension struct {
	Identifier       string
	Type             uint32 // the explicit ("extra") part
	AdditionalSigned uint32 // the implicit part, signed but not sent
}

// Metadata is decoded runtime metadata V14.
type Metadata struct {
	Types            []Type
	Pallets          []Pallet
	ExtrinsicType    uint32
	ExtrinsicVersion uint8
	Extensions       []SignedExtension
	RuntimeType      uint32

	// Per-type size facts, computed once after decoding (cycle-safe).
	fixed []int  // encoded size of fixed-size types, -1 otherwise
	min   []int  // lower bound of the encoded size
	zero  []bool // zero-sized
}

const metaMagic = 0x6174656d // "meta" little-endian

// DecodeMetadata decodes the bytes of state_getMetadata (magic "meta",
// version 14). Other versions are errors.
func DecodeMetadata(b []byte) (*Metadata, error) {
	d := scale.NewDecoder(b)
	if magic := d.U32(); d.Err() == nil && magic != metaMagic {
		return nil, fmt.Errorf("decode metadata: bad magic 0x%08x: %w", magic, ErrMetadata)
	}
	if v := d.U8(); d.Err() == nil && v != 14 {
		return nil, fmt.Errorf("decode metadata: version %d, want 14: %w", v, ErrMetadata)
	}
	m := &Metadata{}
	d.Vec(2, func(i int) {
		id := d.Compact()
		if d.Err() == nil && id != uint64(i) {
			d.Failf("type id %d at position %d", id, i)
			return
		}
		m.Types = append(m.Types, decodeType(d))
	})
	d.Vec(4, func(int) { m.Pallets = append(m.Pallets, decodePallet(d)) })
	m.ExtrinsicType = uint32(d.Compact())
	m.ExtrinsicVersion = d.U8()
	d.Vec(3, func(int) {
		m.Extensions = append(m.Extensions, SignedExtension{Identifier: d.Str(), Type: uint32(d.Compact()), AdditionalSigned: uint32(d.Compact())})
	})
	m.RuntimeType = uint32(d.Compact())
	if err := d.Finish(); err != nil {
		return nil, fmt.Errorf("decode metadata: %w: %w", ErrMetadata, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	m.computeSizes()
	return m, nil
}

func decodeFields(d *scale.Decoder) []Field {
	var fs []Field
	d.Vec(2, func(int) {
		f := Field{Name: d.OptionString(), Type: uint32(d.Compact()), TypeName: d.OptionString()}
		d.Strings()
		fs = append(fs, f)
	})
	return fs
}

func decodeType(d *scale.Decoder) Type {
	t := Type{Path: d.Strings()}
	d.Vec(2, func(int) {
		d.Str()
		if d.Option() {
			d.Compact()
		}
	})
	t.Kind = DefKind(d.U8())
	switch t.Kind {
	case DefComposite:
		t.Fields = decodeFields(d)
	case DefVariant:
		d.Vec(4, func(int) {
			v := Variant{Name: d.Str(), Fields: decodeFields(d), Index: d.U8(), Docs: d.Strings()}
			t.Variants = append(t.Variants, v)
		})
	case DefSequence, DefCompact:
		t.Elem = uint32(d.Compact())
	case DefArray:
		t.Len = d.U32()
		t.Elem = uint32(d.Compact())
	case DefTuple:
		d.Vec(1, func(int) { t.Tuple = append(t.Tuple, uint32(d.Compact())) })
	case DefPrimitive:
		t.Primitive = Primitive(d.U8())
		if d.Err() == nil && int(t.Primitive) >= len(primSize) {
			d.Failf("primitive %d", t.Primitive)
		}
	case DefBitSequence:
		t.Elem = uint32(d.Compact())
		d.Compact()
	default:
		if d.Err() == nil {
			d.Failf("type definition kind %d", t.Kind)
		}
	}
	d.Strings()
	return t
}

func optCompact(d *scale.Decoder) *uint32 {
	if !d.Option() {
		return nil
	}
	v := uint32(d.Compact())
	return &v
}

func decodePallet(d *scale.Decoder) Pallet {
	p := Pallet{Name: d.Str()}
	if d.Option() {
		p.StoragePrefix = d.Str()
		d.Vec(4, func(int) {
			e := StorageEntry{Name: d.Str()}
			switch mod := d.U8(); mod {
			case 0:
				e.Optional = true
			case 1:
			default:
				d.Failf("storage modifier %d", mod)
			}
			switch kind := d.U8(); kind {
			case 0:
				e.Value = uint32(d.Compact())
			case 1:
				d.Vec(1, func(int) {
					h := Hasher(d.U8())
					if int(h) >= len(hasherNames) {
						d.Failf("storage hasher %d", h)
					}
					e.Hashers = append(e.Hashers, h)
				})
				e.Key = uint32(d.Compact())
				e.Value = uint32(d.Compact())
			default:
				d.Failf("storage entry kind %d", kind)
			}
			e.Default = d.VecU8()
			d.Strings()
			p.Storage = append(p.Storage, e)
		})
	}
	p.Calls = optCompact(d)
	p.Event = optCompact(d)
	d.Vec(3, func(int) {
		c := Constant{Name: d.Str(), Type: uint32(d.Compact()), Value: d.VecU8()}
		d.Strings()
		p.Constants = append(p.Constants, c)
	})
	p.Error = optCompact(d)
	p.Index = d.U8()
	return p
}

// check verifies that every type reference points into the registry, so
// later lookups cannot index out of range.
func (m *Metadata) check() error {
	n := uint32(len(m.Types))
	bad := func(id uint32, where string) error {
		if id >= n {
			return fmt.Errorf("%w: type id %d in %s out of range (%d types)", ErrMetadata, id, where, n)
		}
		return nil
	}
	for i, t := range m.Types {
		where := fmt.Sprintf("type %d", i)
		for _, f := range t.Fields {
			if err := bad(f.Type, where); err != nil {
				return err
			}
		}
		for _, v := range t.Variants {
			for _, f := range v.Fields {
				if err := bad(f.Type, where); err != nil {
					return err
				}
			}
		}
		for _, e := range t.Tuple {
			if err := bad(e, where); err != nil {
				return err
			}
		}
		if t.Kind == DefSequence || t.Kind == DefArray || t.Kind == DefCompact || t.Kind == DefBitSequence {
			if err := bad(t.Elem, where); err != nil {
				return err
			}
		}
	}
	for _, p := range m.Pallets {
		for _, id := range []*uint32{p.Calls, p.Event, p.Error} {
			if id != nil {
				if err := bad(*id, p.Name); err != nil {
					return err
				}
				if m.Types[*id].Kind != DefVariant {
					return fmt.Errorf("%w: %s: calls/events/errors type %d is not an enum", ErrMetadata, p.Name, *id)
				}
			}
		}
		for _, e := range p.Storage {
			if err := bad(e.Value, p.Name+"."+e.Name); err != nil {
				return err
			}
			if err := bad(e.Key, p.Name+"."+e.Name); err != nil {
				return err
			}
		}
		for _, c := range p.Constants {
			if err := bad(c.Type, p.Name+"."+c.Name); err != nil {
				return err
			}
		}
	}
	for _, e := range m.Extensions {
		if err := bad(e.Type, e.Identifier); err != nil {
			return err
		}
		if err := bad(e.AdditionalSigned, e.Identifier); err != nil {
			return err
		}
	}
	return nil
}

// Pallet returns the pallet named name.
func (m *Metadata) Pallet(name string) (*Pallet, error) {
	for i := range m.Pallets {
		if m.Pallets[i].Name == name {
			return &m.Pallets[i], nil
		}
	}
	return nil, fmt.Errorf("pallet %q: %w: not in runtime", name, ErrMetadata)
}

// PalletByIndex returns the pallet with the given index.
func (m *Metadata) PalletByIndex(idx uint8) (*Pallet, error) {
	for i := range m.Pallets {
		if m.Pallets[i].Index == idx {
			return &m.Pallets[i], nil
		}
	}
	return nil, fmt.Errorf("pallet index %d: %w: not in runtime", idx, ErrMetadata)
}

// Call returns the call variant pallet.call and its two-byte index.
func (m *Metadata) Call(pallet, call string) (*Variant, [2]byte, error) {
	p, err := m.Pallet(pallet)
	if err != nil {
		return nil, [2]byte{}, err
	}
	if p.Calls == nil {
		return nil, [2]byte{}, fmt.Errorf("call %s.%s: %w: pallet has no calls", pallet, call, ErrMetadata)
	}
	for i, v := range m.Types[*p.Calls].Variants {
		if v.Name == call {
			return &m.Types[*p.Calls].Variants[i], [2]byte{p.Index, v.Index}, nil
		}
	}
	return nil, [2]byte{}, fmt.Errorf("call %s.%s: %w: not in runtime", pallet, call, ErrMetadata)
}

// Storage returns the storage entry pallet.item.
func (m *Metadata) Storage(pallet, item string) (*StorageEntry, error) {
	p, err := m.Pallet(pallet)
	if err != nil {
		return nil, err
	}
	for i := range p.Storage {
		if p.Storage[i].Name == item {
			return &p.Storage[i], nil
		}
	}
	return nil, fmt.Errorf("storage %s.%s: %w: not in runtime", pallet, item, ErrMetadata)
}

// StorageKey builds the key (or, with fewer keys than hashers, the prefix)
// of pallet.item using the hashers from the metadata.
func (m *Metadata) StorageKey(pallet, item string, keys ...[]byte) ([]byte, error) {
	e, err := m.Storage(pallet, item)
	if err != nil {
		return nil, err
	}
	p, _ := m.Pallet(pallet)
	prefix := p.StoragePrefix
	if prefix == "" {
		prefix = pallet
	}
	return StorageKey(prefix, item, e.Hashers, keys...)
}

// Constant returns the SCALE value of pallet constant pallet.name.
func (m *Metadata) Constant(pallet, name string) ([]byte, error) {
	p, err := m.Pallet(pallet)
	if err != nil {
		return nil, err
	}
	for _, c := range p.Constants {
		if c.Name == name {
			return c.Value, nil
		}
	}
	return nil, fmt.Errorf("constant %s.%s: %w: not in runtime", pallet, name, ErrMetadata)
}

// ErrorVariant names dispatch error (pallet index, error index).
func (m *Metadata) ErrorVariant(palletIdx, errIdx uint8) (pallet, name, docs string, err error) {
	p, err := m.PalletByIndex(palletIdx)
	if err != nil {
		return "", "", "", err
	}
	if p.Error == nil {
		return p.Name, "", "", fmt.Errorf("error %d of %s: %w: pallet has no errors", errIdx, p.Name, ErrMetadata)
	}
	for _, v := range m.Types[*p.Error].Variants {
		if v.Index == errIdx {
			return p.Name, v.Name, strings.TrimSpace(strings.Join(v.Docs, " ")), nil
		}
	}
	return p.Name, "", "", fmt.Errorf("error %d of %s: %w: unknown", errIdx, p.Name, ErrMetadata)
}

const (
	sizeUnknown = iota
	sizeBusy
	sizeDone
)

// computeSizes fills the fixed/min/zero tables with a memoised walk; a
// type met again while its own size is being computed (a recursive type) is
// treated as variable-sized, 0 bytes minimum, not zero-sized.
func (m *Metadata) computeSizes() {
	n := len(m.Types)
	m.fixed, m.min, m.zero = make([]int, n), make([]int, n), make([]bool, n)
	state := make([]uint8, n)
	var walk func(id uint32) (fixed, min int, zero bool)
	walk = func(id uint32) (int, int, bool) {
		switch state[id] {
		case sizeBusy:
			return -1, 0, false
		case sizeDone:
			return m.fixed[id], m.min[id], m.zero[id]
		}
		state[id] = sizeBusy
		t := &m.Types[id]
		fixed, minSz, zero := -1, 0, false
		sum := func(ids []uint32) {
			fixed, minSz, zero = 0, 0, true
			for _, e := range ids {
				f, mn, z := walk(e)
				if f < 0 || fixed < 0 {
					fixed = -1
				} else {
					fixed += f
				}
				minSz = min(minSz+mn, 1<<30)
				zero = zero && z
			}
		}
		switch t.Kind {
		case DefPrimitive:
			fixed = primSize[t.Primitive]
			minSz = max(fixed, 1)
		case DefCompact, DefSequence, DefVariant, DefBitSequence:
			minSz = 1
		case DefArray:
			f, mn, z := walk(t.Elem)
			if f >= 0 && uint64(f)*uint64(t.Len) < 1<<30 {
				fixed = f * int(t.Len)
			}
			minSz = int(min(uint64(mn)*uint64(t.Len), 1<<30))
			zero = t.Len == 0 || z
		case DefComposite:
			ids := make([]uint32, len(t.Fields))
			for i, f := range t.Fields {
				ids[i] = f.Type
			}
			sum(ids)
		case DefTuple:
			sum(t.Tuple)
		}
		if zero {
			fixed = 0
		}
		m.fixed[id], m.min[id], m.zero[id] = fixed, minSz, zero
		state[id] = sizeDone
		return fixed, minSz, zero
	}
	for id := range m.Types {
		walk(uint32(id))
	}
}
