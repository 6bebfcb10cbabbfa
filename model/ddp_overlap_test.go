package model

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/coldint/coldint/model/synth"
	"github.com/coldint/coldint/train"
)

// TestDDPAccumUnequalTokens: two ranks with two micro-batches each and
// different numbers of scored tokens (rows of different lengths) end where
// one process training on all four micro-batches ends, with the all-reduce
// overlapping the backward pass and with activation checkpointing (where
// it follows the backward pass).
func TestDDPAccumUnequalTokens(t *testing.T) {
	ctx := context.Background()
	e := testEngine(t)
	spec := tinyTrainSpec("llama", 12)
	spec.Std = 0.1
	dir := writeModel(t, spec)
	row := func(seed uint64, n int) []int32 { return synth.RandomIDs(seed, n, spec.Vocab) }
	micro := [][]train.Batch{
		{batchOf(row(41, 12), row(42, 7)), batchOf(row(43, 12))},
		{batchOf(row(44, 5), row(45, 12)), batchOf(row(46, 9), row(47, 3))},
	}
	for _, recompute := range []bool{false, true} {
		t.Run(fmt.Sprintf("recompute=%v", recompute), func(t *testing.T) {
			tmp := t.TempDir()
			port := freePort(t)
			var jobs []ddpJob
			for r := range 2 {
				jobs = append(jobs, ddpJob{Model: dir, Port: port, Rank: r, World: 2, TimeoutMS: 60000, Steps: 4,
					Micro: micro[r], Recompute: recompute, Params: ddpTestParams, Out: filepath.Join(tmp, fmt.Sprintf("rank%d.json", r)),
					BucketBytes: 8 << 10})
			}
			text, errs := runRanks(t, jobs)
			for r, err := range errs {
				if err != nil {
					t.Fatalf("rank %d: %v\n%s", r, err, text[r])
				}
			}
			r0, r1 := readParams(t, jobs[0].Out), readParams(t, jobs[1].Out)
			if w, name := worstRel(t, r1, r0); w != 0 {
				t.Fatalf("ranks disagree: %q differs by %.3g", name, w)
			}
			tr, err := e.NewTrainerWith(ctx, dir, TrainerOptions{GradCheckpointing: recompute})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			p := ddpTestParams
			all := append(append([]train.Batch(nil), micro[0]...), micro[1]...)
			for s := 1; s <= 4; s++ {
				p.Step = s
				if _, err := tr.TrainStep(ctx, all, p); err != nil {
					t.Fatal(err)
				}
			}
			one, err := tr.Parameters(ctx)
			if err != nil {
				t.Fatal(err)
			}
			w, name := worstRel(t, r0, one)
			t.Logf("2 ranks × 2 micro-batches against 1 rank × 4: worst ‖Δ‖/‖w‖ %.2g (%s)", w, name)
			if w > 1e-5 {
				t.Fatalf("2 ranks differ from 1 rank: %q by %.3g", name, w)
			}
		})
	}
}
