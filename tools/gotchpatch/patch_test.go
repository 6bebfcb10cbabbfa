package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestInsertKeepAlive(t *testing.T) {
	tests := []struct {
		name       string
		src        string
		want       string
		funcs, adv int
		wantErr    string
	}{
		{
			name: "receiver and params",
			src: "package ts\n\nimport (\n\t\"runtime\"\n)\n\nvar _ = runtime.GC\n\n" +
				"func (ts *Tensor) Add(other *Tensor, s *Scalar, n int) (*Tensor, error) {\n\treturn nil, nil\n}\n",
			want: "package ts\n\nimport (\n\t\"runtime\"\n)\n\nvar _ = runtime.GC\n\n" +
				"func (ts *Tensor) Add(other *Tensor, s *Scalar, n int) (*Tensor, error) {\n" +
				"\tdefer runtime.KeepAlive(ts)\n\tdefer runtime.KeepAlive(other)\n\tdefer runtime.KeepAlive(s)\n\treturn nil, nil\n}\n",
			funcs: 1, adv: 3,
		},
		{
			name: "slices variadic and import added",
			src:  "package ts\n\nfunc Stack(tensors []*Tensor, dim int64) {\n}\n\nfunc Cat(dim int64, ts ...*Tensor) { _ = ts }\n",
			want: "package ts\n\nimport \"runtime\"\n\nfunc Stack(tensors []*Tensor, dim int64) {\n\tdefer runtime.KeepAlive(tensors)\n}\n\n" +
				"func Cat(dim int64, ts ...*Tensor) {\n\tdefer runtime.KeepAlive(ts)\n _ = ts }\n",
			funcs: 2, adv: 2,
		},
		{
			name:  "nothing to do",
			src:   "package ts\n\nfunc F(a int, t Tensor, p *int, m map[string]*Tensor) {}\n\nfunc (Tensor) G(_ *Tensor, s Scalar) {}\n\nfunc H(*Tensor, *Scalar) {}\n",
			want:  "package ts\n\nfunc F(a int, t Tensor, p *int, m map[string]*Tensor) {}\n\nfunc (Tensor) G(_ *Tensor, s Scalar) {}\n\nfunc H(*Tensor, *Scalar) {}\n",
			funcs: 0, adv: 0,
		},
		{
			name:  "aliased runtime and empty body",
			src:   "package ts\n\nimport rt \"runtime\"\n\nvar _ = rt.GC\n\nfunc (x *Tensor) Drop() {}\n",
			want:  "package ts\n\nimport rt \"runtime\"\n\nvar _ = rt.GC\n\nfunc (x *Tensor) Drop() {\n\tdefer rt.KeepAlive(x)\n}\n",
			funcs: 1, adv: 1,
		},
		{
			name:    "shadowing parameter",
			src:     "package ts\n\nfunc F(runtime *Tensor) {}\n",
			wantErr: "shadows package runtime",
		},
		{
			name:    "not go",
			src:     "package ts\n\nfunc F(",
			wantErr: "parse",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, funcs, calls, err := insertKeepAlive("x.go", []byte(tt.src))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if funcs != tt.funcs || calls != tt.adv {
				t.Errorf("funcs, calls = %d, %d, want %d, %d", funcs, calls, tt.funcs, tt.adv)
			}
		})
	}
}

func TestReplacer(t *testing.T) {
	tests := []struct {
		name, src, want string
		edits           []edit
		wantErr         bool
	}{
		{"once", "a b c", "a X c", []edit{{"b", "X"}}, false},
		{"chained", "a b c", "a Y c", []edit{{"b", "X"}, {"X", "Y"}}, false},
		{"missing", "a b c", "", []edit{{"z", "X"}}, true},
		{"twice", "b b", "", []edit{{"b", "X"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := replacer(tt.edits)([]byte(tt.src))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckVersion(t *testing.T) {
	tests := []struct {
		name, mod, changelog string
		ok                   bool
	}{
		{"v0.9.1", "module github.com/sugarme/gotch\n\ngo 1.20\n", "# Changelog\n## [Unreleased]\n# [0.9.1]\n- x\n# [0.9.0]\n", true},
		{"v0.8.0", "module github.com/sugarme/gotch\n", "# [0.8.0]\n# [0.7.0]\n", false},
		{"other module", "module example.com/gotch\n", "# [0.9.1]\n", false},
		{"no release", "module github.com/sugarme/gotch\n", "# Changelog\n", false},
		{"no changelog", "module github.com/sugarme/gotch\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			mustWrite(t, dir, "go.mod", tt.mod)
			if tt.changelog != "" {
				mustWrite(t, dir, "CHANGELOG.md", tt.changelog)
			}
			err := checkVersion(dir)
			if (err == nil) != tt.ok {
				t.Errorf("checkVersion = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func mustWrite(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fakeTree writes a miniature gotch tree that holds every text the patch edits.
func fakeTree(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mustWrite(t, dir, "go.mod", "module github.com/sugarme/gotch\n\ngo 1.20\n")
	mustWrite(t, dir, "CHANGELOG.md", "# [0.9.1]\n")
	mustWrite(t, dir, "libtch/torch_api_generated.cpp.h", "// generated\n\nvoid atg_keep(tensor *out__) {\n}\n")
	mustWrite(t, dir, "libtch/torch_api_generated.h", "void atg_keep(tensor *out__);\n")
	mustWrite(t, dir, "libtch/torch_api.h", "#ifdef __cplusplus\nusing namespace std;\n"+lastErrHeaderEdits[0].old+"#endif\nvoid at_x();\n")
	mustWrite(t, dir, "libtch/torch_api.cpp", "#include \"torch_api.h\"\nusing namespace std;\n\nvoid at_x() {}\n#include \"torch_api_generated.cpp.h\"\n")
	for _, n := range []string{"stb_image.h", "stb_image_resize.h", "stb_image_write.h"} {
		mustWrite(t, dir, "libtch/"+n, "// "+n+"\n")
	}
	mustWrite(t, dir, "libtch/lib.go", "package libtch\n// #cgo LDFLAGS: -lcuda\nimport \"C\"\n")
	var opt strings.Builder
	opt.WriteString("package nn\n\n")
	for _, e := range clipGradNormEdits {
		opt.WriteString(e.old + "\n")
	}
	mustWrite(t, dir, "nn/optimizer.go", opt.String())
	mustWrite(t, dir, "nn/varstore.go", "package nn\n\nfunc (p *Path) Sub(str string) *Path {\n"+pathSubEdits[0].old+"\treturn nil\n}\n")
	mustWrite(t, dir, "ts/tensor.go", "package ts\n\n"+noneEdits[0].old+"\nfunc newTensor() *Tensor {\n\tx := new(Tensor)\n"+bigStructEdits[0].old+"\treturn x\n}\n\n"+
		"func (ts *Tensor) Drop() error {\n\treturn nil\n}\n")
	mustWrite(t, dir, "ts/must-tensor-generated.go", "package ts\n\nfunc (ts *Tensor) MustDrop() {\n\tts.Drop()\n}\n")
	return dir
}

func TestPatchTree(t *testing.T) {
	a, b := fakeTree(t), fakeTree(t)
	srcA, srcB := filepath.Join(t.TempDir(), "native-src"), filepath.Join(t.TempDir(), "native-src")
	must := filepath.Join(a, "ts", "must-tensor-generated.go")
	mustBefore, _ := os.ReadFile(must)
	st, err := patchTree(a, srcA)
	if err != nil {
		t.Fatal(err)
	}
	if st.moved != len(nativeMoved) || st.keepAliveFuncs != 1 || st.keepAliveCalls != 1 {
		t.Errorf("stats = %+v", st)
	}
	if _, err := patchTree(a, filepath.Join(t.TempDir(), "other")); err == nil || !strings.Contains(err.Error(), "already patched") {
		t.Errorf("second patch: err = %v, want already patched", err)
	}
	if _, err := patchTree(b, srcB); err != nil {
		t.Fatal(err)
	}
	// Deterministic: two copies patch to identical bytes.
	for _, rel := range []string{"libtch/torch_api.h", "libtch/lib.go", "libtch/threads.go", "nn/optimizer.go",
		"nn/varstore.go", "ts/tensor.go", "ts/threads.go", markerName} {
		x, err1 := os.ReadFile(filepath.Join(a, rel))
		y, err2 := os.ReadFile(filepath.Join(b, rel))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two patched copies (%v, %v)", rel, err1, err2)
		}
	}
	for _, name := range append(append([]string{}, nativeMoved...), nativeShared...) {
		x, err1 := os.ReadFile(filepath.Join(srcA, name))
		y, err2 := os.ReadFile(filepath.Join(srcB, name))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("native source %s missing or different (%v, %v)", name, err1, err2)
		}
	}
	mustAfter, _ := os.ReadFile(must)
	if !bytes.Equal(mustBefore, mustAfter) {
		t.Error("must-tensor-generated.go was changed")
	}
	// The Go package keeps no C++: cgo would compile it.
	for _, name := range nativeMoved {
		if _, err := os.Stat(filepath.Join(a, "libtch", name)); err == nil {
			t.Errorf("libtch/%s is still in the Go package", name)
		}
	}
	checks := map[string][]string{
		filepath.Join(srcA, "torch_api.cpp"):            {"thread_local char *torch_last_err = nullptr;", "void at_x() {}"},
		filepath.Join(srcA, "torch_api.h"):              {"extern thread_local char *torch_last_err;"},
		filepath.Join(a, "libtch/torch_api.h"):          {"extern thread_local char *torch_last_err;"},
		filepath.Join(a, "libtch/lib.go"):               {"-ldl", "-O1 -g0"},
		filepath.Join(a, "libtch/coldint_lazy.c"):       {"dlopen", "\"at_x\""},
		filepath.Join(a, "libtch/coldint_lazy_amd64.S"): {"at_x:\n\tjmp *coldint_native_table+0(%rip)"},
		filepath.Join(a, "ts/tensor.go"):                {"defer runtime.KeepAlive(ts)", "import \"runtime\"", "var None = &Tensor{}"},
		filepath.Join(a, "nn/varstore.go"):              {"copy(path, p.path)"},
		filepath.Join(a, "nn/optimizer.go"):             {"[]int64{0}"},
	}
	for path, wants := range checks {
		got, _ := os.ReadFile(path)
		for _, w := range wants {
			if !strings.Contains(string(got), w) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
	}
	absent := map[string][]string{
		filepath.Join(srcA, "torch_api.cpp"): {"#include \"torch_api_generated.cpp.h\""},
		filepath.Join(srcA, "torch_api.h"):   {"thread_local char *torch_last_err = nullptr;"},
		filepath.Join(a, "libtch/lib.go"):    {"cuda", "SRCDIR", "-ltorch", "CXXFLAGS"},
		filepath.Join(a, "ts/tensor.go"):     {"bigStruct"},
		filepath.Join(a, "nn/optimizer.go"):  {", nil, false, dtype"},
	}
	for path, bad := range absent {
		got, _ := os.ReadFile(path)
		for _, w := range bad {
			if strings.Contains(string(got), w) {
				t.Errorf("%s still contains %q", path, w)
			}
		}
	}
}

func TestPatchTreeRejects(t *testing.T) {
	tests := []struct {
		name    string
		break_  func(t *testing.T, dir, src string)
		wantErr string
	}{
		{"changed Path.Sub", func(t *testing.T, dir, _ string) { mustWrite(t, dir, "nn/varstore.go", "package nn\n") }, "path := p.path"},
		{"changed last error", func(t *testing.T, dir, _ string) { mustWrite(t, dir, "libtch/torch_api.h", "// no last error\n") }, "torch_last_err"},
		{"no generated wrappers", func(t *testing.T, dir, _ string) { os.Remove(filepath.Join(dir, "libtch/torch_api_generated.cpp.h")) }, "torch_api_generated.cpp.h"},
		{"native folder exists", func(t *testing.T, _, src string) { os.MkdirAll(src, 0o755) }, "exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, src := fakeTree(t), filepath.Join(t.TempDir(), "native-src")
			tt.break_(t, dir, src)
			_, err := patchTree(dir, src)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

// TestRealGotch moves the C++ sources of the real gotch v0.9.1 libtch (from
// the module cache, when it is there) and checks every edit applies.
func TestRealGotch(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skipf("skipped: go env GOMODCACHE: %v", err)
	}
	libtch := filepath.Join(strings.TrimSpace(string(out)), "github.com", "sugarme", "gotch@v0.9.1", "libtch")
	if _, err := os.Stat(libtch); err != nil {
		t.Skipf("skipped: gotch v0.9.1 is not in the module cache (run make setup-torch): %v", err)
	}
	dir := t.TempDir()
	for _, name := range append(append([]string{}, nativeMoved...), nativeShared...) {
		b, err := os.ReadFile(filepath.Join(libtch, name))
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, dir, filepath.Join("libtch", name), string(b))
	}
	src := filepath.Join(t.TempDir(), "native-src")
	n, err := moveNativeSources(dir, src)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(nativeMoved) {
		t.Errorf("moved %d files, want %d", n, len(nativeMoved))
	}
	gen, err := os.ReadFile(filepath.Join(src, "torch_api_generated.cpp.h"))
	if err != nil {
		t.Fatal(err)
	}
	if c := bytes.Count(gen, []byte("\nvoid atg_")) + bytes.Count(gen, []byte("\nint64_t atg_")) + bytes.Count(gen, []byte("\ntensor *atg_")); c < 2490 {
		t.Errorf("generated wrappers: %d functions, want about 2,525", c)
	}
}
