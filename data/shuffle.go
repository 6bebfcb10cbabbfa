package data

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
)

// ShuffleShards returns the shards in the order drawn from seed: sorted by
// SHA-256 of the seed and the shard's path, so the order depends only on
// the seed and the names (not on the listing order, the rank or the run),
// and a shard added to the dataset does not move the others relative to
// each other.
func ShuffleShards(shards []Shard, seed uint64) []Shard {
	key := func(s Shard) [32]byte {
		b := binary.LittleEndian.AppendUint64(nil, seed)
		return sha256.Sum256(append(b, s.Path...))
	}
	out := slices.Clone(shards)
	slices.SortStableFunc(out, func(a, b Shard) int {
		ka, kb := key(a), key(b)
		return slices.Compare(ka[:], kb[:])
	})
	return out
}
