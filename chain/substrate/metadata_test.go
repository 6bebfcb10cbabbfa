package substrate

import (
	"errors"
	"strings"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/scale"
)

// testMetadata encodes a small V14 metadata by hand: one pallet "Test"
// (index 7) with storage, calls, events, a constant and errors.
func testMetadata() []byte {
	e := new(scale.Encoder)
	e.U32(metaMagic).U8(14)
	noParams := func() { e.Compact(0).Compact(0) } // path, params
	field := func(name string, ty uint64) {
		if name == "" {
			e.Option(false)
		} else {
			e.Option(true).Str(name)
		}
		e.Compact(ty).Option(false).Compact(0)
	}
	e.Compact(10)
	// 0: u8
	e.Compact(0)
	noParams()
	e.U8(uint8(DefPrimitive)).U8(uint8(PrimU8)).Compact(0)
	// 1: u16
	e.Compact(1)
	noParams()
	e.U8(uint8(DefPrimitive)).U8(uint8(PrimU16)).Compact(0)
	// 2: AccountId32([u8;32])
	e.Compact(2).Compact(1).Str("AccountId32").Compact(0)
	e.U8(uint8(DefComposite)).Compact(1)
	field("", 3)
	e.Compact(0)
	// 3: [u8; 32]
	e.Compact(3)
	noParams()
	e.U8(uint8(DefArray)).U32(32).Compact(0).Compact(0)
	// 4: Call enum
	e.Compact(4)
	noParams()
	e.U8(uint8(DefVariant)).Compact(2)
	e.Str("set_thing").Compact(2)
	field("netuid", 1)
	field("who", 2)
	e.U8(0).Compact(0)
	e.Str("other").Compact(1)
	field("data", 6)
	e.U8(5).Compact(0)
	e.Compact(0)
	// 5: Error enum
	e.Compact(5)
	noParams()
	e.U8(uint8(DefVariant)).Compact(1)
	e.Str("SettingWeightsTooFast").Compact(0).U8(3).Compact(1).Str("Too fast.")
	e.Compact(0)
	// 6: Vec<u8>
	e.Compact(6)
	noParams()
	e.U8(uint8(DefSequence)).Compact(0).Compact(0)
	// 7: () empty composite
	e.Compact(7)
	noParams()
	e.U8(uint8(DefComposite)).Compact(0).Compact(0)
	// 8: Event enum
	e.Compact(8)
	noParams()
	e.U8(uint8(DefVariant)).Compact(1)
	e.Str("Happened").Compact(1)
	field("", 1)
	e.U8(0).Compact(0)
	e.Compact(0)
	// 9: (u16, AccountId32)
	e.Compact(9)
	noParams()
	e.U8(uint8(DefTuple)).Compact(2).Compact(1).Compact(2).Compact(0)

	// Pallets
	e.Compact(1)
	e.Str("Test").Option(true).Str("Test").Compact(2)
	e.Str("Plain").U8(1).U8(0).Compact(1).VecU8([]byte{5, 0}).Compact(0)
	e.Str("Map").U8(0).U8(1).Compact(2).U8(uint8(IdentityHasher)).U8(uint8(Twox64ConcatHasher)).Compact(9).Compact(6).VecU8(nil).Compact(0)
	e.Option(true).Compact(4) // calls
	e.Option(true).Compact(8) // event
	e.Compact(1).Str("Limit").Compact(1).VecU8([]byte{100, 0}).Compact(0)
	e.Option(true).Compact(5) // error
	e.U8(7)
	// Extrinsic
	e.Compact(6).U8(4).Compact(3)
	e.Str("CheckNonce").Compact(7).Compact(7)
	e.Str("CheckGenesis").Compact(7).Compact(7)
	e.Str("Zero").Compact(7).Compact(7)
	e.Compact(7)
	return e.Bytes()
}

func TestDecodeMetadata(t *testing.T) {
	m, err := DecodeMetadata(testMetadata())
	if err != nil {
		t.Fatal(err)
	}
	v, idx, err := m.Call("Test", "set_thing")
	if err != nil || idx != [2]byte{7, 0} || len(v.Fields) != 2 {
		t.Fatalf("Call = %v %v %v", v, idx, err)
	}
	if _, _, err := m.Call("Test", "nope"); !errors.Is(err, ErrMetadata) {
		t.Errorf("missing call: %v", err)
	}
	var who chain.AccountID
	who[0] = 1
	call, err := m.BuildCall("Test", "set_thing", u16le(3), who[:])
	if err != nil || len(call) != 2+2+32 {
		t.Fatalf("BuildCall = %x %v", call, err)
	}
	if _, err := m.BuildCall("Test", "set_thing", []byte{1, 2, 3}, who[:]); err == nil || !strings.Contains(err.Error(), `"netuid"`) {
		t.Errorf("wrong arg size: %v", err)
	}
	if _, err := m.BuildCall("Test", "set_thing", u16le(3)); err == nil {
		t.Error("missing arg accepted")
	}
	if c, err := m.BuildCall("Test", "other", []byte{0}); err != nil || c[1] != 5 {
		t.Errorf("variable-size arg: %x %v", c, err)
	}
	e, err := m.Storage("Test", "Map")
	if err != nil || !e.Optional || len(e.Hashers) != 2 || e.Hashers[1] != Twox64ConcatHasher {
		t.Fatalf("Storage = %+v %v", e, err)
	}
	key, err := m.StorageKey("Test", "Map", u16le(2), who[:])
	if err != nil || len(key) != 32+2+8+32 {
		t.Fatalf("StorageKey = %x %v", key, err)
	}
	if p, _ := m.Storage("Test", "Plain"); p.Optional || string(p.Default) != "\x05\x00" {
		t.Errorf("Plain = %+v", p)
	}
	pallet, name, docs, err := m.ErrorVariant(7, 3)
	if err != nil || pallet != "Test" || name != "SettingWeightsTooFast" || docs != "Too fast." {
		t.Errorf("ErrorVariant = %q %q %q %v", pallet, name, docs, err)
	}
	if _, _, _, err := m.ErrorVariant(7, 9); err == nil {
		t.Error("unknown error index accepted")
	}
	if c, err := m.Constant("Test", "Limit"); err != nil || c[0] != 100 {
		t.Errorf("Constant = %v %v", c, err)
	}
	extra, add, err := m.SignedExtras(SignedParams{Nonce: 64})
	if err != nil || len(extra) != 2 || len(add) != 32 {
		t.Errorf("SignedExtras = %x %x %v", extra, add, err)
	}
	// Dispatch error mapping from a decoded DispatchError-like value.
	me := m.dispatchError(&Value{Kind: DefVariant, Name: "Module", Fields: []Value{{
		Kind: DefComposite, Names: []string{"index", "error"},
		Fields: []Value{{Uint: 7}, {IsBytes: true, Bytes: []byte{3, 0, 0, 0}}},
	}}})
	if !errors.Is(me, chain.ErrRateLimited) || !strings.Contains(me.Error(), "Test.SettingWeightsTooFast") {
		t.Errorf("dispatchError = %v", me)
	}
	// Generic value decoding.
	d := scale.NewDecoder(append([]byte{0}, u16le(42)...))
	val := m.DecodeValue(d, 8)
	if d.Finish() != nil || val.Name != "Happened" || val.Fields[0].Uint != 42 || val.String() != "Happened(42)" {
		t.Errorf("DecodeValue = %s %v", val.String(), d.Finish())
	}
}

// TestRecursiveTypes checks that self-referencing types neither hang the
// size tables nor the generic decoder.
func TestRecursiveTypes(t *testing.T) {
	m := &Metadata{Types: []Type{
		{Kind: DefTuple, Tuple: []uint32{0, 0}},          // 0 = (0, 0): infinite zero-sized recursion
		{Kind: DefComposite, Fields: []Field{{Type: 1}}}, // 1 = struct{1}
		{Kind: DefSequence, Elem: 2},                     // 2 = Vec<2>
	}}
	m.computeSizes()
	for id := uint32(0); id < 3; id++ {
		d := scale.NewDecoder([]byte{4, 0, 0, 0})
		m.DecodeValue(d, id)
		if id < 2 && d.Err() == nil {
			t.Errorf("type %d: no error", id)
		}
	}
}

func TestDecodeMetadataErrors(t *testing.T) {
	good := testMetadata()
	bad := append([]byte{}, good...)
	bad[0] = 'x'
	if _, err := DecodeMetadata(bad); err == nil || !strings.Contains(err.Error(), "magic") {
		t.Errorf("bad magic: %v", err)
	}
	bad = append([]byte{}, good...)
	bad[4] = 15
	if _, err := DecodeMetadata(bad); err == nil || !strings.Contains(err.Error(), "version 15") {
		t.Errorf("v15: %v", err)
	}
	for n := 0; n < len(good); n++ {
		if _, err := DecodeMetadata(good[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	if _, err := DecodeMetadata(append(good, 0)); err == nil {
		t.Error("trailing byte accepted")
	}
}

func FuzzMetadata(f *testing.F) {
	f.Add(testMetadata())
	f.Add([]byte("meta\x0e"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMetadata(b)
		if err != nil {
			return
		}
		// Every lookup and generic decode must be safe on accepted metadata.
		for _, p := range m.Pallets {
			m.Call(p.Name, "x")
			m.ErrorVariant(p.Index, 0)
			for _, e := range p.Storage {
				m.StorageKey(p.Name, e.Name)
				d := scale.NewDecoder(e.Default)
				m.DecodeValue(d, e.Value)
			}
		}
		for id := range m.Types {
			m.DecodeValue(scale.NewDecoder(b), uint32(id))
			m.fixedSize(uint32(id), 0)
			m.zeroSized(uint32(id), 0)
		}
		m.SignedExtras(SignedParams{})
	})
}

func FuzzDecodeRegistration(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x04\x19coldint:deadbeefcafe0123"))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x00\x0a\x00\x00\x00\x04\x88\x08ab"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRegistration(b)
		if err != nil {
			return
		}
		if s, err := r.Text(); err == nil {
			chain.ParseModelID(s)
		}
	})
}

func FuzzDecodeNeurons(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{4, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeNeuronsLite(b)
		DecodeWeights(b)
	})
}
