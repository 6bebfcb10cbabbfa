package evalproof

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
)

// enc builds a canonical encoding: strings as a u32 big-endian byte length
// and the bytes, integers as u64 big-endian, floats as their IEEE-754 bits
// (u64 big-endian; every NaN as 0x7ff8000000000001).
type enc struct{ b []byte }

func (e *enc) str(s string) {
	e.b = binary.BigEndian.AppendUint32(e.b, uint32(len(s)))
	e.b = append(e.b, s...)
}

func (e *enc) u64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }

func (e *enc) f64(v float64) {
	bitsV := math.Float64bits(v)
	if math.IsNaN(v) {
		bitsV = 0x7ff8000000000001
	}
	e.u64(bitsV)
}

// LeafBytes is the canonical encoding of sample i of competition c: the
// tag "<format> leaf", the competition name, i, the sample id, the 32 text
// hash bytes, the number of models with losses and, for each in model
// order, its uid and its loss on this sample.
func LeafBytes(c *Competition, i int) ([]byte, error) {
	s := c.Samples[i]
	th, err := hex.DecodeString(s.TextSHA256)
	if err != nil || len(th) != sha256.Size {
		return nil, fmt.Errorf("encode sample %d of competition %q: text_sha256 %q is not 64 hex digits", i, c.Name, s.TextSHA256)
	}
	var e enc
	e.str(FormatVersion + " leaf")
	e.str(c.Name)
	e.u64(uint64(i))
	for _, f := range []string{s.Task, s.Dataset, s.Config, s.Split} {
		e.str(f)
	}
	e.u64(uint64(s.Row))
	e.b = append(e.b, th...)
	var n uint64
	for _, m := range c.Models {
		if m.Losses != nil {
			n++
		}
	}
	e.u64(n)
	for _, m := range c.Models {
		if m.Losses == nil {
			continue
		}
		if len(m.Losses) != len(c.Samples) {
			return nil, fmt.Errorf("encode sample %d of competition %q: uid %d has %d losses for %d samples", i, c.Name, m.UID, len(m.Losses), len(c.Samples))
		}
		e.u64(uint64(m.UID))
		e.f64(float64(m.Losses[i]))
	}
	return e.b, nil
}

// ModelsDigest is sha256 of the canonical model table of c: the tag
// "<format> models", the competition name, its compacted params JSON, the
// sample count, and per model its uid, hotkey, repo, commit, hash, block,
// status, win rate, weight and whether it has losses (1/0).
func ModelsDigest(c *Competition) (Hash, error) {
	var e enc
	e.str(FormatVersion + " models")
	e.str(c.Name)
	var params bytes.Buffer
	if len(c.Params) > 0 {
		if err := json.Compact(&params, c.Params); err != nil {
			return Hash{}, fmt.Errorf("encode competition %q params: %w", c.Name, err)
		}
	}
	e.str(params.String())
	e.u64(uint64(len(c.Samples)))
	e.u64(uint64(len(c.Models)))
	for _, m := range c.Models {
		e.u64(uint64(m.UID))
		for _, f := range []string{m.Hotkey, m.Repo, m.Commit, m.Hash} {
			e.str(f)
		}
		e.u64(m.Block)
		e.str(m.Status)
		e.f64(m.WinRate)
		e.f64(m.Weight)
		if m.Losses != nil {
			e.u64(1)
		} else {
			e.u64(0)
		}
	}
	return sha256.Sum256(e.b), nil
}

// LeafHashes are the hashes of every sample leaf of c.
func LeafHashes(c *Competition) ([]Hash, error) {
	out := make([]Hash, len(c.Samples))
	for i := range c.Samples {
		b, err := LeafBytes(c, i)
		if err != nil {
			return nil, err
		}
		out[i] = LeafHash(b)
	}
	return out, nil
}

// StepRoot is sha256 of the canonical manifest header: the tag
// "<format> step", step, block, timestamp, validator, netuid, the previous
// step and root (0 and "" when none), the weights (count, then uid and
// weight each) and the competitions (count, then name, root, models digest,
// samples and models each). The roots and digests are hashed as the hex
// text the manifest holds.
func StepRoot(m *Manifest) Hash {
	var e enc
	e.str(FormatVersion + " step")
	e.u64(m.Step)
	e.u64(m.Block)
	e.f64(m.Timestamp)
	e.str(m.Validator)
	e.u64(uint64(m.Netuid))
	if m.Prev != nil {
		e.u64(m.Prev.Step)
		e.str(m.Prev.Root)
	} else {
		e.u64(0)
		e.str("")
	}
	e.u64(uint64(len(m.Weights)))
	for _, w := range m.Weights {
		e.u64(uint64(w.UID))
		e.f64(w.Weight)
	}
	e.u64(uint64(len(m.Competitions)))
	for _, c := range m.Competitions {
		e.str(c.Name)
		e.str(c.Root)
		e.str(c.ModelsDigest)
		e.u64(uint64(c.Samples))
		e.u64(uint64(c.Models))
	}
	return sha256.Sum256(e.b)
}

// Hex is h in lowercase hex.
func (h Hash) Hex() string { return hex.EncodeToString(h[:]) }

// ParseHash reads 64 hex digits.
func ParseHash(s string) (Hash, error) {
	var h Hash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("parse hash %q: want 64 hex digits", s)
	}
	copy(h[:], b)
	return h, nil
}
