package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Group is the data-parallel group a run belongs to (model.DDP): World
// processes train the same model, each on its own rows, and average their
// gradients in Model.TrainStep.
//
// Every optimizer step draws one global batch of World × Batch rows per
// micro-batch from the data stream, and rank r trains on rows
// r·Batch … (r+1)·Batch−1 of it. The data position after a step is thus the
// same on every rank and does not depend on World: a run checkpointed with
// one world size resumes exactly with another (keep World × Batch to keep
// the rows of every step). Rank 0 alone evaluates and writes checkpoints.
type Group interface {
	Rank() int
	World() int
	// Agree fails unless every rank passes the same digest for what.
	Agree(ctx context.Context, what, digest string) error
}

// rankOf returns the rank and world of g (0 and 1 without a group).
func rankOf(g Group) (rank, world int) {
	if g == nil {
		return 0, 1
	}
	return g.Rank(), g.World()
}

// agreeOnState fails unless every rank starts from the same step and data
// position (the same checkpoint).
func agreeOnState(ctx context.Context, g Group, st *State, cfg Config) error {
	if g == nil {
		return nil
	}
	data, err := json.Marshal(struct {
		Step   int          `json:"step"`
		Data   DataState    `json:"data"`
		Stream *StreamState `json:"stream,omitempty"`
		Config Config       `json:"config"`
	}{st.Step, st.Data, st.Stream, cfg})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if err := g.Agree(ctx, "run state", fmt.Sprintf("step %d/%s", st.Step, hex.EncodeToString(sum[:6]))); err != nil {
		return fmt.Errorf("start data-parallel run: %w", err)
	}
	return nil
}

// RowsOf returns rows [from, to) of b.
func (b Batch) RowsOf(from, to int) Batch {
	T := b.SeqLen
	return Batch{Rows: to - from, SeqLen: T, IDs: b.IDs[from*T : to*T], Labels: b.Labels[from*T : to*T]}
}
