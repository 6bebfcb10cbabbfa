package model

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/coldint/coldint/model/synth"
	"github.com/coldint/coldint/train"
)

// adamWRef is the scalar float32 AdamW update; the explicit float32
// conversions round every operation like the native code's SSE lanes.
func adamWRef(p, g, m, v []float32, a adamWArgs) {
	c1, c2 := float32(1-a.beta1), float32(1-a.beta2)
	for i := range p {
		gi := float32(g[i] * a.gradScale)
		mi := float32(float32(m[i]*a.beta1) + float32(c1*gi))
		vi := float32(float32(v[i]*a.beta2) + float32(float32(c2*gi)*gi))
		m[i], v[i] = mi, vi
		den := float32(float32(float32(math.Sqrt(float64(vi)))/a.bc2Sqrt) + a.eps)
		p[i] = float32(float32(p[i]*a.decay) - float32(a.stepSize*float32(mi/den)))
	}
}

func randFloats(r *rand.Rand, n int, scale float32) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64()) * scale
	}
	return out
}

// TestFusedAdamWMatchesScalar checks the native AdamW bit for bit against the
// scalar reference, on sizes that exercise the SSE lanes, the scalar tail and
// the OpenMP split.
func TestFusedAdamWMatchesScalar(t *testing.T) {
	args := adamWArgs{gradScale: 0.37, beta1: 0.9, beta2: 0.95, decay: 1 - 3e-4*0.1, stepSize: 3e-4 / 0.19, bc2Sqrt: float32(math.Sqrt(0.0975)), eps: 1e-8}
	for _, n := range []int{0, 1, 3, 4, 7, 64, 1<<15 + 5, 3<<16 + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(n), 1))
			p, g := randFloats(r, n, 0.02), randFloats(r, n, 1e-3)
			m := randFloats(r, n, 1e-4)
			v := make([]float32, n)
			for i, x := range randFloats(r, n, 1e-4) {
				v[i] = x * x
			}
			wp, wm, wv := append([]float32(nil), p...), append([]float32(nil), m...), append([]float32(nil), v...)
			adamWRef(wp, g, wm, wv, args)
			fusedAdamW(p, g, m, v, args)
			for i := range p {
				if p[i] != wp[i] || m[i] != wm[i] || v[i] != wv[i] {
					t.Fatalf("element %d: native p,m,v = %g,%g,%g, scalar %g,%g,%g", i, p[i], m[i], v[i], wp[i], wm[i], wv[i])
				}
			}
		})
	}
}

func TestFusedAdamWLengthMismatch(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for slices of different lengths")
		}
	}()
	fusedAdamW(make([]float32, 4), make([]float32, 3), make([]float32, 4), make([]float32, 4), adamWArgs{})
}

func TestSumSquares(t *testing.T) {
	for _, n := range []int{0, 1, 5, 1<<14 + 3, 1<<17 + 9} {
		r := rand.New(rand.NewPCG(uint64(n), 2))
		x := randFloats(r, n, 3)
		var want float64
		for _, f := range x {
			want += float64(f) * float64(f)
		}
		if got := sumSquares(x); math.Abs(got-want) > 1e-5*want {
			t.Errorf("n=%d: sumSquares %v, float64 loop %v", n, got, want)
		}
	}
}

// TestAllocCacheReusesBlocks allocates and frees the same large tensors
// repeatedly with the cache on: after the first round every allocation is a
// cache hit, and turning the cache off releases the idle blocks.
func TestAllocCacheReusesBlocks(t *testing.T) {
	e := testEngine(t)
	err := e.Do(context.Background(), func() error {
		release := leaseAllocCache(64 << 20)
		defer release()
		before := allocStats()
		for round := 0; round < 4; round++ {
			a := emptyFloat(1<<20 + 3) // 4 MiB + 12 B: one 6 MiB block
			b := emptyFloat(3 << 20)   // 12 MiB
			fa, fb := floatData(a, 1<<20+3), floatData(b, 3<<20)
			fa[len(fa)-1], fb[len(fb)-1] = 1, 2 // the whole block is writable
			drop(a, b)
		}
		// raw_allocate/raw_deallocate (used by some libtorch kernels) go
		// through raw_deleter, for small blocks and cached ones alike.
		for _, n := range []int{64, 6 << 20} {
			if err := allocRawCheck(n); err != nil {
				return err
			}
		}
		s := allocStats()
		if hits, misses := s.Hits-before.Hits, s.Misses-before.Misses; misses != 2 || hits != 7 {
			return fmt.Errorf("4 rounds of 2 tensors and one raw 6 MiB block: %d misses, %d hits; want 2, 7", misses, hits)
		}
		if s.CachedBytes != 18<<20 {
			return fmt.Errorf("cached %d bytes, want %d", s.CachedBytes, 18<<20)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cacheLeases.Lock()
	n := len(cacheLeases.limits)
	cacheLeases.Unlock()
	if s := allocStats(); n == 0 && s.CachedBytes != 0 {
		t.Fatalf("cache off still holds %d bytes", s.CachedBytes)
	}
}

// TestAllocCacheStaysWithinPeak allocates blocks of changing sizes: a miss
// unmaps idle blocks first, so live + idle bytes never exceed 1.5 × the peak
// of live bytes (what an allocator without a cache would have mapped).
func TestAllocCacheStaysWithinPeak(t *testing.T) {
	e := testEngine(t)
	err := e.Do(context.Background(), func() error {
		release := leaseAllocCache(0)
		defer release()
		base := allocStats()
		peak := base.LiveBytes
		for i, mib := range []int64{6, 6, 12, 4, 12, 30, 2, 6, 30, 8} {
			a := emptyFloat(mib << 18) // mib MiB
			b := emptyFloat(mib << 17) // and half as much
			s := allocStats()
			peak = max(peak, s.LiveBytes)
			if s.LiveBytes+s.CachedBytes > peak+peak/2 {
				drop(a, b)
				return fmt.Errorf("round %d (%d MiB): live %d + idle %d bytes exceed 1.5 × the live peak %d", i, mib, s.LiveBytes, s.CachedBytes, peak)
			}
			drop(a, b)
		}
		s := allocStats()
		if s.Hits == base.Hits || s.Unmapped == base.Unmapped {
			return fmt.Errorf("want both reuse and eviction: %d hits, %d unmapped", s.Hits-base.Hits, s.Unmapped-base.Unmapped)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMicroBatchesAccumulate checks gradient accumulation: the gradients of
// two micro-batches equal those of one batch holding both rows.
func TestMicroBatchesAccumulate(t *testing.T) {
	ctx := context.Background()
	e := testEngine(t)
	spec := tinyTrainSpec("llama", 11)
	dir := writeModel(t, spec)
	r1, r2 := synth.RandomIDs(3, 14, spec.Vocab), synth.RandomIDs(4, 14, spec.Vocab)
	grads := func(micro []train.Batch) map[string][]float32 {
		tr, err := e.NewTrainer(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		if _, err := tr.Backward(ctx, micro); err != nil {
			t.Fatal(err)
		}
		g, err := tr.Gradients(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	whole := grads([]train.Batch{batchOf(r1, r2)})
	split := grads([]train.Batch{batchOf(r1), batchOf(r2)})
	if len(whole) != len(split) || len(whole) == 0 {
		t.Fatalf("%d tensors whole, %d split", len(whole), len(split))
	}
	for name, w := range whole {
		s := split[name]
		var num, den float64
		for i := range w {
			d := float64(w[i] - s[i])
			num += d * d
			den += float64(w[i]) * float64(w[i])
		}
		if den == 0 || math.Sqrt(num/den) > 1e-5 {
			t.Errorf("%s: relative difference %.2g between one batch and two micro-batches (|g|² %g)", name, math.Sqrt(num/max(den, 1e-30)), den)
		}
	}
}
