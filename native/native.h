// C interface of libcoldint_torch.so's own functions (native/*.cc; the Go
// side is model/native.go and model/native_info.go). gotch's C interface is
// libtch/torch_api.h.
#ifndef COLDINT_NATIVE_H
#define COLDINT_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// COLDINT_NATIVE_ABI numbers the C interface of the library: raise it with
// every change to a declaration in this header (or to gotch's), so that a
// binary refuses a library built from other sources.
#define COLDINT_NATIVE_ABI 2

// coldint_native_abi returns the COLDINT_NATIVE_ABI the library was built with.
int coldint_native_abi(void);

// coldint_native_info returns a JSON object describing the library: its ABI,
// the libtorch version and folder it was built against, whether CUDA is
// compiled in and how many CUDA devices libtorch sees, the C++ ABI, the
// number of generated wrappers stubbed because they do not compile against
// this libtorch, whether scaled_dot_product_attention exists, the compiler,
// and the path the library was loaded from. The string is never freed.
const char *coldint_native_info(void);

// The scalars of one AdamW update (torch.optim.AdamW's arithmetic):
//   g' = g·grad_scale; m = β1·m + (1-β1)·g'; v = β2·v + (1-β2)·g'²;
//   p = p·decay − step_size · m / (sqrt(v)/bc2_sqrt + eps).
struct coldint_adamw_args {
  float grad_scale, beta1, beta2, decay, step_size, bc2_sqrt, eps;
};

// Counters of the caching allocator.
struct coldint_alloc_stats {
  uint64_t hits, misses, mapped, unmapped;
  uint64_t cached_bytes, live_bytes, peak_bytes;
};

// coldint_sumsq returns Σ x[i]² (float32 partial sums, double total).
double coldint_sumsq(const float *x, int64_t n);

// coldint_adamw updates p, m and v in place from the gradient g.
void coldint_adamw(float *p, const float *g, float *m, float *v, int64_t n,
                   const struct coldint_adamw_args *a);

// coldint_alloc_cache installs the caching CPU allocator (once) and turns its
// cache on or off; off releases every cached block. limit caps the cached
// bytes (0: no cap). Either way live + cached bytes stay within 1.5 × the
// peak of live bytes since the cache went on: a miss first unmaps idle blocks.
void coldint_alloc_cache(int enabled, size_t limit);

// coldint_alloc_stats_get copies the allocator's counters.
void coldint_alloc_stats_get(struct coldint_alloc_stats *out);

// coldint_alloc_raw_check runs libtorch's raw_allocate/raw_deallocate of
// n > 0 bytes through the current CPU allocator (a test hook): 0 when it
// worked, 1 on a null block, 2 on an exception.
int coldint_alloc_raw_check(size_t n);

#ifdef __cplusplus
}
#endif

#endif
