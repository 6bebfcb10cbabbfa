package timelock

import (
	"errors"
	"testing"
)

// FuzzDecrypt: Decrypt on arbitrary bytes never panics, and anything it
// refuses is refused with one of the package's errors.
func FuzzDecrypt(f *testing.F) {
	b, err := NewTestBeacon(seeded(7))
	if err != nil {
		f.Fatal(err)
	}
	sig, err := b.Sign(3)
	if err != nil {
		f.Fatal(err)
	}
	ct, err := Encrypt(b.Info().PublicKey, 3, []byte("seed"), seeded(3))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct)
	f.Add(ct[:96+8])
	f.Add([]byte{})
	f.Add(make([]byte, 300))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Decrypt(sig, data)
		if err != nil {
			if out != nil {
				t.Fatal("plaintext returned with an error")
			}
			if !errors.Is(err, ErrCiphertext) && !errors.Is(err, ErrDecrypt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
		}
	})
}

// FuzzDecodePayload: payload decoding never panics.
func FuzzDecodePayload(f *testing.F) {
	good, _ := (&Payload{UIDs: []uint16{1, 2}, Values: []uint16{3, 4}, VersionKey: 5}).Encode()
	f.Add(good)
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := DecodePayload(data); err == nil && len(p.UIDs) != len(p.Values) {
			t.Fatal("decoded unequal rows")
		}
	})
}
