package timelock

import (
	"math"
	"time"
)

// RevealOffsetBlocks is how many blocks into the reveal epoch the reference
// SDK aims the reveal round, so the pulse is on chain when the epoch starts
// revealing.
const RevealOffsetBlocks = 3

// RevealParams are the inputs of the reference SDK's reveal-round rule.
type RevealParams struct {
	// Now is the wall-clock time of the commit.
	Now time.Time
	// CurrentBlock is the chain's current block number.
	CurrentBlock uint64
	// NetUID is the subnet.
	NetUID uint16
	// Tempo is the subnet's tempo in blocks.
	Tempo uint64
	// RevealPeriodEpochs is the subnet's RevealPeriodEpochs.
	RevealPeriodEpochs uint64
	// BlockTime is the chain's block time (12 s on finney).
	BlockTime time.Duration
	// Genesis and Period are the beacon's (quicknet: 1692803367, 3 s).
	Genesis int64
	Period  time.Duration
}

// RevealRound returns the beacon round a commit made now is encrypted to,
// computed as bittensor-drand's generate_commit does:
//
//	epoch   = (block + netuid + 1) / (tempo + 1)
//	first   = (epoch + revealPeriod) * (tempo + 1) - (netuid + 1)
//	target  = first + 3                       (blocks)
//	seconds = now + max(target - block, 0) * blockTime
//	round   = max(floor((seconds - genesis) / period), 1)
//
// with the same float64 arithmetic and saturating integer steps. A period
// that is not positive gives 0, which no chain call accepts.
func RevealRound(p RevealParams) uint64 {
	if p.Period <= 0 {
		return 0
	}
	tempo1 := satAdd(p.Tempo, 1)
	netuid1 := uint64(p.NetUID) + 1
	epoch := (p.CurrentBlock + netuid1) / tempo1
	revealEpoch := epoch + p.RevealPeriodEpochs
	first := satSub(satMul(revealEpoch, tempo1), netuid1)
	target := satAdd(first, RevealOffsetBlocks)
	blocks := satSub(target, p.CurrentBlock)
	secsUntil := float64(blocks) * p.BlockTime.Seconds()
	now := float64(p.Now.Unix()) + float64(p.Now.Nanosecond())/1e9
	period := p.Period.Seconds()
	round := f64ToU64(math.Floor((now + secsUntil - float64(p.Genesis)) / period))
	return max(round, 1)
}

// f64ToU64 converts as Rust's `as u64` does: NaN and negatives give 0,
// values past the range give the maximum.
func f64ToU64(f float64) uint64 {
	switch {
	case math.IsNaN(f) || f <= 0:
		return 0
	case f >= 1<<64:
		return math.MaxUint64
	}
	return uint64(f)
}

func satAdd(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func satSub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

func satMul(a, b uint64) uint64 {
	if a != 0 && b > math.MaxUint64/a {
		return math.MaxUint64
	}
	return a * b
}
