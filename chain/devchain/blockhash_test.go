package devchain

import (
	"context"
	"path/filepath"
	"testing"
)

// TestBlockHashRestart: a chain kept in a file gives the same block hashes
// after a restart, and another chain gives other hashes.
func TestBlockHashRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "chain.log")
	c, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Advance(ctx, 5); err != nil {
		t.Fatal(err)
	}
	before, err := c.BlockHash(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	after, err := c.BlockHash(ctx, 3)
	if err != nil || after != before {
		t.Errorf("block 3 hash %x before the restart, %x after (%v)", before, after, err)
	}
	other := openTemp(t, Options{})
	if _, err := other.Advance(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if h, _ := other.BlockHash(ctx, 3); h == before {
		t.Errorf("two chains give block 3 the same hash %x", h)
	}
}
