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
	"strings"
	"testing"

	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/internal/testenv"
	"github.com/coldint/coldint/model/synth"
	"github.com/coldint/coldint/train"
)

// maxRel is max |a-b| / max |b| over two same-length slices.
func maxRel(a, b []float32) float64 {
	var diff, scale float64
	for i := range b {
		scale = math.Max(scale, math.Abs(float64(b[i])))
		diff = math.Max(diff, math.Abs(float64(a[i])-float64(b[i])))
	}
	return diff / math.Max(scale, 1e-30)
}

// l2Rel is ‖a-b‖ / ‖b‖.
func l2Rel(a, b []float32) float64 {
	var d, n float64
	for i := range b {
		x := float64(a[i]) - float64(b[i])
		d += x * x
		n += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(d / math.Max(n, 1e-60))
}

func newTrainerT(t *testing.T, dir string, opts TrainerOptions) *Trainer {
	t.Helper()
	tr, err := testEngine(t).NewTrainerWith(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func paramsT(t *testing.T, tr *Trainer) map[string][]float32 {
	t.Helper()
	p, err := tr.Parameters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func gradsT(t *testing.T, tr *Trainer) map[string][]float32 {
	t.Helper()
	g, err := tr.Gradients(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestTrainerDeviceOptimizerMatchesFused runs the optimizer path that CUDA
// takes (gradient norm and AdamW as libtorch operations on the parameters'
// device, native_train.cc) on the CPU against the fused host loop the CPU
// takes: after several clipped steps the weights agree within 1e-6.
func TestTrainerDeviceOptimizerMatchesFused(t *testing.T) {
	ctx := context.Background()
	for _, arch := range []string{"llama", "phi3"} {
		t.Run(arch, func(t *testing.T) {
			spec := tinyTrainSpec(arch, 31)
			dir := writeModel(t, spec)
			b := batchOf(synth.RandomIDs(41, 14, spec.Vocab), synth.RandomIDs(42, 10, spec.Vocab))
			host := newTrainerT(t, dir, TrainerOptions{DType: DTypeF32})
			dev := newTrainerT(t, dir, TrainerOptions{DType: DTypeF32})
			dev.deviceOptim = true
			p := train.OptimParams{LR: 3e-3, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 0.5}
			for s := 1; s <= 4; s++ {
				p.Step = s
				a, err := host.TrainStep(ctx, []train.Batch{b}, p)
				if err != nil {
					t.Fatal(err)
				}
				d, err := dev.TrainStep(ctx, []train.Batch{b}, p)
				if err != nil {
					t.Fatal(err)
				}
				if relErr(d.Loss, a.Loss) > 1e-6 || relErr(d.GradNorm, a.GradNorm) > 1e-6 {
					t.Fatalf("step %d: device path loss %v norm %v, fused host loop loss %v norm %v", s, d.Loss, d.GradNorm, a.Loss, a.GradNorm)
				}
			}
			want, got := paramsT(t, host), paramsT(t, dev)
			var worst float64
			for name, w := range want {
				r := maxRel(got[name], w)
				worst = math.Max(worst, r)
				if r > 1e-6 {
					t.Errorf("%q: device path differs from the fused host loop by %.3g (relative)", name, r)
				}
			}
			t.Logf("%d tensors after 4 steps: worst relative difference %.2g (fused kernel used %d times)", len(want), worst, dev.fusedSteps)
		})
	}
}

// runTrainRef runs tools/torchref/train_ref.py grad and returns its printed
// result and the open output file.
func runTrainRef(t *testing.T, dir string, b train.Batch, p train.OptimParams, extra ...string) (map[string]any, *safetensors.File) {
	t.Helper()
	py := testenv.DebianPython(t)
	bj, _ := json.Marshal(map[string]any{"rows": b.Rows, "seq_len": b.SeqLen, "ids": b.IDs, "labels": b.Labels})
	bf := filepath.Join(t.TempDir(), "batch.json")
	if err := os.WriteFile(bf, bj, 0o644); err != nil {
		t.Fatal(err)
	}
	refOut := filepath.Join(t.TempDir(), "ref.safetensors")
	args := append([]string{filepath.Join(testenv.Root(), "tools", "torchref", "train_ref.py"), "grad",
		"--model", dir, "--batch", bf, "--out", refOut, "--threads", strconv.Itoa(testThreads()),
		"--lr", fmt.Sprint(p.LR), "--weight-decay", fmt.Sprint(p.WeightDecay), "--beta1", fmt.Sprint(p.Beta1),
		"--beta2", fmt.Sprint(p.Beta2), "--eps", fmt.Sprint(p.Eps), "--clip", fmt.Sprint(p.Clip)}, extra...)
	cmd := exec.Command(py, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("train_ref: %v\n%s", err, stderr.String())
	}
	var ref map[string]any
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatalf("train_ref output %q: %v", out, err)
	}
	rf, err := safetensors.Open(refOut)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rf.Close() })
	return ref, rf
}

// TestTrainerBF16MatchesPyTorch checks mixed precision against PyTorch
// training the same way (bfloat16 copies of float32 weights for the forward
// and backward, float32 clipping and AdamW on the float32 weights): the
// first loss and gradients agree to bfloat16 accuracy, and so do the weight
// updates of three steps, which also stay float32 (not rounded to bfloat16).
func TestTrainerBF16MatchesPyTorch(t *testing.T) {
	testenv.DebianPython(t)
	ctx := context.Background()
	for _, arch := range []string{"llama", "phi3"} {
		t.Run(arch, func(t *testing.T) {
			// Head size 16: the 1/sqrt(head size) this engine folds into the
			// rotary table is a power of two, exact in bfloat16, so the two
			// sides round alike.
			spec := tinyTrainSpec(arch, 13)
			spec.Hidden, spec.Intermediate, spec.Std = 64, 96, 0.1
			if arch == "phi3" {
				spec.SlidingWindow = 6
			}
			dir := writeModel(t, spec)
			b := batchOf(synth.RandomIDs(23, 14, spec.Vocab), synth.RandomIDs(24, 9, spec.Vocab))
			p := train.OptimParams{LR: 1e-3, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 0.5}
			const steps = 3
			ref, rf := runTrainRef(t, dir, b, p, "--dtype", "bf16", "--steps", strconv.Itoa(steps))

			tr := newTrainerT(t, dir, TrainerOptions{DType: DTypeBF16})
			if tr.DType() != DTypeBF16 {
				t.Fatalf("trainer dtype %q", tr.DType())
			}
			before := paramsT(t, tr)
			loss, err := tr.Backward(ctx, []train.Batch{b})
			if err != nil {
				t.Fatal(err)
			}
			if r := relErr(loss, ref["loss"].(float64)); r > 1e-4 {
				t.Fatalf("loss %.6f, PyTorch bf16 %.6f (rel %.2g)", loss, ref["loss"], r)
			}
			// The gradients must be bfloat16 ones: nearer PyTorch's bf16
			// gradients than to this trainer's own float32 ones.
			f32 := newTrainerT(t, dir, TrainerOptions{DType: DTypeF32})
			if _, err := f32.Backward(ctx, []train.Batch{b}); err != nil {
				t.Fatal(err)
			}
			g32 := gradsT(t, f32)
			var worstG, toRef, toF32 float64
			for name, g := range gradsT(t, tr) {
				want, _, err := rf.ReadFloat32("grad/" + name)
				if err != nil {
					t.Fatal(err)
				}
				r := l2Rel(g, want)
				toRef += r
				toF32 += l2Rel(g, g32[name])
				worstG = math.Max(worstG, r)
				if r > 0.03 {
					t.Errorf("grad %q: relative L2 difference %.3g from PyTorch bf16", name, r)
				}
			}
			if !(toRef < 0.5*toF32) {
				t.Errorf("bf16 gradients: summed relative distance %.3g to PyTorch bf16, %.3g to float32 training", toRef, toF32)
			}
			if err := tr.ZeroGrad(ctx); err != nil {
				t.Fatal(err)
			}
			refLosses := ref["losses"].([]any)
			for s := 1; s <= steps; s++ {
				p.Step = s
				st, err := tr.TrainStep(ctx, []train.Batch{b}, p)
				if err != nil {
					t.Fatal(err)
				}
				// The first step's loss is the same bfloat16 computation on both
				// sides; later ones come from weights that took updates from
				// gradients which differ by bfloat16 rounding.
				tol := 1e-2
				if s == 1 {
					tol = 1e-4
				}
				if r := relErr(st.Loss, refLosses[s-1].(float64)); r > tol {
					t.Errorf("step %d: loss %.6f, PyTorch bf16 %.6f", s, st.Loss, refLosses[s-1])
				}
			}
			after := paramsT(t, tr)
			var worstU float64
			offGrid := 0
			for name, w := range after {
				want, _, err := rf.ReadFloat32("param/" + name)
				if err != nil {
					t.Fatal(err)
				}
				got, exp := make([]float32, len(w)), make([]float32, len(w))
				for i := range w {
					got[i] = w[i] - before[name][i]
					exp[i] = want[i] - before[name][i]
					if math.Float32bits(w[i])&0xffff != 0 {
						offGrid++
					}
				}
				r := l2Rel(got, exp)
				worstU = math.Max(worstU, r)
				if r > 0.1 {
					t.Errorf("update of %q after %d steps: relative L2 difference %.3g from PyTorch bf16", name, steps, r)
				}
			}
			if offGrid == 0 {
				t.Errorf("every weight after %d steps is a bfloat16 value: the float32 masters are not kept", steps)
			}
			t.Logf("bf16: loss %.5f (PyTorch %.5f), worst gradient L2 difference %.2g (summed %.2g; to float32 %.2g), worst %d-step update difference %.2g",
				loss, ref["loss"], worstG, toRef, toF32, steps, worstU)
		})
	}
}

// TestTrainerGradCheckpointing checks that recomputing each layer's
// activations in the backward pass gives the gradients of the plain
// backward pass, in float32 and bfloat16, for a tied and an untied model.
// Tight everywhere but for the tied embedding in bfloat16: the plain backward
// sums its two gradients (LM head and embedding) in bfloat16 inside autograd,
// the checkpointed one in float32, which differ by bfloat16 rounding.
func TestTrainerGradCheckpointing(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		arch string
		dt   DType
		tol  float64
	}{{"llama", DTypeF32, 1e-6}, {"phi3", DTypeF32, 1e-6}, {"phi3", DTypeBF16, 1e-6}, {"llama", DTypeBF16, 8e-3}} {
		t.Run(c.arch+"-"+string(c.dt), func(t *testing.T) {
			spec := tinyTrainSpec(c.arch, 17)
			spec.Std = 0.1
			dir := writeModel(t, spec)
			micro := []train.Batch{batchOf(synth.RandomIDs(51, 13, spec.Vocab), synth.RandomIDs(52, 8, spec.Vocab)),
				batchOf(synth.RandomIDs(53, 11, spec.Vocab))}
			plain := newTrainerT(t, dir, TrainerOptions{DType: c.dt})
			ck := newTrainerT(t, dir, TrainerOptions{DType: c.dt, GradCheckpointing: true})
			l1, err := plain.Backward(ctx, micro)
			if err != nil {
				t.Fatal(err)
			}
			l2, err := ck.Backward(ctx, micro)
			if err != nil {
				t.Fatal(err)
			}
			if relErr(l2, l1) > 1e-6 {
				t.Fatalf("loss with checkpointing %v, without %v", l2, l1)
			}
			want, got := gradsT(t, plain), gradsT(t, ck)
			var worst float64
			for name, g := range want {
				r := maxRel(got[name], g)
				worst = math.Max(worst, r)
				if r > c.tol {
					t.Errorf("grad %q: checkpointed differs by %.3g (relative)", name, r)
				}
			}
			t.Logf("%d gradients, worst relative difference %.2g", len(want), worst)
		})
	}
}

// TestTrainerGradCheckpointingMemory measures the caching allocator's peak of
// live bytes over one training step of a model with enough layers and
// positions for activations to dominate: checkpointing must lower it.
func TestTrainerGradCheckpointingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a 6-layer model twice; skipped with -short")
	}
	ctx := context.Background()
	spec := synth.Spec{Arch: "llama", Layers: 6, Hidden: 256, Heads: 4, KVHeads: 4, Intermediate: 768, Vocab: 512, Tie: true, Std: 0.02, Seed: 3}
	dir := writeModel(t, spec)
	b := batchOf(synth.RandomIDs(61, 512, spec.Vocab), synth.RandomIDs(62, 512, spec.Vocab))
	p := train.OptimParams{Step: 1, LR: 1e-4, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1}
	peak := func(recompute bool) (uint64, float64) {
		tr, err := testEngine(t).NewTrainerWith(ctx, dir, TrainerOptions{DType: DTypeF32, GradCheckpointing: recompute})
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		st, err := tr.TrainStep(ctx, []train.Batch{b}, p)
		if err != nil {
			t.Fatal(err)
		}
		return CacheStats().PeakBytes, st.Loss
	}
	plain, l1 := peak(false)
	ck, l2 := peak(true)
	t.Logf("peak live bytes of one step: %.1f MiB without checkpointing, %.1f MiB with (%.2f×)", float64(plain)/(1<<20), float64(ck)/(1<<20), float64(ck)/float64(plain))
	if relErr(l2, l1) > 1e-6 {
		t.Fatalf("loss with checkpointing %v, without %v", l2, l1)
	}
	if plain == 0 || float64(ck) > 0.7*float64(plain) {
		t.Fatalf("peak with checkpointing %d bytes, without %d: want at most 0.7×", ck, plain)
	}
}

// TestTrainerCheckpointAcrossDTypes resumes a float32 run's checkpoint in
// bfloat16 and that one's in float32 again: the weights and AdamW moments
// come back exactly (the float32 masters are what is saved), training goes on,
// and the files name no device.
func TestTrainerCheckpointAcrossDTypes(t *testing.T) {
	ctx := context.Background()
	spec := tinyTrainSpec("phi3", 19)
	dir := writeModel(t, spec)
	b := batchOf(synth.RandomIDs(71, 16, spec.Vocab), synth.RandomIDs(72, 16, spec.Vocab))
	p := train.OptimParams{LR: 3e-3, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1}
	step := 0
	run := func(tr *Trainer, n int) []float64 {
		var out []float64
		for i := 0; i < n; i++ {
			step++
			p.Step = step
			st, err := tr.TrainStep(ctx, []train.Batch{b}, p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, st.Loss)
		}
		return out
	}
	save := func(tr *Trainer, name string) string {
		ck := filepath.Join(t.TempDir(), name)
		if err := tr.SaveModel(ctx, ck, safetensors.F32); err != nil {
			t.Fatal(err)
		}
		if err := tr.SaveCheckpoint(ctx, ck); err != nil {
			t.Fatal(err)
		}
		return ck
	}
	moments := func(dir string) map[string][]float32 {
		f, err := safetensors.Open(filepath.Join(dir, OptimizerFile))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for k, v := range f.Metadata() {
			if strings.Contains(strings.ToLower(k+v), "cuda") || strings.Contains(strings.ToLower(k+v), "device") {
				t.Errorf("optimizer metadata names a device: %q=%q", k, v)
			}
		}
		out := map[string][]float32{}
		for _, ti := range f.Tensors() {
			v, _, err := f.ReadFloat32(ti.Name)
			if err != nil {
				t.Fatal(err)
			}
			out[ti.Name] = v
		}
		return out
	}
	same := func(what string, got, want map[string][]float32) {
		if len(got) != len(want) {
			t.Fatalf("%s: %d tensors, want %d", what, len(got), len(want))
		}
		for name, w := range want {
			if maxRel(got[name], w) != 0 {
				t.Fatalf("%s: %q changed across the resume", what, name)
			}
		}
	}

	f32 := newTrainerT(t, dir, TrainerOptions{DType: DTypeF32})
	losses := run(f32, 3)
	ck1 := save(f32, "ck1")
	w1 := paramsT(t, f32)

	bf := newTrainerT(t, ck1, TrainerOptions{DType: DTypeBF16})
	same("weights f32 → bf16", paramsT(t, bf), w1)
	ck1b := save(bf, "ck1b")
	same("moments f32 → bf16", moments(ck1b), moments(ck1))
	losses = append(losses, run(bf, 3)...)
	ck2 := save(bf, "ck2")
	w2 := paramsT(t, bf)

	back := newTrainerT(t, ck2, TrainerOptions{DType: DTypeF32})
	same("weights bf16 → f32", paramsT(t, back), w2)
	ck2b := save(back, "ck2b")
	same("moments bf16 → f32", moments(ck2b), moments(ck2))
	losses = append(losses, run(back, 3)...)
	if !(losses[8] < losses[0]*0.9) {
		t.Fatalf("loss did not fall across the resumes: %v", losses)
	}
	cfg, err := os.ReadFile(filepath.Join(ck2, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.ToLower(string(cfg)); strings.Contains(s, "cuda") || strings.Contains(s, `"device`) {
		t.Errorf("config.json names a device:\n%s", cfg)
	}
	t.Logf("losses f32 ×3, bf16 ×3, f32 ×3: %.4f", losses)
}

// TestTrainerCUDAMatchesCPU runs only where libtorch sees a GPU: float32
// training on CUDA (parameters, moments and the optimizer on the device,
// libtorch's fused AdamW where it has one) follows the CPU's within float32
// noise, a bfloat16 run learns, and its checkpoint resumes on the CPU.
func TestTrainerCUDAMatchesCPU(t *testing.T) {
	dev, err := ResolveDevice("cuda")
	if err != nil {
		t.Skipf("no GPU to train on: %v", err)
	}
	ctx := context.Background()
	ge, err := NewEngineWith(EngineOptions{Threads: testThreads(), Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	defer ge.Close()
	spec := tinyTrainSpec("phi3", 29)
	spec.SlidingWindow = 6
	dir := writeModel(t, spec)
	b := batchOf(synth.RandomIDs(81, 16, spec.Vocab), synth.RandomIDs(82, 11, spec.Vocab))
	p := train.OptimParams{LR: 3e-3, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 0.5}
	cpu := newTrainerT(t, dir, TrainerOptions{DType: DTypeF32})
	gpu, err := ge.NewTrainerWith(ctx, dir, TrainerOptions{DType: DTypeF32})
	if err != nil {
		t.Fatal(err)
	}
	defer gpu.Close()
	for s := 1; s <= 4; s++ {
		p.Step = s
		a, err := cpu.TrainStep(ctx, []train.Batch{b}, p)
		if err != nil {
			t.Fatal(err)
		}
		g, err := gpu.TrainStep(ctx, []train.Batch{b}, p)
		if err != nil {
			t.Fatal(err)
		}
		if relErr(g.Loss, a.Loss) > 1e-4 || relErr(g.GradNorm, a.GradNorm) > 1e-3 {
			t.Fatalf("step %d: CUDA loss %v norm %v, CPU loss %v norm %v", s, g.Loss, g.GradNorm, a.Loss, a.GradNorm)
		}
	}
	if hasFusedAdamW() && gpu.fusedSteps == 0 {
		t.Errorf("libtorch has _fused_adamw_ but the CUDA trainer did not use it")
	}
	want, got := paramsT(t, cpu), paramsT(t, gpu)
	for name, w := range want {
		if r := l2Rel(got[name], w); r > 1e-4 {
			t.Errorf("%q after 4 steps: CUDA differs from the CPU by %.3g (relative L2)", name, r)
		}
	}

	bf, err := ge.NewTrainerWith(ctx, dir, TrainerOptions{GradCheckpointing: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	if bf.DType() != DTypeBF16 {
		t.Fatalf("auto dtype on CUDA is %q, want bf16", bf.DType())
	}
	var losses []float64
	for s := 1; s <= 8; s++ {
		p.Step = s
		st, err := bf.TrainStep(ctx, []train.Batch{b}, p)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, st.Loss)
	}
	if !(losses[7] < losses[0]*0.9) {
		t.Fatalf("bf16 on CUDA did not learn: %v", losses)
	}
	ck := filepath.Join(t.TempDir(), "ck")
	if err := bf.SaveModel(ctx, ck, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	if err := bf.SaveCheckpoint(ctx, ck); err != nil {
		t.Fatal(err)
	}
	back := newTrainerT(t, ck, TrainerOptions{})
	w := paramsT(t, bf)
	for name, v := range paramsT(t, back) {
		if maxRel(v, w[name]) != 0 {
			t.Fatalf("%q changed from the CUDA checkpoint to the CPU", name)
		}
	}
	p.Step = 9
	if _, err := back.TrainStep(ctx, []train.Batch{b}, p); err != nil {
		t.Fatal(err)
	}
	t.Logf("CUDA f32 follows the CPU (fused AdamW groups: %d); bf16 losses %.4f; resumed on the CPU", gpu.fusedSteps, losses)
}
