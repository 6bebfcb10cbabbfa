package model

// The engine's native code (gotch's C wrapper and coldint's own, in
// native/*.cc) is one shared library, libcoldint_torch.so, built by
// native/build.sh against a libtorch folder; cgo compiles no C++ here. The
// binary finds the library through its RUNPATH: first the binary's own
// folder (bin/libcoldint_torch.so next to bin/coldint), then the checkout's
// build folder (for go test binaries). LD_LIBRARY_PATH comes before both.

// #cgo CFLAGS: -I${SRCDIR}/../native
// #cgo LDFLAGS: -Wl,--enable-new-dtags -Wl,-rpath,$ORIGIN -Wl,-rpath,${SRCDIR}/../.build/native
// #include "native.h"
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// adamWArgs are the scalars of one fused AdamW update (see native.h).
type adamWArgs struct {
	gradScale, beta1, beta2, decay, stepSize, bc2Sqrt, eps float32
}

// fusedAdamW updates p, m and v in place from g in one pass over memory,
// using libtorch's OpenMP threads. All four slices have the same length.
func fusedAdamW(p, g, m, v []float32, a adamWArgs) {
	n := len(p)
	if len(g) != n || len(m) != n || len(v) != n {
		panic(torchError{fmt.Errorf("adamw over %d/%d/%d/%d elements", len(p), len(g), len(m), len(v))})
	}
	if n == 0 {
		return
	}
	args := C.struct_coldint_adamw_args{
		grad_scale: C.float(a.gradScale), beta1: C.float(a.beta1), beta2: C.float(a.beta2),
		decay: C.float(a.decay), step_size: C.float(a.stepSize), bc2_sqrt: C.float(a.bc2Sqrt), eps: C.float(a.eps),
	}
	C.coldint_adamw((*C.float)(unsafe.Pointer(&p[0])), (*C.float)(unsafe.Pointer(&g[0])),
		(*C.float)(unsafe.Pointer(&m[0])), (*C.float)(unsafe.Pointer(&v[0])), C.int64_t(n), &args)
}

// sumSquares returns Σ x², summed in float32 blocks and a float64 total.
func sumSquares(x []float32) float64 {
	if len(x) == 0 {
		return 0
	}
	return float64(C.coldint_sumsq((*C.float)(unsafe.Pointer(&x[0])), C.int64_t(len(x))))
}

// allocCache turns the caching CPU allocator on (keeping at most limit idle
// bytes, 0: no cap) or off (releasing every idle block). Blocks of 1 MiB or
// more are then served from idle blocks of the same size, which spares a
// training step the page faults of re-mapping the same activation and
// gradient buffers every step. Idle blocks never take the footprint (live +
// idle) beyond 1.5 × the peak of live bytes: a miss unmaps idle blocks first.
func allocCache(on bool, limit int64) {
	e := C.int(0)
	if on {
		e = 1
	}
	C.coldint_alloc_cache(e, C.size_t(max(limit, 0)))
}

// cacheLeases are the live users of the allocator cache with the idle bytes
// each allows (0: no cap); the cache is on, with the largest of those limits,
// while there is one.
var cacheLeases struct {
	sync.Mutex
	next   int
	limits map[int]int64
}

// leaseAllocCache turns the allocator cache on for one user allowing limit
// idle bytes and returns the function that ends the lease (idempotent).
// After the last lease the cache is off and its idle blocks are released.
func leaseAllocCache(limit int64) (release func()) {
	cacheLeases.Lock()
	defer cacheLeases.Unlock()
	if cacheLeases.limits == nil {
		cacheLeases.limits = map[int]int64{}
	}
	id := cacheLeases.next
	cacheLeases.next++
	cacheLeases.limits[id] = limit
	applyLeasesLocked()
	var once sync.Once
	return func() {
		once.Do(func() {
			cacheLeases.Lock()
			defer cacheLeases.Unlock()
			delete(cacheLeases.limits, id)
			applyLeasesLocked()
		})
	}
}

func applyLeasesLocked() {
	if len(cacheLeases.limits) == 0 {
		allocCache(false, 0)
		return
	}
	var limit int64
	for _, l := range cacheLeases.limits {
		if l == 0 {
			allocCache(true, 0)
			return
		}
		limit = max(limit, l)
	}
	allocCache(true, limit)
}

// allocCounters are the counters of the engine's caching CPU allocator.
type allocCounters struct {
	Hits, Misses, Mapped, Unmapped uint64
	CachedBytes, LiveBytes         uint64
	PeakBytes                      uint64
}

// AllocCacheStats are the counters of the caching CPU allocator that serves
// libtorch's blocks of 1 MiB or more while a [Trainer] is open: cache hits
// and misses, blocks mapped and unmapped, and the idle, live and peak bytes.
type AllocCacheStats = allocCounters

// CacheStats returns the caching allocator's counters (all zero before the
// first Trainer).
func CacheStats() AllocCacheStats { return allocStats() }

// allocStats returns the caching allocator's counters.
func allocStats() allocCounters {
	var s C.struct_coldint_alloc_stats
	C.coldint_alloc_stats_get(&s)
	return allocCounters{Hits: uint64(s.hits), Misses: uint64(s.misses), Mapped: uint64(s.mapped),
		Unmapped: uint64(s.unmapped), CachedBytes: uint64(s.cached_bytes), LiveBytes: uint64(s.live_bytes),
		PeakBytes: uint64(s.peak_bytes)}
}

// allocRawCheck runs raw_allocate/raw_deallocate of n bytes through
// libtorch's CPU allocator and reports whether both worked.
func allocRawCheck(n int) error {
	if rc := C.coldint_alloc_raw_check(C.size_t(n)); rc != 0 {
		return fmt.Errorf("raw allocation of %d bytes failed (code %d)", n, rc)
	}
	return nil
}
