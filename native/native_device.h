// Device queries that gotch does not expose, answered by the CUDA runtime
// that a CUDA build of libtorch has already loaded. No CUDA headers are
// needed: the runtime is found with dlopen/dlsym at call time.
#ifndef COLDINT_NATIVE_DEVICE_H
#define COLDINT_NATIVE_DEVICE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// coldint_cuda_mem_info stores GPU device's free and total memory in bytes.
// It returns 0 on success, -1 when no CUDA runtime is loaded in the process
// (a CPU build of libtorch) and otherwise the cudaError_t of the failed call.
int coldint_cuda_mem_info(int device, int64_t *free_bytes, int64_t *total_bytes);

#ifdef __cplusplus
}
#endif

#endif
