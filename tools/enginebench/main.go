// Command enginebench measures coldint's evaluation throughput against the
// PyTorch reference (tools/torchref, transformers math in eager PyTorch) on
// the same ~110M-parameter LLaMA, one sequence of 1024 tokens, in float32 and
// bfloat16 weights, with the same thread count. It also reports the achieved
// GFLOP/s against the measured float32 matmul peak of this CPU.
//
// Usage: go run ./tools/enginebench [-threads N] [-seq 1024] [-dir .build/bench/engine]
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
	"runtime"
	"strconv"
	"time"

	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/model/synth"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "enginebench:", err)
		os.Exit(1)
	}
}

func defaultThreads() int {
	if n, err := strconv.Atoi(os.Getenv("OMP_NUM_THREADS")); err == nil && n > 0 {
		return n
	}
	return runtime.NumCPU()
}

func run() error {
	threads := flag.Int("threads", defaultThreads(), "threads for coldint and PyTorch")
	seq := flag.Int("seq", 1024, "tokens per sequence")
	iters := flag.Int("iters", 3, "timed forwards (best is reported)")
	dir := flag.String("dir", ".build/bench/engine", "folder for the generated models")
	python := flag.String("python", "/usr/bin/python3", "Python with torch for the reference")
	refBF16Iters := flag.Int("ref-bf16-iters", 1, "timed forwards of the reference in bf16 (slow on CPUs without bf16 matmul)")
	skipRef := flag.Bool("skip-ref", false, "do not run the PyTorch reference")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx := context.Background()

	spec := synth.Spec{Arch: "llama", Layers: 12, Hidden: 768, Heads: 12, Intermediate: 2048, Vocab: 32000, Tie: true, Std: 0.02, Seed: 7}
	cfg := spec.Config()
	params := cfg.ParamCount()
	T := int64(*seq)
	H, V, L := int64(cfg.HiddenSize), int64(cfg.VocabSize), int64(cfg.NumHiddenLayers)
	nonEmbed := params - V*H
	// Useful forward FLOPs: every projection, the LM head on the T-1 scored
	// positions, and causal attention (QKᵀ and AV over the lower triangle).
	flops := 2*T*nonEmbed + 2*(T-1)*H*V + 2*2*L*H*(T*(T+1)/2)

	eng, err := model.NewEngine(*threads)
	if err != nil {
		return err
	}
	defer eng.Close()
	peak, err := eng.MatmulGFLOPS(ctx, 1024, 20)
	if err != nil {
		return err
	}
	peak2, err := eng.MatmulGFLOPS(ctx, 2048, 5)
	if err != nil {
		return err
	}
	peak = max(peak, peak2)
	fmt.Printf("engine bench: LLaMA %.0fM params (%d layers, hidden %d, vocab %d, tied), seq %d, %d threads\n",
		float64(params)/1e6, L, H, V, T, *threads)
	fmt.Printf("matmul peak (float32 1024²/2048², libtorch+OpenBLAS): %.1f GFLOP/s; model forward = %.1f GFLOP\n", peak, float64(flops)/1e9)

	ids := synth.RandomIDs(99, int(T), int(V))
	idsFile := filepath.Join(*dir, "ids.jsonl")
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]any{"ids": ids})
	if err := os.WriteFile(idsFile, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("%-5s %14s %14s %8s %16s %7s %14s\n", "dtype", "coldint tok/s", "pytorch tok/s", "ratio", "coldint GFLOP/s", "%peak", "loss rel diff")
	for _, dt := range []safetensors.DType{safetensors.F32, safetensors.BF16} {
		s := spec
		s.DType = dt
		mdir := filepath.Join(*dir, "llama110m-"+string(dt))
		if err := ensureModel(mdir, s); err != nil {
			return err
		}
		m, err := eng.Load(ctx, mdir, model.LoadOptions{})
		if err != nil {
			return err
		}
		samples := []model.Sample{{Ids: ids, Valid: true}}
		var best time.Duration
		var loss float64
		for i := 0; i < *iters+1; i++ {
			start := time.Now()
			l, err := m.Losses(ctx, samples, nil)
			if err != nil {
				m.Close()
				return err
			}
			d := time.Since(start)
			loss = l[0]
			if i > 0 && (best == 0 || d < best) { // the first run is a warm-up
				best = d
			}
		}
		m.Close()
		ours := float64(T) / best.Seconds()
		gflops := float64(flops) / best.Seconds() / 1e9
		refStr, ratioStr, diffStr := "-", "-", "-"
		if !*skipRef {
			dtype, n, warm := "f32", *iters, 1
			if dt == safetensors.BF16 {
				dtype, n, warm = "bf16", *refBF16Iters, 0
			}
			ref, refLoss, err := reference(*python, mdir, idsFile, dtype, *threads, n, warm)
			if err != nil {
				return err
			}
			refStr = fmt.Sprintf("%.1f", ref)
			ratioStr = fmt.Sprintf("%.2fx", ours/ref)
			diffStr = fmt.Sprintf("%.2g", (loss-refLoss)/refLoss)
		}
		fmt.Printf("%-5s %14.1f %14s %8s %16.1f %6.0f%% %14s\n", dt, ours, refStr, ratioStr, gflops, 100*gflops/peak, diffStr)
	}
	fmt.Println("goal: ratio >= 1.3x PyTorch eager; GFLOP/s >= 50% of the matmul peak")
	return nil
}

// ensureModel writes the benchmark model unless it is there already.
func ensureModel(dir string, s synth.Spec) error {
	stamp := filepath.Join(dir, ".complete")
	if _, err := os.Stat(stamp); err == nil {
		return nil
	}
	os.RemoveAll(dir)
	if err := synth.Write(dir, s); err != nil {
		return err
	}
	return os.WriteFile(stamp, nil, 0o644)
}

// reference runs tools/torchref bench and returns its tokens/s and loss.
func reference(python, dir, ids, dtype string, threads, iters, warmup int) (float64, float64, error) {
	cmd := exec.Command(python, "tools/torchref/torchref.py", "bench", "--model", dir, "--ids", ids, "--dtype", dtype,
		"--threads", strconv.Itoa(threads), "--iters", strconv.Itoa(iters), "--warmup", strconv.Itoa(warmup))
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(threads))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("run torchref bench: %w", err)
	}
	var res struct {
		TokensPerS float64 `json:"tokens_per_s"`
		Loss       float64 `json:"loss"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return 0, 0, fmt.Errorf("parse torchref output %q: %w", out, err)
	}
	return res.TokensPerS, res.Loss, nil
}
