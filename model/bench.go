package model

import (
	"context"
	"math/rand/v2"
	"syscall"
	"time"
)

// Rate is a throughput measured two ways: against wall-clock time, and
// against the process's CPU time divided by the thread count. The second is
// what the work would take on otherwise idle cores; on a busy machine it is
// the steadier number.
type Rate struct {
	Wall, CPU float64
}

// ProcessCPUSeconds is the user+system CPU time of this process so far.
func ProcessCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// MatmulGFLOPS measures the best float32 n×n matrix product rate of this CPU
// through libtorch on the engine's threads, over iters products. Benchmarks
// use it as the peak to compare model throughput with.
func (e *Engine) MatmulGFLOPS(ctx context.Context, n, iters int) (Rate, error) {
	var best time.Duration
	var bestCPU float64
	err := e.Do(ctx, func() error {
		rng := rand.New(rand.NewPCG(1, 2))
		vals := make([]float32, n*n)
		for i := range vals {
			vals[i] = float32(rng.NormFloat64())
		}
		a := floatTensor(vals, int64(n), int64(n))
		b := floatTensor(vals, int64(n), int64(n))
		defer drop(a, b)
		for i := 0; i < iters; i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			c0 := ProcessCPUSeconds()
			start := time.Now()
			c := must(a.Mm(b, false))
			d := time.Since(start)
			dc := ProcessCPUSeconds() - c0
			drop(c)
			if best == 0 || d < best {
				best = d
			}
			if bestCPU == 0 || (dc > 0 && dc < bestCPU) {
				bestCPU = dc
			}
		}
		return nil
	})
	if err != nil {
		return Rate{}, err
	}
	flop := 2 * float64(n) * float64(n) * float64(n) / 1e9
	r := Rate{Wall: flop / best.Seconds()}
	if bestCPU > 0 {
		r.CPU = flop / (bestCPU / float64(e.threads))
	}
	return r, nil
}
