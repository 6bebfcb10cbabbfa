package devchain

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/coldint/coldint/chain"
)

// blockDigest is the running digest of the log after the record of block.
type blockDigest struct {
	block chain.BlockNumber
	sum   [32]byte
}

// noteRecord folds r into the running digest of the log. Caller holds mu
// (or owns c during open).
func (c *Chain) noteRecord(r *record) {
	var prev [32]byte
	if n := len(c.digests); n > 0 {
		prev = c.digests[n-1].sum
	}
	b, err := json.Marshal(r)
	if err != nil {
		b = []byte(fmt.Sprint(r.Block, r.Time)) // a record always encodes; keep the chain going
	}
	h := sha256.New()
	h.Write(prev[:])
	h.Write(b)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	c.digests = append(c.digests, blockDigest{block: r.Block, sum: sum})
	if len(c.digests) == 1 {
		// The genesis record: it seeds the chain's beacon.
		c.st.beacon = genesisBeacon(sum)
	}
}

// hashAt is the hash of block n: SHA-256 over a domain tag, the running
// digest of the log up to block n and n itself. Every record sealed later
// lands in a later block, so the hash of a block at or below the head never
// changes. Caller holds mu.
func (c *Chain) hashAt(n chain.BlockNumber) [32]byte {
	i := sort.Search(len(c.digests), func(i int) bool { return c.digests[i].block > n })
	var d [32]byte
	if i > 0 {
		d = c.digests[i-1].sum
	}
	h := sha256.New()
	h.Write([]byte("coldint-devchain-block\x00"))
	h.Write(d[:])
	h.Write(binary.LittleEndian.AppendUint64(nil, uint64(n)))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// FinalizedBlock returns the newest final block: the head, since a local
// chain has no forks.
func (c *Chain) FinalizedBlock(ctx context.Context) (chain.BlockNumber, error) {
	return c.BlockNumber(ctx)
}

// BlockHash returns the hash of block n (chain.ErrNotFound beyond the head).
// It is derived from the log, so it differs between chains and stays the
// same across restarts of a chain kept in a file.
func (c *Chain) BlockHash(ctx context.Context, n uint64) ([32]byte, error) {
	var out [32]byte
	err := c.read(ctx, func(head chain.BlockNumber) error {
		if chain.BlockNumber(n) > head {
			return fmt.Errorf("block hash %d: beyond the head %d: %w", n, head, chain.ErrNotFound)
		}
		out = c.hashAt(chain.BlockNumber(n))
		return nil
	})
	return out, err
}

// FinalizedBlock returns the newest final block (the head).
func (c *Client) FinalizedBlock(ctx context.Context) (chain.BlockNumber, error) {
	var b chain.BlockNumber
	err := c.call(ctx, "devchain_finalizedBlock", struct{}{}, &b)
	return b, err
}

// BlockHash returns the hash of block n (chain.ErrNotFound beyond the head).
func (c *Client) BlockHash(ctx context.Context, n uint64) ([32]byte, error) {
	var out [32]byte
	err := c.call(ctx, "devchain_blockHash", params{N: n}, &out)
	return out, err
}

var (
	_ chain.BlockHashReader = (*Chain)(nil)
	_ chain.BlockHashReader = (*Client)(nil)
)
