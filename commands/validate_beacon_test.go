package commands

import (
	"bytes"
	"context"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/devchain"
)

// TestChainBeacon: a devchain's own beacon is used; a backend without a
// beacon read leaves the validator on quicknet (nil).
func TestChainBeacon(t *testing.T) {
	ctx := context.Background()
	dc, err := devchain.Open(ctx, devchain.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	want, err := dc.Beacon(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := chainBeacon(ctx, dc)
	if err != nil || got == nil || !bytes.Equal(got.PublicKey.Bytes(), want.PublicKey) {
		t.Fatalf("devchain beacon %v, %v; want the key %x", got, err, want.PublicKey)
	}
	if got, err := chainBeacon(ctx, struct{ chain.Reader }{dc}); got != nil || err != nil {
		t.Errorf("backend without a beacon: %v, %v; want nil (quicknet)", got, err)
	}
}
