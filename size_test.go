package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// readableDirs are the packages held to the size rule: the validator's loop
// and the commands, which readers open first.
var readableDirs = []string{"eval", "commands"}

const (
	maxFileLines = 400
	maxFuncLines = 80
)

// TestReadableSizes: in readableDirs no source file is over maxFileLines
// lines and no function over maxFuncLines (tests excepted): split by stage.
func TestReadableSizes(t *testing.T) {
	var bad []string
	for _, dir := range readableDirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				bad = append(bad, oversized(t, f)...)
			}
		}
	}
	if len(bad) > 0 {
		t.Errorf("split these by stage:\n%s", strings.Join(bad, "\n"))
	}
}

func oversized(t *testing.T, path string) []string {
	fset := token.NewFileSet()
	af, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	if n := fset.Position(af.End()).Line; n > maxFileLines {
		bad = append(bad, fmt.Sprintf("%s: %d lines (at most %d)", path, n, maxFileLines))
	}
	ast.Inspect(af, func(n ast.Node) bool {
		var body *ast.BlockStmt
		name := "a function literal"
		switch x := n.(type) {
		case *ast.FuncDecl:
			body, name = x.Body, x.Name.Name
		case *ast.FuncLit:
			body = x.Body
		}
		if body == nil {
			return true
		}
		if l := fset.Position(body.End()).Line - fset.Position(body.Pos()).Line; l > maxFuncLines {
			bad = append(bad, fmt.Sprintf("%s: %s has %d lines (at most %d)", fset.Position(body.Pos()), name, l, maxFuncLines))
		}
		return true
	})
	return bad
}
