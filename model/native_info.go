package model

// #include <stdlib.h>
// #include "native.h"
import "C"

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"

	lib "github.com/sugarme/gotch/libtch"
)

// NativeInfoT describes the native library (libcoldint_torch.so) the process
// runs with: what it was built against and where it was loaded from.
type NativeInfoT struct {
	// ABI is the library's interface version; the binary needs [NativeABI].
	ABI int `json:"abi"`
	// LibtorchVersion is TORCH_VERSION of the headers the library was built with.
	LibtorchVersion string `json:"libtorch_version"`
	// LibtorchDir is the libtorch folder given to native/build.sh.
	LibtorchDir string `json:"libtorch_dir"`
	// CUDA reports whether the library links libtorch's CUDA libraries.
	CUDA bool `json:"cuda"`
	// CUDADevices is how many CUDA devices libtorch sees now.
	CUDADevices int `json:"cuda_devices"`
	// CXX11ABI is the _GLIBCXX_USE_CXX11_ABI the library was compiled with.
	CXX11ABI int `json:"cxx11_abi"`
	// StubbedWrappers counts gotch's generated wrappers that did not compile
	// against this libtorch; calling one returns an error.
	StubbedWrappers int `json:"stubbed_wrappers"`
	// SDPA reports whether at::scaled_dot_product_attention exists.
	SDPA bool `json:"sdpa"`
	// Compiler is the first line of the C++ compiler's --version.
	Compiler string `json:"compiler"`
	// Library is the path the library was loaded from.
	Library string `json:"library"`
}

// NativeABI is the interface version of native/native.h this binary was
// built with; the library must report the same.
const NativeABI = C.COLDINT_NATIVE_ABI

// NativeInfo returns the description the native library gives of itself.
func NativeInfo() (NativeInfoT, error) {
	var info NativeInfoT
	if err := loadNative(); err != nil {
		return info, err
	}
	raw := C.GoString(C.coldint_native_info())
	if err := json.Unmarshal([]byte(raw), &info); err != nil {
		return info, fmt.Errorf("parse native library info %q: %w", raw, err)
	}
	return info, nil
}

var nativeABI struct {
	once sync.Once
	err  error
}

// checkNativeABI verifies once that the loaded native library has this
// binary's interface version.
func checkNativeABI() error {
	nativeABI.once.Do(func() { nativeABI.err = compareNativeABI(int(C.coldint_native_abi()), NativeABI, NativeInfo) })
	return nativeABI.err
}

// compareNativeABI returns an error naming the library when have differs from want.
func compareNativeABI(have, want int, info func() (NativeInfoT, error)) error {
	if have == want {
		return nil
	}
	i, err := info()
	if err != nil {
		return fmt.Errorf("check native library: interface version %d, this binary needs %d (%w)", have, want, err)
	}
	return fmt.Errorf("check native library %q: interface version %d, this binary needs %d (the library was built against libtorch %s in %q); "+
		"rebuild it from the same coldint sources (native/build.sh LIBTORCH_DIR OUT_DIR) or unset LD_LIBRARY_PATH",
		i.Library, have, want, i.LibtorchVersion, i.LibtorchDir)
}

var nativeLoad struct {
	once sync.Once
	err  error
}

// loadNative opens libcoldint_torch.so once: the file COLDINT_NATIVE names,
// else the name looked up as dlopen does (LD_LIBRARY_PATH, then the binary's
// RUNPATH: its own folder and the checkout's build folder). The binary does
// not link the library, so commands that compute nothing never load libtorch.
func loadNative() error {
	nativeLoad.once.Do(func() {
		path := os.Getenv("COLDINT_NATIVE")
		if path == "" {
			path = "libcoldint_torch.so"
		}
		if err := lib.LoadNative(path); err != nil {
			nativeLoad.err = fmt.Errorf("load the engine library %s: %v (build it with make build or native/build.sh; COLDINT_NATIVE or LD_LIBRARY_PATH can point at it)", path, err)
		}
	})
	return nativeLoad.err
}
