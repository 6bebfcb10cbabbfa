package chain

import (
	"bytes"
	"fmt"
	"math/big"

	"golang.org/x/crypto/blake2b"
)

// SS58Prefix is the address prefix of Bittensor (and generic Substrate) accounts.
const SS58Prefix = 42

const b58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

var b58Index = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(b58Alphabet); i++ {
		t[b58Alphabet[i]] = int8(i)
	}
	return t
}()

func ss58Prefix(prefix uint16) []byte {
	if prefix < 64 {
		return []byte{byte(prefix)}
	}
	// Two-byte form (prefixes 64..16383).
	return []byte{
		byte((prefix&0xfc)>>2) | 0x40,
		byte(prefix>>8) | byte((prefix&0x03)<<6),
	}
}

func ss58Checksum(data []byte) []byte {
	h, _ := blake2b.New512(nil)
	h.Write([]byte("SS58PRE"))
	h.Write(data)
	return h.Sum(nil)[:2]
}

// EncodeSS58 returns the SS58 address of a with the given network prefix (< 16384).
func EncodeSS58(a AccountID, prefix uint16) string {
	data := append(ss58Prefix(prefix), a[:]...)
	data = append(data, ss58Checksum(data)...)
	return base58Encode(data)
}

// DecodeSS58 parses an SS58 address of a 32-byte account and returns the
// account and its network prefix. The checksum is verified.
func DecodeSS58(s string) (AccountID, uint16, error) {
	var a AccountID
	data, err := base58Decode(s)
	if err != nil {
		return a, 0, fmt.Errorf("decode ss58 %q: %w", s, err)
	}
	if len(data) == 0 {
		return a, 0, fmt.Errorf("decode ss58 %q: empty", s)
	}
	var prefix uint16
	plen := 1
	switch {
	case data[0] < 64:
		prefix = uint16(data[0])
	case data[0] < 128:
		if len(data) < 2 {
			return a, 0, fmt.Errorf("decode ss58 %q: truncated prefix", s)
		}
		plen = 2
		lower := (data[0] << 2) | (data[1] >> 6)
		upper := data[1] & 0x3f
		prefix = uint16(lower) | uint16(upper)<<8
	default:
		return a, 0, fmt.Errorf("decode ss58 %q: reserved prefix byte 0x%02x", s, data[0])
	}
	if len(data) != plen+32+2 {
		return a, 0, fmt.Errorf("decode ss58 %q: %d payload bytes, want 32-byte account", s, len(data)-plen-2)
	}
	body, sum := data[:plen+32], data[plen+32:]
	if !bytes.Equal(ss58Checksum(body), sum) {
		return a, 0, fmt.Errorf("decode ss58 %q: bad checksum", s)
	}
	copy(a[:], body[plen:])
	return a, prefix, nil
}

func base58Encode(b []byte) string {
	zeros := 0
	for zeros < len(b) && b[zeros] == 0 {
		zeros++
	}
	n := new(big.Int).SetBytes(b)
	base, mod := big.NewInt(58), new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, base, mod)
		out = append(out, b58Alphabet[mod.Int64()])
	}
	for i := 0; i < zeros; i++ {
		out = append(out, '1')
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}

func base58Decode(s string) ([]byte, error) {
	if len(s) > 128 {
		return nil, fmt.Errorf("too long (%d characters)", len(s))
	}
	n := new(big.Int)
	base := big.NewInt(58)
	zeros := 0
	for zeros < len(s) && s[zeros] == '1' {
		zeros++
	}
	for i := 0; i < len(s); i++ {
		v := b58Index[s[i]]
		if v < 0 {
			return nil, fmt.Errorf("invalid base58 character %q at %d", s[i], i)
		}
		n.Mul(n, base)
		n.Add(n, big.NewInt(int64(v)))
	}
	return append(make([]byte, zeros), n.Bytes()...), nil
}
