// Command minebench measures coldint's training throughput (model.Trainer:
// forward, backward, gradient clipping and AdamW) against the PyTorch
// reference (tools/torchref/train_ref.py: the transformers math with
// autograd and torch.optim.AdamW) on the same ~110M-parameter LLaMA, batch,
// sequence length and thread count, and prints both in tokens/s and their
// ratio (median step times, so one step slowed by a busy machine does not
// move the result).
//
// Usage: go run ./tools/minebench [-threads N] [-batch 1] [-seq 256] [-steps 4] [-dir .build/bench/mine]
// [-device cpu|cuda|cuda:N] [-dtype f32|bf16|auto] [-grad-checkpointing] [-ddp N]
//
// -ddp N compares N data-parallel ranks of one thread each with one process
// of N threads on N times the batch (see ddp.go); `make bench-mine-ddp`.
//
// -device (default cpu) is where both sides train: coldint's engine and
// the PyTorch peer (its tensors moved there; on CUDA its optimizer is
// torch.optim.AdamW(fused=True) and each timed step ends with a
// synchronisation). -dtype (default f32; auto is bf16 on CUDA, f32 on the CPU)
// is the compute dtype: bf16 is coldint's mixed precision (bfloat16 copies of
// float32 master weights) against PyTorch eager under torch.autocast with
// bfloat16. -grad-checkpointing turns on coldint's activation checkpointing
// (the peer does not checkpoint). On a GPU machine:
//
//	go run ./tools/minebench -device cuda -dtype bf16 -batch 8 -seq 1024
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/model/synth"
	"github.com/coldint/coldint/tools/internal/benchenv"
	"github.com/coldint/coldint/train"
)

func main() {
	if spec := os.Getenv(rankJobEnv); spec != "" {
		if err := runRankJob(spec); err != nil {
			fmt.Fprintln(os.Stderr, "minebench rank:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "minebench:", err)
		os.Exit(1)
	}
}

func run() error {
	threads := flag.Int("threads", benchenv.DefaultThreads(), "threads for coldint and PyTorch")
	batch := flag.Int("batch", 1, "rows per step")
	seq := flag.Int("seq", 256, "tokens per row")
	steps := flag.Int("steps", 4, "timed steps (after one warm-up step); the median step counts")
	dir := flag.String("dir", ".build/bench/mine", "folder for the generated model")
	python := flag.String("python", "/usr/bin/python3", "Python with torch for the reference")
	skipRef := flag.Bool("skip-ref", false, "do not run the PyTorch reference")
	devFlag := flag.String("device", "cpu", "cpu, cuda or cuda:N for both sides")
	dtFlag := flag.String("dtype", "f32", "compute dtype: f32, bf16 or auto")
	recompute := flag.Bool("grad-checkpointing", false, "coldint recomputes activations in the backward pass")
	ddpRanks := flag.Int("ddp", 0, "compare N data-parallel ranks × 1 thread with 1 process × N threads (CPU, f32; -batch rows per rank)")
	flag.Parse()
	dev, err := model.ResolveDevice(*devFlag)
	if err != nil {
		return err
	}
	cdt, err := model.ParseDType(*dtFlag)
	if err != nil {
		return err
	}
	cdt = cdt.On(dev)
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx := context.Background()

	spec := synth.Spec{Arch: "llama", Layers: 12, Hidden: 768, Heads: 12, Intermediate: 2048, Vocab: 32000, Tie: true, Std: 0.02, Seed: 7}
	mdir := filepath.Join(*dir, "llama110m")
	if err := benchenv.EnsureModel(mdir, spec); err != nil {
		return err
	}
	cfg := spec.Config()
	if *ddpRanks > 0 {
		return runDDPBench(mdir, *ddpRanks, *batch, *seq, *steps, cfg.VocabSize)
	}
	fmt.Printf("mine bench: LLaMA %.0fM params (%d layers, hidden %d, vocab %d, tied), batch %d × seq %d, %d threads, %s %s + AdamW (f32 masters)%s\n",
		float64(cfg.ParamCount())/1e6, cfg.NumHiddenLayers, cfg.HiddenSize, cfg.VocabSize, *batch, *seq, *threads, dev, cdt,
		map[bool]string{true: ", activation checkpointing (coldint only)"}[*recompute])

	eng, err := model.NewEngineWith(model.EngineOptions{Threads: *threads, Device: dev})
	if err != nil {
		return err
	}
	defer eng.Close()
	tr, err := eng.NewTrainerWith(ctx, mdir, model.TrainerOptions{DType: cdt, GradCheckpointing: *recompute})
	if err != nil {
		return err
	}
	defer tr.Close()
	B, T := *batch, *seq
	p := train.OptimParams{LR: 1e-4, WeightDecay: 0.1, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, Clip: 1}
	var walls, cpus []time.Duration
	for i := 0; i <= *steps; i++ {
		b := randomBatch(uint64(100*i), B, T, cfg.VocabSize)
		p.Step = i + 1
		start, c0 := time.Now(), cpuTime()
		if _, err := tr.TrainStep(ctx, []train.Batch{b}, p); err != nil {
			return err
		}
		if i > 0 { // the first step is a warm-up
			walls = append(walls, time.Since(start))
			cpus = append(cpus, cpuTime()-c0)
		}
	}
	tokens := float64(B * (T - 1))
	ours := tokens / median(seconds(walls))
	oursCPU := tokens / median(seconds(cpus))
	fmt.Printf("coldint:  %8.1f tokens/s wall  %8.2f tokens per CPU-second  (load %s)\n", ours, oursCPU, benchenv.LoadAvg())
	cs := model.CacheStats()
	fmt.Printf("          allocator cache: %d hits, %d misses, %d unmapped; peak %.0f MiB live, now %.0f MiB live + %.0f MiB idle\n", cs.Hits, cs.Misses, cs.Unmapped, float64(cs.PeakBytes)/(1<<20), float64(cs.LiveBytes)/(1<<20), float64(cs.CachedBytes)/(1<<20))
	if *skipRef {
		return nil
	}
	cmd := exec.Command(*python, "tools/torchref/train_ref.py", "bench", "--model", mdir, "--batch", strconv.Itoa(B),
		"--seq", strconv.Itoa(T), "--steps", strconv.Itoa(*steps), "--warmup", "1", "--threads", strconv.Itoa(*threads),
		"--device", dev.String(), "--dtype", string(cdt))
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(*threads))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("run train_ref bench: %w", err)
	}
	var res struct {
		Seconds    []float64 `json:"seconds"`
		CPUSeconds []float64 `json:"cpu_seconds"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("parse train_ref output %q: %w", out, err)
	}
	if len(res.Seconds) == 0 || len(res.CPUSeconds) == 0 {
		return fmt.Errorf("parse train_ref output %q: no step times", out)
	}
	ref, refCPU := tokens/median(res.Seconds), tokens/median(res.CPUSeconds)
	fmt.Printf("pytorch:  %8.1f tokens/s wall  %8.2f tokens per CPU-second  (load %s)\n", ref, refCPU, benchenv.LoadAvg())
	fmt.Printf("ratio coldint/pytorch = %.2fx wall, %.2fx per CPU-second (median of %d steps each; goal >= 1.2x)\n", ours/ref, oursCPU/refCPU, *steps)
	return nil
}

// randomBatch is B rows of T random ids (row r drawn from seed+r) with
// next-token labels.
func randomBatch(seed uint64, B, T, vocab int) train.Batch {
	b := train.Batch{Rows: B, SeqLen: T, IDs: make([]int32, B*T), Labels: make([]int32, B*T)}
	for r := 0; r < B; r++ {
		ids := synth.RandomIDs(seed+uint64(r), T, vocab)
		copy(b.IDs[r*T:], ids)
		for t := 0; t < T; t++ {
			if t+1 < T {
				b.Labels[r*T+t] = ids[t+1]
			} else {
				b.Labels[r*T+t] = train.IgnoreLabel
			}
		}
	}
	return b
}

func seconds(d []time.Duration) []float64 {
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = x.Seconds()
	}
	return out
}

// median returns the middle value (the mean of the two middle ones for an
// even count); one slow step on a shared machine does not move it.
func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// cpuTime is the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
