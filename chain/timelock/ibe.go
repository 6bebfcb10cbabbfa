package timelock

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	bls "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fp"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
)

// quicknetDST is the hash-to-curve domain of drand quicknet signatures
// (RFC 9380 hash to G1, SHA-256, SSWU, random oracle).
var quicknetDST = []byte("BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_")

// Errors of the IBE layer.
var (
	// ErrSignature reports bytes that are not a valid G1 point.
	ErrSignature = errors.New("invalid beacon signature")
	// ErrDecrypt reports a ciphertext the signature does not open: the
	// wrong round's signature, or tampered bytes.
	ErrDecrypt = errors.New("timelock decryption failed")
)

// roundMessage is what the beacon signs for round: sha256 of the round
// number as a big-endian u64. It is also the IBE identity.
func roundMessage(round uint64) []byte {
	h := sha256.Sum256(binary.BigEndian.AppendUint64(nil, round))
	return h[:]
}

// identityPoint hashes the round's message to G1.
func identityPoint(round uint64) (bls.G1Affine, error) {
	p, err := bls.HashToG1(roundMessage(round), quicknetDST)
	if err != nil {
		return p, fmt.Errorf("hash round %d to G1: %w", round, err)
	}
	return p, nil
}

// gtHash is H2 of the reference: sha256 of the pairing value serialized as
// arkworks does (twelve base-field coefficients, tower order c0 before c1,
// each 48 bytes little-endian).
func gtHash(g *bls.GT) [32]byte {
	coeffs := [12]*fp.Element{
		&g.C0.B0.A0, &g.C0.B0.A1, &g.C0.B1.A0, &g.C0.B1.A1, &g.C0.B2.A0, &g.C0.B2.A1,
		&g.C1.B0.A0, &g.C1.B0.A1, &g.C1.B1.A0, &g.C1.B1.A1, &g.C1.B2.A0, &g.C1.B2.A1,
	}
	buf := make([]byte, 0, 12*fp.Bytes)
	for _, c := range coeffs {
		be := c.Bytes()
		for i := len(be) - 1; i >= 0; i-- {
			buf = append(buf, be[i])
		}
	}
	return sha256.Sum256(buf)
}

// h3 maps sigma and the hidden key to a scalar: sha256(sigma ++ key) read
// big-endian, reduced modulo the group order.
func h3(sigma, key []byte) *big.Int {
	h := sha256.New()
	h.Write(sigma)
	h.Write(key)
	r := new(big.Int).SetBytes(h.Sum(nil))
	return r.Mod(r, fr.Modulus())
}

func xor32(a, b []byte) (out [32]byte) {
	subtle.XORBytes(out[:], a[:32], b[:32])
	return out
}

// ibeEncrypt hides key for round under the beacon key pk, with sigma the
// 32 random bytes of the scheme.
func ibeEncrypt(pk *bls.G2Affine, round uint64, key, sigma [32]byte) (u [g2Size]byte, v, w [32]byte, err error) {
	q, err := identityPoint(round)
	if err != nil {
		return u, v, w, err
	}
	r := h3(sigma[:], key[:])
	var uPoint, rPub bls.G2Affine
	uPoint.ScalarMultiplicationBase(r)
	rPub.ScalarMultiplication(pk, r)
	g, err := bls.Pair([]bls.G1Affine{q}, []bls.G2Affine{rPub})
	if err != nil {
		return u, v, w, fmt.Errorf("pair for round %d: %w", round, err)
	}
	gh := gtHash(&g)
	sh := sha256.Sum256(sigma[:])
	return uPoint.Bytes(), xor32(sigma[:], gh[:]), xor32(key[:], sh[:]), nil
}

// ibeDecrypt recovers the hidden key with the round's signature and checks
// U against the recovered values.
func ibeDecrypt(sig *bls.G1Affine, c *ciphertext) ([32]byte, error) {
	var u bls.G2Affine
	if _, err := u.SetBytes(c.u[:]); err != nil {
		return [32]byte{}, fmt.Errorf("read header U: %v: %w", err, ErrCiphertext)
	}
	g, err := bls.Pair([]bls.G1Affine{*sig}, []bls.G2Affine{u})
	if err != nil {
		return [32]byte{}, fmt.Errorf("pair: %v: %w", err, ErrDecrypt)
	}
	gh := gtHash(&g)
	sigma := xor32(c.v[:], gh[:])
	sh := sha256.Sum256(sigma[:])
	key := xor32(c.w[:], sh[:])
	var check bls.G2Affine
	check.ScalarMultiplicationBase(h3(sigma[:], key[:]))
	if !check.Equal(&u) {
		return [32]byte{}, fmt.Errorf("check header U: signature does not open it (wrong round or tampered ciphertext): %w", ErrDecrypt)
	}
	return key, nil
}

// parseSignature reads a compressed G1 beacon signature.
func parseSignature(b []byte) (*bls.G1Affine, error) {
	if len(b) != g1Size {
		return nil, fmt.Errorf("read signature: %d bytes, want %d: %w", len(b), g1Size, ErrSignature)
	}
	var s bls.G1Affine
	if _, err := s.SetBytes(b); err != nil {
		return nil, fmt.Errorf("read signature: %v: %w", err, ErrSignature)
	}
	return &s, nil
}
