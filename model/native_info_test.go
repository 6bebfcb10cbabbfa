package model

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coldint/coldint/internal/testenv"
)

// nativeBuildDir is where make (native/build.sh) writes the library the test
// binaries link; tests compare the loaded library with what is there.
func nativeBuildDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testenv.BuildDir(), "native")
	if _, err := os.Stat(filepath.Join(dir, "libtorch.key")); err != nil {
		testenv.Missing(t, "the native library build of make setup-native ("+dir+"/libtorch.key)")
	}
	return dir
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

var torchVersionRE = regexp.MustCompile(`#define TORCH_VERSION\s*\\?\s*"([^"]+)"`)

// TestNativeInfoMatchesBuild checks that the loaded library reports the
// libtorch folder and version make built it against.
func TestNativeInfoMatchesBuild(t *testing.T) {
	dir := nativeBuildDir(t)
	key, err := os.ReadFile(filepath.Join(dir, "libtorch.key"))
	if err != nil {
		t.Fatal(err)
	}
	libtorch := strings.TrimSpace(string(key))
	vh, err := os.ReadFile(filepath.Join(libtorch, "include", "torch", "csrc", "api", "include", "torch", "version.h"))
	if err != nil {
		t.Fatal(err)
	}
	m := torchVersionRE.FindSubmatch(vh)
	if m == nil {
		t.Fatalf("no TORCH_VERSION in %s's version.h", libtorch)
	}
	stubbed, err := os.ReadFile(filepath.Join(dir, "stubbed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Fields(string(stubbed))

	info, err := NativeInfo()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"abi", info.ABI, NativeABI},
		{"libtorch_dir", info.LibtorchDir, libtorch},
		{"libtorch_version", info.LibtorchVersion, string(m[1])},
		{"stubbed_wrappers", info.StubbedWrappers, len(names)},
		{"sdpa", info.SDPA, !slices.Contains(names, "atg_scaled_dot_product_attention")},
		{"cuda", info.CUDA, fileExists(filepath.Join(libtorch, "lib", "libtorch_cuda.so"))},
		{"library is the build folder's", sameFile(t, info.Library, filepath.Join(dir, "libcoldint_torch.so")), true},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v (info %+v)", c.what, c.got, c.want, info)
		}
	}
	if err := checkNativeABI(); err != nil {
		t.Errorf("checkNativeABI: %v", err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestCompareNativeABI(t *testing.T) {
	info := func() (NativeInfoT, error) {
		return NativeInfoT{Library: "/x/libcoldint_torch.so", LibtorchVersion: "2.4.1", LibtorchDir: "/opt/libtorch"}, nil
	}
	broken := func() (NativeInfoT, error) { return NativeInfoT{}, errors.New("no info") }
	tests := []struct {
		name      string
		have      int
		info      func() (NativeInfoT, error)
		wantParts []string
	}{
		{"same", NativeABI, info, nil},
		{"older library", NativeABI - 1, info, []string{`"/x/libcoldint_torch.so"`, "2.4.1", `"/opt/libtorch"`, "rebuild"}},
		{"no info", NativeABI + 1, broken, []string{"no info"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := compareNativeABI(tt.have, NativeABI, tt.info)
			if (err != nil) != (tt.wantParts != nil) {
				t.Fatalf("err = %v", err)
			}
			for _, p := range tt.wantParts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("error %q lacks %q", err, p)
				}
			}
		})
	}
}

// TestBinaryLinksOnlyNativeLibrary reads this test binary's ELF dynamic
// section: no libcoldint_torch.so, libtorch or libc10 (the library is opened
// on demand, so commands that compute nothing never load libtorch), and a
// RUNPATH (not an RPATH, which would beat LD_LIBRARY_PATH) that starts with
// $ORIGIN and holds the build folder, which dlopen searches.
func TestBinaryLinksOnlyNativeLibrary(t *testing.T) {
	dir := nativeBuildDir(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	needed := dynStrings(t, exe, elf.DT_NEEDED)
	for _, n := range needed {
		if strings.HasPrefix(n, "libtorch") || strings.HasPrefix(n, "libc10") || strings.HasPrefix(n, "libstdc++") || strings.HasPrefix(n, "libcoldint_torch") {
			t.Errorf("the binary links %s; the engine library must be opened on demand", n)
		}
	}
	if rp := dynStrings(t, exe, elf.DT_RPATH); len(rp) != 0 {
		t.Errorf("DT_RPATH %v: the linker wrote RPATH, which LD_LIBRARY_PATH cannot override", rp)
	}
	rp := dynStrings(t, exe, elf.DT_RUNPATH)
	if len(rp) != 1 {
		t.Fatalf("DT_RUNPATH %v, want one entry", rp)
	}
	parts := strings.Split(rp[0], ":")
	if parts[0] != "$ORIGIN" {
		t.Errorf("RUNPATH %q does not start with $ORIGIN", rp[0])
	}
	if !slices.ContainsFunc(parts, func(p string) bool { return sameFile(t, p, dir) }) {
		t.Errorf("RUNPATH %q lacks the build folder %s", rp[0], dir)
	}
}

const helperEnv = "COLDINT_TEST_NATIVE_INFO_HELPER"

// TestNativeInfoHelper prints NativeInfo as JSON when run as a child of
// TestLDLibraryPathOverride; otherwise it does nothing.
func TestNativeInfoHelper(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("helper process of TestLDLibraryPathOverride")
	}
	info, err := NativeInfo()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(info)
	os.Stdout.WriteString("INFO " + string(b) + "\n")
}

// TestLDLibraryPathOverride runs this test binary again with LD_LIBRARY_PATH
// naming a folder holding a copy of the library: the copy is loaded, not the
// build folder's; without LD_LIBRARY_PATH the build folder's is.
func TestLDLibraryPathOverride(t *testing.T) {
	dir := nativeBuildDir(t)
	other := t.TempDir()
	copyFile(t, filepath.Join(dir, "libcoldint_torch.so"), filepath.Join(other, "libcoldint_torch.so"))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	third := t.TempDir()
	copyFile(t, filepath.Join(dir, "libcoldint_torch.so"), filepath.Join(third, "libcoldint_torch.so"))
	tests := []struct {
		name, ldPath, native, want string
	}{
		{"LD_LIBRARY_PATH wins", other, "", filepath.Join(other, "libcoldint_torch.so")},
		{"RUNPATH otherwise", "", "", filepath.Join(dir, "libcoldint_torch.so")},
		{"COLDINT_NATIVE names the file", other, filepath.Join(third, "libcoldint_torch.so"), filepath.Join(third, "libcoldint_torch.so")},
		{"COLDINT_NATIVE missing", "", filepath.Join(third, "nope.so"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run=^TestNativeInfoHelper$", "-test.count=1")
			env := []string{helperEnv + "=1"}
			for _, e := range os.Environ() {
				if !strings.HasPrefix(e, "LD_LIBRARY_PATH=") && !strings.HasPrefix(e, "COLDINT_NATIVE=") {
					env = append(env, e)
				}
			}
			if tt.native != "" {
				env = append(env, "COLDINT_NATIVE="+tt.native)
			}
			if tt.ldPath != "" {
				env = append(env, "LD_LIBRARY_PATH="+tt.ldPath)
			}
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if tt.want == "" {
				if err == nil || !strings.Contains(string(out), "load the engine library") || !strings.Contains(string(out), "nope.so") {
					t.Fatalf("a missing library: err %v, output:\n%s", err, out)
				}
				return
			}
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			var info NativeInfoT
			sc := bufio.NewScanner(strings.NewReader(string(out)))
			found := false
			for sc.Scan() {
				if rest, ok := strings.CutPrefix(sc.Text(), "INFO "); ok {
					found = json.Unmarshal([]byte(rest), &info) == nil
				}
			}
			if !found {
				t.Fatalf("helper printed no info:\n%s", out)
			}
			if !sameFile(t, info.Library, tt.want) {
				t.Errorf("loaded %q, want %q", info.Library, tt.want)
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
