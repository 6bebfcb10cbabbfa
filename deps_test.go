package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// goPackage is the part of `go list -json` output the rules read.
type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
	CgoFiles   []string
	Error      *struct{ Err string }
	DepsErrors []*struct{ Err string }
}

const modulePath = "github.com/coldint/coldint"

func listPackages(t *testing.T, env []string, patterns ...string) []goPackage {
	t.Helper()
	args := append([]string{"list", "-e", "-deps=false", "-json"}, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, modulePath), "/") }

// TestImportRules enforces the layering of docs/README.md#package-layering.
func TestImportRules(t *testing.T) {
	pkgs := listPackages(t, nil, "./...")
	rules := []struct {
		reason  string
		allowed func(pkg string) bool
		banned  func(imp string) bool
	}{
		{"only commands parses flags: urfave/cli stays in the command layer",
			func(p string) bool { return rel(p) == "commands" },
			func(i string) bool { return strings.HasPrefix(i, "github.com/urfave/cli") }},
		{"nothing but main imports commands",
			func(p string) bool { return p == modulePath },
			func(i string) bool { return i == modulePath+"/commands" }},
		{"only the engine package (model) imports gotch, so everything else builds without cgo",
			func(p string) bool { return rel(p) == "model" || strings.HasPrefix(rel(p), "model/") },
			func(i string) bool { return strings.HasPrefix(i, "github.com/sugarme/gotch") }},
		{"the domain roots chain and hf hold types and interfaces, no network or codec libraries",
			func(p string) bool { return rel(p) != "chain" && rel(p) != "hf" },
			func(i string) bool {
				return i == "net" || i == "net/http" || (strings.Contains(i, ".") && !strings.HasPrefix(i, modulePath) && i != "golang.org/x/crypto/blake2b")
			}},
		{"the competition rules sit below every tool that applies them (validator, miner, surgeon, web, hub client)",
			func(p string) bool { return rel(p) != "competition" },
			func(i string) bool {
				for _, up := range []string{"eval", "model", "surgeon", "train", "web", "commands", "hf/hub", "demorun"} {
					if i == modulePath+"/"+up || strings.HasPrefix(i, modulePath+"/"+up+"/") {
						return true
					}
				}
				return false
			}},
		{"production code does not import testing",
			func(p string) bool {
				r := rel(p)
				return strings.HasSuffix(r, "test") || strings.HasPrefix(r, "internal/testenv")
			},
			func(i string) bool { return i == "testing" }},
	}
	for _, p := range pkgs {
		for _, r := range rules {
			if r.allowed(p.ImportPath) {
				continue
			}
			for _, imp := range p.Imports {
				if r.banned(imp) {
					t.Errorf("%s imports %s: %s", p.ImportPath, imp, r.reason)
				}
			}
		}
	}
}

// TestPureGoPackages builds the pure-Go trees with cgo disabled.
func TestPureGoPackages(t *testing.T) {
	var patterns []string
	for _, d := range []string{"chain", "hf", "tokenizer", "competition", "eval", "surgeon", "data", "train"} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			patterns = append(patterns, "./"+d+"/...")
		}
	}
	cmd := exec.Command("go", append([]string{"list", "-e", "-deps", "-f", "{{.ImportPath}} {{if .CgoFiles}}CGO{{end}} {{if .Error}}ERR {{.Error}}{{end}}"}, patterns...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list with CGO_ENABLED=0: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "sugarme/gotch") || strings.HasPrefix(line, modulePath+"/model ") {
			t.Errorf("pure-Go tree depends on the engine: %s", line)
		}
		if strings.Contains(line, " ERR ") && strings.HasPrefix(line, modulePath) {
			t.Errorf("does not build without cgo: %s", line)
		}
	}
}
