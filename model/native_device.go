package model

// #include "native_device.h"
import "C"

import (
	"errors"
	"fmt"
)

// errNoCUDARuntime is returned by cudaMemInfo when the process has no CUDA
// runtime loaded (a CPU build of libtorch).
var errNoCUDARuntime = errors.New("no CUDA runtime loaded")

// cudaMemInfo returns the free and total memory of GPU index in bytes, asked
// of the CUDA runtime that libtorch loaded.
func cudaMemInfo(index int) (free, total int64, err error) {
	var f, t C.int64_t
	switch rc := C.coldint_cuda_mem_info(C.int(index), &f, &t); rc {
	case 0:
		return int64(f), int64(t), nil
	case -1:
		return 0, 0, fmt.Errorf("query memory of GPU %d: %w", index, errNoCUDARuntime)
	default:
		return 0, 0, fmt.Errorf("query memory of GPU %d: cudaMemGetInfo failed with CUDA error %d", index, int(rc))
	}
}
