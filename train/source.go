package train

import (
	"context"
	"fmt"
)

// Source supplies the rows of a run: a [*Data] (a tokenized corpus from
// which every rank draws the same global batch and keeps its share) or a
// [*StreamData] (a streamed dataset of which each rank reads its own part).
type Source interface {
	// Config returns the data configuration.
	Config() DataConfig
	// EvalBatches returns the held-out rows in batches of at most batchRows.
	EvalBatches(ctx context.Context, batchRows int) ([]Batch, error)

	// begin checks st (the resumed state or a fresh one) against the source
	// and fills in what the source records at the start.
	begin(ctx context.Context, st *State, cfg Config) error
	// next returns this rank's micro-batches of step st.Step+1 and a func
	// that records the data position after them in st once the step is done.
	next(ctx context.Context, st *State, cfg Config) ([]Batch, func(*State), error)
	// settle makes st's data position the group's (rank 0, before a
	// checkpoint is written).
	settle(ctx context.Context, st *State) error
	// where describes this rank's data position after the last step.
	where(st *State) string
}

func (d *Data) begin(_ context.Context, st *State, _ Config) error {
	if st.Seed != d.cfg.Seed {
		return fmt.Errorf("resume: checkpoint seed %d differs from the data seed %d", st.Seed, d.cfg.Seed)
	}
	if st.Stream != nil {
		return fmt.Errorf("resume: the checkpoint's run streamed %s; give that dataset (--dataset) instead of local files", st.Stream.Dataset)
	}
	return nil
}

func (d *Data) next(ctx context.Context, st *State, cfg Config) ([]Batch, func(*State), error) {
	rank, world := rankOf(cfg.Group)
	micro := make([]Batch, cfg.Accum)
	next := st.Data
	var err error
	for i := range micro {
		micro[i], next, err = d.Next(ctx, next, cfg.Batch*world)
		if err != nil {
			return nil, nil, err
		}
		micro[i] = micro[i].RowsOf(rank*cfg.Batch, (rank+1)*cfg.Batch)
	}
	return micro, func(s *State) { s.Data = next }, nil
}

func (d *Data) settle(context.Context, *State) error { return nil }

func (d *Data) where(st *State) string {
	return fmt.Sprintf("epoch %d document %d of %d", st.Data.Epoch, st.Data.Cursor, len(d.train))
}
