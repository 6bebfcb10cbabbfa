package timelock

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	bls "github.com/consensys/gnark-crypto/ecc/bls12-381"
)

// ErrPublicKey reports bytes that are not a valid beacon public key.
var ErrPublicKey = errors.New("invalid beacon public key")

// PublicKey is a beacon's public key: a point of G2.
type PublicKey struct{ p bls.G2Affine }

// ParsePublicKey reads a 96-byte compressed G2 point (the form drand
// publishes in its chain info, hex-decoded).
func ParsePublicKey(b []byte) (PublicKey, error) {
	var pk PublicKey
	if len(b) != g2Size {
		return pk, fmt.Errorf("read public key: %d bytes, want %d: %w", len(b), g2Size, ErrPublicKey)
	}
	if _, err := pk.p.SetBytes(b); err != nil {
		return pk, fmt.Errorf("read public key: %v: %w", err, ErrPublicKey)
	}
	if pk.p.IsInfinity() {
		return pk, fmt.Errorf("read public key: point at infinity: %w", ErrPublicKey)
	}
	return pk, nil
}

// ParsePublicKeyHex is ParsePublicKey on a hex string.
func ParsePublicKeyHex(s string) (PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return PublicKey{}, fmt.Errorf("read public key %q: %v: %w", s, err, ErrPublicKey)
	}
	return ParsePublicKey(b)
}

// Bytes returns the 96-byte compressed form.
func (pk PublicKey) Bytes() []byte { b := pk.p.Bytes(); return b[:] }

// Encrypt timelocks msg to round of the beacon with key pk. Only the
// beacon's signature of that round opens it. rand supplies the AES key, the
// IBE randomness and the nonce (crypto/rand.Reader in production).
func Encrypt(pk PublicKey, round uint64, msg []byte, rand io.Reader) ([]byte, error) {
	if pk.p.IsInfinity() {
		return nil, fmt.Errorf("encrypt to round %d: %w", round, ErrPublicKey)
	}
	var key, sigma [32]byte
	var c ciphertext
	for _, b := range [][]byte{key[:], sigma[:], c.nonce[:]} {
		if _, err := io.ReadFull(rand, b); err != nil {
			return nil, fmt.Errorf("encrypt to round %d: read randomness: %w", round, err)
		}
	}
	var err error
	if c.u, c.v, c.w, err = ibeEncrypt(&pk.p, round, key, sigma); err != nil {
		return nil, fmt.Errorf("encrypt to round %d: %w", round, err)
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	c.sealed = aead.Seal(nil, c.nonce[:], msg, nil)
	return c.marshal(), nil
}

// Decrypt opens a ciphertext made by Encrypt (or by the reference
// implementation) with the beacon's 48-byte signature of its round.
// Malformed bytes give ErrCiphertext, a bad signature ErrSignature, and a
// signature of another round or tampered bytes ErrDecrypt.
func Decrypt(signature, ct []byte) ([]byte, error) {
	c, err := parseCiphertext(ct)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	sig, err := parseSignature(signature)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	key, err := ibeDecrypt(sig, c)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	msg, err := aead.Open(nil, c.nonce[:], c.sealed, nil)
	if err != nil {
		return nil, fmt.Errorf("decrypt: open AES-GCM body: %v: %w", err, ErrDecrypt)
	}
	return msg, nil
}

func newGCM(key [32]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("make AES cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("make AES-GCM: %w", err)
	}
	return aead, nil
}
