package miner

import (
	"context"
	"errors"
	"testing"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/keys"
	"github.com/coldint/coldint/hf"
	"github.com/coldint/coldint/hf/modelhash"
	"github.com/coldint/coldint/hf/safetensors"
)

// TestBestSource: a competition without commitments has no best (and the
// hub is never opened); once a miner published, the best is found,
// downloaded and hash-checked; a competition name is required.
func TestBestSource(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	hubOpened := 0
	src := BestSource{
		Chain:       func(context.Context) (chain.Reader, error) { return w.dc, nil },
		Hub:         func() (hf.Hub, error) { hubOpened++; return w.hub, nil },
		Netuid:      w.netuid,
		Competition: "c00",
	}
	if _, _, err := src.Current(ctx, t.TempDir()); !errors.Is(err, chain.ErrNotFound) || hubOpened != 0 {
		t.Fatalf("no commitments: %v (hub opened %d times), want ErrNotFound without the hub", err, hubOpened)
	}
	o := w.publishOptions(t, "//MinerB")
	if _, err := w.dc.Register(ctx, w.netuid, o.Hotkey, o.Hotkey); err != nil {
		t.Fatal(err)
	}
	if _, err := Publish(ctx, o, safetensors.BF16); err != nil {
		t.Fatal(err)
	}
	b, dir, err := src.Current(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hk, _ := keys.FromURI("//MinerB")
	if b.Hotkey != hk.AccountID() || b.ID.Competition != "c00" {
		t.Fatalf("best %+v, want the model of //MinerB in c00", b)
	}
	dh, err := modelhash.Dir(ctx, dir, modelhash.Options{})
	if err != nil || modelhash.Salt(dh, b.Hotkey.String()) != b.ID.Hash {
		t.Fatalf("downloaded folder %s does not hash to the commitment (%v)", dir, err)
	}
	src.Competition = ""
	if _, _, err := src.Current(ctx, t.TempDir()); err == nil {
		t.Fatal("no competition: no error")
	}
}
