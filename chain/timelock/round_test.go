package timelock

import (
	"testing"
	"time"
)

// TestRevealRound: expected rounds worked out by hand from bittensor-drand's
// generate_commit (src/drand.rs):
//
//	epoch  = (block + netuid + 1) / (tempo + 1)
//	first  = (epoch + period) * (tempo + 1) - (netuid + 1)
//	blocks = max(first + 3 - block, 0)
//	round  = max(floor((now + blocks*blockTime - 1692803367) / 3), 1)
func TestRevealRound(t *testing.T) {
	g := time.Unix(QuicknetGenesis, 0)
	for _, tc := range []struct {
		name string
		p    RevealParams
		want uint64
	}{
		// The SDK's own test inputs (tempo 20, block 1000, netuid 1, 3
		// epochs, 12 s): epoch 1002/21 = 47, first = 50*21-2 = 1048,
		// blocks = 1051-1000 = 51, 612 s; now = genesis+9000 s ->
		// floor(9612/3) = 3204.
		{"sdk test inputs", RevealParams{Now: g.Add(9000 * time.Second), CurrentBlock: 1000, NetUID: 1, Tempo: 20, RevealPeriodEpochs: 3, BlockTime: 12 * time.Second}, 3204},
		// Subnet 29 shape (tempo 360, 1 epoch): epoch 5000030/361 = 13850,
		// first = 13851*361-30 = 5000181, blocks = 184, 2208 s;
		// now = 1750000000.5 -> (1750002208.5-1692803367)/3 = 19066280.5.
		{"subnet 29", RevealParams{Now: time.Unix(1_750_000_000, 500_000_000), CurrentBlock: 5_000_000, NetUID: 29, Tempo: 360, RevealPeriodEpochs: 1, BlockTime: 12 * time.Second}, 19_066_280},
		// Period 0, block past the target: epoch 106/11 = 9, first = 98,
		// target 101 < 105 so 0 blocks; floor(10/3) = 3.
		{"target already passed", RevealParams{Now: g.Add(10 * time.Second), CurrentBlock: 105, NetUID: 0, Tempo: 10, RevealPeriodEpochs: 0, BlockTime: 12 * time.Second}, 3},
		// Fast blocks (0.25 s): epoch 1003/11 = 91, first = 92*11-3 = 1009,
		// blocks = 12, 3 s; now = genesis+0.9 s -> floor(3.9/3) = 1.
		{"fast blocks", RevealParams{Now: g.Add(900 * time.Millisecond), CurrentBlock: 1000, NetUID: 2, Tempo: 10, RevealPeriodEpochs: 1, BlockTime: 250 * time.Millisecond}, 1},
		// Same at genesis+4 s: floor(7/3) = 2.
		{"fast blocks later", RevealParams{Now: g.Add(4 * time.Second), CurrentBlock: 1000, NetUID: 2, Tempo: 10, RevealPeriodEpochs: 1, BlockTime: 250 * time.Millisecond}, 2},
		// A day before genesis: epoch 1/361 = 0, first = 361-1 = 360,
		// blocks = 363, 4356 s; -86400+4356 < 0, so the SDK clamps to 1.
		{"before genesis", RevealParams{Now: g.Add(-24 * time.Hour), CurrentBlock: 0, NetUID: 0, Tempo: 360, RevealPeriodEpochs: 1, BlockTime: 12 * time.Second}, 1},
		// Tempo 1: epoch (0+1)/2 = 0, first = 1*2-1 = 1, blocks = 4, 48 s;
		// now = genesis+2 s -> floor(50/3) = 16.
		{"tempo 1", RevealParams{Now: g.Add(2 * time.Second), CurrentBlock: 0, NetUID: 0, Tempo: 1, RevealPeriodEpochs: 1, BlockTime: 12 * time.Second}, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Genesis, p.Period = QuicknetGenesis, QuicknetPeriod
			if got := RevealRound(p); got != tc.want {
				t.Errorf("RevealRound = %d, want %d", got, tc.want)
			}
		})
	}
	if got := RevealRound(RevealParams{Now: g, Tempo: 1, BlockTime: time.Second}); got != 0 {
		t.Errorf("no beacon period: round %d, want 0", got)
	}
}
