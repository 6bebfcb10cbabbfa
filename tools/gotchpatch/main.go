// Command gotchpatch adapts a pruned copy of github.com/sugarme/gotch v0.9.x
// to coldint: gotch's C++ moves into coldint's native library
// (libcoldint_torch.so, built by native/build.sh against any libtorch), and
// the Go side gets coldint's fixes.
//
// Usage:
//
//	go run ./tools/gotchpatch DIR NATIVE_SRC [COLDINT_HEADER.h ...]
//
// DIR is a writable copy of the module (mk/torch.mk copies it from the module
// cache into .build/gotch and removes example/, gen/ and *_test.go first);
// NATIVE_SRC is the folder, not existing yet, that receives gotch's C++
// sources for native/build.sh (.build/native-src). The tool checks that DIR
// holds gotch v0.9.x, refuses to patch a tree twice (the marker file
// [markerName]) and is deterministic: the same input tree always gives
// byte-identical output, so the Go build cache keeps hitting.
//
// It makes the changes listed in docs/engine.md#the-gotch-patch:
//
//  1. moves libtch's C++ sources (torch_api.cpp, the generated wrappers, the
//     stb headers) to NATIVE_SRC and copies the shared headers there; the
//     thread-local last error becomes extern in torch_api.h and is defined
//     once in torch_api.cpp, and torch_api.cpp no longer includes the
//     generated wrappers (native/build.sh compiles them in chunks and stubs
//     those that do not compile against the libtorch at hand);
//  2. rewrites libtch/lib.go: no C++ and no link to the library; instead a
//     trampoline per C function (gotch's and those of the COLDINT_HEADERs,
//     coldint's native/*.h) jumps through a table that a loader fills with
//     dlopen on the first call or when coldint starts an engine (see
//     lazy.go), so commands that compute nothing never load libtorch;
//  3. fixes nn.Optimizer.ClipGradNorm (a self-deadlock on the VarStore lock,
//     then a nil dim slice that libtch indexes);
//  4. adds ts.SetNumThreads and ts.GetNumThreads;
//  5. fixes nn.Path.Sub, whose sub-paths shared their parent's backing array;
//  6. inserts `defer runtime.KeepAlive(x)` for every *Tensor / *Scalar (and
//     slice of them) parameter and receiver of every function in package ts,
//     except must-tensor-generated.go whose Must* wrappers call the patched
//     functions; without it the GC may finalize (free) a tensor while a cgo
//     call still uses it.
//  7. removes the 100 KB Go "bigStruct" ballast that newTensor attaches to every
//     tensor (coldint drops tensors explicitly, see docs/engine.md#rules-for-libtorch-code, rule 3).
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
)

func main() {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: gotchpatch DIR NATIVE_SRC [COLDINT_HEADER.h ...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 2 {
		flag.Usage()
		os.Exit(2)
	}
	dir, nativeSrc := flag.Arg(0), flag.Arg(1)
	st, err := patchTree(dir, nativeSrc, flag.Args()[2:]...)
	if err != nil {
		slog.Error("patch gotch", "dir", dir, "err", err)
		os.Exit(1)
	}
	slog.Info("patched gotch", "dir", dir, "native_src", nativeSrc, "moved", st.moved, "keepalive_funcs", st.keepAliveFuncs, "keepalive_calls", st.keepAliveCalls)
}
