package substrate

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/coldint/coldint/chain/timelock"
)

func TestBeaconIsQuicknet(t *testing.T) {
	bi, err := (&Client{}).Beacon(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	info, err := timelock.FromBeaconInfo(bi)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(info.PublicKey.Bytes()); got != timelock.QuicknetPublicKeyHex || info.Genesis != timelock.QuicknetGenesis ||
		info.Period != timelock.QuicknetPeriod || info.Hash != timelock.QuicknetHash {
		t.Errorf("beacon %s genesis %d period %v hash %s, want quicknet's", got, info.Genesis, info.Period, info.Hash)
	}
}
