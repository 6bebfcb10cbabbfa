package model

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sugarme/gotch/ts"
)

// Data-parallel training: every rank computes the gradients of its own rows,
// then the gradients are summed over the ranks (one all-reduce per 25 MB
// bucket) before the gradient norm, clipping and AdamW, so every rank applies
// the same update to the same weights. The division by the number of ranks
// is folded into the norm and AdamW's gradient scale, and the gradients of a
// shared bucket become views of its reduced buffer, so the gradients are
// copied once (into the buckets) and not divided or copied back. The
// engine's backward pass returns all gradients at once (like
// torch.autograd.grad), so the all-reduce starts after it rather than
// overlapping it.

// ddpState is a trainer's data-parallel group and what it has measured.
type ddpState struct {
	g *DDP
	// reduce is the time spent in the all-reduces of the gradients and
	// token counts since the group was set; wait is the part of it spent in
	// the token counts' all-reduce, the first collective of a step, which
	// also waits for the slowest rank to finish its backward pass.
	reduce, wait time.Duration
}

// UseDDP makes the trainer one rank of the group g. It fails unless every
// rank has the same model (configuration, compute dtype, parameter shapes),
// then copies rank 0's weights and AdamW moments into every rank. From then
// on every TrainStep averages the gradients over the ranks, weighting each
// rank by its scored tokens, so the step equals one process training on all
// the ranks' rows; the loss and token count it reports are the group's.
func (tr *Trainer) UseDDP(ctx context.Context, g *DDP) error {
	digest, err := tr.configDigest()
	if err != nil {
		return err
	}
	err = tr.e.Do(ctx, func() error {
		if tr.closed {
			return ErrClosed
		}
		if err := g.agree("model config", digest); err != nil {
			return err
		}
		var list []*ts.Tensor
		for _, p := range tr.params {
			p.ensureMoments()
			list = append(list, p.t, p.m, p.v)
		}
		if err := g.broadcast(list, 0); err != nil {
			return err
		}
		tr.refreshCompute()
		return nil
	})
	if err != nil {
		return fmt.Errorf("start data-parallel training: %w", err)
	}
	tr.ddp = &ddpState{g: g}
	return nil
}

// ReduceTime is the time the trainer has spent in data-parallel all-reduces
// (zero without a group).
func (tr *Trainer) ReduceTime() time.Duration {
	if tr.ddp == nil {
		return 0
	}
	return tr.ddp.reduce
}

// ReduceWaitTime is the part of ReduceTime spent in each step's first
// collective (the token counts), which includes waiting for the slowest
// rank; the rest is the gradients' all-reduce.
func (tr *Trainer) ReduceWaitTime() time.Duration {
	if tr.ddp == nil {
		return 0
	}
	return tr.ddp.wait
}

// configDigest names the model's shape: its configuration, compute dtype and
// parameter shapes.
func (tr *Trainer) configDigest() (string, error) {
	type shape struct {
		Name  string  `json:"name"`
		Shape []int64 `json:"shape"`
	}
	var shapes []shape
	for _, p := range tr.params {
		shapes = append(shapes, shape{p.name, p.shape()})
	}
	data, err := json.Marshal(struct {
		Config any     `json:"config"`
		DType  DType   `json:"dtype"`
		Params []shape `json:"params"`
		// Recompute changes the order of the collectives of a step.
		Recompute bool `json:"recompute"`
	}{tr.cfg, tr.dtype, shapes, tr.recompute})
	if err != nil {
		return "", fmt.Errorf("digest model config: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), nil
}

// peerErr adds to a failed collective what it most likely means.
func (d *DDP) peerErr(err error) error {
	return fmt.Errorf("%w (another rank died, stopped or hung; the group waits at most %v)", err, d.opts.Timeout)
}
