package train

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recModel records the rows of every micro-batch it trains on.
type recModel struct {
	fakeModel
	rows [][]int32 // one entry per micro-batch: its ids
}

func (m *recModel) TrainStep(ctx context.Context, micro []Batch, p OptimParams) (StepStats, error) {
	for _, b := range micro {
		m.rows = append(m.rows, slices.Clone(b.IDs))
	}
	return m.fakeModel.TrainStep(ctx, micro, p)
}

// fakeGroup is one rank of a group whose agreement compares with what the
// first rank to ask recorded.
type fakeGroup struct {
	rank, world int
	seen        map[string]string
}

func (g *fakeGroup) Rank() int  { return g.rank }
func (g *fakeGroup) World() int { return g.world }
func (g *fakeGroup) Agree(_ context.Context, what, digest string) error {
	if prev, ok := g.seen[what]; ok && prev != digest {
		return fmt.Errorf("%s differs across ranks: rank 0 has %s, rank %d has %s", what, prev, g.rank, digest)
	}
	g.seen[what] = digest
	return nil
}

// TestRunRanksSplitTheGlobalBatch: two ranks at batch 2 train on the halves
// of the rows one process trains on at batch 4; rank 0 alone writes
// checkpoints (recording the world size) and evaluates; a rank starting from
// another state is refused.
func TestRunRanksSplitTheGlobalBatch(t *testing.T) {
	ctx := context.Background()
	c := docs(60)
	d, err := NewData(c, DataConfig{SeqLen: 8, Pack: true, Seed: 4, EvalDocs: 5})
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(filepath.Join(t.TempDir(), "one"))
	cfg.Steps, cfg.Batch = 12, 4
	one := &recModel{}
	if _, err := Run(ctx, one, d, cfg, nil, Hooks{}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	var ranks [2]*recModel
	var outs [2]string
	for r := range ranks {
		outs[r] = filepath.Join(t.TempDir(), fmt.Sprint("rank", r))
		rc := cfg
		rc.Batch, rc.Out, rc.Group = 2, outs[r], &fakeGroup{rank: r, world: 2, seen: seen}
		ranks[r] = &recModel{}
		evals := 0
		st, err := Run(ctx, ranks[r], d, rc, nil, Hooks{Eval: func(EvalPoint) { evals++ }})
		if err != nil {
			t.Fatal(err)
		}
		if st.World != 2 || (r == 0) != (evals > 0) {
			t.Fatalf("rank %d: world %d, %d evaluations", r, st.World, evals)
		}
	}
	if len(one.rows) != len(ranks[0].rows) || len(one.rows) != len(ranks[1].rows) {
		t.Fatalf("micro-batches: %d alone, %d and %d on the ranks", len(one.rows), len(ranks[0].rows), len(ranks[1].rows))
	}
	for i, want := range one.rows {
		got := append(slices.Clone(ranks[0].rows[i]), ranks[1].rows[i]...)
		if !slices.Equal(got, want) {
			t.Fatalf("micro-batch %d: ranks train on %v, one process on %v", i, got, want)
		}
	}
	if st, _, err := LoadState(outs[0]); err != nil || st.World != 2 || st.Step != cfg.Steps {
		t.Fatalf("rank 0's checkpoint: %+v, %v", st, err)
	}
	if _, _, err := LoadState(outs[1]); err == nil {
		t.Fatal("rank 1 wrote a checkpoint")
	}
	rc := cfg
	rc.Batch, rc.Out, rc.Group = 2, "", &fakeGroup{rank: 1, world: 2, seen: map[string]string{"run state": "step 0/x"}}
	_, err = Run(ctx, &recModel{}, d, rc, &State{Version: stateVersion, Seed: 4, Step: 3, DataConfig: d.Config()}, Hooks{})
	if err == nil || !strings.Contains(err.Error(), "run state differs across ranks") {
		t.Fatalf("rank from another state: %v", err)
	}
}
