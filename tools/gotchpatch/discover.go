package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// generatedHeader is the file that holds gotch's generated C++ wrappers.
const generatedHeader = "torch_api_generated.cpp.h"

// torchAPIInclude is the include directory of libtorch's C++ API on Debian.
const torchAPIInclude = "/usr/include/torch/csrc/api/include"

// discoverFailing compiles dir/libtch/torch_api.cpp with g++ -fsyntax-only
// against the installed libtorch headers and returns the sorted names of the
// generated wrappers that fail. dir must be an unpatched copy.
func discoverFailing(ctx context.Context, dir string) ([]string, error) {
	libtch := filepath.Join(dir, "libtch")
	src, err := os.ReadFile(filepath.Join(libtch, generatedHeader))
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", generatedHeader, err)
	}
	cmd := exec.CommandContext(ctx, "g++", "-std=c++17", "-fsyntax-only", "-fmax-errors=0",
		"-I.", "-I"+torchAPIInclude, "torch_api.cpp")
	cmd.Dir = libtch
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	runErr := cmd.Run()
	if runErr == nil {
		return nil, nil // compiles as is: nothing to stub
	}
	if _, ok := runErr.(*exec.ExitError); !ok {
		return nil, fmt.Errorf("run g++: %w", runErr)
	}
	names, err := parseCompileErrors(strings.Split(string(src), "\n"), out.String())
	if err != nil {
		return nil, fmt.Errorf("parse g++ output: %w (output starts %q)", err, head(out.String(), 400))
	}
	return names, nil
}

func head(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

var (
	// inFunction matches g++'s "In function 'void atg_x(...)':" context lines.
	inFunction = regexp.MustCompile(regexp.QuoteMeta(generatedHeader) + `: In function .*?\b(atg_[A-Za-z0-9_]+)\(`)
	// errorAt matches an error, or the end of a template instantiation chain, located in the generated header.
	errorAt = regexp.MustCompile(regexp.QuoteMeta(generatedHeader) + `:(\d+):\d+:\s+(?:error:|required from here)`)
)

// parseCompileErrors maps g++ diagnostics to the wrappers of the generated
// header (given as lines) that contain them. It returns sorted unique names.
func parseCompileErrors(lines []string, output string) ([]string, error) {
	ws, err := parseWrappers(lines)
	if err != nil {
		return nil, err
	}
	type span struct {
		name       string
		start, end int
	}
	spans := make([]span, 0, len(ws))
	for n, w := range ws {
		spans = append(spans, span{n, w.start, w.end})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })

	set := map[string]bool{}
	for _, l := range strings.Split(output, "\n") {
		if m := inFunction.FindStringSubmatch(l); m != nil {
			if _, ok := ws[m[1]]; !ok {
				return nil, fmt.Errorf("find wrapper %q: not in %s", m[1], generatedHeader)
			}
			set[m[1]] = true
			continue
		}
		m := errorAt.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		idx := n - 1 // g++ lines are 1-based
		i := sort.Search(len(spans), func(i int) bool { return spans[i].end >= idx })
		if i == len(spans) || spans[i].start > idx {
			return nil, fmt.Errorf("map error line %d: outside every wrapper", n)
		}
		set[spans[i].name] = true
	}
	if len(set) == 0 {
		return nil, errNoErrors
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}
