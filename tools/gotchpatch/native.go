package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// nativeMoved are the files of libtch that only the C++ side uses: they move
// to the native source folder and leave the Go package, so that cgo
// compiles no C++ (native/build.sh compiles them into libcoldint_torch.so).
var nativeMoved = []string{
	"torch_api.cpp",
	"torch_api_generated.cpp.h",
	"stb_image.h",
	"stb_image_resize.h",
	"stb_image_write.h",
}

// nativeShared are the headers both sides include: Go's cgo (as C) and the
// library's C++. They are patched in libtch and copied.
var nativeShared = []string{
	"torch_api.h",
	"torch_api_generated.h",
}

// lastErrHeaderEdits declare gotch's thread-local last error in the header
// instead of defining it there: the library compiles the wrappers in several
// translation units, and each would define its own copy.
var lastErrHeaderEdits = []edit{{
	old: "thread_local char *torch_last_err = nullptr;\n",
	new: "extern thread_local char *torch_last_err; // coldint: defined once, in torch_api.cpp\n",
}}

// torchAPICppEdits define the last error in torch_api.cpp and drop the
// include of the generated wrappers, which native/build.sh compiles in chunks.
var torchAPICppEdits = []edit{
	{
		old: "using namespace std;\n",
		new: "using namespace std;\n\nthread_local char *torch_last_err = nullptr; // coldint: declared extern in torch_api.h\n",
	},
	{
		old: "#include \"torch_api_generated.cpp.h\"\n",
		new: "// coldint: the generated wrappers are compiled separately by native/build.sh.\n",
	},
}

// moveNativeSources patches the shared header, moves the C++-only files of
// dir/libtch into nativeSrc and copies the shared headers there. nativeSrc
// must not exist yet. It returns the number of files moved.
func moveNativeSources(dir, nativeSrc string) (int, error) {
	if _, err := os.Stat(nativeSrc); err == nil {
		return 0, fmt.Errorf("create native source folder %q: it exists; start from a fresh one", nativeSrc)
	}
	if err := editFile(dir, "libtch/torch_api.h", replacer(lastErrHeaderEdits)); err != nil {
		return 0, err
	}
	if err := editFile(dir, "libtch/torch_api.cpp", replacer(torchAPICppEdits)); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(nativeSrc, 0o755); err != nil {
		return 0, fmt.Errorf("create native source folder: %w", err)
	}
	for _, name := range nativeShared {
		b, err := os.ReadFile(filepath.Join(dir, "libtch", name))
		if err != nil {
			return 0, fmt.Errorf("read %q: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(nativeSrc, name), b, 0o644); err != nil {
			return 0, fmt.Errorf("copy %q: %w", name, err)
		}
	}
	for i, name := range nativeMoved {
		from := filepath.Join(dir, "libtch", name)
		b, err := os.ReadFile(from)
		if err != nil {
			return i, fmt.Errorf("read %q: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(nativeSrc, name), b, 0o644); err != nil {
			return i, fmt.Errorf("write %q: %w", name, err)
		}
		if err := os.Remove(from); err != nil {
			return i, fmt.Errorf("remove %q: %w", name, err)
		}
	}
	return len(nativeMoved), nil
}
