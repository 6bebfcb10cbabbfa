package timelock

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sizes of the fixed parts of a ciphertext.
const (
	g1Size     = 48 // compressed G1 point (a beacon signature)
	g2Size     = 96 // compressed G2 point (the beacon key, the IBE U)
	hashSize   = 32 // V and W of the IBE ciphertext, and the AES key
	nonceSize  = 12 // AES-GCM nonce
	tagSize    = 16 // AES-GCM tag
	lengthSize = 8  // arkworks length prefix of a Vec<u8>
)

// cipherSuite names the symmetric layer in the ciphertext; it is the only
// one the reference implementation knows.
var cipherSuite = []byte("AES_GCM_")

// ErrCiphertext reports bytes that are not a well-formed ciphertext.
var ErrCiphertext = errors.New("malformed timelock ciphertext")

// ciphertext is the parsed form of the `tle` ciphertext:
//
//	header: U (G2, 96 bytes), V (vec, 32 bytes), W (vec, 32 bytes)
//	body: vec holding { aes ciphertext+tag: vec, nonce: vec (12 bytes) }
//	cipher suite: vec, "AES_GCM_"
type ciphertext struct {
	u      [g2Size]byte
	v, w   [hashSize]byte
	sealed []byte // AES-GCM output, tag appended
	nonce  [nonceSize]byte
}

func appendVec(b, v []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(v)))
	return append(b, v...)
}

// marshal lays the ciphertext out as arkworks' compressed serialization.
func (c *ciphertext) marshal() []byte {
	body := appendVec(nil, c.sealed)
	body = appendVec(body, c.nonce[:])
	out := make([]byte, 0, g2Size+3*lengthSize+2*hashSize+len(body)+lengthSize+len(cipherSuite))
	out = append(out, c.u[:]...)
	out = appendVec(out, c.v[:])
	out = appendVec(out, c.w[:])
	out = appendVec(out, body)
	return appendVec(out, cipherSuite)
}

// reader walks a byte slice and fails on the first short or bad field.
type reader struct {
	b   []byte
	off int
}

func (r *reader) fixed(n int, what string) ([]byte, error) {
	if len(r.b)-r.off < n {
		return nil, fmt.Errorf("read %s at offset %d: need %d bytes, %d left: %w", what, r.off, n, len(r.b)-r.off, ErrCiphertext)
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out, nil
}

func (r *reader) vec(what string) ([]byte, error) {
	lb, err := r.fixed(lengthSize, what+" length")
	if err != nil {
		return nil, err
	}
	n := binary.LittleEndian.Uint64(lb)
	if n > uint64(len(r.b)-r.off) {
		return nil, fmt.Errorf("read %s at offset %d: length %d exceeds the %d bytes left: %w", what, r.off, n, len(r.b)-r.off, ErrCiphertext)
	}
	return r.fixed(int(n), what)
}

func (r *reader) sizedVec(n int, what string) ([]byte, error) {
	v, err := r.vec(what)
	if err == nil && len(v) != n {
		err = fmt.Errorf("read %s: %d bytes, want %d: %w", what, len(v), n, ErrCiphertext)
	}
	return v, err
}

func (r *reader) end(what string) error {
	if r.off != len(r.b) {
		return fmt.Errorf("read %s: %d trailing bytes: %w", what, len(r.b)-r.off, ErrCiphertext)
	}
	return nil
}

// parseCiphertext checks the layout only; points are checked when used.
func parseCiphertext(b []byte) (*ciphertext, error) {
	var c ciphertext
	r := &reader{b: b}
	u, err := r.fixed(g2Size, "header U")
	if err != nil {
		return nil, err
	}
	copy(c.u[:], u)
	v, err := r.sizedVec(hashSize, "header V")
	if err != nil {
		return nil, err
	}
	copy(c.v[:], v)
	w, err := r.sizedVec(hashSize, "header W")
	if err != nil {
		return nil, err
	}
	copy(c.w[:], w)
	body, err := r.vec("body")
	if err != nil {
		return nil, err
	}
	suite, err := r.vec("cipher suite")
	if err != nil {
		return nil, err
	}
	if string(suite) != string(cipherSuite) {
		return nil, fmt.Errorf("read cipher suite: %q, want %q: %w", suite, cipherSuite, ErrCiphertext)
	}
	if err := r.end("ciphertext"); err != nil {
		return nil, err
	}
	br := &reader{b: body}
	sealed, err := br.vec("body ciphertext")
	if err != nil {
		return nil, err
	}
	if len(sealed) < tagSize {
		return nil, fmt.Errorf("read body ciphertext: %d bytes, shorter than the %d-byte tag: %w", len(sealed), tagSize, ErrCiphertext)
	}
	c.sealed = sealed
	nonce, err := br.sizedVec(nonceSize, "body nonce")
	if err != nil {
		return nil, err
	}
	copy(c.nonce[:], nonce)
	if err := br.end("body"); err != nil {
		return nil, err
	}
	return &c, nil
}
