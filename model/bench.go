package model

import (
	"context"
	"math/rand/v2"
	"time"
)

// MatmulGFLOPS measures the best float32 n×n matrix product rate of this CPU
// through libtorch on the engine's threads, over iters products. Benchmarks
// use it as the peak to compare model throughput with.
func (e *Engine) MatmulGFLOPS(ctx context.Context, n, iters int) (float64, error) {
	var best time.Duration
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
			start := time.Now()
			c := must(a.Mm(b, false))
			d := time.Since(start)
			drop(c)
			if best == 0 || d < best {
				best = d
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return 2 * float64(n) * float64(n) * float64(n) / best.Seconds() / 1e9, nil
}
