package evalproof

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
)

// Hash is a sha256 digest.
type Hash [32]byte

// Merkle tree over leaves (the RFC 6962 shape): a leaf hashes as
// sha256(0x00 ‖ leaf bytes), an inner node as sha256(0x01 ‖ left ‖ right),
// and a tree of n > 1 leaves splits at the largest power of two below n.
// The empty tree's root is sha256 of nothing.

// LeafHash is the hash of one leaf's canonical bytes.
func LeafHash(leaf []byte) Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(leaf)
	var out Hash
	h.Sum(out[:0])
	return out
}

func nodeHash(l, r Hash) Hash {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(l[:])
	h.Write(r[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

// split is the largest power of two below n (n > 1).
func split(n int) int { return 1 << (bits.Len(uint(n-1)) - 1) }

// MerkleRoot is the root over the leaf hashes.
func MerkleRoot(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return nodeHash(MerkleRoot(leaves[:k]), MerkleRoot(leaves[k:]))
}

// MerklePath is the audit path of leaf i: the sibling hashes from the leaf
// up to the root.
func MerklePath(leaves []Hash, i int) ([]Hash, error) {
	if i < 0 || i >= len(leaves) {
		return nil, fmt.Errorf("merkle path: leaf %d of %d", i, len(leaves))
	}
	var path []Hash
	for len(leaves) > 1 {
		k := split(len(leaves))
		if i < k {
			path = append(path, MerkleRoot(leaves[k:]))
			leaves = leaves[:k]
		} else {
			path = append(path, MerkleRoot(leaves[:k]))
			leaves, i = leaves[k:], i-k
		}
	}
	// Siblings were collected from the top; a proof lists them bottom up.
	for a, b := 0, len(path)-1; a < b; a, b = a+1, b-1 {
		path[a], path[b] = path[b], path[a]
	}
	return path, nil
}

// ErrProof means an inclusion proof does not lead to the root.
var ErrProof = errors.New("inclusion proof does not match the root")

// VerifyPath checks that leaf hash h is leaf i of a tree of n leaves with
// the given root.
func VerifyPath(h Hash, i, n int, path []Hash, root Hash) error {
	if i < 0 || i >= n {
		return fmt.Errorf("verify proof: leaf %d of %d: %w", i, n, ErrProof)
	}
	got, rest, err := climb(h, i, n, path)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("verify proof: %d hashes too many: %w", len(rest), ErrProof)
	}
	if got != root {
		return fmt.Errorf("verify proof: leaf %d gives root %x, want %x: %w", i, got, root, ErrProof)
	}
	return nil
}

// climb recomputes the subtree root of n leaves holding h at i from the
// bottom-up path; it returns the unused rest of the path.
func climb(h Hash, i, n int, path []Hash) (Hash, []Hash, error) {
	if n == 1 {
		return h, path, nil
	}
	k := split(n)
	var sub Hash
	var err error
	if i < k {
		sub, path, err = climb(h, i, k, path)
	} else {
		sub, path, err = climb(h, i-k, n-k, path)
	}
	if err != nil {
		return Hash{}, nil, err
	}
	if len(path) == 0 {
		return Hash{}, nil, fmt.Errorf("verify proof: path too short: %w", ErrProof)
	}
	if i < k {
		return nodeHash(sub, path[0]), path[1:], nil
	}
	return nodeHash(path[0], sub), path[1:], nil
}
