package substrate

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/crypto/blake2b"
)

// Twox128 returns xxh64(seed 0) ++ xxh64(seed 1) of b, each little-endian.
func Twox128(b []byte) []byte {
	out := make([]byte, 16)
	binary.LittleEndian.PutUint64(out, xxh64(b, 0))
	binary.LittleEndian.PutUint64(out[8:], xxh64(b, 1))
	return out
}

// Twox64 returns xxh64(seed 0) of b, little-endian.
func Twox64(b []byte) []byte {
	return binary.LittleEndian.AppendUint64(nil, xxh64(b, 0))
}

// Twox256 returns xxh64 of b with seeds 0..3, each little-endian.
func Twox256(b []byte) []byte {
	out := make([]byte, 0, 32)
	for s := uint64(0); s < 4; s++ {
		out = binary.LittleEndian.AppendUint64(out, xxh64(b, s))
	}
	return out
}

func xxh64(b []byte, seed uint64) uint64 {
	h := xxhash.NewWithSeed(seed)
	h.Write(b)
	return h.Sum64()
}

// Blake2_128 returns the 16-byte blake2b digest of b.
func Blake2_128(b []byte) []byte {
	h, _ := blake2b.New(16, nil)
	h.Write(b)
	return h.Sum(nil)
}

// Blake2_256 returns the 32-byte blake2b digest of b.
func Blake2_256(b []byte) [32]byte { return blake2b.Sum256(b) }

// Hasher is a storage key hasher (metadata StorageHasher codes).
type Hasher uint8

// Storage hashers, numbered as in metadata V14.
const (
	Blake2_128Hasher Hasher = iota
	Blake2_256Hasher
	Blake2_128ConcatHasher
	Twox128Hasher
	Twox256Hasher
	Twox64ConcatHasher
	IdentityHasher
)

var hasherNames = [...]string{"Blake2_128", "Blake2_256", "Blake2_128Concat", "Twox128", "Twox256", "Twox64Concat", "Identity"}

// String returns the hasher's metadata name.
func (h Hasher) String() string {
	if int(h) < len(hasherNames) {
		return hasherNames[h]
	}
	return fmt.Sprintf("Hasher(%d)", uint8(h))
}

// Hash applies the hasher to a SCALE-encoded key.
func (h Hasher) Hash(key []byte) ([]byte, error) {
	switch h {
	case Blake2_128Hasher:
		return Blake2_128(key), nil
	case Blake2_256Hasher:
		s := Blake2_256(key)
		return s[:], nil
	case Blake2_128ConcatHasher:
		return append(Blake2_128(key), key...), nil
	case Twox128Hasher:
		return Twox128(key), nil
	case Twox256Hasher:
		return Twox256(key), nil
	case Twox64ConcatHasher:
		return append(Twox64(key), key...), nil
	case IdentityHasher:
		return append([]byte(nil), key...), nil
	}
	return nil, fmt.Errorf("hash storage key: unknown hasher %d", uint8(h))
}

// PrefixLen is the number of hash bytes the hasher puts before the raw key
// (for concat hashers), or the whole output length for opaque ones.
func (h Hasher) PrefixLen() int {
	switch h {
	case Blake2_128Hasher, Blake2_128ConcatHasher:
		return 16
	case Blake2_256Hasher, Twox256Hasher:
		return 32
	case Twox128Hasher:
		return 16
	case Twox64ConcatHasher:
		return 8
	}
	return 0
}

// Transparent reports whether the raw key can be read back from the hash.
func (h Hasher) Transparent() bool {
	return h == Blake2_128ConcatHasher || h == Twox64ConcatHasher || h == IdentityHasher
}

// StorageKey builds twox128(pallet) ++ twox128(item) ++ hashers[i](keys[i])...
// Fewer keys than hashers give a prefix for iteration.
func StorageKey(pallet, item string, hashers []Hasher, keys ...[]byte) ([]byte, error) {
	if len(keys) > len(hashers) {
		return nil, fmt.Errorf("storage key %s.%s: %d keys for %d hashers", pallet, item, len(keys), len(hashers))
	}
	out := append(Twox128([]byte(pallet)), Twox128([]byte(item))...)
	for i, k := range keys {
		h, err := hashers[i].Hash(k)
		if err != nil {
			return nil, fmt.Errorf("storage key %s.%s: %w", pallet, item, err)
		}
		out = append(out, h...)
	}
	return out, nil
}
