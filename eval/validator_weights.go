package eval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/coldint/coldint/chain"
	"github.com/coldint/coldint/internal/atomicfile"
)

// WeightsVersionKey is the version_key sent with set_weights: the spec
// version of the behaviour implemented (1016 for v1.0.16, spec §1).
const WeightsVersionKey = SpecVersion

// revealMaxAge is how long (in blocks) a commit-reveal commit is retried
// before it is dropped.
const revealMaxAge = 3 * BlocksPerEpoch

// maybeSetWeights sets the running weight vector on chain when due (spec
// §6.12): at least WeightInterval since the last success (initialised to
// start-up), a sum of at least 1e-5, u16 max-upscaled, version key, up to 3
// attempts waiting for a new block between them, and commit-reveal when the
// subnet refuses plain set_weights.
func (v *Validator) maybeSetWeights(ctx context.Context) (bool, error) {
	if v.opts.Setter == nil {
		return false, nil
	}
	if err := v.revealPending(ctx); err != nil {
		v.log.Warn("reveal committed weights", "err", err)
	}
	last := v.started
	if v.state.LastWeightsSet > 0 {
		last = time.Unix(0, int64(v.state.LastWeightsSet*1e9))
	}
	interval := v.opts.WeightInterval
	if interval < 0 {
		interval = 0
	}
	if !WeightSetDue(last, v.now(), interval, v.weights) {
		return false, nil
	}
	uids := make([]chain.UID, len(v.weights))
	for i := range uids {
		uids[i] = chain.UID(i)
	}
	us, vals, err := chain.NormalizeWeights(uids, v.weights)
	if err != nil {
		return false, fmt.Errorf("set weights: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			v.waitNewBlock(ctx, 20*time.Second)
		}
		_, err = v.opts.Setter.SetWeights(ctx, v.opts.Netuid, us, vals, WeightsVersionKey)
		if errors.Is(err, chain.ErrCommitRevealEnabled) {
			err = v.commitWeights(ctx, us, vals)
		}
		if err == nil {
			v.state.LastWeightsSet = float64(v.now().UnixNano()) / 1e9
			v.log.Info("weights set", "uids", len(us))
			return true, v.saveState()
		}
		if errors.Is(err, chain.ErrNotRegistered) || errors.Is(err, chain.ErrNoPermit) || errors.Is(err, chain.ErrUnknownNetuid) || ctx.Err() != nil {
			break
		}
		v.log.Warn("set weights attempt failed", "attempt", attempt+1, "err", err)
	}
	return false, fmt.Errorf("set weights: %w", err)
}

func (v *Validator) commitWeights(ctx context.Context, uids []chain.UID, vals []uint16) error {
	salt := make([]uint16, 8)
	for i := range salt {
		salt[i] = uint16(rand.Uint32())
	}
	h := chain.CommitHash(v.opts.Hotkey, v.opts.Netuid, uids, vals, salt, WeightsVersionKey)
	blk, err := v.opts.Setter.CommitWeights(ctx, v.opts.Netuid, h)
	if err != nil {
		return fmt.Errorf("commit weights: %w", err)
	}
	v.state.PendingReveal = &PendingReveal{UIDs: uids, Values: vals, Salt: salt, VersionKey: WeightsVersionKey, Block: blk}
	v.log.Info("weights committed (commit-reveal)", "block", blk)
	return v.saveState()
}

// revealPending reveals a commit-reveal commit; one that keeps failing for
// longer than revealMaxAge blocks is dropped.
func (v *Validator) revealPending(ctx context.Context) error {
	p := v.state.PendingReveal
	if p == nil {
		return nil
	}
	_, err := v.opts.Setter.RevealWeights(ctx, v.opts.Netuid, p.UIDs, p.Values, p.Salt, p.VersionKey)
	if err == nil {
		v.state.PendingReveal = nil
		v.log.Info("committed weights revealed", "commit_block", p.Block)
		return v.saveState()
	}
	if head, herr := v.opts.Chain.BlockNumber(ctx); herr == nil && head > p.Block+revealMaxAge {
		v.state.PendingReveal = nil
		return fmt.Errorf("dropping weight commit of block %d: %w", p.Block, err)
	}
	return err
}

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

// Weights returns the running (EMA) weight vector.
func (v *Validator) Weights() []float64 { return append([]float64(nil), v.weights...) }

// ---- disk management (§6.15) ----

// cleanModels deletes model snapshots that no active UID references when
// the disk policy needs space; only folders untouched for 300 s go, only
// snapshots the validator downloaded (the model folder may be a cache other
// tools share), and a blob only when no other snapshot links it.
func (v *Validator) cleanModels() {
	free, err := v.freeDisk()
	if err != nil {
		return
	}
	var inUse int64
	filepath.WalkDir(v.opts.ModelDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				inUse += fi.Size()
			}
		}
		return nil
	})
	need := BytesToDelete(inUse, free, v.opts.StoreSizeGB)
	if need <= 0 {
		return
	}
	keep := map[string]bool{}
	for _, u := range ActiveUIDs(v.state.CState) {
		if m := v.models[u]; m != nil {
			keep[filepath.Clean(m.Dir)] = true
		}
		if int(u) < len(v.hotkeys) {
			if meta := v.state.HKMetadata[v.hotkeys[u]]; meta != nil {
				if parts := strings.SplitN(meta.ID.RepoID(), "/", 2); len(parts) == 2 {
					keep[filepath.Join(v.opts.ModelDir, "models--"+parts[0]+"--"+parts[1], "snapshots", meta.ID.Commit)] = true
				}
			}
		}
	}
	var cands []storeSnapshot
	repos, _ := filepath.Glob(filepath.Join(v.opts.ModelDir, "models--*", "snapshots", "*"))
	for _, d := range repos {
		if keep[filepath.Clean(d)] {
			continue
		}
		c, own := ownSnapshot(v.opts.ModelDir, d)
		if !own || v.now().Sub(c.mtime) < 300*time.Second {
			continue
		}
		cands = append(cands, c)
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].mtime.Before(cands[j].mtime) })
	var freed int64
	for _, c := range cands {
		if freed >= need {
			break
		}
		n, err := removeSnapshot(context.Background(), v.opts.ModelDir, c)
		if err != nil {
			v.log.Warn("delete unreferenced model", "dir", c.dir, "err", err)
			continue
		}
		freed += n
		v.log.Info("deleted unreferenced model", "dir", c.dir, "bytes", n)
	}
}

func writeJSONFile(path string, x any) error {
	b, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o644)
}
