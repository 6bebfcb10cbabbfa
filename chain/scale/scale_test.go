package scale

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/coldint/coldint/internal/testenv"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type scaleVectors struct {
	Scale struct {
		Compact []struct {
			N   string `json:"n"`
			Hex string `json:"hex"`
		} `json:"compact"`
		VecU16     string `json:"vec_u16_0_1_65535"`
		U64_1000   string `json:"u64_1000"`
		OptionNone string `json:"option_none"`
		BoolTrue   string `json:"bool_true"`
	} `json:"scale"`
}

func TestVectors(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.Shared(t), "spec", "chain-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v scaleVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Scale.Compact) == 0 {
		t.Fatal("no compact vectors")
	}
	for _, c := range v.Scale.Compact {
		n, err := strconv.ParseUint(c.N, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		want := unhex(t, c.Hex)
		if got := AppendCompact(nil, n); hex.EncodeToString(got) != hex.EncodeToString(want) {
			t.Errorf("compact(%d) = %x, want %x", n, got, want)
		}
		d := NewDecoder(want)
		if got := d.Compact(); got != n || d.Finish() != nil {
			t.Errorf("decode %x = %d (%v), want %d", want, got, d.Finish(), n)
		}
		d = NewDecoder(want)
		if got := d.CompactBig(); got.Cmp(new(big.Int).SetUint64(n)) != 0 || d.Finish() != nil {
			t.Errorf("decode big %x = %s (%v)", want, got, d.Finish())
		}
	}
	check := func(name string, got []byte, want string) {
		t.Helper()
		if hex.EncodeToString(got) != strings.TrimPrefix(want, "0x") {
			t.Errorf("%s = %x, want %s", name, got, want)
		}
	}
	check("vec_u16", new(Encoder).VecU16([]uint16{0, 1, 65535}).Bytes(), v.Scale.VecU16)
	check("u64_1000", new(Encoder).U64(1000).Bytes(), v.Scale.U64_1000)
	check("option_none", new(Encoder).Option(false).Bytes(), v.Scale.OptionNone)
	check("bool_true", new(Encoder).Bool(true).Bytes(), v.Scale.BoolTrue)

	d := NewDecoder(unhex(t, v.Scale.VecU16))
	if got := d.VecU16(); len(got) != 3 || got[2] != 65535 || d.Finish() != nil {
		t.Errorf("decode vec_u16 = %v %v", got, d.Finish())
	}
}

func TestRoundTrip(t *testing.T) {
	e := new(Encoder)
	e.U8(7).U16(0xbeef).U32(0xdeadbeef).U64(1<<63+5).U128(1, 2).Bool(true).Bool(false).
		Compact(0).Compact(1 << 40).Str("héllo").VecU8([]byte{1, 2}).VecU16([]uint16{9}).
		Option(true).U8(1).Option(false).Raw(make([]byte, 32))
	d := NewDecoder(e.Bytes())
	lo, hi := uint64(0), uint64(0)
	vals := []any{d.U8(), d.U16(), d.U32(), d.U64()}
	lo, hi = d.U128()
	vals = append(vals, lo, hi, d.Bool(), d.Bool(), d.Compact(), d.Compact(), d.Str(), string(d.VecU8()), d.VecU16()[0],
		d.Option(), d.U8(), d.Option(), d.Array32())
	if err := d.Finish(); err != nil {
		t.Fatal(err)
	}
	want := []any{uint8(7), uint16(0xbeef), uint32(0xdeadbeef), uint64(1<<63 + 5), uint64(1), uint64(2), true, false,
		uint64(0), uint64(1 << 40), "héllo", "\x01\x02", uint16(9), true, uint8(1), false, [32]byte{}}
	for i := range want {
		if vals[i] != want[i] {
			t.Errorf("value %d = %v, want %v", i, vals[i], want[i])
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		read func(d *Decoder)
		want error
	}{
		{"short u32", "010203", func(d *Decoder) { d.U32() }, ErrShort},
		{"bad bool", "02", func(d *Decoder) { d.Bool() }, ErrInvalid},
		{"bad option", "05", func(d *Decoder) { d.Option() }, ErrInvalid},
		{"noncanonical 2-byte", "0100", func(d *Decoder) { d.Compact() }, ErrInvalid},
		{"noncanonical 4-byte", "02000000", func(d *Decoder) { d.Compact() }, ErrInvalid},
		{"noncanonical big", "0300000000", func(d *Decoder) { d.Compact() }, ErrInvalid},
		{"compact overflow", "17ffffffffffffffffff", func(d *Decoder) { d.Compact() }, ErrInvalid},
		{"huge vec", "feffffff00", func(d *Decoder) { d.VecU16() }, ErrTooLong},
		{"bad utf8", "04ff", func(d *Decoder) { d.Str() }, ErrInvalid},
		{"trailing", "0000", func(d *Decoder) { d.U8() }, ErrTrailing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(unhex(t, tt.in))
			tt.read(d)
			err := d.Finish()
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// Sticky: reads after an error return zero values.
	d := NewDecoder([]byte{1})
	d.U16()
	if d.U8() != 0 || d.Err() == nil {
		t.Fatal("error not sticky")
	}
}

// FuzzDecode drives the decoder with an op sequence taken from the input
// itself: it must never panic, and values that decode must re-encode to the
// bytes they came from.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{3, 0x13, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{5, 0x0c, 0, 0, 1, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		d := NewDecoder(in[1:])
		ops := in[0]
		for i := 0; i < 8 && d.Err() == nil && d.Remaining() > 0; i++ {
			start := d.Offset()
			var re []byte
			switch (ops + byte(i)) % 9 {
			case 0:
				re = AppendCompact(nil, d.Compact())
			case 1:
				re = new(Encoder).Bool(d.Bool()).Bytes()
			case 2:
				re = new(Encoder).Str(d.Str()).Bytes()
			case 3:
				re = new(Encoder).U64(d.U64()).Bytes()
			case 4:
				v := d.VecU16()
				re = new(Encoder).VecU16(v).Bytes()
			case 5:
				re = new(Encoder).VecU8(d.VecU8()).Bytes()
			case 6:
				d.CompactBig()
				continue
			case 7:
				d.VecBool()
				continue
			case 8:
				d.Strings()
				continue
			}
			if d.Err() == nil && hex.EncodeToString(re) != hex.EncodeToString(in[1+start:1+d.Offset()]) {
				t.Fatalf("re-encode %x != %x", re, in[1+start:1+d.Offset()])
			}
		}
	})
}
