// Command gotchpatch adapts a pruned copy of github.com/sugarme/gotch v0.9.x
// to Debian bookworm's libtorch 1.13.1 (package libtorch-dev), CPU only.
//
// Usage:
//
//	go run ./tools/gotchpatch DIR            # patch the copy in DIR once
//	go run ./tools/gotchpatch -discover DIR  # print the wrappers that fail to compile
//
// DIR is a writable copy of the module (mk/torch.mk copies it from the module
// cache into .build/gotch and removes example/, gen/ and *_test.go first). The
// tool checks that DIR holds gotch v0.9.x, refuses to patch a tree twice (the
// marker file [markerName]) and is deterministic: the same input tree always
// gives byte-identical output, so the Go build cache keeps hitting.
//
// It makes the changes listed in docs/engine.md#the-gotch-patch:
//
//  1. stubs the generated C++ wrappers of libtch/torch_api_generated.cpp.h that
//     do not compile against libtorch 1.13 (see [stubbedWrappers]); a stub throws
//     std::runtime_error("gotch: atg_X is not available in libtorch 1.13"), which
//     gotch turns into a Go error;
//  2. rewrites libtch/lib.go: CPU only, Debian's include path, no ${SRCDIR}
//     (so -trimpath builds share the cache across checkouts), -O1 -g0;
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
//
// # Finding the wrappers to stub
//
// The list in [stubbedWrappers] was produced by the -discover mode, which does
// what one would do by hand: compile the wrapper once against the installed
// headers,
//
//	g++ -std=c++17 -fsyntax-only -fmax-errors=0 -I DIR/libtch \
//	    -I/usr/include/torch/csrc/api/include DIR/libtch/torch_api.cpp
//
// collect the line numbers of the errors reported in torch_api_generated.cpp.h,
// map every line to the atg_* function that encloses it and print the sorted,
// unique names. Rerun it (on an unpatched copy) when libtorch or gotch changes
// and paste its output into stubs.go.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
)

func main() {
	discover := flag.Bool("discover", false, "compile libtch/torch_api.cpp against the installed libtorch and print the wrappers that fail (needs g++ and libtorch-dev)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: gotchpatch [-discover] DIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	dir := flag.Arg(0)
	ctx := context.Background()
	if *discover {
		names, err := discoverFailing(ctx, dir)
		if err != nil {
			slog.Error("discover failing wrappers", "err", err)
			os.Exit(1)
		}
		for _, n := range names {
			fmt.Println(n)
		}
		slog.Info("failing wrappers", "count", len(names))
		return
	}
	st, err := patchTree(dir)
	if err != nil {
		slog.Error("patch gotch", "dir", dir, "err", err)
		os.Exit(1)
	}
	slog.Info("patched gotch", "dir", dir, "stubbed", st.stubbed, "keepalive_funcs", st.keepAliveFuncs, "keepalive_calls", st.keepAliveCalls)
}
