package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// markerName is the file patchTree writes last into a patched tree; its
// presence makes a second run fail instead of patching twice.
const markerName = ".coldint-gotchpatch"

// markerText is the content of the marker file.
const markerText = "patched by coldint tools/gotchpatch: C++ sources moved out, links libcoldint_torch.so\n"

// gotchModule is the module path a tree must declare.
const gotchModule = "github.com/sugarme/gotch"

// stats counts what patchTree changed.
type stats struct {
	moved          int // C++ source files moved to the native source folder
	keepAliveFuncs int // functions in package ts that got KeepAlive calls
	keepAliveCalls int // KeepAlive calls inserted
}

// patchTree applies every change to the gotch copy in dir and moves gotch's
// C++ sources into nativeSrc (created; it must not exist yet).
func patchTree(dir, nativeSrc string, coldintHeaders ...string) (stats, error) {
	var st stats
	if _, err := os.Stat(filepath.Join(dir, markerName)); err == nil {
		return st, fmt.Errorf("patch %q: already patched (%s exists); start from a fresh copy", dir, markerName)
	}
	if err := checkVersion(dir); err != nil {
		return st, err
	}

	// 1. The C++ sources go to the native library (native/build.sh).
	n, err := moveNativeSources(dir, nativeSrc)
	st.moved = n
	if err != nil {
		return st, err
	}

	// 2. lib.go compiles no C++; the library is opened on demand through
	// trampolines (lazy.go).
	if err := writeFile(dir, "libtch/lib.go", libGo, true); err != nil {
		return st, err
	}
	if err := writeLazyLoader(dir, coldintHeaders); err != nil {
		return st, err
	}
	// ts.None is made without calling C, so that no package initialiser
	// loads the library (a nil handle is libtch's undefined tensor).
	if err := editFile(dir, "ts/tensor.go", replacer(noneEdits)); err != nil {
		return st, err
	}

	// 3. ClipGradNorm: deadlock and nil dim.
	if err := editFile(dir, "nn/optimizer.go", replacer(clipGradNormEdits)); err != nil {
		return st, err
	}

	// 4. ts.SetNumThreads / ts.GetNumThreads.
	if err := writeFile(dir, "libtch/threads.go", libtchThreadsGo, false); err != nil {
		return st, err
	}
	if err := writeFile(dir, "ts/threads.go", tsThreadsGo, false); err != nil {
		return st, err
	}

	// 5. Path.Sub aliasing.
	if err := editFile(dir, "nn/varstore.go", replacer(pathSubEdits)); err != nil {
		return st, err
	}

	// 6. runtime.KeepAlive in package ts.
	files, err := filepath.Glob(filepath.Join(dir, "ts", "*.go"))
	if err != nil {
		return st, fmt.Errorf("list package ts: %w", err)
	}
	sort.Strings(files)
	for _, f := range files {
		base := filepath.Base(f)
		if base == "must-tensor-generated.go" || strings.HasSuffix(base, "_test.go") {
			continue
		}
		err := editFile(dir, filepath.Join("ts", base), func(src []byte) ([]byte, error) {
			out, funcs, calls, err := insertKeepAlive(base, src)
			st.keepAliveFuncs += funcs
			st.keepAliveCalls += calls
			return out, err
		})
		if err != nil {
			return st, err
		}
	}

	// 7. No 100 KB Go ballast per tensor.
	if err := editFile(dir, "ts/tensor.go", replacer(bigStructEdits)); err != nil {
		return st, err
	}

	if err := writeFile(dir, markerName, markerText, false); err != nil {
		return st, err
	}
	return st, nil
}

// changelogVersion matches the first release heading of gotch's CHANGELOG.md.
var changelogVersion = regexp.MustCompile(`(?m)^#+ \[(\d+\.\d+\.\d+)\]`)

// checkVersion verifies that dir holds gotch v0.9.x: its go.mod must declare
// the gotch module and the newest release in CHANGELOG.md must be 0.9.x.
func checkVersion(dir string) error {
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return fmt.Errorf("read gotch go.mod: %w", err)
	}
	first, _, _ := strings.Cut(string(mod), "\n")
	if strings.TrimSpace(first) != "module "+gotchModule {
		return fmt.Errorf("check %q: go.mod declares %q, want module %s", dir, strings.TrimSpace(first), gotchModule)
	}
	cl, err := os.ReadFile(filepath.Join(dir, "CHANGELOG.md"))
	if err != nil {
		return fmt.Errorf("read gotch CHANGELOG.md: %w", err)
	}
	m := changelogVersion.FindSubmatch(cl)
	if m == nil {
		return fmt.Errorf("check %q: no release heading in CHANGELOG.md", dir)
	}
	if !strings.HasPrefix(string(m[1]), "0.9.") {
		return fmt.Errorf("check %q: gotch version %q, this patch is for v0.9.x", dir, m[1])
	}
	return nil
}

// editFile rewrites dir/rel through fn.
func editFile(dir, rel string, fn func([]byte) ([]byte, error)) error {
	path := filepath.Join(dir, rel)
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %q: %w", rel, err)
	}
	out, err := fn(src)
	if err != nil {
		return fmt.Errorf("patch %q: %w", rel, err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return fmt.Errorf("write %q: %w", rel, err)
	}
	return nil
}

// writeFile writes content to dir/rel; unless replace is set the file must not exist yet.
func writeFile(dir, rel, content string, replace bool) error {
	path := filepath.Join(dir, rel)
	if _, err := os.Stat(path); err == nil && !replace {
		return fmt.Errorf("create %q: file exists", rel)
	} else if err != nil && replace {
		return fmt.Errorf("replace %q: %w", rel, err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return fmt.Errorf("write %q: %w", rel, err)
	}
	return nil
}

// edit is one exact text replacement.
type edit struct{ old, new string }

// replacer returns a transform that applies edits in order; each old text must
// occur exactly once, so an upstream change fails loudly instead of silently.
func replacer(edits []edit) func([]byte) ([]byte, error) {
	return func(src []byte) ([]byte, error) {
		s := string(src)
		for _, e := range edits {
			if n := strings.Count(s, e.old); n != 1 {
				return nil, fmt.Errorf("replace %q: found %d times, want 1", firstLine(e.old), n)
			}
			s = strings.Replace(s, e.old, e.new, 1)
		}
		return []byte(s), nil
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// insertKeepAlive adds `defer runtime.KeepAlive(x)` at the top of every
// function for each receiver or parameter x of type *Tensor, *Scalar, or a
// slice (or variadic) of them, and imports "runtime" where needed. Text outside
// the insertions is kept byte for byte. It returns the new source, the number
// of functions changed and the number of calls inserted.
func insertKeepAlive(filename string, src []byte) ([]byte, int, int, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("parse %q: %w", filename, err)
	}
	pkgName := "runtime"
	imported := false
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "runtime" {
			if imp.Name != nil {
				if imp.Name.Name == "_" || imp.Name.Name == "." {
					return nil, 0, 0, fmt.Errorf("parse %q: runtime imported as %q", filename, imp.Name.Name)
				}
				pkgName = imp.Name.Name
			}
			imported = true
		}
	}

	type insertion struct {
		off  int
		text string
	}
	var ins []insertion
	funcs, calls := 0, 0
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Body == nil {
			continue
		}
		var names []string
		var fields []*ast.Field
		if fd.Recv != nil {
			fields = append(fields, fd.Recv.List...)
		}
		fields = append(fields, fd.Type.Params.List...)
		for _, fl := range fields {
			if !keepAliveType(fl.Type) {
				continue
			}
			for _, n := range fl.Names {
				if n.Name == "_" {
					continue
				}
				if n.Name == pkgName {
					return nil, 0, 0, fmt.Errorf("patch func %q in %q: parameter %q shadows package runtime", fd.Name.Name, filename, n.Name)
				}
				names = append(names, n.Name)
			}
		}
		if len(names) == 0 {
			continue
		}
		var b strings.Builder
		for _, n := range names {
			b.WriteString("\n\tdefer " + pkgName + ".KeepAlive(" + n + ")")
		}
		off := fset.Position(fd.Body.Lbrace).Offset + 1
		if off >= len(src) || src[off] != '\n' {
			b.WriteString("\n")
		}
		ins = append(ins, insertion{off: off, text: b.String()})
		funcs++
		calls += len(names)
	}
	if len(ins) == 0 {
		return src, 0, 0, nil
	}
	if !imported {
		ins = append(ins, insertion{off: fset.Position(f.Name.End()).Offset, text: "\n\nimport \"runtime\""})
	}
	sort.SliceStable(ins, func(i, j int) bool { return ins[i].off < ins[j].off })
	var out bytes.Buffer
	prev := 0
	for _, in := range ins {
		out.Write(src[prev:in.off])
		out.WriteString(in.text)
		prev = in.off
	}
	out.Write(src[prev:])
	// The result must still parse: a cheap guard against a broken insertion.
	if _, err := parser.ParseFile(token.NewFileSet(), filename, out.Bytes(), parser.SkipObjectResolution); err != nil {
		return nil, 0, 0, fmt.Errorf("reparse %q after KeepAlive insertion: %w", filename, err)
	}
	return out.Bytes(), funcs, calls, nil
}

// keepAliveType reports whether a parameter of type t needs a KeepAlive:
// *Tensor, *Scalar, []*Tensor, []*Scalar or the variadic forms.
func keepAliveType(t ast.Expr) bool {
	switch x := t.(type) {
	case *ast.StarExpr:
		id, ok := x.X.(*ast.Ident)
		return ok && (id.Name == "Tensor" || id.Name == "Scalar")
	case *ast.ArrayType:
		return x.Len == nil && keepAliveType(x.Elt)
	case *ast.Ellipsis:
		return keepAliveType(x.Elt)
	}
	return false
}
