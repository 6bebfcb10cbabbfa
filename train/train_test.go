package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// sliceCorpus is a corpus of fixed token lists.
type sliceCorpus [][]int32

func (c sliceCorpus) Len() int                                      { return len(c) }
func (c sliceCorpus) Doc(_ context.Context, i int) ([]int32, error) { return c[i], nil }

// docs returns n documents of varied lengths whose tokens name their
// document: doc i holds tokens 1000·(i+1) + j and ends in EOS 0.
func docs(n int) sliceCorpus {
	out := make(sliceCorpus, n)
	for i := range out {
		l := 3 + (i*7)%11
		for j := 0; j < l; j++ {
			out[i] = append(out[i], int32(1000*(i+1)+j))
		}
		out[i] = append(out[i], 0)
	}
	return out
}

func docOf(tok int32) int { return int(tok)/1000 - 1 }

func TestDataDeterministicAndHeldOut(t *testing.T) {
	ctx := context.Background()
	for _, pack := range []bool{true, false} {
		t.Run(fmt.Sprintf("pack=%v", pack), func(t *testing.T) {
			c := docs(40)
			cfg := DataConfig{SeqLen: 8, Pack: pack, Seed: 9, EvalDocs: 5}
			d1, err := NewData(c, cfg)
			if err != nil {
				t.Fatal(err)
			}
			d2, _ := NewData(c, cfg)
			held := map[int]bool{}
			for _, i := range d1.eval {
				held[i] = true
			}
			var s1, s2 DataState
			var mid DataState
			var batches []Batch
			for k := 0; k < 30; k++ { // several epochs
				var b1, b2 Batch
				b1, s1, err = d1.Next(ctx, s1, 3)
				if err != nil {
					t.Fatal(err)
				}
				b2, s2, _ = d2.Next(ctx, s2, 3)
				if fmt.Sprint(b1) != fmt.Sprint(b2) {
					t.Fatalf("batch %d differs between two Data with the same seed", k)
				}
				if k == 10 {
					mid = s1
				}
				batches = append(batches, b1)
				if b1.Rows != 3 || len(b1.IDs) != 3*b1.SeqLen {
					t.Fatalf("batch shape %d×%d with %d ids", b1.Rows, b1.SeqLen, len(b1.IDs))
				}
				if pack && b1.SeqLen != 8 {
					t.Fatalf("packed row length %d", b1.SeqLen)
				}
				for i, id := range b1.IDs {
					if id != 0 && held[docOf(id)] {
						t.Fatalf("held-out document %d in training batch %d", docOf(id), k)
					}
					lab := b1.Labels[i]
					if i%b1.SeqLen == b1.SeqLen-1 && lab != IgnoreLabel {
						t.Fatalf("last position of a row has label %d", lab)
					}
					if lab != IgnoreLabel && lab != b1.IDs[i+1] {
						t.Fatalf("label %d at %d is not the next token %d", lab, i, b1.IDs[i+1])
					}
				}
			}
			if s1.Epoch < 1 {
				t.Fatalf("30 batches stayed in epoch 0: %+v", s1)
			}
			// Replaying from a saved position gives the same rows.
			s := mid
			for k := 11; k < 30; k++ {
				var b Batch
				b, s, _ = d1.Next(ctx, s, 3)
				if fmt.Sprint(b) != fmt.Sprint(batches[k]) {
					t.Fatalf("replayed batch %d differs", k)
				}
			}
			ev, err := d1.EvalBatches(ctx, 4)
			if err != nil || len(ev) == 0 {
				t.Fatalf("eval batches: %v, %v", len(ev), err)
			}
			for _, b := range ev {
				for _, id := range b.IDs {
					if id != 0 && !held[docOf(id)] {
						t.Fatalf("eval batch holds training document %d", docOf(id))
					}
				}
			}
			// Another seed gives another order.
			d3, _ := NewData(c, DataConfig{SeqLen: 8, Pack: pack, Seed: 10, EvalDocs: 5})
			b3, _, _ := d3.Next(ctx, DataState{}, 3)
			if fmt.Sprint(b3) == fmt.Sprint(batches[0]) {
				t.Fatal("seeds 9 and 10 gave the same first batch")
			}
		})
	}
}

func TestDataErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := NewData(docs(3), DataConfig{SeqLen: 1}); err == nil {
		t.Fatal("sequence length 1 accepted")
	}
	if _, err := NewData(docs(3), DataConfig{SeqLen: 4, EvalDocs: 3}); !errors.Is(err, ErrNoData) {
		t.Fatalf("all documents held out: %v", err)
	}
	d, _ := NewData(sliceCorpus{{1}, {2}, {}}, DataConfig{SeqLen: 4})
	if _, _, err := d.Next(ctx, DataState{}, 1); !errors.Is(err, ErrNoData) {
		t.Fatalf("one-token documents without packing: %v", err)
	}
}

func TestSchedule(t *testing.T) {
	s := Schedule{LR: 1, Warmup: 10, Total: 110, MinRatio: 0.1}
	for _, tc := range []struct {
		step int
		want float64
	}{{1, 0.1}, {5, 0.5}, {10, 1}, {60, 0.55}, {110, 0.1}, {200, 0.1}} {
		if got := s.At(tc.step); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("At(%d) = %v, want %v", tc.step, got, tc.want)
		}
	}
	if got := (Schedule{LR: 2}).At(7); got != 2 {
		t.Errorf("constant schedule gives %v", got)
	}
}

// fakeModel predicts every label as w·id/1000 mod nothing: loss is the mean
// squared error; its one weight and a momentum are saved in checkpoints.
type fakeModel struct {
	w, mom float64
	steps  int
}

func (f *fakeModel) loss(b Batch) (float64, float64, int) {
	var l, g float64
	n := 0
	for i, lab := range b.Labels {
		if lab == IgnoreLabel {
			continue
		}
		x, y := float64(b.IDs[i])/1000, float64(lab)/1000
		d := f.w*x - y
		l += d * d
		g += 2 * d * x
		n++
	}
	return l, g, n
}

func (f *fakeModel) TrainStep(_ context.Context, micro []Batch, p OptimParams) (StepStats, error) {
	var l, g float64
	n := 0
	for _, b := range micro {
		bl, bg, bn := f.loss(b)
		l, g, n = l+bl, g+bg, n+bn
	}
	g /= float64(n)
	f.mom = p.Beta1*f.mom + (1-p.Beta1)*g
	f.w -= p.LR * f.mom
	f.steps++
	return StepStats{Loss: l / float64(n), Tokens: n, GradNorm: math.Abs(g)}, nil
}

func (f *fakeModel) EvalLoss(_ context.Context, b Batch) (float64, int, error) {
	l, _, n := f.loss(b)
	return l, n, nil
}

func (f *fakeModel) SaveCheckpoint(_ context.Context, dir string) error {
	return os.WriteFile(filepath.Join(dir, "w.txt"), []byte(strconv.FormatFloat(f.w, 'g', -1, 64)+" "+strconv.FormatFloat(f.mom, 'g', -1, 64)), 0o644)
}

func loadFake(t *testing.T, dir string) *fakeModel {
	b, err := os.ReadFile(filepath.Join(dir, "w.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var f fakeModel
	if _, err := fmt.Sscan(string(b), &f.w, &f.mom); err != nil {
		t.Fatal(err)
	}
	return &f
}

func testConfig(out string) Config {
	c := DefaultConfig()
	c.Steps, c.Batch, c.Accum, c.LR, c.Warmup = 40, 2, 2, 0.05, 5
	c.EvalEvery, c.CheckpointEvery, c.Out = 10, 15, out
	return c
}

func TestRunResumeEqualsUninterrupted(t *testing.T) {
	ctx := context.Background()
	d, err := NewData(docs(30), DataConfig{SeqLen: 6, Pack: true, Seed: 4, EvalDocs: 3})
	if err != nil {
		t.Fatal(err)
	}
	full, err := Run(ctx, &fakeModel{}, d, testConfig(t.TempDir()), nil, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Curve) != 40 || full.Evals[0].Loss <= full.Evals[len(full.Evals)-1].Loss {
		t.Fatalf("curve %d points, evals %+v", len(full.Curve), full.Evals)
	}

	// Interrupt after step 23 (between checkpoints), as SIGINT would.
	out := t.TempDir()
	cctx, cancel := context.WithCancel(ctx)
	var ckpts []int
	hooks := Hooks{
		Step: func(s StepInfo) {
			if s.Step == 23 {
				cancel()
			}
		},
		Checkpoint: func(_ string, step int) { ckpts = append(ckpts, step) },
	}
	_, err = Run(cctx, &fakeModel{}, d, testConfig(out), nil, hooks)
	if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	if fmt.Sprint(ckpts) != "[15 23]" {
		t.Fatalf("checkpoints at %v, want [15 23]", ckpts)
	}
	st, dir, err := LoadState(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Step != 23 || filepath.Base(dir) != CheckpointDir {
		t.Fatalf("checkpoint at step %d in %q", st.Step, dir)
	}
	got, err := Run(ctx, loadFake(t, dir), d, testConfig(out), st, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range full.Curve {
		if math.Abs(full.Curve[i].Loss-got.Curve[i].Loss) > 1e-12 || full.Curve[i].LR != got.Curve[i].LR {
			t.Fatalf("step %d: resumed %+v, uninterrupted %+v", i+1, got.Curve[i], full.Curve[i])
		}
	}
	if fmt.Sprint(full.Evals) != fmt.Sprint(got.Evals) || full.Data.Cursor != got.Data.Cursor {
		t.Fatalf("evals or data position differ:\n%+v\n%+v", full.Evals, got.Evals)
	}
	// Another data shape is refused.
	d3, _ := NewData(docs(30), DataConfig{SeqLen: 7, Pack: true, Seed: 4, EvalDocs: 3})
	if _, err := Run(ctx, &fakeModel{}, d3, testConfig(t.TempDir()), st, Hooks{}); err == nil {
		t.Fatal("resume with another sequence length accepted")
	}
	// A mismatched seed is refused.
	d2, _ := NewData(docs(30), DataConfig{SeqLen: 6, Pack: true, Seed: 5, EvalDocs: 3})
	if _, err := Run(ctx, &fakeModel{}, d2, testConfig(t.TempDir()), st, Hooks{}); err == nil {
		t.Fatal("resume with another seed accepted")
	}
}

func TestCheckpointFallsBackToPrevious(t *testing.T) {
	out := t.TempDir()
	if _, _, err := LoadState(out); !errors.Is(err, ErrNoCheckpoint) {
		t.Fatalf("empty folder: %v", err)
	}
	st := &State{Version: stateVersion, Step: 7}
	if _, err := SaveCheckpoint(context.Background(), out, &fakeModel{w: 1}, st); err != nil {
		t.Fatal(err)
	}
	// A crash between the two renames leaves only checkpoint.prev.
	if err := os.Rename(filepath.Join(out, CheckpointDir), filepath.Join(out, PrevCheckpointDir)); err != nil {
		t.Fatal(err)
	}
	got, dir, err := LoadState(out)
	if err != nil || got.Step != 7 || filepath.Base(dir) != PrevCheckpointDir {
		t.Fatalf("fallback: %+v %q %v", got, dir, err)
	}
}

func FuzzDataNext(f *testing.F) {
	f.Add(uint64(1), 5, 3, true)
	f.Add(uint64(2), 2, 1, false)
	f.Fuzz(func(t *testing.T, seed uint64, seq, rows int, pack bool) {
		if seq < 2 || seq > 64 || rows < 1 || rows > 8 {
			return
		}
		d, err := NewData(docs(12), DataConfig{SeqLen: seq, Pack: pack, Seed: seed, EvalDocs: 2})
		if err != nil {
			t.Fatal(err)
		}
		var st DataState
		for k := 0; k < 5; k++ {
			b, next, err := d.Next(context.Background(), st, rows)
			if err != nil {
				t.Fatal(err)
			}
			if b.Rows != rows || b.SeqLen > seq || len(b.IDs) != rows*b.SeqLen {
				t.Fatalf("bad batch %d×%d", b.Rows, b.SeqLen)
			}
			st = next
		}
	})
}
