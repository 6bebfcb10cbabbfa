// Native helpers of the engine, part of libcoldint_torch.so (see
// model/native.go and native/build.sh):
//   - a fused AdamW update and a sum of squares over float32 memory,
//     parallelised with the OpenMP runtime libtorch and OpenBLAS already use;
//   - a caching CPU allocator for libtorch, switched on while a model trains.

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "native.h"

// Below this many elements a loop runs on the calling thread only.
static const int64_t kParallelMin = 1 << 15;

extern "C" double coldint_sumsq(const float *x, int64_t n) {
  double total = 0;
  const int64_t chunk = 1 << 14;
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for reduction(+ : total) schedule(static) if (n >= kParallelMin)
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = lo; i < hi; i++) s += x[i] * x[i];
    total += s;
  }
  return total;
}

// sqrtNoErrno is a float square root without errno handling.
static inline float sqrtNoErrno(float x) {
#if defined(__SSE__)
  return _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(x)));
#else
  return __builtin_sqrtf(x);
#endif
}

// adamwRange updates elements [lo, hi). On x86-64, four lanes at a time with
// SSE (the baseline; std::sqrt would not vectorise because of errno). No
// operation is fused (no FMA, fp-contract off), so every element rounds like
// the scalar float32 arithmetic of torch's AdamW on any CPU.
__attribute__((optimize("fp-contract=off"))) static void adamwRange(float *__restrict p, const float *__restrict g, float *__restrict m,
                       float *__restrict v, int64_t lo, int64_t hi, const struct coldint_adamw_args *a) {
  const float gs = a->grad_scale, b1 = a->beta1, b2 = a->beta2;
  const float c1 = 1 - a->beta1, c2 = 1 - a->beta2;
  const float decay = a->decay, step = a->step_size, bc2 = a->bc2_sqrt, eps = a->eps;
  int64_t i = lo;
#if defined(__SSE__)
  const __m128 vgs = _mm_set1_ps(gs), vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2);
  const __m128 vc1 = _mm_set1_ps(c1), vc2 = _mm_set1_ps(c2), vdecay = _mm_set1_ps(decay);
  const __m128 vstep = _mm_set1_ps(step), vbc2 = _mm_set1_ps(bc2), veps = _mm_set1_ps(eps);
  for (; i + 4 <= hi; i += 4) {
    const __m128 gi = _mm_mul_ps(_mm_loadu_ps(g + i), vgs);
    const __m128 mi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(m + i), vb1), _mm_mul_ps(vc1, gi));
    const __m128 vi = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(v + i), vb2), _mm_mul_ps(_mm_mul_ps(vc2, gi), gi));
    _mm_storeu_ps(m + i, mi);
    _mm_storeu_ps(v + i, vi);
    const __m128 den = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vi), vbc2), veps);
    const __m128 pi = _mm_sub_ps(_mm_mul_ps(_mm_loadu_ps(p + i), vdecay), _mm_mul_ps(vstep, _mm_div_ps(mi, den)));
    _mm_storeu_ps(p + i, pi);
  }
#endif
  for (; i < hi; i++) {
    const float gi = g[i] * gs;
    const float mi = m[i] * b1 + c1 * gi;
    const float vi = v[i] * b2 + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float den = sqrtNoErrno(vi) / bc2 + eps;
    p[i] = p[i] * decay - step * (mi / den);
  }
}

extern "C" void coldint_adamw(float *p, const float *g, float *m, float *v, int64_t n,
                              const struct coldint_adamw_args *a) {
  const int64_t chunk = 1 << 14;
  const int64_t chunks = (n + chunk - 1) / chunk;
#pragma omp parallel for schedule(static) if (n >= kParallelMin)
  for (int64_t c = 0; c < chunks; c++) {
    const int64_t lo = c * chunk;
    adamwRange(p, g, m, v, lo, lo + chunk < n ? lo + chunk : n, a);
  }
}

namespace {

// Blocks of at least kBig bytes are served by the caching path: whole 2 MiB
// pages, aligned, advised as transparent huge pages.
const size_t kBig = size_t(1) << 20;
const size_t kPage = size_t(2) << 20;

struct State {
  std::mutex mu;
  bool caching = false;
  size_t limit = 0;      // most bytes kept in the cache (0: no cap)
  size_t cached = 0;     // bytes in free_
  size_t liveBytes = 0;  // bytes of blocks in use
  size_t peak = 0;       // most liveBytes seen since the cache went on
  std::unordered_map<size_t, std::vector<void *>> free_;  // size -> idle blocks
  std::unordered_map<void *, size_t> live;                // block -> size
  coldint_alloc_stats stats{};
};

State &state() {
  static State *s = new State;  // never destroyed: tensors may outlive statics
  return *s;
}

void *mapBlock(size_t size) {
  // Over-map by one page and trim, so the block starts on a 2 MiB boundary.
  void *raw = mmap(nullptr, size + kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  uintptr_t base = reinterpret_cast<uintptr_t>(raw);
  uintptr_t start = (base + kPage - 1) & ~(uintptr_t)(kPage - 1);
  if (start > base) munmap(raw, start - base);
  size_t tail = (base + size + kPage) - (start + size);
  if (tail > 0) munmap(reinterpret_cast<void *>(start + size), tail);
  void *p = reinterpret_cast<void *>(start);
  madvise(p, size, MADV_HUGEPAGE);
  return p;
}

// releaseBig returns a block of the caching path to the cache (or unmaps
// it); false when ptr is not one of its blocks. Caching a block does not
// grow the footprint: its bytes move from live to idle.
bool releaseBig(void *ptr) {
  State &s = state();
  size_t size;
  {
    std::lock_guard<std::mutex> g(s.mu);
    auto it = s.live.find(ptr);
    if (it == s.live.end()) return false;
    size = it->second;
    s.live.erase(it);
    s.liveBytes -= size;
    if (s.caching && (s.limit == 0 || s.cached + size <= s.limit)) {
      s.free_[size].push_back(ptr);
      s.cached += size;
      return true;
    }
    s.stats.unmapped++;
  }
  munmap(ptr, size);
  return true;
}

// evictFor unmaps idle blocks (largest sizes first) until mapping another
// block of size bytes keeps live + idle bytes within 1.5 × the peak of live
// bytes seen so far. Blocks are reused by exact size, and the mix of sizes
// alive changes during a training step, so holding every size a step wants
// again takes more than the peak itself: 1.27-1.35 × measured on the mine
// bench (1-4 rows of 128-512 tokens). The bound keeps that in the cache and
// still caps what shifting shapes can pile up. Called with the lock held.
void evictFor(State &s, size_t size) {
  const size_t bound = s.peak + s.peak / 2;
  if (s.cached == 0 || s.liveBytes + s.cached + size <= bound) return;
  std::vector<size_t> sizes;
  for (auto &kv : s.free_)
    if (!kv.second.empty()) sizes.push_back(kv.first);
  std::sort(sizes.begin(), sizes.end(), std::greater<size_t>());
  for (size_t sz : sizes) {
    auto &list = s.free_[sz];
    while (!list.empty() && s.liveBytes + s.cached + size > bound) {
      munmap(list.back(), sz);
      list.pop_back();
      s.cached -= sz;
      s.stats.unmapped++;
    }
    if (s.liveBytes + s.cached + size <= bound) break;
  }
}

void freeBig(void *ptr) { releaseBig(ptr); }

c10::DeleterFnPtr fallbackRawDeleter = nullptr;

// rawDelete frees what raw_allocate returned, from either path.
void rawDelete(void *ptr) {
  if (!releaseBig(ptr) && fallbackRawDeleter != nullptr) fallbackRawDeleter(ptr);
}

struct CachingAllocator final : c10::Allocator {
  c10::Allocator *fallback;

  explicit CachingAllocator(c10::Allocator *f) : fallback(f) {}

  // libtorch up to 2.2 declares allocate const, later versions do not; the
  // two overloads (neither marked override) fit both.
  c10::DataPtr allocate(size_t n) { return allocateImpl(n); }
  c10::DataPtr allocate(size_t n) const { return allocateImpl(n); }

  // Pure virtual since libtorch 2.3; an unused plain member before that.
  void copy_data(void *dest, const void *src, std::size_t count) const { std::memcpy(dest, src, count); }

  c10::DataPtr allocateImpl(size_t n) const {
    State &s = state();
    {
      std::lock_guard<std::mutex> g(s.mu);
      if (!s.caching || n < kBig) {
        goto fallback;
      }
      const size_t size = (n + kPage - 1) & ~(kPage - 1);
      auto it = s.free_.find(size);
      if (it != s.free_.end() && !it->second.empty()) {
        void *p = it->second.back();
        it->second.pop_back();
        s.cached -= size;
        s.live[p] = size;
        s.liveBytes += size;
        if (s.liveBytes > s.peak) s.peak = s.liveBytes;
        s.stats.hits++;
        return c10::DataPtr(p, p, &freeBig, c10::Device(c10::DeviceType::CPU));
      }
      s.stats.misses++;
      evictFor(s, size);
      void *p = mapBlock(size);
      if (p == nullptr) {
        goto fallback;  // let the default allocator report the failure
      }
      s.live[p] = size;
      s.liveBytes += size;
      if (s.liveBytes > s.peak) s.peak = s.liveBytes;
      s.stats.mapped++;
      return c10::DataPtr(p, p, &freeBig, c10::Device(c10::DeviceType::CPU));
    }
  fallback:
    return fallback->allocate(n);
  }

  // raw_deleter serves Allocator::raw_allocate/raw_deallocate: both paths
  // give DataPtrs whose context is the data pointer.
  c10::DeleterFnPtr raw_deleter() const override { return &rawDelete; }
};

std::once_flag installed;

}  // namespace

extern "C" void coldint_alloc_cache(int enabled, size_t limit) {
  std::call_once(installed, [] {
    c10::Allocator *def = c10::GetDefaultCPUAllocator();
    fallbackRawDeleter = def->raw_deleter();
    static CachingAllocator *a = new CachingAllocator(def);
    c10::SetCPUAllocator(a, /*priority=*/1);
  });
  State &s = state();
  std::vector<std::pair<void *, size_t>> release;
  {
    std::lock_guard<std::mutex> g(s.mu);
    if (!s.caching) s.peak = s.liveBytes;  // a new period of use starts
    s.caching = enabled != 0;
    s.limit = limit;
    if (!s.caching) {
      for (auto &kv : s.free_)
        for (void *p : kv.second) release.emplace_back(p, kv.first);
      s.free_.clear();
      s.cached = 0;
      s.stats.unmapped += release.size();
    }
  }
  for (auto &b : release) munmap(b.first, b.second);
}

extern "C" void coldint_alloc_stats_get(struct coldint_alloc_stats *out) {
  State &s = state();
  std::lock_guard<std::mutex> g(s.mu);
  *out = s.stats;
  out->cached_bytes = s.cached;
  out->live_bytes = s.liveBytes;
  out->peak_bytes = s.peak;
}

extern "C" int coldint_alloc_raw_check(size_t n) {
  try {
    c10::Allocator *a = c10::GetCPUAllocator();
    void *p = a->raw_allocate(n);
    if (p == nullptr) return 1;
    static_cast<char *>(p)[0] = 1;
    static_cast<char *>(p)[n - 1] = 2;
    a->raw_deallocate(p);
    return 0;
  } catch (...) {
    return 2;
  }
}
