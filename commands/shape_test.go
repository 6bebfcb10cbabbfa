package commands

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// cliPlumbing are the functions that work on urfave/cli itself (usage
// errors, flag order, config files, help), not on a command's work: they
// may take a *cli.Context.
var cliPlumbing = map[string]bool{
	"setupLogging": true, "ioFrom": true, "usageLine": true, "unknownCommand": true, "modelDir": true,
}

// maxActionLines bounds an Action closure: it fills the Options from the
// *cli.Context (arguments, IsSet) and calls run; the work is elsewhere.
const maxActionLines = 15

// unconverted lists the files whose commands do not yet have the
// Options + run(ctx, opts) shape. It only shrinks.
var unconverted = map[string]bool{
	"device.go": true, "mine.go": true, "mine_ddp.go": true,
	// the old *cli.Context helpers that unconverted files still use
	"chain_legacy.go": true, "hub_legacy.go": true,
}

// TestCommandShape: commands take the cli/cli shape. A command's work runs
// in a function that receives its Options and a context, never the
// *cli.Context: only the Action closure that fills the Options sees it.
func TestCommandShape(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var bad []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || unconverted[f] {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(af, func(n ast.Node) bool {
			fl, ok := n.(*ast.FuncLit)
			if ok && takesCliContext(fl.Type) {
				if l := fset.Position(fl.End()).Line - fset.Position(fl.Pos()).Line; l > maxActionLines {
					bad = append(bad, fset.Position(fl.Pos()).String()+": an Action of "+itoa(l)+" lines")
				}
			}
			return true
		})
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || cliPlumbing[fd.Name.Name] {
				continue
			}
			if takesCliContext(fd.Type) {
				bad = append(bad, fset.Position(fd.Pos()).String()+": "+fd.Name.Name)
			}
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("functions that take *cli.Context instead of their Options (fill an Options struct in the Action and call run(ctx, opts)):\n%s", strings.Join(bad, "\n"))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func takesCliContext(ft *ast.FuncType) bool {
	for _, p := range ft.Params.List {
		star, ok := p.Type.(*ast.StarExpr)
		if !ok {
			continue
		}
		if sel, ok := star.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Context" {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "cli" {
				return true
			}
		}
	}
	return false
}
