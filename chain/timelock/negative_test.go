package timelock

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/big"
	"testing"

	bls "github.com/consensys/gnark-crypto/ecc/bls12-381"
)

// TestDecryptRejects: every tampered region, a wrong round's signature and
// malformed input fail with the right error and no plaintext.
func TestDecryptRejects(t *testing.T) {
	b := testBeacon(t)
	const round = 5000
	msg := []byte("payload under test")
	ct, err := Encrypt(b.Info().PublicKey, round, msg, seeded(3))
	if err != nil {
		t.Fatal(err)
	}
	sig := sign(t, b, round)
	flip := func(i int) []byte { c := bytes.Clone(ct); c[i] ^= 1; return c }
	bodyStart := 96 + 40 + 40 + 8 + 8 // first byte of the AES output
	for _, tc := range []struct {
		name string
		sig  []byte
		ct   []byte
		want error
	}{
		{"U", sig, flip(50), nil}, // a flipped U is either not a point or fails the check
		{"V", sig, flip(96 + 8 + 3), ErrDecrypt},
		{"W", sig, flip(96 + 40 + 8 + 3), ErrDecrypt},
		{"AES body", sig, flip(bodyStart + 2), ErrDecrypt},
		{"AES tag", sig, flip(bodyStart + len(msg) + 3), ErrDecrypt},
		{"nonce", sig, flip(len(ct) - 16 - 5), ErrDecrypt},
		{"cipher suite", sig, flip(len(ct) - 1), ErrCiphertext},
		{"V length", sig, flip(96), ErrCiphertext},
		{"truncated", sig, ct[:len(ct)-1], ErrCiphertext},
		{"trailing byte", sig, append(bytes.Clone(ct), 0), ErrCiphertext},
		{"empty", sig, nil, ErrCiphertext},
		{"next round's signature", sign(t, b, round+1), ct, ErrDecrypt},
		{"other beacon's signature", sign(t, mustBeacon(t, 8), round), ct, ErrDecrypt},
		{"short signature", sig[:47], ct, ErrSignature},
		{"signature not a point", bytes.Repeat([]byte{0xff}, 48), ct, ErrSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decrypt(tc.sig, tc.ct)
			if err == nil {
				t.Fatalf("decrypted %q, want an error", got)
			}
			if got != nil {
				t.Errorf("returned %d bytes with the error", len(got))
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if tc.want == nil && !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrCiphertext) {
				t.Errorf("error %v, want ErrDecrypt or ErrCiphertext", err)
			}
		})
	}
	if got, err := Decrypt(sig, ct); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("untouched ciphertext: %q, %v", got, err)
	}
}

func mustBeacon(t testing.TB, seed uint64) *TestBeacon {
	t.Helper()
	b, err := NewTestBeacon(seeded(seed))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParsePublicKey(t *testing.T) {
	q := Quicknet()
	if got := q.PublicKey.Bytes(); !bytes.Equal(got, mustHex(t, QuicknetPublicKeyHex)) {
		t.Fatalf("quicknet key round trip: %x", got)
	}
	for name, in := range map[string]string{
		"short":     QuicknetPublicKeyHex[:190],
		"not hex":   "zz" + QuicknetPublicKeyHex[2:],
		"infinity":  "c0" + string(bytes.Repeat([]byte("00"), 95)),
		"off curve": "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45b",
	} {
		if _, err := ParsePublicKeyHex(in); !errors.Is(err, ErrPublicKey) {
			t.Errorf("%s: error %v, want ErrPublicKey", name, err)
		}
	}
	if _, err := Encrypt(PublicKey{}, 1, nil, seeded(1)); !errors.Is(err, ErrPublicKey) {
		t.Errorf("zero key: error %v, want ErrPublicKey", err)
	}
}

func TestEncryptShortRandomness(t *testing.T) {
	_, err := Encrypt(Quicknet().PublicKey, 1, []byte("x"), bytes.NewReader(make([]byte, 40)))
	if err == nil {
		t.Fatal("encrypted with 40 bytes of randomness (needs 76)")
	}
}

// TestTestBeaconSignsAsQuicknet: the test beacon's signatures verify, and
// only for their own round.
func TestTestBeaconSignsAsQuicknet(t *testing.T) {
	b := testBeacon(t)
	s := sign(t, b, 77)
	if err := VerifySignature(b.Info().PublicKey, 77, s); err != nil {
		t.Fatal(err)
	}
	if err := VerifySignature(b.Info().PublicKey, 78, s); !errors.Is(err, ErrSignature) {
		t.Errorf("round 78 accepted round 77's signature: %v", err)
	}
	if err := VerifySignature(Quicknet().PublicKey, 77, s); !errors.Is(err, ErrSignature) {
		t.Errorf("quicknet's key accepted the test beacon's signature: %v", err)
	}
}

// TestDecryptChecksU: a ciphertext whose V and W are consistent with the
// round's signature but whose U is not h3(sigma, key)*G2 (a forged header,
// which only someone holding the signature can build) is refused, as the
// reference does; without the check it would open.
func TestDecryptChecksU(t *testing.T) {
	b := testBeacon(t)
	const round = 44
	sigBytes := sign(t, b, round)
	sig, err := parseSignature(sigBytes)
	if err != nil {
		t.Fatal(err)
	}
	var key, sigma [32]byte
	key[0], sigma[0] = 1, 2
	var u bls.G2Affine
	u.ScalarMultiplicationBase(big.NewInt(12345)) // not h3(sigma, key)
	g, err := bls.Pair([]bls.G1Affine{*sig}, []bls.G2Affine{u})
	if err != nil {
		t.Fatal(err)
	}
	gh, sh := gtHash(&g), sha256.Sum256(sigma[:])
	c := ciphertext{u: u.Bytes(), v: xor32(sigma[:], gh[:]), w: xor32(key[:], sh[:])}
	aead, err := newGCM(key)
	if err != nil {
		t.Fatal(err)
	}
	c.sealed = aead.Seal(nil, c.nonce[:], []byte("forged"), nil)
	if got, err := Decrypt(sigBytes, c.marshal()); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("forged header: %q, %v; want ErrDecrypt", got, err)
	}
}
