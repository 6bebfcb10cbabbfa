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
	"strconv"
	"strings"
	"time"

	"github.com/coldint/coldint/hf/safetensors"
	"github.com/coldint/coldint/model"
	"github.com/coldint/coldint/model/synth"
	"github.com/coldint/coldint/tools/internal/benchenv"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "enginebench:", err)
		os.Exit(1)
	}
}

func run() error {
	threads := flag.Int("threads", benchenv.DefaultThreads(), "threads for coldint and PyTorch")
	seq := flag.Int("seq", 1024, "tokens per sequence")
	iters := flag.Int("iters", 3, "timed forwards (best is reported)")
	dir := flag.String("dir", ".build/bench/engine", "folder for the generated models")
	python := flag.String("python", "/usr/bin/python3", "Python with torch for the reference")
	refBF16Iters := flag.Int("ref-bf16-iters", 1, "timed forwards of the reference in bf16 (slow on CPUs without bf16 matmul)")
	skipRef := flag.Bool("skip-ref", false, "do not run the PyTorch reference")
	dtypes := flag.String("dtypes", "F32,BF16", "weight dtypes to measure (comma-separated: F32, BF16)")
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
	p1, err := eng.MatmulGFLOPS(ctx, 1024, 20)
	if err != nil {
		return err
	}
	p2, err := eng.MatmulGFLOPS(ctx, 2048, 5)
	if err != nil {
		return err
	}
	peak := model.Rate{Wall: max(p1.Wall, p2.Wall), CPU: max(p1.CPU, p2.CPU)}
	fmt.Printf("engine bench: LLaMA %.0fM params (%d layers, hidden %d, vocab %d, tied), seq %d, %d threads, load average %s\n",
		float64(params)/1e6, L, H, V, T, *threads, benchenv.LoadAvg())
	fmt.Printf("matmul peak (float32 1024²/2048², libtorch+OpenBLAS): %.1f GFLOP/s wall, %.1f GFLOP/s per CPU-time; model forward = %.1f GFLOP\n",
		peak.Wall, peak.CPU, float64(flops)/1e9)
	fmt.Println("(wall: tokens per wall-clock second; cpu: tokens per (CPU seconds / threads), steadier on a busy machine)")

	ids := synth.RandomIDs(99, int(T), int(V))
	idsFile := filepath.Join(*dir, "ids.jsonl")
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]any{"ids": ids})
	if err := os.WriteFile(idsFile, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("%-5s %-5s %14s %14s %8s %16s %7s %14s\n", "dtype", "clock", "coldint tok/s", "pytorch tok/s", "ratio", "coldint GFLOP/s", "%peak", "loss rel diff")
	for _, name := range strings.Split(*dtypes, ",") {
		dt, err := safetensors.ParseDType(strings.ToUpper(strings.TrimSpace(name)))
		if err != nil || (dt != safetensors.F32 && dt != safetensors.BF16) {
			return fmt.Errorf("-dtypes: %q is not F32 or BF16", name)
		}
		s := spec
		s.DType = dt
		mdir := filepath.Join(*dir, "llama110m-"+string(dt))
		if err := benchenv.EnsureModel(mdir, s); err != nil {
			return err
		}
		m, err := eng.Load(ctx, mdir, model.LoadOptions{})
		if err != nil {
			return err
		}
		samples := []model.Sample{{Ids: ids, Valid: true}}
		var best time.Duration
		var bestCPU, loss float64
		for i := 0; i < *iters+1; i++ {
			c0 := model.ProcessCPUSeconds()
			start := time.Now()
			l, err := m.Losses(ctx, samples, nil)
			if err != nil {
				m.Close()
				return err
			}
			d := time.Since(start)
			dc := model.ProcessCPUSeconds() - c0
			loss = l[0]
			if i > 0 { // the first run is a warm-up
				if best == 0 || d < best {
					best = d
				}
				if bestCPU == 0 || dc < bestCPU {
					bestCPU = dc
				}
			}
		}
		m.Close()
		ours := model.Rate{Wall: float64(T) / best.Seconds(), CPU: float64(T) / (bestCPU / float64(*threads))}
		var ref model.Rate
		var refLoss float64
		if !*skipRef {
			dtype, n, warm := "f32", *iters, 1
			if dt == safetensors.BF16 {
				dtype, n, warm = "bf16", *refBF16Iters, 0
			}
			ref, refLoss, err = reference(*python, mdir, idsFile, dtype, *threads, n, warm)
			if err != nil {
				return err
			}
		}
		for _, clock := range []string{"wall", "cpu"} {
			o, r, pk := ours.Wall, ref.Wall, peak.Wall
			if clock == "cpu" {
				o, r, pk = ours.CPU, ref.CPU, peak.CPU
			}
			gflops := float64(flops) * o / float64(T) / 1e9
			refStr, ratioStr, diffStr := "-", "-", "-"
			if r > 0 {
				refStr = fmt.Sprintf("%.1f", r)
				ratioStr = fmt.Sprintf("%.2fx", o/r)
				diffStr = fmt.Sprintf("%.2g", (loss-refLoss)/refLoss)
			}
			fmt.Printf("%-5s %-5s %14.1f %14s %8s %16.1f %6.0f%% %14s\n", dt, clock, o, refStr, ratioStr, gflops, 100*gflops/pk, diffStr)
		}
	}
	fmt.Println("goal: ratio >= 1.3x PyTorch eager; GFLOP/s >= 50% of the matmul peak")
	return nil
}

// reference runs tools/torchref bench and returns its tokens/s and loss.
func reference(python, dir, ids, dtype string, threads, iters, warmup int) (model.Rate, float64, error) {
	cmd := exec.Command(python, "tools/torchref/torchref.py", "bench", "--model", dir, "--ids", ids, "--dtype", dtype,
		"--threads", strconv.Itoa(threads), "--iters", strconv.Itoa(iters), "--warmup", strconv.Itoa(warmup))
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+strconv.Itoa(threads))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return model.Rate{}, 0, fmt.Errorf("run torchref bench: %w", err)
	}
	var res struct {
		TokensPerS float64   `json:"tokens_per_s"`
		CPUSeconds []float64 `json:"cpu_seconds"`
		Tokens     int       `json:"tokens"`
		Loss       float64   `json:"loss"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return model.Rate{}, 0, fmt.Errorf("parse torchref output %q: %w", out, err)
	}
	r := model.Rate{Wall: res.TokensPerS}
	if len(res.CPUSeconds) > 0 && res.Tokens > 0 {
		best := res.CPUSeconds[0]
		for _, c := range res.CPUSeconds {
			best = min(best, c)
		}
		r.CPU = float64(res.Tokens) / (best / float64(threads))
	}
	return r, res.Loss, nil
}
