package model

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/coldint/coldint/internal/testenv"

	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/model/synth"
	"github.com/coldint/coldint/train"
)

func tinyTrainSpec(arch string, seed uint64) synth.Spec {
	return synth.Spec{Arch: arch, Layers: 2, Hidden: 32, Heads: 4, KVHeads: 2, Intermediate: 48, Vocab: 97, Tie: arch == "llama", Std: 0.05, Seed: seed}
}

// batchOf packs rows of ids into a train.Batch with next-token labels.
func batchOf(rows ...[]int32) train.Batch {
	T := 0
	for _, r := range rows {
		T = max(T, len(r))
	}
	b := train.Batch{Rows: len(rows), SeqLen: T, IDs: make([]int32, len(rows)*T), Labels: make([]int32, len(rows)*T)}
	for i, r := range rows {
		for t := 0; t < T; t++ {
			if t < len(r) {
				b.IDs[i*T+t] = r[t]
			}
			if t+1 < len(r) {
				b.Labels[i*T+t] = r[t+1]
			} else {
				b.Labels[i*T+t] = train.IgnoreLabel
			}
		}
	}
	return b
}

// TestTrainerLossMatchesEval checks the training forward against the
// evaluation forward: the summed loss of each row equals Model.Losses.
func TestTrainerLossMatchesEval(t *testing.T) {
	ctx := context.Background()
	e := testEngine(t)
	for _, arch := range []string{"llama", "phi3"} {
		t.Run(arch, func(t *testing.T) {
			spec := tinyTrainSpec(arch, 3)
			if arch == "phi3" {
				spec.SlidingWindow = 5
			}
			dir := writeModel(t, spec)
			rows := [][]int32{synth.RandomIDs(1, 12, spec.Vocab), synth.RandomIDs(2, 12, spec.Vocab)}
			m := loadModel(t, dir, 0)
			want := losses(t, m, []Sample{{Ids: rows[0], Valid: true}, {Ids: rows[1], Valid: true}})
			tr, err := e.NewTrainer(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			for i, r := range rows {
				got, n, err := tr.EvalLoss(ctx, batchOf(r))
				if err != nil {
					t.Fatal(err)
				}
				if n != len(r)-1 || relErr(got, want[i]) > 1e-5 {
					t.Fatalf("row %d: train forward %v over %d tokens, eval %v", i, got, n, want[i])
				}
			}
			both, n, err := tr.EvalLoss(ctx, batchOf(rows...))
			if err != nil {
				t.Fatal(err)
			}
			if n != 22 || relErr(both, want[0]+want[1]) > 1e-5 {
				t.Fatalf("batch of 2: %v over %d tokens, want %v", both, n, want[0]+want[1])
			}
		})
	}
}

// TestTrainerLearnsAndResumes trains on a fixed batch (the loss must fall),
// and checks that a checkpoint taken after k steps, reloaded, continues with
// exactly the losses of the uninterrupted run.
func TestTrainerLearnsAndResumes(t *testing.T) {
	ctx := context.Background()
	e := testEngine(t)
	spec := tinyTrainSpec("llama", 5)
	dir := writeModel(t, spec)
	b := batchOf(synth.RandomIDs(7, 16, spec.Vocab), synth.RandomIDs(8, 16, spec.Vocab))
	p := train.OptimParams{LR: 3e-3, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1}
	run := func(tr *Trainer, from, to int) []float64 {
		var out []float64
		for s := from; s <= to; s++ {
			p.Step = s
			st, err := tr.TrainStep(ctx, []train.Batch{b, b}, p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, st.Loss)
		}
		return out
	}
	tr, err := e.NewTrainer(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	full := run(tr, 1, 12)
	tr.Close()
	if !(full[11] < full[0]*0.8) {
		t.Fatalf("loss did not fall: %v", full)
	}
	tr, err = e.NewTrainer(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	first := run(tr, 1, 5)
	ck := filepath.Join(t.TempDir(), "ck")
	if err := tr.SaveModel(ctx, ck, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	if err := tr.SaveCheckpoint(ctx, ck); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	tr, err = e.NewTrainer(ctx, ck)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rest := run(tr, 6, 12)
	got := append(first, rest...)
	for i := range full {
		if math.Abs(got[i]-full[i]) > 1e-6 {
			t.Fatalf("step %d: resumed loss %.9f, uninterrupted %.9f\nfull %v\ngot  %v", i+1, got[i], full[i], full, got)
		}
	}
	t.Logf("losses %.4f → %.4f, resume identical", full[0], full[11])
}

// TestTrainerMatchesPyTorch is the gradient check: on the same weights and
// batch (two rows, one padded), the loss, every gradient, the gradient norm
// and the weights after one clipped AdamW step equal those of
// tools/torchref/train_ref.py (autograd and torch.optim.AdamW).
func TestTrainerMatchesPyTorch(t *testing.T) {
	py := testenv.DebianPython(t)
	ctx := context.Background()
	e := testEngine(t)
	for _, arch := range []string{"llama", "phi3"} {
		t.Run(arch, func(t *testing.T) {
			spec := tinyTrainSpec(arch, 11)
			spec.Std = 0.1
			if arch == "phi3" {
				spec.SlidingWindow = 6
			}
			dir := writeModel(t, spec)
			b := batchOf(synth.RandomIDs(21, 14, spec.Vocab), synth.RandomIDs(22, 9, spec.Vocab))
			bj, _ := json.Marshal(map[string]any{"rows": b.Rows, "seq_len": b.SeqLen, "ids": b.IDs, "labels": b.Labels})
			bf := filepath.Join(t.TempDir(), "batch.json")
			if err := os.WriteFile(bf, bj, 0o644); err != nil {
				t.Fatal(err)
			}
			p := train.OptimParams{Step: 1, LR: 1e-3, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 0.5}
			refOut := filepath.Join(t.TempDir(), "ref.safetensors")
			cmd := exec.Command(py, filepath.Join(testenv.Root(), "tools", "torchref", "train_ref.py"), "grad",
				"--model", dir, "--batch", bf, "--out", refOut, "--threads", strconv.Itoa(testThreads()),
				"--lr", fmt.Sprint(p.LR), "--weight-decay", fmt.Sprint(p.WeightDecay), "--beta1", fmt.Sprint(p.Beta1),
				"--beta2", fmt.Sprint(p.Beta2), "--eps", fmt.Sprint(p.Eps), "--clip", fmt.Sprint(p.Clip))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("train_ref: %v\n%s", err, stderr.String())
			}
			var ref struct {
				Loss     float64 `json:"loss"`
				GradNorm float64 `json:"grad_norm"`
			}
			if err := json.Unmarshal(out, &ref); err != nil {
				t.Fatalf("train_ref output %q: %v", out, err)
			}
			rf, err := safetensors.Open(refOut)
			if err != nil {
				t.Fatal(err)
			}
			defer rf.Close()

			tr, err := e.NewTrainer(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			loss, err := tr.Backward(ctx, []train.Batch{b})
			if err != nil {
				t.Fatal(err)
			}
			if relErr(loss, ref.Loss) > 1e-5 {
				t.Fatalf("loss %.8f, PyTorch %.8f", loss, ref.Loss)
			}
			grads, err := tr.Gradients(ctx)
			if err != nil {
				t.Fatal(err)
			}
			compare := func(kind string, got map[string][]float32, tol float64) {
				if len(got) != len(rf.Tensors())/2 {
					t.Fatalf("%s: %d tensors, PyTorch has %d", kind, len(got), len(rf.Tensors())/2)
				}
				var worst float64
				for name, g := range got {
					want, _, err := rf.ReadFloat32(kind + "/" + name)
					if err != nil {
						t.Fatalf("%s %q: %v", kind, name, err)
					}
					var scale, diff float64
					for i := range want {
						scale = math.Max(scale, math.Abs(float64(want[i])))
						diff = math.Max(diff, math.Abs(float64(g[i])-float64(want[i])))
					}
					rel := diff / math.Max(scale, 1e-12)
					worst = math.Max(worst, rel)
					if rel > tol {
						t.Errorf("%s %q: max abs diff %.3g at scale %.3g (rel %.3g > %.0g)", kind, name, diff, scale, rel, tol)
					}
				}
				t.Logf("%s: %d tensors, worst relative difference %.2g", kind, len(got), worst)
			}
			compare("grad", grads, 1e-4)
			if err := tr.ZeroGrad(ctx); err != nil {
				t.Fatal(err)
			}
			st, err := tr.TrainStep(ctx, []train.Batch{b}, p)
			if err != nil {
				t.Fatal(err)
			}
			if relErr(st.GradNorm, ref.GradNorm) > 1e-4 || relErr(st.Loss, ref.Loss) > 1e-5 {
				t.Fatalf("step: loss %v norm %v, PyTorch loss %v norm %v", st.Loss, st.GradNorm, ref.Loss, ref.GradNorm)
			}
			params, err := tr.Parameters(ctx)
			if err != nil {
				t.Fatal(err)
			}
			compare("param", params, 1e-5)
		})
	}
}
