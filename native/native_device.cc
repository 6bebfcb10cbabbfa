// See native_device.h.
#include "native_device.h"

#include <dlfcn.h>
#include <link.h>
#include <stddef.h>
#include <string.h>

namespace {

typedef int (*get_device_fn)(int *);
typedef int (*set_device_fn)(int);
typedef int (*mem_get_info_fn)(size_t *, size_t *);

// find_cudart stores the path of the first loaded library whose file name
// contains "libcudart" (libtorch bundles may rename it, e.g. libcudart-1a2b.so.12).
int find_cudart(struct dl_phdr_info *info, size_t, void *data) {
  const char *path = info->dlpi_name;
  if (path != nullptr && strstr(path, "libcudart") != nullptr) {
    *static_cast<const char **>(data) = path;
    return 1;
  }
  return 0;
}

// cudart_symbol finds a symbol of the CUDA runtime library that the process
// already has: first in any loaded library exporting it globally, then in a
// loaded library named like libcudart, never loading a new one (RTLD_NOLOAD).
void *cudart_symbol(const char *name) {
  void *sym = dlsym(RTLD_DEFAULT, name);
  if (sym != nullptr) {
    return sym;
  }
  const char *loaded = nullptr;
  dl_iterate_phdr(find_cudart, &loaded);
  const char *const names[] = {loaded, "libcudart.so", "libcudart.so.12", "libcudart.so.11.0"};
  for (const char *n : names) {
    if (n == nullptr) {
      continue;
    }
    void *h = dlopen(n, RTLD_LAZY | RTLD_NOLOAD);
    if (h == nullptr) {
      continue;
    }
    sym = dlsym(h, name);
    dlclose(h);  // drops only the reference taken by RTLD_NOLOAD
    if (sym != nullptr) {
      return sym;
    }
  }
  return nullptr;
}

}  // namespace

extern "C" int coldint_cuda_mem_info(int device, int64_t *free_bytes, int64_t *total_bytes) {
  get_device_fn get_device = reinterpret_cast<get_device_fn>(cudart_symbol("cudaGetDevice"));
  set_device_fn set_device = reinterpret_cast<set_device_fn>(cudart_symbol("cudaSetDevice"));
  mem_get_info_fn mem_get_info = reinterpret_cast<mem_get_info_fn>(cudart_symbol("cudaMemGetInfo"));
  if (get_device == nullptr || set_device == nullptr || mem_get_info == nullptr) {
    return -1;
  }
  int prev = 0;
  int err = get_device(&prev);
  if (err != 0) {
    return err;
  }
  if (prev != device && (err = set_device(device)) != 0) {
    return err;
  }
  size_t f = 0, t = 0;
  err = mem_get_info(&f, &t);
  if (prev != device) {
    set_device(prev);
  }
  if (err != 0) {
    return err;
  }
  *free_bytes = static_cast<int64_t>(f);
  *total_bytes = static_cast<int64_t>(t);
  return 0;
}
