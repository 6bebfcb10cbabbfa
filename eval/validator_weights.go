package eval

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/chain/timelock"
)

// WeightsVersionKey is the version_key sent with set_weights: the spec
// version of the behaviour implemented (1016 for v1.0.16, docs/validator.md#constants-and-defaults).
const WeightsVersionKey = SpecVersion

// revealMaxAge is how long (in blocks) a commit is retried when the chain's
// settings are unknown, before it is dropped.
const revealMaxAge = 3 * BlocksPerEpoch

// maxPendingReveals is the chain's bound on unrevealed commits per hotkey.
const maxPendingReveals = 10

// blockTime is the chain's block time (timelocked reveal rounds).
const blockTime = 12 * time.Second

// weightVariant is how weights go on chain.
type weightVariant int

const (
	variantUnknown    weightVariant = iota // settings unreadable: set_weights, hash commit on refusal
	variantPlain                           // set_weights
	variantHash                            // commit_weights, then reveal_weights
	variantTimelocked                      // commit_timelocked_weights; the chain reveals
)

func (w weightVariant) String() string {
	return [...]string{"unknown (set_weights, hash commit-reveal if refused)", "set_weights", "hash commit-reveal", "timelocked commit-reveal"}[w]
}

// weightParams reads the subnet's weight settings; ok is false when the
// chain backend cannot tell (failed false) or the read failed (failed true).
func (v *Validator) weightParams(ctx context.Context) (p chain.WeightParams, ok, failed bool) {
	r, isReader := v.opts.Chain.(chain.WeightParamsReader)
	if !isReader {
		return p, false, false
	}
	var err error
	v.unlocked(func() { p, err = r.WeightParams(ctx, v.opts.Netuid) })
	if err != nil {
		if ctx.Err() == nil {
			v.log.Warn("read subnet weight settings; weights wait for the next try", "err", err)
		}
		return p, false, true
	}
	return p, true, false
}

// variantFor picks the weight variant the subnet's settings ask for and
// logs it when it changes.
func (v *Validator) variantFor(p chain.WeightParams, ok bool) weightVariant {
	w := variantUnknown
	_, canTimelock := v.opts.Setter.(chain.TimelockedWeightSetter)
	switch {
	case !ok:
	case !p.CommitRevealEnabled:
		w = variantPlain
	case p.CommitRevealVersion >= timelock.CommitRevealVersion && canTimelock && !v.opts.HashCommitReveal:
		w = variantTimelocked
	default:
		w = variantHash
	}
	if w != v.variant {
		v.log.Info("weights variant", "variant", w.String(), "commit_reveal_enabled", p.CommitRevealEnabled,
			"commit_reveal_version", p.CommitRevealVersion, "reveal_period_epochs", p.RevealPeriodEpochs, "tempo", p.Tempo)
		v.variant = w
	}
	return w
}

// weightsStage reveals the commits due and, when set is true and the
// interval has passed, puts the running weight vector on chain (docs/validator.md#setting-weights):
// at least WeightInterval since the last success (initialised to start-up),
// a sum of at least 1e-5, u16 max-upscaled, version key, the chain's rate
// limit respected, up to 3 attempts. The caller holds v.mu; chain calls run
// without it.
func (v *Validator) weightsStage(ctx context.Context, set bool) (bool, error) {
	if v.opts.Setter == nil || ctx.Err() != nil {
		return false, nil
	}
	p, ok, failed := v.weightParams(ctx)
	if failed {
		return false, nil
	}
	v.revealDue(ctx, p, ok)
	if !set || !v.weightsDue() {
		return false, nil
	}
	variant := v.variantFor(p, ok)
	if ok && v.rateLimited(p) {
		return false, nil
	}
	if variant == variantHash && len(v.state.PendingReveals) >= maxPendingReveals {
		v.log.Warn("weights not committed: the chain holds at most 10 unrevealed commits", "pending", len(v.state.PendingReveals))
		return false, nil
	}
	us, vals, err := chain.NormalizeWeights(identityUIDs(len(v.weights)), v.weights)
	if err != nil {
		return false, fmt.Errorf("set weights: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			v.unlocked(func() { v.waitNewBlock(ctx, 20*time.Second) })
		}
		var blk chain.BlockNumber
		blk, err = v.putWeights(ctx, variant, p, us, vals)
		if err == nil {
			v.state.LastWeightsSet = float64(v.now().UnixNano()) / 1e9
			v.state.LastWeightsBlock = blk
			v.log.Info("weights sent", "variant", variant.String(), "uids", len(us), "block", blk)
			return true, v.saveState()
		}
		if errors.Is(err, chain.ErrNotRegistered) || errors.Is(err, chain.ErrNoPermit) || errors.Is(err, chain.ErrUnknownNetuid) || ctx.Err() != nil {
			break
		}
		v.log.Warn("set weights attempt failed", "attempt", attempt+1, "err", err)
	}
	return false, fmt.Errorf("weights (%s): %w", variant, err)
}

func (v *Validator) weightsDue() bool {
	last := v.started
	if v.state.LastWeightsSet > 0 {
		last = time.Unix(0, int64(v.state.LastWeightsSet*1e9))
	}
	return WeightSetDue(last, v.now(), max(v.opts.WeightInterval, 0), v.weights)
}

// rateLimited reports whether the chain's WeightsSetRateLimit forbids a set
// or commit now, counting from our own last one and the metagraph's
// last_update of our uid.
func (v *Validator) rateLimited(p chain.WeightParams) bool {
	last := v.state.LastWeightsBlock
	if v.mg != nil {
		if nr, ok := v.mg.ByHotkey(v.opts.Hotkey); ok {
			last = max(last, nr.LastUpdate)
		}
	}
	if last == 0 || last > p.Block || uint64(p.Block-last) >= p.WeightsRateLimit {
		return false
	}
	v.log.Info("weights wait for the chain's rate limit", "last_update", last, "rate_limit_blocks", p.WeightsRateLimit, "head", p.Block)
	return true
}

// putWeights sends one weight row with the chosen variant.
func (v *Validator) putWeights(ctx context.Context, w weightVariant, p chain.WeightParams, us []chain.UID, vals []uint16) (blk chain.BlockNumber, err error) {
	switch w {
	case variantHash:
		return v.commitHash(ctx, p, true, us, vals)
	case variantTimelocked:
		return v.commitTimelocked(ctx, p, us, vals)
	}
	v.unlocked(func() { blk, err = v.opts.Setter.SetWeights(ctx, v.opts.Netuid, us, vals, WeightsVersionKey) })
	if w == variantUnknown && errors.Is(err, chain.ErrCommitRevealEnabled) {
		return v.commitHash(ctx, p, false, us, vals)
	}
	return blk, err
}

// commitHash commits the row's hash and queues the reveal.
func (v *Validator) commitHash(ctx context.Context, p chain.WeightParams, known bool, us []chain.UID, vals []uint16) (chain.BlockNumber, error) {
	salt := make([]uint16, 8)
	for i := range salt {
		salt[i] = uint16(rand.Uint32())
	}
	h := chain.CommitHash(v.opts.Hotkey, v.opts.Netuid, us, vals, salt, WeightsVersionKey)
	var blk chain.BlockNumber
	var err error
	v.unlocked(func() { blk, err = v.opts.Setter.CommitWeights(ctx, v.opts.Netuid, h) })
	if err != nil {
		return 0, err
	}
	pr := PendingReveal{UIDs: us, Values: vals, Salt: salt, VersionKey: WeightsVersionKey, Block: blk}
	if known {
		pr.RevealEpoch = p.RevealEpoch(v.opts.Netuid, blk)
	}
	v.state.PendingReveals = append(v.state.PendingReveals, pr)
	v.log.Info("weights committed (hash commit-reveal)", "block", blk, "reveal_epoch", pr.RevealEpoch, "pending", len(v.state.PendingReveals))
	return blk, v.saveState()
}

// commitTimelocked encrypts the row to the beacon round of the reveal epoch
// and commits it; the chain reveals it by itself.
func (v *Validator) commitTimelocked(ctx context.Context, p chain.WeightParams, us []chain.UID, vals []uint16) (chain.BlockNumber, error) {
	tl := v.opts.Setter.(chain.TimelockedWeightSetter)
	info := timelock.Quicknet()
	if v.opts.Beacon != nil {
		info = *v.opts.Beacon
	}
	pl := &timelock.Payload{Hotkey: v.opts.Hotkey, UIDs: uidsU16(us), Values: vals, VersionKey: WeightsVersionKey}
	rp := timelock.RevealParams{Now: v.now(), CurrentBlock: uint64(p.Block), NetUID: uint16(v.opts.Netuid), Tempo: uint64(p.Tempo),
		RevealPeriodEpochs: p.RevealPeriodEpochs, BlockTime: blockTime}
	commit, round, err := timelock.GenerateCommit(info, rp, pl, crand.Reader)
	if err != nil {
		return 0, fmt.Errorf("commit timelocked weights: %w", err)
	}
	var blk chain.BlockNumber
	v.unlocked(func() {
		blk, err = tl.CommitTimelockedWeights(ctx, v.opts.Netuid, commit, round, p.CommitRevealVersion)
	})
	if err != nil {
		return 0, fmt.Errorf("commit timelocked weights: %w", err)
	}
	v.log.Info("weights committed (timelocked)", "block", blk, "reveal_round", round)
	return blk, nil
}

func identityUIDs(n int) []chain.UID {
	uids := make([]chain.UID, n)
	for i := range uids {
		uids[i] = chain.UID(i)
	}
	return uids
}

func uidsU16(us []chain.UID) []uint16 {
	out := make([]uint16, len(us))
	for i, u := range us {
		out[i] = uint16(u)
	}
	return out
}

// Weights returns the running (EMA) weight vector.
func (v *Validator) Weights() []float64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]float64(nil), v.weights...)
}
