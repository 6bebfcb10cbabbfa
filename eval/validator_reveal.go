package eval

import (
	"context"
	"time"

	"github.com/coldint/coldint/chain"
)

// revealDue reveals the queued hash commits whose reveal epoch has come,
// oldest first, drops the ones whose epoch has passed, and reads each
// revealed row back from the chain. With unknown chain settings (ok false)
// every queued commit is tried and kept until revealMaxAge blocks old.
// The caller holds v.mu.
func (v *Validator) revealDue(ctx context.Context, p chain.WeightParams, ok bool) {
	if len(v.state.PendingReveals) == 0 {
		return
	}
	head := p.Block
	if !ok {
		var err error
		v.unlocked(func() { head, err = v.opts.Chain.BlockNumber(ctx) })
		if err != nil {
			v.log.Warn("reveal committed weights: read head", "err", err)
			return
		}
	}
	now := chain.Epoch(v.opts.Netuid, p.Tempo, head)
	var keep []PendingReveal
	changed := false
	for _, pr := range v.state.PendingReveals {
		if ctx.Err() != nil {
			keep = append(keep, pr)
			continue
		}
		due := pr.RevealEpoch == 0 || !ok
		if ok && pr.RevealEpoch != 0 {
			switch {
			case now < pr.RevealEpoch:
				keep = append(keep, pr)
				continue
			case now > pr.RevealEpoch:
				v.log.Warn("weight commit expired before its reveal; dropped", "commit_block", pr.Block, "reveal_epoch", pr.RevealEpoch, "epoch", now)
				changed = true
				continue
			}
			due = true
		}
		if !due {
			continue
		}
		if v.reveal(ctx, pr) {
			changed = true
			continue
		}
		if pr.RevealEpoch == 0 && head > pr.Block+revealMaxAge {
			v.log.Warn("weight commit could not be revealed; dropped", "commit_block", pr.Block)
			changed = true
			continue
		}
		keep = append(keep, pr)
	}
	if changed {
		v.state.PendingReveals = keep
		if err := v.saveState(); err != nil {
			v.log.Warn("save validator state", "err", err)
		}
	}
}

// reveal submits one reveal and reads the row back; it reports success.
func (v *Validator) reveal(ctx context.Context, pr PendingReveal) bool {
	var blk chain.BlockNumber
	var err error
	v.unlocked(func() {
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		blk, err = v.opts.Setter.RevealWeights(ctx, v.opts.Netuid, pr.UIDs, pr.Values, pr.Salt, pr.VersionKey)
	})
	if err != nil && ctx.Err() != nil {
		return false
	}
	if err != nil {
		v.log.Warn("reveal committed weights", "commit_block", pr.Block, "reveal_epoch", pr.RevealEpoch, "err", err)
		return false
	}
	v.state.LastWeightsBlock = max(v.state.LastWeightsBlock, blk)
	v.log.Info("committed weights revealed", "commit_block", pr.Block, "reveal_block", blk, "on_chain", v.readBack(ctx, pr))
	return true
}

// readBack reads our weight row from the chain and says whether it holds
// what was revealed ("match", "differs" or why it could not tell).
func (v *Validator) readBack(ctx context.Context, pr PendingReveal) string {
	if v.mg == nil {
		return "unknown uid"
	}
	nr, ok := v.mg.ByHotkey(v.opts.Hotkey)
	if !ok {
		return "unknown uid"
	}
	var w chain.Weights
	var err error
	v.unlocked(func() { w, err = v.opts.Chain.Weights(ctx, v.opts.Netuid, nr.UID) })
	if err != nil {
		return "read failed: " + err.Error()
	}
	got := w.Map()
	n := 0
	for i, u := range pr.UIDs {
		if pr.Values[i] == 0 {
			continue
		}
		n++
		if got[u] != pr.Values[i] {
			return "differs"
		}
	}
	if n == len(got) {
		return "match"
	}
	return "differs"
}

// waitNewBlock waits (up to limit) for the head to move.
func (v *Validator) waitNewBlock(ctx context.Context, limit time.Duration) {
	start, err := v.opts.Chain.BlockNumber(ctx)
	if err != nil {
		return
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
		if b, err := v.opts.Chain.BlockNumber(ctx); err == nil && b > start {
			return
		}
	}
}
