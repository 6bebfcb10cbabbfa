package chain

import (
	"encoding/binary"
	"fmt"
	"math"

	"golang.org/x/crypto/blake2b"
)

// NormalizeWeights converts float weights to the u16 values the chain stores,
// exactly as the bittensor SDK's convert_weights_and_uids_for_emit: weights are
// max-upscaled (w/max(w)), multiplied by 65535, rounded half to even, and
// entries that round to 0 are dropped. All-zero input gives empty slices.
// Negative, NaN or infinite weights, duplicate uids and unequal lengths are
// errors wrapping ErrInvalidWeights.
func NormalizeWeights(uids []UID, weights []float64) ([]UID, []uint16, error) {
	if len(uids) != len(weights) {
		return nil, nil, fmt.Errorf("normalize weights: %d uids but %d weights: %w", len(uids), len(weights), ErrInvalidWeights)
	}
	seen := make(map[UID]bool, len(uids))
	var maxW, sum float64
	for i, w := range weights {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return nil, nil, fmt.Errorf("normalize weights: weight %v for uid %d: %w", w, uids[i], ErrInvalidWeights)
		}
		if seen[uids[i]] {
			return nil, nil, fmt.Errorf("normalize weights: duplicate uid %d: %w", uids[i], ErrInvalidWeights)
		}
		seen[uids[i]] = true
		sum += w
		maxW = math.Max(maxW, w)
	}
	outU := []UID{}
	outV := []uint16{}
	if sum == 0 {
		return outU, outV, nil
	}
	for i, w := range weights {
		v := math.RoundToEven(w / maxW * 65535)
		if v == 0 {
			continue
		}
		outU = append(outU, uids[i])
		outV = append(outV, uint16(v))
	}
	return outU, outV, nil
}

// CommitHash returns the commit-reveal (hash variant, v2) commitment of a
// weight row: blake2_256(hotkey ++ u16 netuid ++ Vec<u16> uids ++ Vec<u16>
// values ++ Vec<u16> salt ++ u64 versionKey), all SCALE little-endian.
func CommitHash(hotkey Hotkey, netuid NetUID, uids []UID, values, salt []uint16, versionKey uint64) [32]byte {
	b := make([]byte, 0, 32+2+3*(5+2*len(uids))+8)
	b = append(b, hotkey[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(netuid))
	u16s := make([]uint16, len(uids))
	for i, u := range uids {
		u16s[i] = uint16(u)
	}
	for _, vec := range [][]uint16{u16s, values, salt} {
		b = appendCompact(b, uint64(len(vec)))
		for _, v := range vec {
			b = binary.LittleEndian.AppendUint16(b, v)
		}
	}
	b = binary.LittleEndian.AppendUint64(b, versionKey)
	return blake2b.Sum256(b)
}

// appendCompact appends the SCALE compact encoding of n (a copy of the rule
// in chain/scale, kept here so the root package has no codec dependency).
func appendCompact(b []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n<<2))
	case n < 1<<14:
		return binary.LittleEndian.AppendUint16(b, uint16(n<<2|1))
	case n < 1<<30:
		return binary.LittleEndian.AppendUint32(b, uint32(n<<2|2))
	}
	var tmp [8]byte
	binary.LittleEndian.PutUint64(tmp[:], n)
	l := 8
	for l > 4 && tmp[l-1] == 0 {
		l--
	}
	b = append(b, byte((l-4)<<2|3))
	return append(b, tmp[:l]...)
}
